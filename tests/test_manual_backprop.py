"""manual_backprop through the public interface (grader.api.grade), as tables.

The solution, a differently written correct submission and the course's own ways of
writing it earn full marks; the stub and a do-nothing submission (every function returning
zeros, or noise, of the right shapes) earn nothing; each typical bug is a one-line mutant of
the solution, and the table states every check it does not pass, what that check still
earns and its exact hint (or None): a hint names a cause only where the evidence shows it.
"""
from __future__ import annotations

import importlib.util
import shutil

import pytest

from conftest import ROOT, assert_outcomes, mutate, outcomes, solution_source, stub_source
from grader import reference
from grader.assignment import Assignment
from grader.registry import get_assignment

A = "manual_backprop"
ASSIGNMENT = get_assignment(A, ROOT)
FULL = ASSIGNMENT.max_score

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
    # new: a provided function rewritten the way the course's own code often writes it
    "loss_mean_over_all_entries": ("L = -(Y * torch.log(Yhat)).sum(dim=1).mean()", "L = -torch.mean(Y * torch.log(Yhat))"),
    "sgd_in_place": ("params[name] = params[name] - eta * grads[name]", "params[name] -= eta * grads[name]"),
    # only a mini-batch of one example shows it: the batch axis squeezed away
    "delta_squeezed": ("    delta_y = (outputs['yhat'] - Y) / N\n", "    delta_y = ((outputs['yhat'] - Y) / N).squeeze()\n"),
    "by_keeps_the_batch": ("grads['by'] = delta_y.sum(dim=0, keepdim=True).T", "grads['by'] = delta_y.T"),
    "mean_over_all_entries_in_backward": ("    delta_y = (outputs['yhat'] - Y) / N\n",
                                          "    delta_y = (outputs['yhat'] - Y) / Y.numel()\n"),
    "sgd_returns_nothing": ("        params[name] = params[name] - eta * grads[name]\n    return params\n",
                            "        params[name] = params[name] - eta * grads[name]\n"),
}


# A submission that does no work: every function it must write returns {fill} of the right shapes
# (appended to the solution, so the provided functions stay); DO_NOTHING_PROVIDED replaces the
# provided forward, init_params and loss_accuracy too (a constant loss has a zero slope).
DO_NOTHING = """
F = {fill}
def _like(t): return F(*t.shape, dtype=t.dtype)
def _params(shapes, grad=False): return {{k: F(*s).requires_grad_(grad) for k, s in shapes.items()}}
def _shapes(nx, nh, ny): return {{'Wh': (nh, nx), 'bh': (nh, 1), 'Wy': (ny, nh), 'by': (ny, 1)}}
def _curves(n): return {{k: [float(v) for v in F(n)] for k in ('acc_train', 'acc_test', 'loss_train', 'loss_test')}}
def _train(data, nh, epochs, grad):
    return _params(_shapes(data.Xtrain.shape[1], nh, data.Ytrain.shape[1]), grad), _curves(epochs)
def backward(params, outputs, Y): return {{k: _like(v) for k, v in params.items()}}
def sgd(params, grads, eta): return {{k: _like(v) for k, v in params.items()}}
def train_manual(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0): return _train(data, nh, epochs, False)
def init_params_autograd(nx, nh, ny): return _params(_shapes(nx, nh, ny), True)
def sgd_autograd(params, eta): return params
def train_autograd(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0): return _train(data, nh, epochs, True)
def init_params_deep(nx, nh1, nh2, ny):
    return _params({{'W1': (nh1, nx), 'b1': (nh1, 1), 'W2': (nh2, nh1), 'b2': (nh2, 1), 'Wy': (ny, nh2), 'by': (ny, 1)}})
def forward_deep(params, X):
    yhat = F(X.shape[0], params['Wy'].shape[0], dtype=X.dtype)
    return yhat, {{'X': X, 'yhat': yhat}}
def backward_deep(params, outputs, Y): return {{k: _like(v) for k, v in params.items()}}
"""
DO_NOTHING_PROVIDED = DO_NOTHING + """
def init_params(nx, nh, ny): return _params(_shapes(nx, nh, ny))
def forward(params, X):
    n, nh, ny = X.shape[0], params['Wh'].shape[0], params['Wy'].shape[0]
    yhat = F(n, ny, dtype=X.dtype)
    return yhat, {{'X': X, 'htilde': F(n, nh, dtype=X.dtype), 'h': F(n, nh, dtype=X.dtype), 'ytilde': yhat, 'yhat': yhat}}
def loss_accuracy(Yhat, Y): return F(()), float(F(()))
"""


def mutant_source(name: str) -> str:
    old, new = MUTANTS[name]
    return mutate(solution_source(A), old, new)


def check(report, name: str):
    return next(c for c in report.checks if c.name == name)


# -- full marks, zero ---------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["solution", "amira"])
def test_correct_submission_earns_full_marks(graded, who):
    source = solution_source(A) if who == "solution" else \
        (ROOT / "assignments" / A / "demo_class" / "amira.py").read_text()
    report = graded(A, who, source)
    assert outcomes(report) == {}
    assert report.score == report.max_score == FULL == 100
    # the decision surfaces are drawn for both trainers
    for name in ("train_manual_accuracy", "train_autograd_accuracy"):
        assert [f.png[:8] for f in check(report, name).figures] == [b"\x89PNG\r\n\x1a\n"]


def test_stub_earns_zero_without_crashing(graded):
    report = graded(A, "stub", stub_source(A))
    assert report.problem is None and not report.grader_errors
    assert report.score == 0 and report.max_score == FULL
    assert all(c.status == "error" and "not implemented yet" in c.message for c in report.checks)


@pytest.mark.parametrize("template, fill", [("DO_NOTHING", "torch.zeros"), ("DO_NOTHING", "torch.randn"),
                                            ("DO_NOTHING_PROVIDED", "torch.zeros")])
def test_doing_nothing_earns_nothing(graded, template, fill):
    """No property check (agreement with central differences, no autograd, ...) pays without the values."""
    source = solution_source(A) + globals()[template].format(fill=fill)
    report = graded(A, f"{template}_{fill}", source)
    assert not report.grader_errors
    assert {c.name: c.score for c in report.checks if c.score} == {}


# -- one-line mutants: every check they do not pass, with its exact hint ---------------------------
# -- the table: generated by grading each mutant, then read for the right cause --------------------
# The hints, by a short name (each appears in the table below).
H = {
    "tanh_derivative_missing_gradient": (
        "the tanh derivative is missing: the gradient reaching htilde must be multiplied by tanh'(htilde) = 1"
        ' - h**2 (elementwise).'
    ),
    "fix_backward_vs_reference": (
        'fix backward_vs_reference first: a function earns this check only once its values are right.'
    ),
    "fix_backward_vs_reference_2": (
        'fix backward_vs_reference first: this check depends on it'
    ),
    "tanh_derivative_taken_as": (
        'the tanh derivative is taken as 1 - htilde**2; it is 1 - tanh(htilde)**2 = 1 - h**2 (use the '
        'activation h, not the pre-activation htilde).'
    ),
    "grads_wh_6x_reference": (
        "grads['Wh'] is 6x the reference everywhere and N = 6: you summed over the batch; divide by N to take"
        ' the mean over the batch.'
    ),
    "grads_wh_8x_numeric": (
        "grads['Wh'] is 8x the numeric gradient everywhere and N = 8: you summed over the batch; divide by N "
        'to take the mean over the batch.'
    ),
    "grads_wh_29x_reference": (
        "grads['Wh'] is 29x the reference everywhere and N = 29: you summed over the batch; divide by N to "
        'take the mean over the batch.'
    ),
    "grads_must_column_shape": (
        "grads['by'] must be a column of shape (4, 1), like the bias itself: sum delta over the batch keeping"
        ' the dimension and transpose (delta.sum(dim=0, keepdim=True).T), or reshape(-1, 1).'
    ),
    "grads_must_column_shape_2": (
        "grads['by'] must be a column of shape (3, 1), like the bias itself: sum delta over the batch keeping"
        ' the dimension and transpose (delta.sum(dim=0, keepdim=True).T), or reshape(-1, 1).'
    ),
    "grads_must_column_shape_3": (
        "grads['by'] must be a column of shape (5, 1), like the bias itself: sum delta over the batch keeping"
        ' the dimension and transpose (delta.sum(dim=0, keepdim=True).T), or reshape(-1, 1).'
    ),
    "grads_wy_holds_right": (
        "grads['Wy'] holds the right numbers in the transposed layout (5, 4): check the order of the matrix "
        'product (e.g. X.T @ dout rather than dout.T @ X).'
    ),
    "grads_wy_holds_right_2": (
        "grads['Wy'] holds the right numbers in the transposed layout (6, 3): check the order of the matrix "
        'product (e.g. X.T @ dout rather than dout.T @ X).'
    ),
    "grads_wy_holds_right_3": (
        "grads['Wy'] holds the right numbers in the transposed layout (4, 3): check the order of the matrix "
        'product (e.g. X.T @ dout rather than dout.T @ X).'
    ),
    "grads_wy_holds_right_4": (
        "grads['Wy'] holds the right numbers in the transposed layout (13, 5): check the order of the matrix "
        'product (e.g. X.T @ dout rather than dout.T @ X).'
    ),
    "backward_sgd_train_manual": (
        'backward, sgd and train_manual are the by-hand part: compute each gradient with the chain rule on '
        'plain tensors (no requires_grad, no .backward(), no torch.autograd.grad); autograd is for '
        'train_autograd.'
    ),
    "fix_sgd_update_first": (
        'fix sgd_update first: a function earns this check only once its values are right.'
    ),
    "step_goes_uphill_subtract": (
        'the step goes uphill: subtract the gradient (p - eta * g), do not add it.'
    ),
    "fix_sgd_update_first_2": (
        'fix sgd_update first: this check depends on it'
    ),
    "fix_train_manual_curves": (
        'fix train_manual_curves first: a function earns this check only once its values are right.'
    ),
    "torch_randperm_was_called": (
        'torch.randperm was called once for all epochs: the first epoch matches the reference and every later'
        ' one differs. Draw a new permutation at the start of every epoch (each epoch visits the training set'
        ' in a new order); the final accuracy alone cannot show this.'
    ),
    "last_shorter_mini_batch": (
        'the last, shorter mini-batch of each epoch (of 6 examples) was dropped: keep it (batches are '
        'perm[i:i + batch_size] for i in range(0, N, batch_size)).'
    ),
    "call_relies_train_manual": (
        "this call relies on train_manual's default arguments, and yours differ: eta=0.01 (the contract: "
        '0.03). Keep the signature train_manual(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0).'
    ),
    "zero_each_grad_after": (
        'zero each .grad after the step (p.grad.zero_(), or p.grad = None): backward() adds to .grad, so '
        'gradients would pile up from batch to batch.'
    ),
    "fix_sgd_autograd_update": (
        'fix sgd_autograd_update first: this check depends on it'
    ),
    "place_update_parameter_that": (
        'an in-place update of a parameter that requires grad must not be recorded by autograd: put it inside'
        ' `with torch.no_grad():`.'
    ),
    "p_p_eta_p": (
        'p = p - eta * p.grad under no_grad makes a new tensor that does not require grad, so the next '
        'backward() cannot reach it: update in place (p -= eta * p.grad) so p stays the same leaf.'
    ),
    "params_wh_not_leaf": (
        "params['Wh'] is not a leaf: it was computed from a tensor that requires grad (e.g. 0.3 * "
        'torch.randn(..., requires_grad=True)), so loss.backward() leaves its .grad empty. Compute the value '
        'first, then call .requires_grad_() on the result.'
    ),
    "fix_init_params_autograd": (
        'fix init_params_autograd first: this check depends on it'
    ),
    "tanh_derivatives_1_h": (
        'the tanh derivatives (1 - h**2) are missing in both hidden layers.'
    ),
    "loss_accuracy_averages_over": (
        'your loss_accuracy averages over N x classes (torch.mean(Y * torch.log(Yhat))), so its loss is the '
        "provided one's divided by 2, the number of classes. The provided loss sums over the classes and "
        'averages over the batch, -(Y * torch.log(Yhat)).sum(dim=1).mean(): restore it.'
    ),
    "grads_has_shape_4": (
        "grads['by'] has shape (4, 6): the sum over the batch is missing or on the wrong axis; a bias "
        'gradient adds delta over the N = 6 examples (dim=0 of delta).'
    ),
    "grads_has_shape_3": (
        "grads['by'] has shape (3, 8): the sum over the batch is missing or on the wrong axis; a bias "
        'gradient adds delta over the N = 8 examples (dim=0 of delta).'
    ),
    "grads_has_shape_5": (
        "grads['by'] has shape (5, 29): the sum over the batch is missing or on the wrong axis; a bias "
        'gradient adds delta over the N = 29 examples (dim=0 of delta).'
    ),
    "grads_wh_1_4": (
        "grads['Wh'] is 1/4 of the reference everywhere, and there are 4 classes: you divided by N x classes "
        '(a mean over every entry of Y); the loss averages over the batch only, so divide by N.'
    ),
    "grads_wh_1_3": (
        "grads['Wh'] is 1/3 of the numeric gradient everywhere, and there are 3 classes: you divided by N x "
        'classes (a mean over every entry of Y); the loss averages over the batch only, so divide by N.'
    ),
    "grads_wh_1_3_2": (
        "grads['Wh'] is 1/3 of the reference everywhere, and there are 3 classes: you divided by N x classes "
        '(a mean over every entry of Y); the loss averages over the batch only, so divide by N.'
    ),
    "grads_wh_1_5": (
        "grads['Wh'] is 1/5 of the reference everywhere, and there are 5 classes: you divided by N x classes "
        '(a mean over every entry of Y); the loss averages over the batch only, so divide by N.'
    ),
    "sgd_must_return_params": (
        'sgd must return params, the dict holding the updated tensors: end it with `return params`.'
    ),
}

# Every check each mutant does not pass: (status, points it still earns, its exact hint or None).
EXPECTED = {
    "tanh_derivative_missing": {
        "backward_vs_reference": ("failed", 0, H["tanh_derivative_missing_gradient"]),
        "backward_vs_numeric": ("failed", 0, H["tanh_derivative_missing_gradient"]),
        "backward_one_example": ("failed", 0, H["tanh_derivative_missing_gradient"]),
        "backward_larger": ("failed", 0, H["tanh_derivative_missing_gradient"]),
        "no_autograd_by_hand": ("failed", 1.67, H["fix_backward_vs_reference"]),
        "train_manual_curves": ("failed", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_accuracy": ("failed", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_curves_other": ("failed", 0, H["fix_backward_vs_reference_2"]),
    },
    "tanh_derivative_on_htilde": {
        "backward_vs_reference": ("failed", 0, H["tanh_derivative_taken_as"]),
        "backward_vs_numeric": ("failed", 0, H["tanh_derivative_taken_as"]),
        "backward_one_example": ("failed", 0, H["tanh_derivative_taken_as"]),
        "backward_larger": ("failed", 0, H["tanh_derivative_taken_as"]),
        "no_autograd_by_hand": ("failed", 1.67, H["fix_backward_vs_reference"]),
        "train_manual_curves": ("failed", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_accuracy": ("failed", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_curves_other": ("failed", 0, H["fix_backward_vs_reference_2"]),
    },
    "no_mean_over_batch": {
        "backward_vs_reference": ("failed", 0, H["grads_wh_6x_reference"]),
        "backward_vs_numeric": ("failed", 0, H["grads_wh_8x_numeric"]),
        "backward_larger": ("failed", 0, H["grads_wh_29x_reference"]),
        "no_autograd_by_hand": ("failed", 1.67, H["fix_backward_vs_reference"]),
        "train_manual_curves": ("failed", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_curves_other": ("failed", 0, H["fix_backward_vs_reference_2"]),
    },
    "by_not_a_column": {
        "backward_vs_reference": ("failed", 0, H["grads_must_column_shape"]),
        "backward_vs_numeric": ("failed", 0, H["grads_must_column_shape_2"]),
        "backward_one_example": ("failed", 0, H["grads_must_column_shape_2"]),
        "backward_larger": ("failed", 0, H["grads_must_column_shape_3"]),
        "no_autograd_by_hand": ("failed", 1.67, H["fix_backward_vs_reference"]),
        "train_manual_curves": ("error", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_accuracy": ("error", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_curves_other": ("error", 0, H["fix_backward_vs_reference_2"]),
    },
    "dWy_transposed": {
        "backward_vs_reference": ("failed", 0, H["grads_wy_holds_right"]),
        "backward_vs_numeric": ("failed", 0, H["grads_wy_holds_right_2"]),
        "backward_one_example": ("failed", 0, H["grads_wy_holds_right_3"]),
        "backward_larger": ("failed", 0, H["grads_wy_holds_right_4"]),
        "no_autograd_by_hand": ("failed", 1.67, H["fix_backward_vs_reference"]),
        "train_manual_curves": ("error", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_accuracy": ("error", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_curves_other": ("error", 0, H["fix_backward_vs_reference_2"]),
    },
    "backward_uses_autograd": {
        "no_autograd_by_hand": ("failed", 1.67, H["backward_sgd_train_manual"]),
    },
    "sgd_uphill": {
        "no_autograd_by_hand": ("failed", 1.67, H["fix_sgd_update_first"]),
        "sgd_update": ("failed", 0, H["step_goes_uphill_subtract"]),
        "train_manual_curves": ("failed", 0, H["fix_sgd_update_first_2"]),
        "train_manual_accuracy": ("failed", 0, H["fix_sgd_update_first_2"]),
        "train_manual_curves_other": ("failed", 0, H["fix_sgd_update_first_2"]),
    },
    "permute_once": {
        "no_autograd_by_hand": ("failed", 3.33, H["fix_train_manual_curves"]),
        "train_manual_curves": ("failed", 0, H["torch_randperm_was_called"]),
        "train_manual_curves_other": ("failed", 0, H["torch_randperm_was_called"]),
    },
    "last_batch_dropped": {
        "train_manual_curves_other": ("failed", 0, H["last_shorter_mini_batch"]),
    },
    "default_eta_wrong": {
        "train_manual_curves": ("failed", 0, H["call_relies_train_manual"]),
    },
    "grads_not_zeroed": {
        "sgd_autograd_update": ("failed", 0, H["zero_each_grad_after"]),
        "train_autograd_curves": ("failed", 0, H["fix_sgd_autograd_update"]),
        "train_autograd_accuracy": ("failed", 0, H["fix_sgd_autograd_update"]),
        "train_autograd_curves_other": ("failed", 0, H["fix_sgd_autograd_update"]),
    },
    "update_without_no_grad": {
        "sgd_autograd_update": ("failed", 0, H["place_update_parameter_that"]),
        "train_autograd_curves": ("error", 0, H["fix_sgd_autograd_update"]),
        "train_autograd_accuracy": ("error", 0, H["fix_sgd_autograd_update"]),
        "train_autograd_curves_other": ("error", 0, H["fix_sgd_autograd_update"]),
    },
    "update_rebinds": {
        "sgd_autograd_update": ("failed", 0, H["p_p_eta_p"]),
        "train_autograd_curves": ("error", 0, H["fix_sgd_autograd_update"]),
        "train_autograd_accuracy": ("error", 0, H["fix_sgd_autograd_update"]),
        "train_autograd_curves_other": ("error", 0, H["fix_sgd_autograd_update"]),
    },
    "init_autograd_not_leaf": {
        "init_params_autograd": ("failed", 0, H["params_wh_not_leaf"]),
        "train_autograd_curves": ("error", 0, H["fix_init_params_autograd"]),
        "train_autograd_accuracy": ("error", 0, H["fix_init_params_autograd"]),
        "train_autograd_curves_other": ("error", 0, H["fix_init_params_autograd"]),
    },
    "deep_tanh_missing": {
        "deep_backward": ("failed", 0, H["tanh_derivatives_1_h"]),
    },
    "loss_mean_over_all_entries": {
        "train_manual_curves": ("failed", 0, H["loss_accuracy_averages_over"]),
        "train_manual_curves_other": ("failed", 0, H["loss_accuracy_averages_over"]),
        "train_autograd_curves": ("failed", 0, H["loss_accuracy_averages_over"]),
        "train_autograd_accuracy": ("failed", 0, H["loss_accuracy_averages_over"]),
        "train_autograd_curves_other": ("failed", 0, H["loss_accuracy_averages_over"]),
    },
    "sgd_in_place": {},
    "delta_squeezed": {
        "backward_one_example": ("error", 0, None),
    },
    "by_keeps_the_batch": {
        "backward_vs_reference": ("failed", 0, H["grads_has_shape_4"]),
        "backward_vs_numeric": ("failed", 0, H["grads_has_shape_3"]),
        "backward_larger": ("failed", 0, H["grads_has_shape_5"]),
        "no_autograd_by_hand": ("failed", 1.67, H["fix_backward_vs_reference"]),
        "train_manual_curves": ("error", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_accuracy": ("error", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_curves_other": ("error", 0, H["fix_backward_vs_reference_2"]),
    },
    "mean_over_all_entries_in_backward": {
        "backward_vs_reference": ("failed", 0, H["grads_wh_1_4"]),
        "backward_vs_numeric": ("failed", 0, H["grads_wh_1_3"]),
        "backward_one_example": ("failed", 0, H["grads_wh_1_3_2"]),
        "backward_larger": ("failed", 0, H["grads_wh_1_5"]),
        "no_autograd_by_hand": ("failed", 1.67, H["fix_backward_vs_reference"]),
        "train_manual_curves": ("failed", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_accuracy": ("failed", 0, H["fix_backward_vs_reference_2"]),
        "train_manual_curves_other": ("failed", 0, H["fix_backward_vs_reference_2"]),
    },
    "sgd_returns_nothing": {
        "no_autograd_by_hand": ("failed", 1.67, H["fix_sgd_update_first"]),
        "sgd_update": ("failed", 0, H["sgd_must_return_params"]),
        "train_manual_curves": ("error", 0, H["fix_sgd_update_first_2"]),
        "train_manual_accuracy": ("error", 0, H["fix_sgd_update_first_2"]),
        "train_manual_curves_other": ("error", 0, H["fix_sgd_update_first_2"]),
    },
}
# -- end of the table -------------------------------------------------------------------------------


@pytest.mark.parametrize("mutant", list(EXPECTED))
def test_mutant_loses_exactly_its_checks(graded, mutant):
    assert_outcomes(graded(A, mutant, mutant_source(mutant)), EXPECTED[mutant], ASSIGNMENT, FULL)


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
        if check.judge == "backward_vs_numeric":  # the grader's own central differences of the contract's loss
            numeric = ASSIGNMENT.judges()._numeric_grads(record["inputs"])
            for k, g in record["expected"]["grads"].items():
                assert rel_error(g["__tensor__"], numeric[k]) < check.options["tolerance"] / 100
