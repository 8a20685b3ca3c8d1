"""numpy_two_layer through the public interface (grader.api.grade), as tables.

The solution, a differently written correct submission and the lecture's ways of zeroing
gradients earn full marks; the stub zero, and a do-nothing submission (zeros, or noise, of
the right shapes) only build_model's points; each typical bug is a one-line mutant of the
solution, and the table states every check it does not pass, what that check still earns
and its exact hint (or None). The tolerances of assignment.toml are re-measured on the
solution itself.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import sys

import numpy as np
import pytest

from conftest import ROOT, assert_outcomes, mutate, outcomes, solution_source, stub_source
from grader import reference
from grader.checks.gradients import numeric_gradient
from grader.registry import get_assignment

A = "numpy_two_layer"
ASSIGNMENT = get_assignment(A, ROOT)
POINTS = {c.name: c.points for c in ASSIGNMENT.checks}
FULL = ASSIGNMENT.max_score - sum(c.points for c in ASSIGNMENT.checks if c.requires == "cuda")  # 98 without a GPU

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
    # zeroing conventions the lecture's readers use: all right
    "zero_grad_if_not_none": ("        loss.backward()\n        with torch.no_grad():\n            for w in (w1, w2):\n"
                              "                w -= learning_rate * w.grad\n                w.grad.zero_()\n",
                              "        for w in (w1, w2):\n            if w.grad is not None:\n                w.grad.zero_()\n"
                              "        loss.backward()\n        with torch.no_grad():\n            for w in (w1, w2):\n"
                              "                w -= learning_rate * w.grad\n"),
    "grad_set_to_none": ("                w.grad.zero_()\n", "                w.grad = None\n"),
    # and the bug next to them: zeroing before the first backward(), when .grad is still None
    "zero_grad_before_first_backward": ("        loss.backward()\n        with torch.no_grad():\n            for w in (w1, w2):\n"
                                        "                w -= learning_rate * w.grad\n                w.grad.zero_()\n",
                                        "        w1.grad.zero_()\n        w2.grad.zero_()\n"
                                        "        loss.backward()\n        with torch.no_grad():\n            for w in (w1, w2):\n"
                                        "                w -= learning_rate * w.grad\n"),
    "numpy_loss_halved": ("loss = float(np.square(y_pred - y).sum())", "loss = 0.5 * float(np.square(y_pred - y).sum())"),
}


# A submission that does no work: every function returns {fill} of the right shapes, except
# build_model, which builds the right network (real structure, worth its own check's points).
DO_NOTHING = """
F = {fill}
def _np(a): return F(*a.shape).numpy().astype(np.float64)
def numpy_forward_backward(x, y, w1, w2): return float(F(())), _np(w1), _np(w2)
def numpy_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    return _np(w1), _np(w2), [float(v) for v in F(num_epochs)]
def torch_forward_backward(x, y, w1, w2):
    return tuple(F(*s, dtype=x.dtype, device=x.device) for s in ((), w1.shape, w2.shape))
def autograd_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500): return [float(v) for v in F(num_epochs)]
def optim_train(model, x, y, learning_rate=1e-4, num_epochs=500): return [float(v) for v in F(num_epochs)]
"""


def mutant_source(name: str) -> str:
    return mutate(solution_source(A), *MUTANTS[name])


def check(report, name: str):
    return next(c for c in report.checks if c.name == name)


# -- full marks, zero ---------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["solution", "alice"])
def test_correct_submission_earns_full_marks(graded, who):
    source = solution_source(A) if who == "solution" else \
        (ROOT / "assignments" / A / "demo_class" / "alice.py").read_text()
    report = graded(A, who, source)
    assert outcomes(report) == {}
    assert report.score == report.max_score == FULL
    assert {c.name for c in report.checks if c.status == "skipped"} == {"torch_cuda_device"}


def test_stub_earns_zero_without_crashing(graded):
    report = graded(A, "stub", stub_source(A))
    assert report.problem is None and not report.grader_errors
    assert report.score == 0 and report.max_score == FULL
    counted = [c for c in report.checks if c.status != "skipped"]
    assert len(counted) == len(ASSIGNMENT.checks) - 1
    assert all(c.status == "error" and "not implemented yet" in c.message for c in counted), \
        [c.message for c in counted if "not implemented yet" not in c.message]


@pytest.mark.parametrize("fill", ["torch.zeros", "torch.randn"])
def test_doing_nothing_earns_nothing_but_structure(graded, fill):
    """No property check (agreement with central differences of your own loss, no autograd, inputs
    unchanged, both versions agree, defaults) pays without the values; the right nn.Sequential does."""
    report = graded(A, f"do_nothing_{fill}", solution_source(A) + DO_NOTHING.format(fill=fill))
    assert not report.grader_errors
    assert {c.name: c.score for c in report.checks if c.score} == {"build_model_structure": POINTS["build_model_structure"]}


# -- one-line mutants: every check they do not pass, with its exact hint ---------------------------
# -- the table: generated by grading each mutant, then read for the right cause --------------------
# The hints, by a short name (each appears in the table below).
H = {
    "d_loss_d_pred": (
        'd loss / d y_pred is 2 * (y_pred - y): the factor 2 from the square is missing.'
    ),
    "torch_version_matches_reference": (
        'your torch version matches the reference here and your NumPy version does not: fix '
        'numpy_forward_backward.'
    ),
    "fix_numpy_loss_grads": (
        'fix numpy_loss_and_grads first: this check pays only for a version that also computes the right '
        'values.'
    ),
    "fix_numpy_loss_grads_2": (
        'fix numpy_loss_and_grads first: this check depends on it'
    ),
    "fix_numpy_train_trajectory": (
        'fix numpy_train_trajectory first: this check depends on it'
    ),
    "relu_mask_missing_backward": (
        'the ReLU mask is missing in the backward pass: zero grad_h where h < 0 (the ReLU was off there).'
    ),
    "mean_squared_error_lecture": (
        "this is the mean squared error: the lecture's loss is the sum of the squared errors, ((y_pred - y) "
        '** 2).sum(), not their mean.'
    ),
    "grad_w1_24x_slope": (
        'grad_w1 is 24x the slope of your loss, and y has 24 entries: the loss is divided by their number (a '
        "mean) but the gradient is not. The lecture's loss is the sum of squares; keep both as sums."
    ),
    "relu_mask_inverted_gradient": (
        'the ReLU mask is inverted: the gradient must pass where h > 0 and be zeroed where h < 0.'
    ),
    "numpy_version_matches_reference": (
        'your NumPy version matches the reference here and your torch version does not: fix '
        'torch_forward_backward.'
    ),
    "fix_torch_loss_grads": (
        'fix torch_loss_and_grads first: this check pays only for a version that also computes the right '
        'values.'
    ),
    "these_two_versions_compute": (
        "these two versions compute the gradients by hand, as the lecture's first two parts do: no "
        'requires_grad, no .backward(), no torch.autograd; autograd comes in autograd_train.'
    ),
    "losses_follow_training_default": (
        'the losses follow training with the default learning_rate=1e-6, not the learning_rate=0.002 you were'
        ' given: pass the argument on.'
    ),
    "losses_follow_training_default_2": (
        'the losses follow training with the default learning_rate=1e-6, not the learning_rate=0.001 you were'
        ' given: pass the argument on.'
    ),
    "losses_follow_gradients_that": (
        'the losses follow gradients that were never zeroed: .grad accumulates across backward() calls, so '
        'each step used the sum of all gradients so far. Zero w1.grad and w2.grad after each update '
        '(w1.grad.zero_()).'
    ),
    "fix_autograd_train_trajectory": (
        'fix autograd_train_trajectory first: this check depends on it'
    ),
    "relu_between_two_linear": (
        'the ReLU between the two Linear layers is missing: without it the network is linear.'
    ),
    "adam_was_built_lr": (
        'your Adam was built with lr=1e-06, but optim_train was called with learning_rate=0.01: pass the '
        "argument, torch.optim.Adam(model.parameters(), lr=learning_rate). (The lecture's cell created its "
        "optimizer before assigning learning_rate, so it silently kept the previous cell's value.)"
    ),
    "adam_was_built_lr_2": (
        'your Adam was built with lr=1e-06, but optim_train was called with learning_rate=0.003: pass the '
        "argument, torch.optim.Adam(model.parameters(), lr=learning_rate). (The lecture's cell created its "
        "optimizer before assigning learning_rate, so it silently kept the previous cell's value.)"
    ),
    "fix_optim_train_trajectory": (
        'fix optim_train_trajectory first: this check depends on it'
    ),
    "first_loss_reference_s": (
        "your first loss is the reference's divided by 64 = N * D_out, the number of entries of y: MSELoss "
        "averages by default; the lecture sums, MSELoss(reduction='sum')."
    ),
    "first_loss_reference_s_2": (
        "your first loss is the reference's divided by 72 = N * D_out, the number of entries of y: MSELoss "
        "averages by default; the lecture sums, MSELoss(reduction='sum')."
    ),
    "loss_has_0_5": (
        "the loss has a 0.5 factor; the lecture's loss is the plain sum of squares."
    ),
    "grad_w1_twice_slope": (
        'grad_w1 is twice the slope of your loss: is the loss halved (0.5 * sum) while the gradient is not?'
    ),
}

# Every check each mutant does not pass: (status, points it still earns, its exact hint or None).
EXPECTED = {
    "numpy_factor_2_missing": {
        "numpy_loss_and_grads": ("failed", 0, H["d_loss_d_pred"]),
        "numpy_grads_vs_numeric": ("failed", 0, H["d_loss_d_pred"]),
        "numpy_loss_and_grads_hidden": ("failed", 0, H["d_loss_d_pred"]),
        "numpy_torch_agree": ("failed", 0, H["torch_version_matches_reference"]),
        "manual_no_autograd": ("failed", 3, H["fix_numpy_loss_grads"]),
        "inputs_unchanged": ("failed", 1.5, H["fix_numpy_loss_grads"]),
        "numpy_train_trajectory": ("failed", 0, H["fix_numpy_loss_grads_2"]),
        "numpy_train_hidden": ("failed", 0, H["fix_numpy_loss_grads_2"]),
        "default_arguments": ("failed", 1.33, H["fix_numpy_train_trajectory"]),
    },
    "numpy_relu_mask_missing": {
        "numpy_loss_and_grads": ("failed", 0, H["relu_mask_missing_backward"]),
        "numpy_grads_vs_numeric": ("failed", 0, H["relu_mask_missing_backward"]),
        "numpy_loss_and_grads_hidden": ("failed", 0, H["relu_mask_missing_backward"]),
        "numpy_torch_agree": ("failed", 0, H["torch_version_matches_reference"]),
        "manual_no_autograd": ("failed", 3, H["fix_numpy_loss_grads"]),
        "inputs_unchanged": ("failed", 1.5, H["fix_numpy_loss_grads"]),
        "numpy_train_trajectory": ("failed", 0, H["fix_numpy_loss_grads_2"]),
        "numpy_train_hidden": ("failed", 0, H["fix_numpy_loss_grads_2"]),
        "default_arguments": ("failed", 1.33, H["fix_numpy_train_trajectory"]),
    },
    "numpy_loss_is_mean": {
        "numpy_loss_and_grads": ("failed", 0, H["mean_squared_error_lecture"]),
        "numpy_grads_vs_numeric": ("failed", 0, H["grad_w1_24x_slope"]),
        "numpy_loss_and_grads_hidden": ("failed", 0, H["mean_squared_error_lecture"]),
        "numpy_torch_agree": ("failed", 0, H["torch_version_matches_reference"]),
        "manual_no_autograd": ("failed", 3, H["fix_numpy_loss_grads"]),
        "inputs_unchanged": ("failed", 1.5, H["fix_numpy_loss_grads"]),
        "numpy_train_trajectory": ("failed", 0, H["fix_numpy_loss_grads_2"]),
        "numpy_train_hidden": ("failed", 0, H["fix_numpy_loss_grads_2"]),
        "default_arguments": ("failed", 1.33, H["fix_numpy_train_trajectory"]),
    },
    "torch_relu_mask_inverted": {
        "torch_loss_and_grads": ("failed", 0, H["relu_mask_inverted_gradient"]),
        "torch_grads_vs_numeric": ("failed", 0, H["relu_mask_inverted_gradient"]),
        "torch_loss_and_grads_hidden": ("failed", 0, H["relu_mask_inverted_gradient"]),
        "numpy_torch_agree": ("failed", 0, H["numpy_version_matches_reference"]),
        "manual_no_autograd": ("failed", 3, H["fix_torch_loss_grads"]),
        "inputs_unchanged": ("failed", 1.5, H["fix_torch_loss_grads"]),
    },
    "torch_grads_keep_a_graph": {
        "manual_no_autograd": ("failed", 3, H["these_two_versions_compute"]),
    },
    "numpy_train_lecture_lr": {
        "numpy_train_trajectory": ("failed", 0, H["losses_follow_training_default"]),
        "numpy_train_hidden": ("failed", 0, H["losses_follow_training_default_2"]),
    },
    "autograd_grads_never_zeroed": {
        "autograd_train_trajectory": ("failed", 0, H["losses_follow_gradients_that"]),
        "autograd_train_hidden": ("failed", 0, H["losses_follow_gradients_that"]),
        "default_arguments": ("failed", 1.33, H["fix_autograd_train_trajectory"]),
    },
    "autograd_rebinds_weights": {
        "autograd_train_trajectory": ("error", 0, None),
        "autograd_train_hidden": ("error", 0, None),
        "default_arguments": ("error", 0, H["fix_autograd_train_trajectory"]),
    },
    "model_without_relu": {
        "build_model_structure": ("failed", 0, H["relu_between_two_linear"]),
    },
    "adam_with_stale_lr": {
        "optim_train_trajectory": ("failed", 0, H["adam_was_built_lr"]),
        "optim_train_hidden": ("failed", 0, H["adam_was_built_lr_2"]),
        "default_arguments": ("failed", 1.33, H["fix_optim_train_trajectory"]),
    },
    "mse_mean_not_sum": {
        "optim_train_trajectory": ("failed", 0, H["first_loss_reference_s"]),
        "optim_train_hidden": ("failed", 0, H["first_loss_reference_s_2"]),
        "default_arguments": ("failed", 1.33, H["fix_optim_train_trajectory"]),
    },
    "zero_grad_if_not_none": {},
    "grad_set_to_none": {},
    "zero_grad_before_first_backward": {
        "autograd_train_trajectory": ("error", 0, None),
        "autograd_train_hidden": ("error", 0, None),
        "default_arguments": ("error", 0, H["fix_autograd_train_trajectory"]),
    },
    "numpy_loss_halved": {
        "numpy_loss_and_grads": ("failed", 0, H["loss_has_0_5"]),
        "numpy_grads_vs_numeric": ("failed", 0, H["grad_w1_twice_slope"]),
        "numpy_loss_and_grads_hidden": ("failed", 0, H["loss_has_0_5"]),
        "numpy_torch_agree": ("failed", 0, H["torch_version_matches_reference"]),
        "manual_no_autograd": ("failed", 3, H["fix_numpy_loss_grads"]),
        "inputs_unchanged": ("failed", 1.5, H["fix_numpy_loss_grads"]),
        "numpy_train_trajectory": ("failed", 0, H["fix_numpy_loss_grads_2"]),
        "numpy_train_hidden": ("failed", 0, H["fix_numpy_loss_grads_2"]),
        "default_arguments": ("failed", 1.33, H["fix_numpy_train_trajectory"]),
    },
}
# -- end of the table -------------------------------------------------------------------------------


@pytest.mark.parametrize("mutant", list(EXPECTED))
def test_mutant_loses_exactly_its_checks(graded, mutant):
    assert_outcomes(graded(A, mutant, mutant_source(mutant)), EXPECTED[mutant], ASSIGNMENT, FULL)


@pytest.mark.parametrize("mutant, words", [
    ("autograd_rebinds_weights", "`w1 = w1 - learning_rate * w1.grad` makes a new tensor"),
    ("zero_grad_before_first_backward", "no backward() had run yet"),
])
def test_autograd_train_errors_say_what_happened(graded, mutant, words):
    """An error, not a wrong value: every check that runs autograd_train says what to do instead."""
    errored = [c for c in graded(A, mutant, mutant_source(mutant)).checks if c.status == "error"]
    assert errored and all(words in c.message for c in errored), [c.message for c in errored]


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
