"""numpy_two_layer through the public interface (grader.api.grade), as tables.

The solution and a differently written correct submission earn full marks and the
stub zero; each typical bug is a one-line mutant of the solution that loses exactly
the checks it really breaks, and the hint of its main check names the cause.
The tolerances of assignment.toml are re-measured on the solution itself.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import sys

import numpy as np
import pytest

from conftest import ROOT, failing, mutate, solution_source, stub_source
from grader import api, reference
from grader.checks.gradients import numeric_gradient
from grader.registry import get_assignment

A = "numpy_two_layer"
ASSIGNMENT = get_assignment(A, ROOT)
POINTS = {c.name: c.points for c in ASSIGNMENT.checks}
FULL = ASSIGNMENT.max_score - sum(c.points for c in ASSIGNMENT.checks if c.requires == "cuda")  # 98 without a GPU

NUMPY_GRADS = ("numpy_loss_and_grads", "numpy_grads_vs_numeric", "numpy_loss_and_grads_hidden", "numpy_torch_agree")
TORCH_GRADS = ("torch_loss_and_grads", "torch_grads_vs_numeric", "torch_loss_and_grads_hidden", "numpy_torch_agree")
NUMPY_TRAIN = ("numpy_train_trajectory", "numpy_train_hidden")
AUTOGRAD_TRAIN = ("autograd_train_trajectory", "autograd_train_hidden")
OPTIM_TRAIN = ("optim_train_trajectory", "optim_train_hidden")

MUTANTS = {
    "numpy_factor_2_missing": ("    grad_y_pred = 2.0 * (y_pred - y)\n", "    grad_y_pred = y_pred - y\n"),
    "numpy_relu_mask_missing": ("grad_h = np.where(h < 0, 0.0, grad_h_relu)", "grad_h = grad_h_relu"),
    "numpy_loss_is_mean": ("loss = float(np.square(y_pred - y).sum())", "loss = float(np.square(y_pred - y).mean())"),
    "torch_relu_mask_inverted": ("grad_h[h < 0] = 0", "grad_h[h > 0] = 0"),
    "torch_grads_keep_a_graph": ("grad_w1 = x.t().mm(grad_h)", "grad_w1 = x.t().mm(grad_h).requires_grad_()"),
    "numpy_train_lecture_lr": ("w1, w2 = w1 - learning_rate * grad_w1, w2 - learning_rate * grad_w2",
                               "w1, w2 = w1 - 1e-6 * grad_w1, w2 - 1e-6 * grad_w2"),
    "autograd_grads_never_zeroed": ("                w.grad.zero_()\n", ""),
    "autograd_rebinds_weights": ("w -= learning_rate * w.grad", "w = w - learning_rate * w.grad"),
    "model_without_relu": ("        torch.nn.ReLU(),\n", ""),
    "adam_with_stale_lr": ("torch.optim.Adam(model.parameters(), lr=learning_rate)",
                           "torch.optim.Adam(model.parameters(), lr=1e-6)"),
    "mse_mean_not_sum": ("torch.nn.MSELoss(reduction='sum')", "torch.nn.MSELoss()"),
}


def row(mutant: str, main: str, hint: str, *, failed=(), error=()):
    fails = {name: "failed" for name in failed} | {name: "error" for name in error}
    return pytest.param(mutant, fails, main, hint, id=mutant)


ROWS = [
    row("numpy_factor_2_missing", "numpy_loss_and_grads", "factor 2 from the square is missing",
        failed=NUMPY_GRADS + NUMPY_TRAIN),
    row("numpy_relu_mask_missing", "numpy_loss_and_grads", "ReLU mask is missing", failed=NUMPY_GRADS + NUMPY_TRAIN),
    row("numpy_loss_is_mean", "numpy_loss_and_grads", "mean squared error", failed=NUMPY_GRADS + NUMPY_TRAIN),
    row("torch_relu_mask_inverted", "torch_loss_and_grads", "ReLU mask is inverted", failed=TORCH_GRADS),
    row("torch_grads_keep_a_graph", "manual_no_autograd", "by hand", failed=("manual_no_autograd",)),
    row("numpy_train_lecture_lr", "numpy_train_trajectory", "default learning_rate=1e-6", failed=NUMPY_TRAIN),
    row("autograd_grads_never_zeroed", "autograd_train_trajectory", "never zeroed", failed=AUTOGRAD_TRAIN),
    row("model_without_relu", "build_model_structure", "ReLU between the two Linear layers",
        failed=("build_model_structure",)),
    row("adam_with_stale_lr", "optim_train_trajectory", "your Adam was built with lr=1e-06", failed=OPTIM_TRAIN),
    row("mse_mean_not_sum", "optim_train_trajectory", "reduction='sum'", failed=OPTIM_TRAIN),
]
OTHER_HINTS = [  # (mutant, check, words of its hint)
    pytest.param("numpy_factor_2_missing", "numpy_train_trajectory", "half the gradient", id="factor_2_training"),
    pytest.param("numpy_factor_2_missing", "numpy_grads_vs_numeric", "factor 2", id="factor_2_numeric"),
    pytest.param("numpy_loss_is_mean", "numpy_grads_vs_numeric", "(a mean) but the gradient is not", id="mean_numeric"),
    pytest.param("numpy_loss_is_mean", "numpy_train_trajectory", "divided by the number of entries", id="mean_train"),
    pytest.param("numpy_relu_mask_missing", "numpy_torch_agree", "fix numpy_forward_backward", id="agree_numpy"),
    pytest.param("torch_relu_mask_inverted", "numpy_torch_agree", "fix torch_forward_backward", id="agree_torch"),
    pytest.param("adam_with_stale_lr", "optim_train_hidden", "your Adam was built with lr=", id="stale_lr_hidden"),
]


def mutant_source(name: str) -> str:
    return mutate(solution_source(A), *MUTANTS[name])


def check(report, name: str):
    return next(c for c in report.checks if c.name == name)


def unexpected(report, fails: dict[str, str]) -> str:
    got = failing(report)
    return "\n".join(f"{c.name}: {c.status}: {c.message[:300]}" for c in report.checks
                     if c.status != "skipped" and got.get(c.name) != fails.get(c.name))


@pytest.fixture(scope="module")
def graded(sandboxes, tmp_path_factory):
    """Each submission graded once for the whole module (one fork server)."""
    cache = {}

    def grade(key: str, source: str):
        if key not in cache:
            path = tmp_path_factory.mktemp(key) / f"{A}.py"
            path.write_text(source)
            cache[key] = api.grade(path, A, root=ROOT, sandbox=sandboxes(A))
        return cache[key]

    return grade


# -- full marks, zero ---------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["solution", "alice"])
def test_correct_submission_earns_full_marks(graded, who):
    source = solution_source(A) if who == "solution" else \
        (ROOT / "assignments" / A / "demo_class" / "alice.py").read_text()
    report = graded(who, source)
    assert failing(report) == {}, unexpected(report, {})
    assert report.score == report.max_score == FULL
    assert {c.name for c in report.checks if c.status == "skipped"} == {"torch_cuda_device"}


def test_stub_earns_zero_without_crashing(graded):
    report = graded("stub", stub_source(A))
    assert report.problem is None and not report.grader_errors
    assert report.score == 0 and report.max_score == FULL
    counted = [c for c in report.checks if c.status != "skipped"]
    assert len(counted) == len(ASSIGNMENT.checks) - 1
    assert all(c.status == "error" and "not implemented yet" in c.message for c in counted), \
        [c.message for c in counted if "not implemented yet" not in c.message]


# -- one-line mutants ---------------------------------------------------------------------------
@pytest.mark.parametrize("mutant, fails, main, hint", ROWS)
def test_mutant_loses_exactly_its_checks(graded, mutant, fails, main, hint):
    report = graded(mutant, mutant_source(mutant))
    assert failing(report) == fails, unexpected(report, fails)
    assert report.score == FULL - sum(POINTS[name] for name in fails)
    got = check(report, main).hint
    assert got and hint in got, f"expected a hint with {hint!r}, got {got!r}"


@pytest.mark.parametrize("mutant, name, hint", OTHER_HINTS)
def test_other_failing_checks_blame_the_right_thing(graded, mutant, name, hint):
    got = check(graded(mutant, mutant_source(mutant)), name).hint
    assert got and hint in got, f"expected a hint with {hint!r}, got {got!r}"


def test_rebinding_in_autograd_train_is_explained(graded):
    """An error, not a wrong value: every check that runs autograd_train says what to do instead."""
    report = graded("autograd_rebinds_weights", mutant_source("autograd_rebinds_weights"))
    want = {name: "error" for name in AUTOGRAD_TRAIN + ("default_arguments",)}
    assert failing(report) == want, unexpected(report, want)
    assert all("update the given tensors in place" in check(report, n).message for n in want)


# -- reference data and tolerances --------------------------------------------------------------
def test_reference_generation_is_deterministic(sandboxes, tmp_path):
    """Regenerated over a copy of the reference_data/ in the repository: the same bytes (values within
    1e-12 of the new ones are left alone, so another CPU's rounding changes nothing; manifest.json
    also records the environment and the sources' fingerprint, so only its file list is compared)."""
    first = {p.relative_to(ASSIGNMENT.reference_dir): p.read_bytes()
             for p in ASSIGNMENT.reference_dir.rglob("*") if p.is_file()}
    copy = dataclasses.replace(ASSIGNMENT, reference_dir=tmp_path / A)
    shutil.copytree(ASSIGNMENT.reference_dir, tmp_path / A)
    reference.generate(copy, sandboxes(A))
    second = {p.relative_to(tmp_path / A): p.read_bytes() for p in (tmp_path / A).rglob("*") if p.is_file()}
    assert second.keys() == first.keys()
    assert [k for k in first if first[k] != second[k] and k.name != "manifest.json"] == []
    assert reference.manifest(copy)["files"] == reference.manifest(ASSIGNMENT)["files"]


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _entrywise(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a) + np.abs(b)))


def test_tolerances_fit_the_solution():
    """Each tolerance is at least 10x the solution's own error (as assignment.toml's comment says)."""
    import torch

    torch.set_num_threads(1)
    sol = _load(ROOT / "solutions" / A / f"{A}.py", "_ntl_solution")
    mis = _load(ROOT / "solutions" / A / "mistakes.py", "_ntl_mistakes")  # an independent NumPy model
    spec = {c.name: c for c in ASSIGNMENT.checks}
    inputs = {name: reference.load(ASSIGNMENT, c)["inputs"] for name, c in spec.items()}
    tol = {name: c.options.get("tolerance") for name, c in spec.items()}
    measured = {}

    def arrays(name, dtype=np.float64):
        return [np.asarray(inputs[name][k], dtype) for k in ("x", "y", "w1", "w2")]

    for name in ("numpy_loss_and_grads", "numpy_loss_and_grads_hidden", "torch_loss_and_grads"):
        model = mis._forward_backward(*arrays(name))
        mine = sol.numpy_forward_backward(*arrays(name))
        tmine = [t.numpy() if hasattr(t, "numpy") else t for t in
                 sol.torch_forward_backward(*[torch.tensor(a) for a in arrays(name)])]
        measured[name] = max(_rel(a, b) for out in (mine, tmine) for a, b in zip(out, model))
    x, y, w1, w2 = arrays("numpy_grads_vs_numeric")
    analytic = sol.numpy_forward_backward(x, y, w1, w2)
    numeric = numeric_gradient(lambda w: sol.numpy_forward_backward(x, y, w, w2)[0], w1.copy())
    measured["numpy_grads_vs_numeric"] = _rel(analytic[1], numeric)
    name = "torch_loss_and_grads_hidden"
    f32 = sol.torch_forward_backward(*[torch.tensor(a, dtype=torch.float32) for a in arrays(name)])
    model = mis._forward_backward(*arrays(name))
    measured[name] = max(_rel(a.double().numpy(), b) for a, b in zip(f32, model))
    for name in NUMPY_TRAIN:
        lr, n = float(inputs[name]["learning_rate"]), int(inputs[name]["num_epochs"])
        measured[name] = _entrywise(sol.numpy_train(*arrays(name), lr, n)[2], mis._train(*arrays(name), lr, n))
    for name in AUTOGRAD_TRAIN:
        lr, n = float(inputs[name]["learning_rate"]), int(inputs[name]["num_epochs"])
        t = [torch.tensor(a, dtype=torch.float32) for a in arrays(name)]
        t[2].requires_grad_()
        t[3].requires_grad_()
        measured[name] = _entrywise(sol.autograd_train(*t, lr, n), mis._train(*arrays(name), lr, n))
    for name in OPTIM_TRAIN:
        losses = {}
        for dtype in (torch.float32, torch.float64):
            model = sol.build_model(*np.shape(inputs[name]["w1"]), np.shape(inputs[name]["w2"])[1]).to(dtype)
            with torch.no_grad():
                for pname, p in model.named_parameters():
                    p.copy_(torch.as_tensor(inputs[name]["layers"][pname]))
            losses[dtype] = sol.optim_train(model, torch.tensor(inputs[name]["x"], dtype=dtype),
                                            torch.tensor(inputs[name]["y"], dtype=dtype),
                                            float(inputs[name]["learning_rate"]), int(inputs[name]["num_epochs"]))
        measured[name] = _entrywise(losses[torch.float32], losses[torch.float64])
    print("\nmeasured error / tolerance:", {k: f"{v:.1e} / {tol[k]:g}" for k, v in measured.items()})
    too_tight = {k: (v, tol[k]) for k, v in measured.items() if v * 10 > tol[k]}
    assert not too_tight
