"""two_layer_net through the public interface (grader.api.grade and the CLI), as tables.

The solution earns full marks and the stub zero; each typical bug is a one-line
mutant of the solution that loses exactly the checks it really breaks, and the
hint of its main check names the cause (None: no cause can honestly be named).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Iterator

import numpy as np
import pytest

from conftest import ROOT, failing, mutate, solution_source, stub_source
from grader import reference
from grader.registry import get_assignment

A = "two_layer_net"
ASSIGNMENT = get_assignment(A, ROOT)
POINTS = {c.name: c.points for c in ASSIGNMENT.checks}
FULL = ASSIGNMENT.max_score - sum(c.points for c in ASSIGNMENT.checks if c.requires == "cuda")  # 98 without a GPU

# -- the mutants: one line of the solution, and what it becomes ---------------------------------
MUTANTS = {
    "no_mean_over_N": ("    dscores /= N\n", ""),
    "reg_missing_from_loss": ("loss = -log_probs[rows, y].mean() + reg * (W1.pow(2).sum() + W2.pow(2).sum())",
                              "loss = -log_probs[rows, y].mean()"),
    "loss_summed_not_averaged": ("loss = -log_probs[rows, y].mean()", "loss = -log_probs[rows, y].sum()"),
    "reg_grad_missing": ("grads['W2'] = hidden.t().mm(dscores) + 2 * reg * W2", "grads['W2'] = hidden.t().mm(dscores)"),
    "reg_grad_halved": ("grads['W1'] = X.t().mm(dhidden) + 2 * reg * W1", "grads['W1'] = X.t().mm(dhidden) + reg * W1"),
    "bias_regularized": ("grads['b2'] = dscores.sum(dim=0)",
                         "grads['b2'] = dscores.sum(dim=0) + 2 * reg * params['b2']"),
    "relu_mask_missing": ("dhidden = dscores.mm(W2.t()) * (hidden > 0)", "dhidden = dscores.mm(W2.t())"),
    "dW2_transposed": ("grads['W2'] = hidden.t().mm(dscores) + 2 * reg * W2",
                       "grads['W2'] = dscores.t().mm(hidden) + 2 * reg * W2.t()"),
    "db1_wrong_axis": ("grads['b1'] = dhidden.sum(dim=0)", "grads['b1'] = dhidden.sum(dim=1)"),
    "grad_sign_flipped": ("    dscores /= N\n", "    dscores /= -N\n"),
    "unstable_softmax": ("shifted = scores - scores.max(dim=1, keepdim=True).values", "shifted = scores"),
    "b2_missing_in_forward": ("scores = hidden.mm(W2) + b2", "scores = hidden.mm(W2)"),
    "params_modified_in_place": ("grads['W1'] = X.t().mm(dhidden) + 2 * reg * W1",
                                 "grads['W1'] = W1.mul_(2 * reg).add_(X.t().mm(dhidden))"),
    "float32_hard_coded": ("dscores = log_probs.exp()",
                           "dscores = torch.as_tensor(log_probs.exp(), dtype=torch.float32)"),
    "update_goes_uphill": ("params[name] -= learning_rate * grads[name]",
                           "params[name] += learning_rate * grads[name]"),
    "no_lr_decay": ("            learning_rate *= learning_rate_decay\n", ""),
    "lr_decay_every_iteration": ("            learning_rate *= learning_rate_decay\n",
                                 "        learning_rate *= learning_rate_decay\n"),
    "verbose_ignored": ("if verbose and it % 100 == 0:", "if it % 100 == 0:"),
    "batch_without_replacement": ("idx = torch.randint(num_train, (batch_size,), device=X.device)",
                                  "idx = torch.randperm(num_train, device=X.device)[:batch_size]"),
    "batch_from_numpy_rng": ("idx = torch.randint(num_train, (batch_size,), device=X.device)",
                             "idx = torch.as_tensor(__import__('numpy').random.randint(num_train, size=batch_size))"),
    "predict_returns_scores": ("return loss_func(params, X).argmax(dim=1)", "return loss_func(params, X)"),
    "default_device_cuda": ("device: Union[str, torch.device] = 'cpu',", "device: Union[str, torch.device] = 'cuda',"),
}

# Checks that see the same mistake together.
REG_GRADS = ("grads_vs_reference", "grads_vs_numeric", "loss_and_grads_random", "float32_preserved")  # reg > 0
GRADS = REG_GRADS + ("large_scores_stable",)
TRAINING = ("toy_training_loss", "toy_training_trajectory", "digits_val_accuracy")


def row(mutant: str, main: str, hint: str | None, *, failed=(), error=()):
    """One table row: the exact checks that must not pass ({name: status}), and the main check's hint."""
    fails = {name: "failed" for name in failed} | {name: "error" for name in error}
    return pytest.param(mutant, fails, main, hint, id=mutant)


ROWS = [
    # gradients and loss
    row("no_mean_over_N", "grads_vs_reference", "divide by N", failed=GRADS + TRAINING),
    row("reg_missing_from_loss", "loss_with_reg", "regularization term is missing from the loss",
        failed=("loss_with_reg", "grads_vs_numeric", "loss_and_grads_random", "float32_preserved")),
    row("loss_summed_not_averaged", "loss_no_reg", "divide the data loss by N",
        failed=("loss_no_reg", "loss_with_reg", "grads_vs_numeric", "loss_and_grads_random", "large_scores_stable",
                "float32_preserved", "toy_training_loss", "toy_training_trajectory")),
    row("reg_grad_missing", "grads_vs_reference", "missing the regularization gradient", failed=REG_GRADS),
    row("reg_grad_halved", "grads_vs_reference", "off by a factor 2", failed=REG_GRADS),
    row("bias_regularized", "grads_vs_reference", "biases are", failed=REG_GRADS),
    row("relu_mask_missing", "grads_vs_reference", "ReLU mask is missing", failed=GRADS),
    row("dW2_transposed", "grads_vs_reference", "transposed layout", failed=GRADS, error=TRAINING),
    row("db1_wrong_axis", "grads_vs_reference", "sum over the batch axis", failed=GRADS, error=TRAINING),
    row("grad_sign_flipped", "grads_vs_reference", "wrong sign", failed=GRADS + TRAINING),
    row("unstable_softmax", "large_scores_stable", "Subtract each row's maximum", failed=("large_scores_stable",)),
    # forward_pass_toy has zero biases (the course's toy data), so it cannot see b2; nothing names this cause
    row("b2_missing_in_forward", "scores_when_y_is_none", None,
        failed=GRADS + ("forward_pass_random", "scores_when_y_is_none", "loss_no_reg", "loss_with_reg",
                        "toy_training_trajectory")),
    row("params_modified_in_place", "inputs_not_modified", "in-place operation",
        failed=("inputs_not_modified",) + TRAINING),  # grads['W1'] is params['W1']: the update breaks training
    row("float32_hard_coded", "grads_vs_reference", "hard-coded dtype",
        error=("loss_no_reg", "loss_with_reg", "grads_vs_reference", "grads_vs_numeric", "loss_and_grads_random",
               "large_scores_stable", "inputs_not_modified", "no_autograd", "toy_training_loss",
               "toy_training_trajectory")),
    # training
    row("update_goes_uphill", "nn_train_sgd_update", "goes uphill", failed=("nn_train_sgd_update",) + TRAINING),
    row("no_lr_decay", "nn_train_lr_decay", "never decays", failed=("nn_train_lr_decay", "toy_training_trajectory")),
    # the toy problem has one iteration per epoch, so its trajectory cannot see this one
    row("lr_decay_every_iteration", "nn_train_lr_decay", "decays every iteration", failed=("nn_train_lr_decay",)),
    row("verbose_ignored", "nn_train_quiet", "only when verbose", failed=("nn_train_quiet",)),
    row("batch_without_replacement", "sample_batch", "with replacement",
        failed=("sample_batch", "toy_training_trajectory")),
    row("batch_from_numpy_rng", "sample_batch", "torch.randint", failed=("sample_batch", "toy_training_trajectory")),
    row("predict_returns_scores", "nn_predict_labels", "argmax", failed=("nn_predict_labels",), error=TRAINING),
    # the class
    row("default_device_cuda", "twolayernet_init", "device='cpu'", error=("twolayernet_init",)),
]


def other(mutant: str, name: str, hint: str | None):
    return pytest.param(mutant, name, hint, id=f"{mutant}-{name}")


# Hints on checks other than a row's main one: they must blame the right thing, or say nothing.
OTHER_HINTS = [
    # the gradients are right; the loss lacks its reg term, so they disagree with the loss's slope
    other("reg_missing_from_loss", "grads_vs_numeric", "your loss has no"),
    other("loss_summed_not_averaged", "grads_vs_numeric", "one of them averages over the batch"),
    other("reg_missing_from_loss", "float32_preserved", "regularization term is missing"),
    # one number is always some multiple of another: no "constant factor" hint on a loss
    other("b2_missing_in_forward", "loss_no_reg", None),
    # and a hidden check's hint must not give away a ratio to its hidden expected value
    other("b2_missing_in_forward", "loss_and_grads_random", None),
]


def mutant_source(name: str) -> str:
    old, new = MUTANTS[name]
    return mutate(solution_source(A), old, new)


@pytest.fixture(scope="module")
def graded_mutants() -> dict:
    return {}


@pytest.fixture
def grade_mutant(grade_source, graded_mutants, tmp_path):
    """grade_mutant(name) -> (Report, folder of its report files); each mutant is graded once per run."""

    def grade(name: str):
        if name not in graded_mutants:
            out = tmp_path / "reports"
            graded_mutants[name] = grade_source(A, mutant_source(name), student="bob", out=out), out
        return graded_mutants[name]

    return grade


def check(report, name: str):
    return next(c for c in report.checks if c.name == name)


def hint_problem(hint: str | None, expected: str | None) -> str | None:
    if expected is None:
        return None if hint is None else f"expected no hint, got {hint!r}"
    return None if hint and expected in hint else f"expected a hint with {expected!r}, got {hint!r}"


def verdict_problems(report, fails: dict[str, str], main: str, hint: str | None) -> list[str]:
    """Every way the report differs from a row: checks with another outcome (and their
    messages), the score, the main check's hint."""
    got = failing(report)
    problems = [f"{c.name}: expected {fails.get(c.name, 'passed')}, got {c.status}: {c.message[:200]}"
                for c in report.checks if c.status != "skipped" and got.get(c.name) != fails.get(c.name)]
    lost = sum(POINTS[name] for name in fails)
    if report.score != FULL - lost:
        problems.append(f"score {report.score}, expected {FULL} - {lost}")
    problems.append(hint_problem(check(report, main).hint, hint))
    return [p for p in problems if p]


# -- full marks, zero ---------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    pytest.param(lambda: solution_source(A), id="solution"),
    pytest.param(lambda: (ROOT / "assignments" / A / "demo_class" / "alice.py").read_text(), id="alice"),
])
def test_correct_submission_earns_full_marks(grade_source, source):
    report = grade_source(A, source())
    assert failing(report) == {}
    assert report.score == report.max_score == FULL
    assert {c.name for c in report.checks if c.status == "skipped"} == {
        c.name for c in ASSIGNMENT.checks if c.requires == "cuda"}


def test_stub_earns_zero_without_crashing(grade_source):
    report = grade_source(A, stub_source(A))
    assert report.problem is None and not report.grader_errors
    assert report.score == 0 and report.max_score == FULL
    counted = [c for c in report.checks if c.status != "skipped"]
    assert len(counted) == sum(c.requires != "cuda" for c in ASSIGNMENT.checks)
    assert all(c.status == "error" and "not implemented yet" in c.message for c in counted)


# -- one-line mutants ---------------------------------------------------------------------------
@pytest.mark.parametrize("mutant, fails, main, hint", ROWS)
def test_mutant_loses_exactly_its_checks(grade_mutant, mutant, fails, main, hint):
    report, _ = grade_mutant(mutant)
    problems = verdict_problems(report, fails, main, hint)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("mutant, name, hint", OTHER_HINTS)
def test_other_failing_checks_blame_the_right_thing(grade_mutant, mutant, name, hint):
    report, _ = grade_mutant(mutant)
    assert check(report, name).status == "failed"
    problem = hint_problem(check(report, name).hint, hint)
    assert not problem, problem


# -- bad inputs through the CLI -----------------------------------------------------------------
def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "--root", str(ROOT), *args],
                          capture_output=True, text=True, timeout=300)


def no_traceback(proc: subprocess.CompletedProcess) -> bool:
    return "Traceback" not in proc.stdout + proc.stderr


SOLUTION = str(ROOT / "solutions" / A / f"{A}.py")
USAGE_ERRORS = [
    pytest.param(["grade", "{tmp}/nowhere.py", "-a", A], "no such file or folder", id="missing_path"),
    pytest.param(["grade", SOLUTION, "-a", "three_layer_net"], "unknown assignment", id="unknown_assignment"),
    pytest.param(["grade", SOLUTION, "-a", A, "--device", "cuda"], "no CUDA GPU", id="cuda_without_gpu",
                 marks=pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU may be present")),
]


@pytest.mark.parametrize("args, reason", USAGE_ERRORS)
def test_cli_usage_error_exits_2_with_one_line(tmp_path, args, reason):
    out = tmp_path / "out"
    proc = cli(*[a.format(tmp=tmp_path) for a in args], "--out", str(out))
    assert proc.returncode == 2
    assert reason in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert no_traceback(proc) and not out.exists()


BAD_FILES = {  # file: (bytes, the reason report.json gives)
    "notes.txt": (b"my answers are in the notebook\n", "is not a Python file"),
    "empty.py": (b"", "is empty"),
    "picture.py": (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)), "looks binary"),
    "syntax.py": (b"import torch\ndef nn_forward_pass(params, X)\n    return X\n", "syntax error at line 2"),
    "raises.py": (b"raise RuntimeError('boom at import')\n", "boom at import"),
    "exits.py": (b"import sys\nsys.exit(3)\n", "exit(3) called while importing"),
}
MISNAMED = "two_layer_net.py defines no nn_forward_pass (found nn_forward_pas: renamed?)"


def misnamed_source() -> str:
    source = mutate(solution_source(A), "def nn_forward_pass(", "def nn_forward_pas(")
    return mutate(source, "= nn_forward_pass(params, X)", "= nn_forward_pas(params, X)")


@pytest.fixture(scope="module")
def bad_class(tmp_path_factory):
    """Every bad file in one class folder, graded by one `batch` run (one fork server)."""
    folder = tmp_path_factory.mktemp("bad_class")
    for name, (data, _) in BAD_FILES.items():
        (folder / name).write_bytes(data)
    (folder / "misnamed.py").write_text(misnamed_source())
    out = tmp_path_factory.mktemp("bad_class_out")
    return cli("batch", str(folder), "-a", A, "--out", str(out)), out


def test_cli_batch_of_bad_files_runs_to_the_end(bad_class):
    proc, out = bad_class
    assert proc.returncode == 0, proc.stderr
    assert no_traceback(proc), proc.stdout + proc.stderr
    assert {p.name for p in out.iterdir() if p.is_dir()} == {n.split(".")[0] for n in BAD_FILES} | {"misnamed"}


@pytest.mark.parametrize("name", BAD_FILES)
def test_cli_bad_file_scores_zero_with_its_reason(bad_class, name):
    _, out = bad_class
    reason = BAD_FILES[name][1]
    report = json.loads((out / name.split(".")[0] / "report.json").read_text())
    assert report["score"] == 0 and report["max_score"] == FULL
    assert reason in report["problem"]
    counted = [c for c in report["checks"] if c["status"] != "skipped"]
    assert all(c["status"] == "error" and reason in c["message"] for c in counted)


def test_cli_misnamed_function_loses_only_its_checks(bad_class):
    _, out = bad_class
    report = json.loads((out / "misnamed" / "report.json").read_text())
    lost = {c["name"]: c["status"] for c in report["checks"] if c["status"] not in ("passed", "skipped")}
    assert lost == {"forward_pass_toy": "error", "forward_pass_random": "error"}
    assert all(MISNAMED in c["message"] for c in report["checks"] if c["name"] in lost)
    assert report["problem"] is None and report["score"] == FULL - sum(POINTS[n] for n in lost)


def test_cli_grade_survives_sys_exit_at_import(tmp_path):
    """SystemExit(3) in the student's module must neither end the grader nor become its exit status."""
    submission = tmp_path / "exits.py"
    submission.write_bytes(BAD_FILES["exits.py"][0])
    proc = cli("grade", str(submission), "-a", A, "--out", str(tmp_path / "out"))
    assert proc.returncode == 0 and no_traceback(proc), proc.stdout + proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["score"] == 0 and "exit(3) called while importing" in report["problem"]


# -- report files -------------------------------------------------------------------------------
NUMBER = (int, float)
REPORT_FIELDS = {"schema_version": int, "student": str, "assignment": str, "score": NUMBER, "max_score": NUMBER,
                 "device": str, "checks": list}
CHECK_FIELDS = {"name": str, "visibility": str, "score": NUMBER, "max_score": NUMBER, "status": str,
                "message": str, "hint": (str, type(None)), "duration_s": NUMBER}
TEST_FIELDS = {"name": str, "score": NUMBER, "max_score": NUMBER, "output": str, "visibility": str}
GRADESCOPE_VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
STUDENT_FILES = ("report.json", "results.json", "report.md", "report.html")


def assert_fields(record: dict, fields: dict) -> None:
    for name, kind in fields.items():
        assert name in record, f"missing field {name}"
        assert isinstance(record[name], kind), f"{name} is {type(record[name]).__name__}"


@pytest.fixture
def buggy_report(grade_mutant):
    """A submission that fails every hidden check, its reports written out."""
    report, out = grade_mutant("b2_missing_in_forward")
    hidden = {c.name for c in ASSIGNMENT.checks if c.visibility == "hidden"}
    assert hidden <= set(failing(report))
    return report, out


def test_report_json_and_results_json_follow_the_contract(buggy_report):
    report, out = buggy_report
    data = json.loads((out / "report.json").read_text())
    assert_fields(data, REPORT_FIELDS)
    assert (data["schema_version"], data["student"], data["assignment"], data["device"]) == (1, "bob", A, "cpu")
    assert [c["name"] for c in data["checks"]] == [c.name for c in ASSIGNMENT.checks]
    for c in data["checks"]:
        assert_fields(c, CHECK_FIELDS)
        assert c["status"] in ("passed", "failed", "error", "timeout", "skipped")
        assert c["visibility"] in ("public", "hidden")
        assert c["max_score"] == POINTS[c["name"]] and 0 <= c["score"] <= c["max_score"]
    assert data["score"] == report.score == sum(c["score"] for c in data["checks"])
    assert data["max_score"] == FULL

    results = json.loads((out / "results.json").read_text())
    assert isinstance(results["score"], NUMBER) and results["score"] == data["score"]
    # Skipped checks (no GPU) are left out: Gradescope would show them as failed.
    counted = [c for c in data["checks"] if c["status"] != "skipped"]
    assert [t["name"] for t in results["tests"]] == [c["name"] for c in counted]
    assert sum(t["max_score"] for t in results["tests"]) == data["max_score"]
    for t, c in zip(results["tests"], counted):
        assert_fields(t, TEST_FIELDS)
        assert t["score"] == c["score"] and t["max_score"] == c["max_score"]
        assert t["visibility"] in GRADESCOPE_VISIBILITY
        assert (t["visibility"] == "visible") == (c["visibility"] == "public")


def numbers(value) -> Iterator[float]:
    if isinstance(value, dict):
        for v in value.values():
            yield from numbers(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from numbers(v)
    else:
        try:
            yield from np.asarray(value, dtype=np.float64).ravel().tolist()
        except (TypeError, ValueError):
            return


def expected_numbers(check_name: str) -> set[str]:
    """The reference's expected values for a check, as 6 significant digits (the longer ones only)."""
    spec = next(c for c in ASSIGNMENT.checks if c.name == check_name)
    return {s for s in (f"{v:.6g}" for v in numbers(reference.load(ASSIGNMENT, spec)["expected"])) if len(s) >= 5}


def test_hidden_expected_values_stay_out_of_student_files(buggy_report):
    _, out = buggy_report
    text = "\n".join((out / name).read_text() for name in STUDENT_FILES)
    # The detector sees a value when one is shown: a failed public check prints its expected values.
    assert any(s in text for s in expected_numbers("scores_when_y_is_none"))
    for spec in ASSIGNMENT.checks:
        if spec.visibility == "hidden":
            leaked = sorted(s for s in expected_numbers(spec.name) if s in text)
            assert not leaked, f"{spec.name}: hidden expected values in the student's files: {leaked[:5]}"
