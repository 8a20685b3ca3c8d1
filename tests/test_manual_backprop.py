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

from conftest import ROOT, hidden_values_shown, mutate, outcomes, solution_source, stub_source
from grader import reference
from grader.assignment import Assignment
from grader.registry import get_assignment

A = "manual_backprop"
ASSIGNMENT = get_assignment(A, ROOT)
POINTS = {c.name: c.points for c in ASSIGNMENT.checks}
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


@pytest.mark.parametrize("template", ["DO_NOTHING", "DO_NOTHING_PROVIDED"])
@pytest.mark.parametrize("fill", ["torch.zeros", "torch.randn"])
def test_doing_nothing_earns_nothing(graded, template, fill):
    """No property check (agreement with central differences, no autograd, ...) pays without the values."""
    source = solution_source(A) + globals()[template].format(fill=fill)
    report = graded(A, f"{template}_{fill}", source)
    assert not report.grader_errors
    assert {c.name: c.score for c in report.checks if c.score} == {}


# -- one-line mutants: every check they do not pass, with its exact hint ---------------------------
# -- the table: generated by grading each mutant, then read for the right cause --------------------
H = {}
EXPECTED = {}
# -- end of the table -------------------------------------------------------------------------------


@pytest.mark.parametrize("mutant", list(EXPECTED))
def test_mutant_loses_exactly_its_checks(graded, mutant):
    report = graded(A, mutant, mutant_source(mutant))
    assert outcomes(report) == EXPECTED[mutant]
    lost = sum(POINTS[name] - earned for name, (_, earned, _) in EXPECTED[mutant].items())
    assert report.score == pytest.approx(FULL - lost, abs=0.02)
    assert not hidden_values_shown(report, ASSIGNMENT)


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
