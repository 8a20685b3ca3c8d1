"""manual_backprop through the public interface (grader.api.grade), as tables.

The solution and a differently written correct submission earn full marks, the stub
zero; each typical bug is a one-line mutant of the solution that loses exactly the
checks it really breaks, and the main check's hint names the cause.
"""
from __future__ import annotations

import importlib.util
import shutil

import pytest

from conftest import ROOT, failing, hidden_values_shown, mutate, solution_source, stub_source
from grader import reference
from grader.assignment import Assignment
from grader.registry import get_assignment

A = "manual_backprop"
ASSIGNMENT = get_assignment(A, ROOT)
POINTS = {c.name: c.points for c in ASSIGNMENT.checks}
FULL = ASSIGNMENT.max_score

BACKWARD = ("backward_vs_reference", "backward_vs_numeric", "backward_larger")
MANUAL_CURVES = ("train_manual_curves", "train_manual_curves_other")
MANUAL = MANUAL_CURVES + ("train_manual_accuracy",)
AUTOGRAD = ("train_autograd_curves", "train_autograd_accuracy", "train_autograd_curves_other")

# -- the mutants: one line of the solution, and what it becomes ---------------------------------
MUTANTS = {
    "tanh_derivative_missing": ("delta_h = (delta_y @ params['Wy']) * (1 - outputs['h'] ** 2)",
                                "delta_h = delta_y @ params['Wy']"),
    "tanh_derivative_on_htilde": ("delta_h = (delta_y @ params['Wy']) * (1 - outputs['h'] ** 2)",
                                  "delta_h = (delta_y @ params['Wy']) * (1 - outputs['htilde'] ** 2)"),
    "no_mean_over_batch": ("    delta_y = (outputs['yhat'] - Y) / N\n", "    delta_y = outputs['yhat'] - Y\n"),
    "by_not_a_column": ("grads['by'] = delta_y.sum(dim=0, keepdim=True).T", "grads['by'] = delta_y.sum(dim=0)"),
    "dWy_transposed": ("grads['Wy'] = delta_y.T @ outputs['h']", "grads['Wy'] = outputs['h'].T @ delta_y"),
    "backward_uses_autograd": (
        "    N = Y.shape[0]\n    # Softmax followed by cross-entropy",
        "    p = {k: v.clone().requires_grad_() for k, v in params.items()}; "
        "loss_accuracy(forward(p, outputs['X'])[0], Y)[0].backward(); return {k: v.grad for k, v in p.items()}\n"
        "    N = Y.shape[0]\n    # Softmax followed by cross-entropy"),
    "sgd_uphill": ("params[name] = params[name] - eta * grads[name]", "params[name] = params[name] + eta * grads[name]"),
    "permute_once": ("        perm = torch.randperm(N)  # a new order every epoch\n",
                     "        perm = torch.randperm(N) if epoch == 0 else perm\n"),
    "last_batch_dropped": ("for i in range(0, N, batch_size):", "for i in range(0, N - batch_size + 1, batch_size):"),
    "default_eta_wrong": ("def train_manual(data, nh=10, eta=0.03,", "def train_manual(data, nh=10, eta=0.01,"),
    "grads_not_zeroed": ("            params[name].grad.zero_()\n", ""),
    "update_without_no_grad": ("    with torch.no_grad():\n        for name in params:",
                               "    with torch.enable_grad():\n        for name in params:"),
    "update_rebinds": ("            params[name] -= eta * params[name].grad\n            params[name].grad.zero_()\n",
                       "            params[name] = params[name] - eta * params[name].grad\n"),
    "init_autograd_not_leaf": ("        p.requires_grad_(True)",
                               "        params = {k: v.requires_grad_() * 1 for k, v in params.items()}; break"),
    "deep_tanh_missing": ("            delta = (delta @ params[W]) * (1 - outputs[act] ** 2)",
                          "            delta = delta @ params[W]"),
}


def row(mutant: str, main: str, hint: str, *, failed=(), error=()):
    """One table row: the exact checks that must not pass ({name: status}), and the main check's hint."""
    fails = {name: "failed" for name in failed} | {name: "error" for name in error}
    return pytest.param(mutant, fails, main, hint, id=mutant)


ROWS = [
    # backward: the backward checks, and the manual training built on it
    row("tanh_derivative_missing", "backward_vs_reference", "tanh derivative is missing", failed=BACKWARD + MANUAL),
    row("tanh_derivative_on_htilde", "backward_vs_reference", "not the pre-activation htilde",
        failed=BACKWARD + MANUAL),
    # 10x larger steps still train to 98.5% on the circles: only the trajectories see it
    row("no_mean_over_batch", "backward_vs_numeric", "divide by N", failed=BACKWARD + MANUAL_CURVES),
    row("by_not_a_column", "backward_vs_reference", "must be a column of shape (4, 1)", failed=BACKWARD, error=MANUAL),
    row("dWy_transposed", "backward_vs_reference", "transposed layout", failed=BACKWARD, error=MANUAL),
    row("backward_uses_autograd", "no_autograd_by_hand", "by-hand part", failed=("no_autograd_by_hand",)),
    # sgd and the loop
    row("sgd_uphill", "sgd_update", "goes uphill", failed=("sgd_update",) + MANUAL),
    row("permute_once", "train_manual_curves", "new permutation at the start of every epoch", failed=MANUAL_CURVES),
    # the public run has 200 / 10 = 20 full batches: only the hidden run has a shorter last one
    row("last_batch_dropped", "train_manual_curves_other", "last, shorter mini-batch",
        failed=("train_manual_curves_other",)),
    row("default_eta_wrong", "train_manual_curves", "eta=0.01 (the contract: 0.03)", failed=("train_manual_curves",)),
    # autograd
    row("grads_not_zeroed", "sgd_autograd_update", "zero each .grad", failed=("sgd_autograd_update",) + AUTOGRAD),
    row("update_without_no_grad", "sgd_autograd_update", "torch.no_grad()", failed=("sgd_autograd_update",),
        error=AUTOGRAD),
    row("update_rebinds", "sgd_autograd_update", "update in place", failed=("sgd_autograd_update",), error=AUTOGRAD),
    row("init_autograd_not_leaf", "init_params_autograd", "not a leaf", failed=("init_params_autograd",),
        error=AUTOGRAD),
    # bonus
    row("deep_tanh_missing", "deep_backward", "tanh derivatives (1 - h**2) are missing", failed=("deep_backward",)),
]


def mutant_source(name: str) -> str:
    old, new = MUTANTS[name]
    return mutate(solution_source(A), old, new)


def assert_hidden_values_stay_hidden(report) -> None:
    assert not hidden_values_shown(report, ASSIGNMENT)


def check(report, name: str):
    return next(c for c in report.checks if c.name == name)


def unexpected(report, fails: dict[str, str]) -> str:
    got = failing(report)
    return "\n".join(f"{c.name}: {c.status}: {c.message[:200]}" for c in report.checks
                     if got.get(c.name) != fails.get(c.name))


# -- full marks, zero ---------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    pytest.param(lambda: solution_source(A), id="solution"),
    pytest.param(lambda: (ROOT / "assignments" / A / "demo_class" / "amira.py").read_text(), id="amira"),
])
def test_correct_submission_earns_full_marks(grade_source, source):
    report = grade_source(A, source())
    assert failing(report) == {}
    assert report.score == report.max_score == FULL == 100
    # the decision surfaces are drawn for both trainers
    for name in ("train_manual_accuracy", "train_autograd_accuracy"):
        assert [f.png[:8] for f in check(report, name).figures] == [b"\x89PNG\r\n\x1a\n"]


def test_stub_earns_zero_without_crashing(grade_source):
    report = grade_source(A, stub_source(A))
    assert report.problem is None and not report.grader_errors
    assert report.score == 0 and report.max_score == FULL
    assert all(c.status == "error" and "not implemented yet" in c.message for c in report.checks)


# -- one-line mutants ---------------------------------------------------------------------------
@pytest.mark.parametrize("mutant, fails, main, hint", ROWS)
def test_mutant_loses_exactly_its_checks(grade_source, mutant, fails, main, hint):
    report = grade_source(A, mutant_source(mutant))
    assert failing(report) == fails, unexpected(report, fails)
    assert report.score == FULL - sum(POINTS[name] for name in fails)
    assert_hidden_values_stay_hidden(report)
    found = check(report, main).hint
    assert found and hint in found, f"expected a hint with {hint!r}, got {found!r}"


# -- reference data and tolerances --------------------------------------------------------------
def test_reference_data_is_reproducible(sandboxes, tmp_path):
    """Regenerating over the checked-in reference_data keeps its bytes: values within 1e-12 of the
    new ones are left alone, so another CPU's rounding changes nothing (manifest.json also records
    the environment and the sources' fingerprint, so only its file list is compared)."""
    fresh = Assignment.load(ASSIGNMENT.root, solutions=ASSIGNMENT.solution_dir, reference=tmp_path / A)
    shutil.copytree(ASSIGNMENT.reference_dir, tmp_path / A)
    reference.generate(fresh, sandboxes(A))
    stored = sorted(p.relative_to(ASSIGNMENT.reference_dir) for p in ASSIGNMENT.reference_dir.rglob("*") if p.is_file())
    made = sorted(p.relative_to(tmp_path / A) for p in (tmp_path / A).rglob("*") if p.is_file())
    assert made == stored
    for rel in stored:
        if rel.name == "manifest.json":
            assert reference.manifest(fresh)["files"] == reference.manifest(ASSIGNMENT)["files"]
            continue
        assert (tmp_path / A / rel).read_bytes() == (ASSIGNMENT.reference_dir / rel).read_bytes(), rel


def test_tolerances_have_room():
    """The solution's own errors (quoted in assignment.toml) sit far below the tolerances: its
    float64 gradients against an independent NumPy backward, and against central differences."""
    from grader.checks import rel_error

    spec = importlib.util.spec_from_file_location("_mb_mistakes", ROOT / "solutions" / A / "mistakes.py")
    mistakes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mistakes)
    for check in ASSIGNMENT.checks:
        record = reference.load(ASSIGNMENT, check)
        if check.probe == "backward_grads":
            numpy_grads = mistakes._backward(record["inputs"])
            for k, g in record["expected"]["grads"].items():
                assert rel_error(g["__tensor__"], numpy_grads[k]) < check.options["tolerance"] / 1e3
        if check.probe == "backward_numeric":
            analytic, numeric = record["expected"]["analytic"], record["expected"]["numeric"]
            for k in analytic:
                assert rel_error(analytic[k]["__tensor__"], numeric[k]) < check.options["tolerance"] / 100
