"""layered_backprop through the public interface (grader.api.grade), as tables.

The solution and a differently written correct submission earn full marks, the stub
zero; each typical bug is a one-line mutant of the solution that loses exactly the
checks it really breaks, and the main check's hint names the cause.
"""
from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from conftest import ROOT, failing, hidden_values_shown, mutate, solution_source, stub_source
from grader import reference
from grader.assignment import Assignment
from grader.registry import get_assignment

A = "layered_backprop"
ASSIGNMENT = get_assignment(A, ROOT)
POINTS = {c.name: c.points for c in ASSIGNMENT.checks}
FULL = ASSIGNMENT.max_score

GRADS = ("grads_five_points", "grads_vs_numeric", "grads_multi_output", "grads_deep")
TRAIN = ("train_five_points", "train_other")
TRAP = "broadcasting trap"

# -- the mutants: one line of the solution, and what it becomes ---------------------------------
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
}


def row(mutant: str, main: str, hint: str, *, failed=(), error=(), also: dict[str, str] | None = None):
    """One table row: the exact checks that must not pass ({name: status}), the main check's hint,
    and hints other failing checks must give too."""
    fails = {name: "failed" for name in failed} | {name: "error" for name in error}
    return pytest.param(mutant, fails, {main: hint, **(also or {})}, id=mutant)


ROWS = [
    # (5,) against (5, 1): the loss broadcasts silently, backward then fails on a (5, 5) delta; the
    # lab's own run (y of shape (5,)) names the trap too, not a transpose
    row("broadcast_trap", "y_shape_broadcast", TRAP, failed=("y_shape_broadcast", "train_five_points"),
        also={"train_five_points": TRAP}),
    row("derivative_at_zout", "grads_five_points", "taken at the layer's output (last_zout)", failed=GRADS + TRAIN),
    row("derivative_missing", "grads_five_points", "derivative is missing", failed=GRADS + TRAIN),
    row("bias_grad_mean", "grads_five_points", "bias_grad is averaged", failed=GRADS + TRAIN),
    row("weight_grad_transposed", "grads_five_points", "transposed layout", failed=GRADS, error=TRAIN),
    row("loss_gradient_args_swapped", "grads_vs_numeric", "wrong sign", failed=GRADS + TRAIN),
    row("backward_uses_autograd", "no_autograd", "no torch.autograd.grad", failed=("no_autograd",)),
    row("apply_uphill", "apply_gradients", "goes uphill", failed=("apply_gradients",) + TRAIN),
    row("apply_forgets_bias", "apply_gradients", "bias was not changed", failed=("apply_gradients",) + TRAIN),
    row("loss_recorded_after_step", "train_five_points", "loss before step i", failed=TRAIN),
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
    pytest.param(lambda: (ROOT / "assignments" / A / "demo_class" / "ana.py").read_text(), id="ana"),
])
def test_correct_submission_earns_full_marks(grade_source, source):
    report = grade_source(A, source())
    assert failing(report) == {}
    assert report.score == report.max_score == FULL == 100
    assert [f.png[:8] for f in check(report, "train_five_points").figures] == [b"\x89PNG\r\n\x1a\n"]


def test_stub_earns_zero_without_crashing(grade_source):
    report = grade_source(A, stub_source(A))
    assert report.problem is None and not report.grader_errors
    assert report.score == 0 and report.max_score == FULL
    assert all(c.status == "error" and "not implemented yet" in c.message for c in report.checks)


# -- one-line mutants ---------------------------------------------------------------------------
@pytest.mark.parametrize("mutant, fails, hints", ROWS)
def test_mutant_loses_exactly_its_checks(grade_source, mutant, fails, hints):
    report = grade_source(A, mutant_source(mutant))
    assert failing(report) == fails, unexpected(report, fails)
    assert report.score == FULL - sum(POINTS[name] for name in fails)
    assert_hidden_values_stay_hidden(report)
    for name, hint in hints.items():
        found = check(report, name).hint
        assert found and hint in found, f"{name}: expected a hint with {hint!r}, got {found!r}"


def test_silent_trap_is_named_when_training_still_works(grade_source):
    """clara reshapes y in backward but not in get_loss: training is right, the recorded losses are
    not, and they agree with the reference's at the start (the five points are symmetric)."""
    report = grade_source(A, (ROOT / "assignments" / A / "demo_class" / "clara.py").read_text())
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
