"""toy_mlp through the public interface (grader.api.grade), as tables.

The solution and a differently written correct submission earn full marks, the stub and
a do-nothing submission (zeros, or noise, of the right shapes) zero; each typical bug is a
one-line mutant of the solution, and the table states every check it does not pass, what
that check still earns and its exact hint (or None). Also:
the gradient-descent pictures, load_digits_784 on IDX files (MNIST's format), and
the tolerances of assignment.toml re-measured on the solution.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, assert_outcomes, mutate, outcomes, solution_source, stub_source
from grader import reference
from grader.checks import rel_error
from grader.datasets import load_digits_arrays, write_idx
from grader.registry import get_assignment
from grader.runner import GradeOptions, grade as grade_submission, make_sandbox
from grader.submission import load_submission

A = "toy_mlp"
ASSIGNMENT = get_assignment(A, ROOT)
FULL = ASSIGNMENT.max_score  # no check needs a GPU

MANUAL = ("manual_grads_lecture_sample", "manual_grads_batch", "manual_grads_random_sample",
          "manual_grads_random_batch")
TRAIN = ("train_trajectory", "train_trajectory_hidden")
GD = ("gd_converging", "gd_oscillating", "gd_hidden")
MOMENTUM = ("gd_momentum_converging", "gd_momentum_oscillating", "gd_momentum_hidden")
PUBLIC_DESCENT = ("gd_converging", "gd_oscillating", "gd_momentum_converging", "gd_momentum_oscillating")

MUTANTS = {
    "bce_summed_over_batch": ("dz2 = (p - Y) / Y.numel()", "dz2 = p - Y"),
    "squared_error_delta": ("dz2 = (p - Y) / Y.numel()", "dz2 = (p - Y) * p * (1 - p) / Y.numel()"),
    "hidden_sigmoid_derivative_missing": ("dz1 = (dz2 @ W2) * h * (1 - h)", "dz1 = dz2 @ W2"),
    "dW1_transposed": ("dW1 = dz1.T @ X2", "dW1 = X2.T @ dz1"),
    "checks_itself_with_backward": ("    return {'i.weight': dW1, 'o.weight': dW2}",
                                    "    nn.BCELoss()(model(X), y).backward()\n"
                                    "    return {'i.weight': dW1, 'o.weight': dW2}"),
    "gradients_never_zeroed": ("        optimizer.zero_grad()\n", ""),
    "lr_hard_coded": ("torch.optim.SGD(m.parameters(), lr=lr)", "torch.optim.SGD(m.parameters(), lr=1.0)"),
    "softmax_before_cross_entropy": ("loss = loss_fn(m(X), y)", "loss = loss_fn(torch.softmax(m(X), dim=1), y)"),
    "no_bias_correction": ("x = x - alpha * v / (1 - beta ** t)", "x = x - alpha * v"),
    "gd_without_x0": ("    xs = [x0]\n", "    xs = []\n"),
    "gd_returns_a_list": ("    return np.array(xs)\n\n\ndef gd_momentum", "    return xs\n\n\ndef gd_momentum"),
    "momentum_sum_not_average": ("v = beta * v + (1 - beta) * grad(x)", "v = beta * v + grad(x)"),
    "sigmoid_derivative_on_z": ("dz1 = (dz2 @ W2) * h * (1 - h)", "dz1 = (dz2 @ W2) * (X2 @ W1.T) * (1 - X2 @ W1.T)"),
    "gd_uphill": ("        x = x - alpha * grad(x)\n", "        x = x + alpha * grad(x)\n"),
}


# A submission that does no work: every function returns {fill} of the right shapes.
DO_NOTHING = """
F = {fill}
def manual_gradients(model, X, y): return {{'i.weight': F(2, 3, dtype=X.dtype), 'o.weight': F(1, 2, dtype=X.dtype)}}
def train(m, X, y, epochs=100, lr=1.0): return [float(v) for v in F(epochs)]
def gd(x0, grad, alpha, max_iter=10): return F(max_iter + 1).double().numpy()
def gd_momentum(x0, grad, alpha, beta=0.9, max_iter=10): return F(max_iter + 1).double().numpy()
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
    assert report.score == report.max_score == FULL == 100


def test_stub_earns_zero_without_crashing(graded):
    report = graded(A, "stub", stub_source(A))
    assert report.problem is None and not report.grader_errors
    assert report.score == 0 and report.max_score == FULL
    assert all(c.status == "error" and "not implemented yet" in c.message for c in report.checks), \
        [c.message for c in report.checks if "not implemented yet" not in c.message]


@pytest.mark.parametrize("fill", ["torch.zeros", "torch.randn"])
def test_doing_nothing_earns_nothing(graded, fill):
    """No property check (no autograd, the model left as it was) pays without the values."""
    report = graded(A, f"do_nothing_{fill}", solution_source(A) + DO_NOTHING.format(fill=fill))
    assert not report.grader_errors
    assert {c.name: c.score for c in report.checks if c.score} == {}


def test_descent_checks_draw_the_iterates(graded):
    """Every public gd / gd_momentum check carries a picture, passed or failed; hidden ones none."""
    for key, source in (("solution", solution_source(A)), ("no_bias_correction", mutant_source("no_bias_correction"))):
        report = graded(A, key, source)
        for c in report.checks:
            want = 1 if c.name in PUBLIC_DESCENT else 0
            assert len(c.figures) == want, (key, c.name, len(c.figures))
            for f in c.figures:
                assert f.png.startswith(b"\x89PNG") and "iterates" in f.caption


# -- one-line mutants: every check they do not pass, with its exact hint ---------------------------
# -- the table: generated by grading each mutant, then read for the right cause --------------------
# The hints, by a short name (each appears in the table below).
H = {
    "grads_i_weight_5x": (
        "grads['i.weight'] is 5x the reference everywhere and N = 5: you summed over the batch; divide by N "
        'to take the mean over the batch (BCELoss averages by default).'
    ),
    "fix_manual_grads_batch": (
        'fix manual_grads_batch first: this check pays only for gradients that are right.'
    ),
    "grads_i_weight_9x": (
        "grads['i.weight'] is 9x the reference everywhere and N = 9: you summed over the batch; divide by N "
        'to take the mean over the batch (BCELoss averages by default).'
    ),
    "output_delta_p_p": (
        'the output delta is (p - y) * p * (1 - p), the squared-error one: with BCELoss after a sigmoid the '
        'two derivatives cancel to d loss / d z_out = (p - y) / N.'
    ),
    "fix_manual_grads_lecture": (
        'fix manual_grads_lecture_sample first: this check pays only for gradients that are right.'
    ),
    "hidden_sigmoid_s_derivative": (
        "the hidden sigmoid's derivative is missing: multiply the gradient reaching the hidden layer by h * "
        '(1 - h), with h = sigmoid(z1).'
    ),
    "grads_i_weight_holds": (
        "grads['i.weight'] holds the right numbers in the transposed layout (3, 2): check the order of the "
        'matrix product (e.g. X.T @ dout rather than dout.T @ X).'
    ),
    "compute_gradients_from_model": (
        "compute the gradients from model.i.weight and model.o.weight with the chain rule (sigmoid'(z) = s * "
        '(1 - s)); autograd is what you compare against, not what you use.'
    ),
    "loss_follows_gradients_that": (
        'the loss follows gradients that were never zeroed: .grad accumulates across backward() calls, so '
        "each step follows the sum of all past gradients (the lecture's loop). Call optimizer.zero_grad() "
        'every epoch.'
    ),
    "gradients_never_zeroed_grad": (
        'the gradients are never zeroed: .grad accumulates across backward() calls, so each step follows the '
        'sum of all past gradients. Call optimizer.zero_grad() every epoch.'
    ),
    "loss_follows_training_lr": (
        'the loss follows training with lr=1.0 (the default), not the lr=0.5 train was given: '
        'torch.optim.SGD(m.parameters(), lr=lr).'
    ),
    "loss_follows_softmax_applied": (
        'the loss follows a softmax applied before CrossEntropyLoss, which applies its own: pass the logits '
        'm(X) to the loss as they are.'
    ),
    "fix_train_trajectory_first": (
        'fix train_trajectory first: this check depends on it'
    ),
    "bias_correction_missing_divide": (
        'the bias correction is missing: divide the moving average by (1 - beta ** t) before the step, x <- x'
        ' - alpha * v / (1 - beta ** t).'
    ),
    "11_iterates_expected_x0": (
        '11 iterates expected (x0 and max_iter = 10 updates): x0 is missing at the start.'
    ),
    "16_iterates_expected_x0": (
        '16 iterates expected (x0 and max_iter = 15 updates): x0 is missing at the start.'
    ),
    "return_numpy_array_np": (
        'return a NumPy array: np.array(xs), with xs the list of iterates.'
    ),
    "v_sum_not_average": (
        'v is a sum, not an average: v <- beta * v + (1 - beta) * grad(x).'
    ),
    "sigmoid_s_derivative_taken": (
        "the sigmoid's derivative is taken at the pre-activation: it is s * (1 - s) with s = sigmoid(z), not "
        'z * (1 - z).'
    ),
    "iterates_move_uphill_gradient": (
        'the iterates move uphill: gradient descent subtracts, x <- x - alpha * grad(x).'
    ),
}

# Every check each mutant does not pass: (status, points it still earns, its exact hint or None).
EXPECTED = {
    "bce_summed_over_batch": {
        "manual_grads_batch": ("failed", 0, H["grads_i_weight_5x"]),
        "manual_grads_by_hand": ("failed", 5, H["fix_manual_grads_batch"]),
        "manual_grads_random_batch": ("failed", 0, H["grads_i_weight_9x"]),
    },
    "squared_error_delta": {
        "manual_grads_lecture_sample": ("failed", 0, H["output_delta_p_p"]),
        "manual_grads_batch": ("failed", 0, H["output_delta_p_p"]),
        "manual_grads_by_hand": ("failed", 0, H["fix_manual_grads_lecture"]),
        "manual_grads_random_sample": ("failed", 0, H["output_delta_p_p"]),
        "manual_grads_random_batch": ("failed", 0, H["output_delta_p_p"]),
    },
    "hidden_sigmoid_derivative_missing": {
        "manual_grads_lecture_sample": ("failed", 0, H["hidden_sigmoid_s_derivative"]),
        "manual_grads_batch": ("failed", 0, H["hidden_sigmoid_s_derivative"]),
        "manual_grads_by_hand": ("failed", 0, H["fix_manual_grads_lecture"]),
        "manual_grads_random_sample": ("failed", 0, H["hidden_sigmoid_s_derivative"]),
        "manual_grads_random_batch": ("failed", 0, H["hidden_sigmoid_s_derivative"]),
    },
    "dW1_transposed": {
        "manual_grads_lecture_sample": ("failed", 0, H["grads_i_weight_holds"]),
        "manual_grads_batch": ("failed", 0, H["grads_i_weight_holds"]),
        "manual_grads_by_hand": ("failed", 0, H["fix_manual_grads_lecture"]),
        "manual_grads_random_sample": ("failed", 0, H["grads_i_weight_holds"]),
        "manual_grads_random_batch": ("failed", 0, H["grads_i_weight_holds"]),
    },
    "checks_itself_with_backward": {
        "manual_grads_by_hand": ("failed", 0, H["compute_gradients_from_model"]),
    },
    "gradients_never_zeroed": {
        "train_trajectory": ("failed", 0, H["loss_follows_gradients_that"]),
        "train_trajectory_hidden": ("failed", 0, H["gradients_never_zeroed_grad"]),
    },
    "lr_hard_coded": {
        "train_trajectory": ("failed", 0, H["loss_follows_training_lr"]),
    },
    "softmax_before_cross_entropy": {
        "train_trajectory": ("failed", 0, H["loss_follows_softmax_applied"]),
        "train_trajectory_hidden": ("failed", 0, H["loss_follows_softmax_applied"]),
        "digits_test_accuracy": ("failed", 0, H["fix_train_trajectory_first"]),
    },
    "no_bias_correction": {
        "gd_momentum_converging": ("failed", 0, H["bias_correction_missing_divide"]),
        "gd_momentum_oscillating": ("failed", 0, H["bias_correction_missing_divide"]),
        "gd_momentum_hidden": ("failed", 0, H["bias_correction_missing_divide"]),
    },
    "gd_without_x0": {
        "gd_converging": ("failed", 0, H["11_iterates_expected_x0"]),
        "gd_oscillating": ("failed", 0, H["11_iterates_expected_x0"]),
        "gd_hidden": ("failed", 0, H["16_iterates_expected_x0"]),
    },
    "gd_returns_a_list": {
        "gd_converging": ("failed", 0, H["return_numpy_array_np"]),
        "gd_oscillating": ("failed", 0, H["return_numpy_array_np"]),
        "gd_hidden": ("failed", 0, H["return_numpy_array_np"]),
    },
    "momentum_sum_not_average": {
        "gd_momentum_converging": ("failed", 0, H["v_sum_not_average"]),
        "gd_momentum_oscillating": ("failed", 0, H["v_sum_not_average"]),
        "gd_momentum_hidden": ("failed", 0, H["v_sum_not_average"]),
    },
    "sigmoid_derivative_on_z": {
        "manual_grads_lecture_sample": ("failed", 0, H["sigmoid_s_derivative_taken"]),
        "manual_grads_batch": ("failed", 0, H["sigmoid_s_derivative_taken"]),
        "manual_grads_by_hand": ("failed", 0, H["fix_manual_grads_lecture"]),
        "manual_grads_random_sample": ("failed", 0, H["sigmoid_s_derivative_taken"]),
        "manual_grads_random_batch": ("failed", 0, H["sigmoid_s_derivative_taken"]),
    },
    "gd_uphill": {
        "gd_converging": ("failed", 0, H["iterates_move_uphill_gradient"]),
        "gd_oscillating": ("failed", 0, H["iterates_move_uphill_gradient"]),
        "gd_hidden": ("failed", 0, H["iterates_move_uphill_gradient"]),
    },
}
# -- end of the table -------------------------------------------------------------------------------


@pytest.mark.parametrize("mutant", list(EXPECTED))
def test_mutant_loses_exactly_its_checks(graded, mutant):
    assert_outcomes(graded(A, mutant, mutant_source(mutant)), EXPECTED[mutant], ASSIGNMENT, FULL)


# -- data ---------------------------------------------------------------------------------------
def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


HELPERS = _load(ROOT / "assignments" / A / "helpers.py", "_toy_mlp_helpers")


def test_load_digits_784_offline():
    X, y, Xt, yt = HELPERS.load_digits_784(seed=0)
    assert X.shape == (1438, 784) and Xt.shape == (359, 784)
    assert str(X.dtype) == "torch.float32" and str(y.dtype) == "torch.int64"
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0 and set(y.tolist()) == set(range(10))
    # Upsampling keeps the picture: sampled at the 8x8 pixel centres, the 28x28 image is the original.
    split = load_digits_arrays(0.2, 0)
    centres = np.round(3.5 * np.arange(8) + 1.25).astype(int)
    sampled = X[:20].numpy().reshape(20, 28, 28)[:, centres][:, :, centres]
    assert np.corrcoef(sampled.ravel(), split.X_train[:20].ravel())[0, 1] > 0.95
    again = HELPERS.load_digits_784(seed=0)
    assert all((a == b).all() for a, b in zip((X, y, Xt, yt), again))


@pytest.fixture(scope="module")
def idx_folder():
    """MNIST's four IDX files, made from the upsampled digits (test images gzipped), in a
    folder the sandbox's unprivileged child may read (pytest's own tmp_path is root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="toy-mlp-idx-"))
    folder.chmod(0o755)
    split = load_digits_arrays(0.2, 0)

    def images(a):
        return (HELPERS.upsample_28(a) * 255).round().astype(np.uint8).reshape(-1, 28, 28)

    write_idx(folder / "train-images-idx3-ubyte", images(split.X_train))
    write_idx(folder / "train-labels-idx1-ubyte", split.y_train.astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images(split.X_val))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", split.y_val.astype(np.uint8))
    for f in folder.iterdir():
        f.chmod(0o644)
    yield folder, split
    shutil.rmtree(folder, ignore_errors=True)


def test_load_digits_784_reads_idx_files(idx_folder):
    folder, split = idx_folder
    X, y, Xt, yt = HELPERS.load_digits_784(path=folder)
    assert X.shape == (len(split.y_train), 784) and Xt.shape == (len(split.y_val), 784)
    assert str(X.dtype) == "torch.float32" and str(yt.dtype) == "torch.int64"
    assert y.tolist() == split.y_train.tolist() and yt.tolist() == split.y_val.tolist()
    assert np.abs(X.numpy() - HELPERS.upsample_28(split.X_train)).max() <= 0.5 / 255 + 1e-6


def test_accuracy_check_trains_on_idx_files_with_the_mnist_option(idx_folder, tmp_path):
    """`--mnist DIR`: the accuracy check trains on the IDX files. The sandbox is told to show DIR
    (api.grade does not do that yet: its children see an empty private /tmp)."""
    folder, split = idx_folder
    path = tmp_path / f"{A}.py"
    path.write_text(solution_source(A))
    options = GradeOptions(only=("digits_test_accuracy",), option_overrides={"mnist_dir": str(folder)})
    with make_sandbox(ASSIGNMENT, expose=[folder]) as sandbox:
        report = grade_submission(load_submission(path, A), ASSIGNMENT, sandbox, options)
    result = check(report, "digits_test_accuracy")
    assert result.status == "passed", result.message
    assert f"mnist ({len(split.y_train)} training, {len(split.y_val)} test images)" in result.message


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


def _entrywise(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b))))


def test_tolerances_fit_the_solution():
    """Each tolerance is at least 10x the solution's own error (as assignment.toml's comment says)."""
    import torch

    torch.set_num_threads(1)
    sol = _load(ROOT / "solutions" / A / f"{A}.py", "_toy_solution")
    mis = _load(ROOT / "solutions" / A / "mistakes.py", "_toy_mistakes")  # independent NumPy models
    spec = {c.name: c for c in ASSIGNMENT.checks}
    data = {name: reference.load(ASSIGNMENT, c) for name, c in spec.items()}
    measured = {}
    for name in MANUAL:  # against autograd, as the check does (the expected values are autograd's)
        inputs, autograd = data[name]["inputs"], data[name]["expected"]["autograd"]
        model = sol.ToyMLP().double()
        with torch.no_grad():
            for pname, p in model.named_parameters():
                p.copy_(torch.as_tensor(inputs["weights"][pname]))
        mine = sol.manual_gradients(model, torch.tensor(inputs["X"]), torch.tensor(inputs["y"]))
        measured[name] = (max(rel_error(mine[k].numpy(), autograd[k]["__tensor__"]) for k in mine),
                          spec[name].options["tolerance"])
    for name in TRAIN:
        inputs = data[name]["inputs"]
        epochs = 100 if inputs["epochs"] is None else int(inputs["epochs"])
        lr = 1.0 if inputs["lr"] is None else float(inputs["lr"])
        D, H, C = np.shape(inputs["layers"]["0.weight"])[1], *np.shape(inputs["layers"]["2.weight"])[::-1]
        model = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.Sigmoid(), torch.nn.Linear(H, C))
        with torch.no_grad():
            for pname, p in model.named_parameters():
                p.copy_(torch.as_tensor(inputs["layers"][pname]))
        f32 = sol.train(model, torch.tensor(inputs["X"], dtype=torch.float32), torch.tensor(inputs["y"]), epochs, lr)
        measured[name] = (_entrywise(f32, mis._train(inputs, epochs=epochs, lr=lr)), spec[name].options["tolerance"])
    for name in GD + MOMENTUM:
        inputs = data[name]["inputs"]
        n = 10 if inputs["max_iter"] is None else int(inputs["max_iter"])
        alpha, x0 = float(inputs["alpha"]), float(inputs["x0"])
        if name in GD:  # x_t = (1 - 2 alpha)^t x0, computed by another route
            other = x0 * (1 - 2 * alpha) ** np.arange(n + 1)
        else:
            beta = 0.9 if inputs["beta"] is None else float(inputs["beta"])
            other = mis._momentum(x0, alpha, beta, n)
        measured[name] = (_entrywise(data[name]["expected"]["xs"], other), spec[name].options["tolerance"])
    print("\nmeasured error / tolerance:", {k: f"{v:.1e} / {t:g}" for k, (v, t) in measured.items()})
    assert {k: v for k, v in measured.items() if v[0] * 10 > v[1]} == {}
