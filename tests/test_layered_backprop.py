"""layered_backprop through the public interface (grader.api.grade), as tables.

The solution, a differently written correct submission and the lab's own published way
(a single output squeezed to (N,)) earn full marks; the stub and a do-nothing submission
(every method returning zeros, or noise, of the right shapes) earn nothing; each typical
bug is a one-line mutant of the solution, and the table states every check it does not
pass, what that check still earns and its exact hint (or None).
"""
from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from conftest import ROOT, assert_outcomes, mutate, outcomes, solution_source, stub_source
from grader import reference
from grader.assignment import Assignment
from grader.registry import get_assignment

A = "layered_backprop"
ASSIGNMENT = get_assignment(A, ROOT)
FULL = ASSIGNMENT.max_score
TRAP = "broadcasting trap"

# -- the mutants: one line of the solution (or a few), and what it becomes ------------------------
SQUEEZE = ("            x = layer.forward(x)\n        return x\n",
           "            x = layer.forward(x)\n        return x.squeeze(-1) if x.shape[-1] == 1 else x\n")
SQUEEZE_BACKWARD = ("grad = self.loss.get_gradient(_as_targets(y, y_pred), y_pred)",
                    "grad = self.loss.get_gradient(_as_targets(y, y_pred), y_pred).reshape(self.layers[-1].last_zout.shape)")
MUTANTS = {
    "broadcast_trap": ("    return y.reshape(y_pred.shape)\n", "    return y\n"),
    "derivative_at_zout": ("delta = grad * layer.activation.get_gradient(layer.last_zin)",
                           "delta = grad * layer.activation.get_gradient(layer.last_zout)"),
    "derivative_missing": ("delta = grad * layer.activation.get_gradient(layer.last_zin)", "delta = grad"),
    "bias_grad_mean": ("layer.linear.bias_grad = delta.sum(dim=0)", "layer.linear.bias_grad = delta.mean(dim=0)"),
    "weight_grad_transposed": ("layer.linear.weight_grad = layer.last_input.T @ delta",
                               "layer.linear.weight_grad = delta.T @ layer.last_input"),
    "loss_gradient_args_swapped": ("grad = self.loss.get_gradient(_as_targets(y, y_pred), y_pred)",
                                   "grad = self.loss.get_gradient(y_pred, _as_targets(y, y_pred))"),
    "backward_uses_autograd": (
        "        y_pred = self.forward(x)\n        grad = self.loss.get_gradient(",
        "        ps = [p.requires_grad_() for l in self.layers for p in (l.linear.weight, l.linear.bias)]; "
        "gs = torch.autograd.grad(self.get_loss(x, y), ps); "
        "[(setattr(l.linear, 'weight_grad', gs[2 * i]), setattr(l.linear, 'bias_grad', gs[2 * i + 1])) "
        "for i, l in enumerate(self.layers)]; return\n"
        "        y_pred = self.forward(x)\n        grad = self.loss.get_gradient("),
    "apply_uphill": ("layer.linear.weight = layer.linear.weight - learning_rate * layer.linear.weight_grad",
                     "layer.linear.weight = layer.linear.weight + learning_rate * layer.linear.weight_grad"),
    "apply_forgets_bias": ("            layer.linear.bias = layer.linear.bias - learning_rate * layer.linear.bias_grad\n",
                           ""),
    "loss_recorded_after_step": ("        losses.append(net.get_loss(x, y))\n",
                                 "        net.backward(x, y); net.apply_gradients(lr); "
                                 "losses.append(net.get_loss(x, y)); continue\n"),
    # the lab's published solution squeezes a single output to (N,) and reshapes the loss gradient back
    "course_squeeze": (SQUEEZE, SQUEEZE_BACKWARD),
    "course_squeeze_y_as_given": (SQUEEZE, SQUEEZE_BACKWARD, ("    return y.reshape(y_pred.shape)\n", "    return y\n")),
    "bias_grad_not_summed": ("layer.linear.bias_grad = delta.sum(dim=0)", "layer.linear.bias_grad = delta"),
    "forward_skips_output_layer": ("        for layer in self.layers:\n            x = layer.forward(x)\n",
                                   "        for layer in self.layers[:-1]:\n            x = layer.forward(x)\n"),
    "forward_without_activations": ("        for layer in self.layers:\n            x = layer.forward(x)\n",
                                    "        for layer in self.layers:\n            x = layer.linear.forward(x)\n"),
}


# A network that does no work: forward, get_loss, backward (gradients of the right shapes),
# apply_gradients and train return {fill}; appended to the solution, so the provided classes stay.
DO_NOTHING = """
F = {fill}
def _forward(self, x): return F(x.shape[0], self.layers[-1].linear.weight.shape[1], dtype=x.dtype)
def _get_loss(self, x, y): return F((), dtype=x.dtype)
def _backward(self, x, y):
    for layer in self.layers:
        layer.linear.weight_grad = F(*layer.linear.weight.shape, dtype=layer.linear.weight.dtype)
        layer.linear.bias_grad = F(*layer.linear.bias.shape, dtype=layer.linear.bias.dtype)
def _apply_gradients(self, learning_rate): pass
NeuralNetwork.forward, NeuralNetwork.get_loss, NeuralNetwork.backward = _forward, _get_loss, _backward
NeuralNetwork.apply_gradients = _apply_gradients
def train(x, y, net, epochs, lr): return net, F(epochs, dtype=x.dtype)
"""


def mutant_source(name: str) -> str:
    pairs = MUTANTS[name] if isinstance(MUTANTS[name][0], tuple) else (MUTANTS[name],)
    source = solution_source(A)
    for old, new in pairs:
        source = mutate(source, old, new)
    return source


def check(report, name: str):
    return next(c for c in report.checks if c.name == name)


# -- full marks, zero ---------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["solution", "ana"])
def test_correct_submission_earns_full_marks(graded, who):
    source = solution_source(A) if who == "solution" else \
        (ROOT / "assignments" / A / "demo_class" / "ana.py").read_text()
    report = graded(A, who, source)
    assert outcomes(report) == {}
    assert report.score == report.max_score == FULL == 100
    assert [f.png[:8] for f in check(report, "train_five_points").figures] == [b"\x89PNG\r\n\x1a\n"]


def test_stub_earns_zero_without_crashing(graded):
    report = graded(A, "stub", stub_source(A))
    assert report.problem is None and not report.grader_errors
    assert report.score == 0 and report.max_score == FULL
    assert all(c.status == "error" and "not implemented yet" in c.message for c in report.checks)


@pytest.mark.parametrize("fill", ["torch.zeros", "torch.randn"])
def test_doing_nothing_earns_nothing(graded, fill):
    """No property check (the same results for both shapes of y, agreement with central differences
    of your own loss, no autograd) pays without the values."""
    report = graded(A, f"do_nothing_{fill}", solution_source(A) + DO_NOTHING.format(fill=fill))
    assert not report.grader_errors
    assert {c.name: c.score for c in report.checks if c.score} == {}


# -- one-line mutants: every check they do not pass, with its exact hint ---------------------------
# -- the table: generated by grading each mutant, then read for the right cause --------------------
# The hints, by a short name (each appears in the table below).
H = {
    "broadcasting_trap_shape_5": (
        'the broadcasting trap: y of shape (5,) met predictions of shape (5, 1), and y_true - y_pred silently'
        ' broadcast to (5, 5). Reshape y like the predictions (y.reshape(y_pred.shape), or y.view(-1, 1)) '
        'before the loss and its gradient.'
    ),
    "fix_grads_five_points": (
        'fix grads_five_points first: this check pays only for results that are right.'
    ),
    "activation_s_derivative_taken": (
        "the activation's derivative is taken at the layer's output (last_zout); get_gradient expects the "
        'pre-activation: activation.get_gradient(layer.last_zin).'
    ),
    "fix_grads_five_points_2": (
        'fix grads_five_points first: this check depends on it'
    ),
    "fix_grads_multi_output": (
        'fix grads_multi_output first: this check depends on it'
    ),
    "activation_s_derivative_missing": (
        "the activation's derivative is missing: multiply the incoming gradient by "
        'activation.get_gradient(layer.last_zin) before computing weight_grad and bias_grad.'
    ),
    "bias_grad_averaged_over": (
        "bias_grad is averaged over the batch; the 1/N is already in the loss's gradient, so bias_grad is the"
        ' sum of delta over the batch (dim=0).'
    ),
    "layers_0_linear_weight": (
        'layers[0].linear.weight_grad holds the right numbers in the transposed layout (5, 2): check the '
        'order of the matrix product (e.g. X.T @ dout rather than dout.T @ X).'
    ),
    "layers_0_linear_weight_2": (
        'layers[0].linear.weight_grad holds the right numbers in the transposed layout (6, 2): check the '
        'order of the matrix product (e.g. X.T @ dout rather than dout.T @ X).'
    ),
    "layers_0_linear_weight_3": (
        'layers[0].linear.weight_grad holds the right numbers in the transposed layout (4, 2): check the '
        'order of the matrix product (e.g. X.T @ dout rather than dout.T @ X).'
    ),
    "layers_0_linear_weight_4": (
        'layers[0].linear.weight_grad holds the right numbers in the transposed layout (8, 3): check the '
        'order of the matrix product (e.g. X.T @ dout rather than dout.T @ X).'
    ),
    "layers_0_linear_weight_5": (
        'layers[0].linear.weight_grad has the right size but the wrong sign everywhere: check the sign of the'
        ' gradient.'
    ),
    "compute_each_layer_s": (
        "compute each layer's gradients with the chain rule on plain tensors: no requires_grad, no "
        '.backward(), no torch.autograd.grad. PyTorch is only the tensor engine here.'
    ),
    "step_goes_uphill_subtract": (
        'the step goes uphill: subtract learning_rate times the gradient, do not add it.'
    ),
    "fix_apply_gradients_first": (
        'fix apply_gradients first: this check depends on it'
    ),
    "layers_0_linear_bias": (
        "layers[0].linear.bias was not changed: update every layer's weight and bias, and assign the result "
        'back to layer.linear.bias.'
    ),
    "losses_i_must_loss": (
        'losses[i] must be the loss before step i: record get_loss(x, y) before backward and apply_gradients.'
    ),
    "shape_matters_code_reshape": (
        "the shape of y matters in your code: reshape y like the network's output (y.reshape(y_pred.shape)) "
        'in get_loss and backward, so that (5,) and (5, 1) mean the same.'
    ),
    "layers_0_linear_bias_2": (
        'layers[0].linear.bias_grad has one row per example, shape (5, 5): bias_grad is delta summed over the'
        ' batch (delta.sum(dim=0)), shape (5,), like the bias.'
    ),
    "layers_0_linear_bias_3": (
        'layers[0].linear.bias_grad has one row per example, shape (6, 6): bias_grad is delta summed over the'
        ' batch (delta.sum(dim=0)), shape (6,), like the bias.'
    ),
    "layers_0_linear_bias_4": (
        'layers[0].linear.bias_grad has one row per example, shape (7, 4): bias_grad is delta summed over the'
        ' batch (delta.sum(dim=0)), shape (4,), like the bias.'
    ),
    "layers_0_linear_bias_5": (
        'layers[0].linear.bias_grad has one row per example, shape (9, 8): bias_grad is delta summed over the'
        ' batch (delta.sum(dim=0)), shape (8,), like the bias.'
    ),
    "output_has_3_columns": (
        'the output has 3 columns, the width of the last hidden layer: x must also go through the last '
        '(sigmoid) layer of self.layers.'
    ),
    "output_has_4_columns": (
        'the output has 4 columns, the width of the last hidden layer: x must also go through the last '
        '(sigmoid) layer of self.layers.'
    ),
    "output_has_8_columns": (
        'the output has 8 columns, the width of the last hidden layer: x must also go through the last '
        '(sigmoid) layer of self.layers.'
    ),
    "fix_forward_five_points": (
        'fix forward_five_points first: this check depends on it'
    ),
    "fix_forward_deep_first": (
        'fix forward_deep first: this check depends on it'
    ),
    "fix_forward_multi_output": (
        'fix forward_multi_output first: this check depends on it'
    ),
    "activations_missing_each_layer": (
        'the activations are missing: each layer is linear, then its activation (tanh, or sigmoid for the '
        'last one): call layer.forward(x), not layer.linear.forward(x).'
    ),
}

# Every check each mutant does not pass: (status, points it still earns, its exact hint or None).
EXPECTED = {
    "broadcast_trap": {
        "y_shape_broadcast": ("failed", 0, H["broadcasting_trap_shape_5"]),
        "train_five_points": ("failed", 0, H["broadcasting_trap_shape_5"]),
    },
    "derivative_at_zout": {
        "y_shape_broadcast": ("failed", 3.5, H["fix_grads_five_points"]),
        "grads_five_points": ("failed", 0, H["activation_s_derivative_taken"]),
        "grads_vs_numeric": ("failed", 0, H["activation_s_derivative_taken"]),
        "grads_multi_output": ("failed", 0, H["activation_s_derivative_taken"]),
        "grads_deep": ("failed", 0, H["activation_s_derivative_taken"]),
        "no_autograd": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_five_points": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_other": ("failed", 0, H["fix_grads_multi_output"]),
    },
    "derivative_missing": {
        "y_shape_broadcast": ("failed", 3.5, H["fix_grads_five_points"]),
        "grads_five_points": ("failed", 0, H["activation_s_derivative_missing"]),
        "grads_vs_numeric": ("failed", 0, H["activation_s_derivative_missing"]),
        "grads_multi_output": ("failed", 0, H["activation_s_derivative_missing"]),
        "grads_deep": ("failed", 0, H["activation_s_derivative_missing"]),
        "no_autograd": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_five_points": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_other": ("failed", 0, H["fix_grads_multi_output"]),
    },
    "bias_grad_mean": {
        "y_shape_broadcast": ("failed", 3.5, H["fix_grads_five_points"]),
        "grads_five_points": ("failed", 0, H["bias_grad_averaged_over"]),
        "grads_vs_numeric": ("failed", 0, H["bias_grad_averaged_over"]),
        "grads_multi_output": ("failed", 0, H["bias_grad_averaged_over"]),
        "grads_deep": ("failed", 0, H["bias_grad_averaged_over"]),
        "no_autograd": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_five_points": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_other": ("failed", 0, H["fix_grads_multi_output"]),
    },
    "weight_grad_transposed": {
        "y_shape_broadcast": ("failed", 3.5, H["fix_grads_five_points"]),
        "grads_five_points": ("failed", 0, H["layers_0_linear_weight"]),
        "grads_vs_numeric": ("failed", 0, H["layers_0_linear_weight_2"]),
        "grads_multi_output": ("failed", 0, H["layers_0_linear_weight_3"]),
        "grads_deep": ("failed", 0, H["layers_0_linear_weight_4"]),
        "no_autograd": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_five_points": ("error", 0, H["fix_grads_five_points_2"]),
        "train_other": ("error", 0, H["fix_grads_multi_output"]),
    },
    "loss_gradient_args_swapped": {
        "y_shape_broadcast": ("failed", 3.5, H["fix_grads_five_points"]),
        "grads_five_points": ("failed", 0, H["layers_0_linear_weight_5"]),
        "grads_vs_numeric": ("failed", 0, H["layers_0_linear_weight_5"]),
        "grads_multi_output": ("failed", 0, H["layers_0_linear_weight_5"]),
        "grads_deep": ("failed", 0, H["layers_0_linear_weight_5"]),
        "no_autograd": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_five_points": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_other": ("failed", 0, H["fix_grads_multi_output"]),
    },
    "backward_uses_autograd": {
        "no_autograd": ("failed", 0, H["compute_each_layer_s"]),
    },
    "apply_uphill": {
        "apply_gradients": ("failed", 0, H["step_goes_uphill_subtract"]),
        "train_five_points": ("failed", 0, H["fix_apply_gradients_first"]),
        "train_other": ("failed", 0, H["fix_apply_gradients_first"]),
    },
    "apply_forgets_bias": {
        "apply_gradients": ("failed", 0, H["layers_0_linear_bias"]),
        "train_five_points": ("failed", 0, H["fix_apply_gradients_first"]),
        "train_other": ("failed", 0, H["fix_apply_gradients_first"]),
    },
    "loss_recorded_after_step": {
        "train_five_points": ("failed", 0, H["losses_i_must_loss"]),
        "train_other": ("failed", 0, H["losses_i_must_loss"]),
    },
    "course_squeeze": {},
    "course_squeeze_y_as_given": {
        "y_shape_broadcast": ("failed", 0, H["shape_matters_code_reshape"]),
    },
    "bias_grad_not_summed": {
        "y_shape_broadcast": ("failed", 3.5, H["fix_grads_five_points"]),
        "grads_five_points": ("failed", 0, H["layers_0_linear_bias_2"]),
        "grads_vs_numeric": ("failed", 0, H["layers_0_linear_bias_3"]),
        "grads_multi_output": ("failed", 0, H["layers_0_linear_bias_4"]),
        "grads_deep": ("failed", 0, H["layers_0_linear_bias_5"]),
        "no_autograd": ("failed", 0, H["fix_grads_five_points_2"]),
        "train_five_points": ("error", 0, H["fix_grads_five_points_2"]),
        "train_other": ("error", 0, H["fix_grads_multi_output"]),
    },
    "forward_skips_output_layer": {
        "forward_five_points": ("failed", 0, H["output_has_3_columns"]),
        "forward_multi_output": ("failed", 0, H["output_has_4_columns"]),
        "forward_deep": ("failed", 0, H["output_has_8_columns"]),
        "loss_five_points": ("error", 0, H["fix_forward_five_points"]),
        "y_shape_broadcast": ("error", 0, H["fix_forward_five_points"]),
        "loss_deep": ("error", 0, H["fix_forward_deep_first"]),
        "grads_five_points": ("error", 0, H["fix_forward_five_points"]),
        "grads_vs_numeric": ("error", 0, H["fix_forward_five_points"]),
        "grads_multi_output": ("error", 0, H["fix_forward_multi_output"]),
        "grads_deep": ("error", 0, H["fix_forward_deep_first"]),
        "no_autograd": ("error", 0, H["fix_forward_five_points"]),
        "train_five_points": ("error", 0, H["fix_forward_five_points"]),
        "train_other": ("error", 0, H["fix_forward_multi_output"]),
    },
    "forward_without_activations": {
        "forward_five_points": ("failed", 0, H["activations_missing_each_layer"]),
        "forward_multi_output": ("failed", 0, H["activations_missing_each_layer"]),
        "forward_deep": ("failed", 0, H["activations_missing_each_layer"]),
        "loss_five_points": ("failed", 0, H["fix_forward_five_points"]),
        "y_shape_broadcast": ("error", 0, H["fix_forward_five_points"]),
        "loss_deep": ("failed", 0, H["fix_forward_deep_first"]),
        "grads_five_points": ("error", 0, H["fix_forward_five_points"]),
        "grads_vs_numeric": ("error", 0, H["fix_forward_five_points"]),
        "grads_multi_output": ("error", 0, H["fix_forward_multi_output"]),
        "grads_deep": ("error", 0, H["fix_forward_deep_first"]),
        "no_autograd": ("error", 0, H["fix_forward_five_points"]),
        "train_five_points": ("error", 0, H["fix_forward_five_points"]),
        "train_other": ("error", 0, H["fix_forward_multi_output"]),
    },
}
# -- end of the table -------------------------------------------------------------------------------


@pytest.mark.parametrize("mutant", list(EXPECTED))
def test_mutant_loses_exactly_its_checks(graded, mutant):
    assert_outcomes(graded(A, mutant, mutant_source(mutant)), EXPECTED[mutant], ASSIGNMENT, FULL)


def test_silent_trap_is_named_when_training_still_works(graded):
    """clara reshapes y in backward but not in get_loss: training is right, the recorded losses are
    not, and they agree with the reference's at the start (the five points are symmetric)."""
    report = graded(A, "clara", (ROOT / "assignments" / A / "demo_class" / "clara.py").read_text())
    for name in ("y_shape_broadcast", "train_five_points"):
        assert check(report, name).status == "failed" and TRAP in check(report, name).hint


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
    """The solution's own errors (quoted in assignment.toml) sit far below the tolerances: its float64
    outputs against an independent NumPy model, and its gradients against central differences."""
    from grader.checks import rel_error

    spec = importlib.util.spec_from_file_location("_lb_mistakes", ROOT / "solutions" / A / "mistakes.py")
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    for check_ in ASSIGNMENT.checks:
        record = reference.load(ASSIGNMENT, check_)
        inputs, expected, tol = record["inputs"], record["expected"], check_.options.get("tolerance")
        if check_.probe == "forward":
            assert rel_error(expected["y_pred"]["__tensor__"], model._forward(inputs)[1]) < tol / 1e3
        if check_.probe == "grads":
            for got, want in zip(expected["grads"], model._backward(inputs)):
                for k in want:
                    assert rel_error(got[k]["__tensor__"], want[k]) < tol / 1e3
        if check_.probe == "grads_numeric":
            for got, numeric in zip(expected["analytic"], expected["numeric"]):
                for k in numeric:
                    assert rel_error(got[k]["__tensor__"], numeric[k]) < tol / 100
        if check_.probe == "train":  # the five points are fitted; random targets only partly
            losses = np.asarray(expected["losses"]["__tensor__"])
            assert losses[-1] < (0.01 if inputs["x"].shape[0] == 5 else 0.5) * losses[0]
