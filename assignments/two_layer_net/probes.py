"""How each check calls the student's code. Runs inside the sandbox.

Two kinds of functions:

* input makers ``make_*(helpers, **args) -> dict`` build a check's inputs as NumPy
  float64 arrays (run once by ``backprop-grader reference``; stored in
  ``reference_data/``, or run at grading time for ``live_inputs`` checks);
* probes ``probe(student, inputs, ctx) -> value`` turn the inputs into tensors on
  ``ctx.device`` in the check's dtype, call the student's functions, and return
  what they produced, untouched. Judging happens elsewhere (judges.py).
"""
from __future__ import annotations

import random
import traceback

import numpy as np
import torch

from grader.checks.gradients import numeric_gradient
from grader.harness import ProbeError

KEYS = ("W1", "b1", "W2", "b2")


# -- inputs ------------------------------------------------------------------------
def make_toy(helpers, num_inputs=5, input_size=4, hidden_size=10, num_classes=3):
    """The course's toy problem, exactly as ``helpers.get_toy_data`` makes it."""
    X, y, params = helpers.get_toy_data(num_inputs, input_size, hidden_size, num_classes, dtype=torch.float64)
    return {"X": X.numpy(), "y": y.numpy(), "params": {k: v.numpy() for k, v in params.items()}}


def make_random(helpers, seed, N=5, D=4, H=10, C=3, weight_std=0.5, bias_std=0.1, x_std=1.0, labels=None):
    """A random problem with weights large enough that every term of the loss
    (and every mistake) shows, and non-zero biases (a bias left out shows too).

    ``labels``: the labels to use (a batch that lacks some classes); by default every
    class appears (as far as N allows)."""
    rng = np.random.default_rng(seed)
    params = {
        "W1": weight_std * rng.standard_normal((D, H)),
        "b1": bias_std * rng.standard_normal(H),
        "W2": weight_std * rng.standard_normal((H, C)),
        "b2": bias_std * rng.standard_normal(C),
    }
    X = x_std * rng.standard_normal((N, D))
    y = rng.integers(0, C, size=N).astype(np.int64)
    y[: min(N, C)] = np.arange(min(N, C))  # every class appears
    if labels is not None:
        y = np.asarray(labels, dtype=np.int64)
    return {"X": X, "y": y, "params": params}


# Batches that find real bugs: one_hot(y) without num_classes is max(y) + 1 wide when
# the top class is missing; N = 1 breaks squeeze() and (N,) vs (N, 1) mix-ups; C > N
# breaks code that confuses the two axes.
EDGE_BATCHES = {
    "missing_classes": dict(N=6, D=4, H=7, C=5, labels=[0, 2, 2, 1, 0, 2]),
    "one_example": dict(N=1, D=4, H=6, C=3, labels=[2]),
    "more_classes_than_examples": dict(N=3, D=5, H=6, C=8, labels=[4, 0, 6]),
}


def make_edge_batches(helpers, seed):
    return {name: make_random(helpers, seed + i, **args) for i, (name, args) in enumerate(EDGE_BATCHES.items())}


def _designed_scores(rng, offsets, within, D=5, H=8, C=4):
    """A problem whose scores are offsets[i] + (moderate gaps within row i).

    Hidden units 0 and 1 carry +/- X[:, 0] (so relu(t) - relu(-t) = t) into every
    class alike: each row's scores shift by its offset without changing the gaps
    between its classes; the other units make gaps of about ``within``."""
    N = len(offsets)
    X = rng.standard_normal((N, D))
    X[:, 0] = offsets
    W1 = rng.standard_normal((D, H)) * within / 20
    W1[0, :], W1[:, :2] = 0.0, 0.0
    W1[0, 0], W1[0, 1] = 1.0, -1.0
    b1 = 0.1 * rng.standard_normal(H)
    b1[:2] = 0.0
    W2 = rng.standard_normal((H, C)) * 2.0
    W2[0, :], W2[1, :] = 1.0, -1.0
    b2 = 0.1 * rng.standard_normal(C)
    return X, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def make_large_scores(helpers, seed, N=6, C=4):
    """Two problems with scores in the thousands, gaps inside a row a row-max softmax
    survives (tens to a couple of hundred; e**-300 is still a float64):

    * ``same_scale``: every row near +3000: exp() without the row max overflows;
    * ``spread``: row maxima from -3000 to +3000: one maximum for the whole batch
      leaves rows far below it at exp(-6000) = 0, and 0 / 0."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, offsets in (("same_scale", 3000.0 + 20 * rng.standard_normal(N)),
                          ("spread", np.linspace(-3000.0, 3000.0, N))):
        X, params = _designed_scores(rng, offsets, within=40.0, C=C)
        y = rng.integers(0, C, size=N).astype(np.int64)
        out[name] = {"X": X, "y": y, "params": params}
    return out


def make_tiny_probabilities(helpers, seed, N=6, C=4):
    """Scores of at most a few hundred (exp() never overflows, with or without the row
    max) but gaps of about 1000 inside each row: the softmax probability of the low
    classes is e**-1000, which underflows to 0 in float64. Right: log-softmax
    (shifted - log(sum(exp(shifted)))); log(softmax) gives log(0) = -inf."""
    rng = np.random.default_rng(seed)
    D, H = 4, 7
    X = np.abs(rng.standard_normal((N, D))) + 0.5
    X[:, 0] = 1.0
    W1 = 0.3 * rng.standard_normal((D, H))
    W1[:, 0], W1[0, 0] = 0.0, 1.0          # unit 0 is exactly 1 in every row
    b1 = np.zeros(H)
    W2 = 2.0 * rng.standard_normal((H, C))
    W2[0, :] = np.linspace(480.0, -480.0, C)   # the big gaps, the same in every row
    b2 = 0.1 * rng.standard_normal(C)
    y = np.arange(N, dtype=np.int64) % C      # some rows' label is a low class, some the top
    return {"X": X, "y": y, "params": {"W1": W1, "b1": b1, "W2": W2, "b2": b2}}




def make_train_spy(helpers, num_train=40, batch_size=10, num_val=7, D=3, H=4, C=3, num_iters=12):
    """Data whose rows say where they came from: row i of X is all i."""
    X = np.repeat(np.arange(num_train + 5, dtype=np.float64)[:, None], D, axis=1)  # 5 rows past num_train
    y = (np.arange(num_train + 5) % C).astype(np.int64)
    X_val = -np.ones((num_val, D))
    y_val = np.array([0, 1, 0, 2, 0, 1, 1][:num_val], dtype=np.int64)
    rng = np.random.default_rng(7)
    params = {"W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H),
              "W2": rng.standard_normal((H, C)), "b2": rng.standard_normal(C)}
    return {"X": X, "y": y, "X_val": X_val, "y_val": y_val, "params": params, "num_train": num_train,
            "batch_size": batch_size, "num_iters": num_iters, "learning_rate": 0.5, "learning_rate_decay": 0.5,
            "reg": 0.125, "grad_scale": {k: float(i + 1) for i, k in enumerate(KEYS)}}


def make_sample_batch(helpers, num_train=12, extra_rows=0, D=3, batch_size=30, seed=5):
    # No rows past num_train by default: the course always passes num_train = X.shape[0],
    # and real solutions draw from X.shape[0]; that is as right there.
    X = np.repeat(np.arange(num_train + extra_rows, dtype=np.float64)[:, None], D, axis=1)
    y = np.arange(num_train + extra_rows, dtype=np.int64) * 10
    return {"X": X, "y": y, "num_train": num_train, "batch_size": batch_size, "seed": seed}


def make_net(helpers, D=50, H=40, C=7, seed=3):
    out = make_random(helpers, seed, N=9, D=D, H=H, C=C)
    out["sizes"] = [D, H, C]
    return out


# -- probes ------------------------------------------------------------------------
def _dtype(ctx):
    return getattr(torch, ctx.options.get("dtype", "float64"))


def _problem(inputs, ctx):
    dtype = _dtype(ctx)
    params = ctx.tensors(inputs["params"], dtype)
    X = ctx.tensor(inputs["X"], dtype)
    y = ctx.tensor(inputs["y"]).long()
    return params, X, y


def forward_pass(student, inputs, ctx):
    params, X, _ = _problem(inputs, ctx)
    return student.nn_forward_pass(params, X)


def scores_only(student, inputs, ctx):
    params, X, _ = _problem(inputs, ctx)
    return student.nn_forward_backward(params, X)


def loss_and_grads(student, inputs, ctx):
    params, X, y = _problem(inputs, ctx)
    return student.nn_forward_backward(params, X, y, reg=ctx.options.get("reg", 0.0))


def loss_and_grads_cases(student, inputs, ctx):
    """loss_and_grads on each of several problems ({case: problem}); a case whose call
    raised gives {"raised": "Type: message"}, so the other cases still count."""
    out = {}
    for name, problem in inputs.items():
        try:
            out[name] = {"value": loss_and_grads(student, problem, ctx)}
        except NotImplementedError:
            raise
        except Exception as exc:  # the student's code failed on this batch only
            out[name] = {"raised": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return out


def autograd_use(student, inputs, ctx):
    """nn_forward_backward under a watch for Tensor.backward / torch.autograd.grad."""
    params, X, y = _problem(inputs, ctx)
    with ctx.watch_autograd() as used:
        out = student.nn_forward_backward(params, X, y, reg=ctx.options.get("reg", 0.0))
    return {"used": list(used), "out": out}


def loss_grads_scores(student, inputs, ctx):
    """Both call forms in one probe, for the dtype and device checks."""
    params, X, y = _problem(inputs, ctx)
    return {"scores": student.nn_forward_backward(params, X),
            "loss_grads": student.nn_forward_backward(params, X, y, reg=ctx.options.get("reg", 0.0))}


def analytic_and_numeric(student, inputs, ctx):
    """The student's gradients next to central differences of the student's own loss.

    Every call gets fresh tensors made from the inputs: a student who modifies
    params in place loses the in-place check, not this one too."""
    _, X, y = _problem(inputs, ctx)
    reg = ctx.options.get("reg", 0.0)
    out = student.nn_forward_backward(_problem(inputs, ctx)[0], X.clone(), y.clone(), reg=reg)
    if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[1], dict):
        raise ProbeError("nn_forward_backward(params, X, y, reg) must return (loss, grads) with grads a dict")
    loss = out[0]
    numeric = {}
    for k in KEYS:
        def f(x, k=k):
            p = _problem(inputs, ctx)[0]
            p[k] = torch.tensor(x, dtype=torch.float64, device=ctx.device)
            return float(student.nn_forward_backward(p, X.clone(), y.clone(), reg=reg)[0])

        numeric[k] = numeric_gradient(f, inputs["params"][k].astype(np.float64).copy(), h=1e-6)
    return {"loss": loss, "analytic": out[1], "numeric": numeric}


def inputs_after_call(student, inputs, ctx):
    params, X, y = _problem(inputs, ctx)
    out = student.nn_forward_backward(params, X, y, reg=ctx.options.get("reg", 0.0))
    return {"params": params, "X": X, "y": y, "out": out}


def sample_batch(student, inputs, ctx):
    X, y = ctx.tensor(inputs["X"]), ctx.tensor(inputs["y"]).long()
    n, b = int(inputs["num_train"]), int(inputs["batch_size"])
    torch.manual_seed(int(inputs["seed"]))
    first = student.sample_batch(X, y, n, b)
    torch.manual_seed(int(inputs["seed"]))
    again = student.sample_batch(X, y, n, b)
    return {"first": first, "again": again}


class _LossSpy:
    """Stands in for loss_func: records each call, returns a known loss and known grads."""

    def __init__(self, grad_scale):
        self.grad_scale = grad_scale
        self.calls = []

    def __call__(self, params, X, y=None, reg=0.0):
        if y is None:  # called by a predict function for scores
            return torch.zeros(X.shape[0], 3, dtype=X.dtype, device=X.device)
        i = len(self.calls)
        self.calls.append({
            "params": {k: v.detach().cpu().double().numpy().copy() for k, v in params.items()},
            "batch_ids": X[:, 0].detach().cpu().double().numpy().copy(),
            "y": y.detach().cpu().numpy().copy(),
            "reg": float(reg),
        })
        loss = torch.tensor(1.0 + 0.25 * i, dtype=X.dtype, device=X.device)
        grads = {k: torch.full_like(v, self.grad_scale.get(k, 1.0)) for k, v in params.items()}
        return loss, grads


class _PredSpy:
    """Stands in for pred_func: predicts class 0 everywhere and records its calls."""

    def __init__(self, loss_spy):
        self.loss_spy = loss_spy
        self.calls = []

    def __call__(self, params, loss_func, X):
        self.calls.append({"rows": int(X.shape[0]), "is_val": bool((X < 0).all()),
                           "got_loss_func": loss_func is self.loss_spy,
                           "after_loss_calls": len(self.loss_spy.calls)})
        return torch.zeros(X.shape[0], dtype=torch.int64, device=X.device)


def _train_with_spies(student, inputs, ctx, num_iters, verbose):
    dtype = _dtype(ctx)
    params = ctx.tensors(inputs["params"], dtype)
    X, X_val = ctx.tensor(inputs["X"], dtype), ctx.tensor(inputs["X_val"], dtype)
    y, y_val = ctx.tensor(inputs["y"]).long(), ctx.tensor(inputs["y_val"]).long()
    loss_spy = _LossSpy(inputs["grad_scale"])
    pred_spy = _PredSpy(loss_spy)
    with ctx.capture_stdout() as printed:
        stats = student.nn_train(params, loss_spy, pred_spy, X, y, X_val, y_val,
                                 learning_rate=inputs["learning_rate"],
                                 learning_rate_decay=inputs["learning_rate_decay"], reg=inputs["reg"],
                                 num_iters=num_iters, batch_size=int(inputs["batch_size"]), verbose=verbose)
    return stats, params, loss_spy, pred_spy, printed.getvalue()


def train_spy(student, inputs, ctx):
    # num_train is len(X) minus the 5 rows past it: nn_train takes num_train from X,
    # so the spy data here has exactly num_train rows.
    n = int(inputs["num_train"])
    inputs = dict(inputs, X=inputs["X"][:n], y=inputs["y"][:n])
    stats, params, loss_spy, pred_spy, printed = _train_with_spies(
        student, inputs, ctx, int(inputs["num_iters"]), verbose=False)
    return {"stats": stats, "final_params": params, "calls": loss_spy.calls, "pred_calls": pred_spy.calls,
            "printed": printed[:2000]}


def train_verbose(student, inputs, ctx):
    n = int(inputs["num_train"])
    inputs = dict(inputs, X=inputs["X"][:n], y=inputs["y"][:n])
    stats, _, _, _, quiet = _train_with_spies(student, inputs, ctx, 201, verbose=False)
    _, _, _, _, loud = _train_with_spies(student, inputs, ctx, 201, verbose=True)
    history = stats.get("loss_history") if isinstance(stats, dict) else None
    return {"quiet": quiet[:2000], "verbose": loud[:2000], "loss_history": history}


def toy_training(student, inputs, ctx):
    params, X, y = _problem(inputs, ctx)
    stats = student.nn_train(params, student.nn_forward_backward, student.nn_predict, X, y, X, y,
                             learning_rate=1e-1, reg=1e-6, num_iters=200, verbose=False)
    if not isinstance(stats, dict) or "loss_history" not in stats:
        raise ProbeError("nn_train must return a dict with 'loss_history'")
    return {"loss_history": [float(v) for v in stats["loss_history"]], "final_params": params}


def predict(student, inputs, ctx):
    """The labels only: taking the scores from loss_func(params, X) or from
    nn_forward_pass(params, X) are both right (the course's students do either)."""
    params, X, _ = _problem(inputs, ctx)
    return {"labels": student.nn_predict(params, student.nn_forward_backward, X)}


def make_predict(helpers, seed=11, N=12, D=4, H=10, C=5):
    return make_random(helpers, seed, N=N, D=D, H=H, C=C, weight_std=1.0)


def net_init(student, inputs, ctx):
    """Built the way the course notebook builds it: dtype and device always given (the
    course template's own default device is 'cuda'). The parameters come back as they
    are; their shapes, dtype and scale are measured in the grader."""
    D, H, C = (int(s) for s in inputs["sizes"])
    torch.manual_seed(0)
    net = student.TwoLayerNet(D, H, C, dtype=torch.float32, device=ctx.device)
    torch.manual_seed(0)
    net64 = student.TwoLayerNet(D, H, C, dtype=torch.float64, device=ctx.device, std=0.1)
    return {"default": net.params, "float64": net64.params}


def _outcome(call):
    """What a call gave, or which exception it raised and in which function:
    delegation is judged by whether the method and the function behave the same,
    right or wrong (a method that is still a stub raises in the method itself)."""
    try:
        return {"value": call()}
    except Exception as exc:  # the student's function failed; so should the method
        frames = traceback.extract_tb(exc.__traceback__)
        where = frames[-1].name if frames else "?"
        if isinstance(exc, NotImplementedError) and where in ("__init__", "loss", "predict", "train"):
            raise  # the method itself is still a stub: "not implemented yet", not a delegation problem
        return {"raised": f"{type(exc).__name__} in {where}"}


def net_methods(student, inputs, ctx):
    D, H, C = (int(s) for s in inputs["sizes"])
    _, X, y = _problem(inputs, ctx)

    def fresh():
        return _problem(inputs, ctx)[0]

    def net():
        n = student.TwoLayerNet(D, H, C, dtype=_dtype(ctx), device=ctx.device)
        n.params = fresh()
        return n

    def trained(make, train):
        obj = make()  # before seeding: a constructor may draw from the generators
        random.seed(5)
        np.random.seed(5)
        torch.manual_seed(5)
        stats = train(obj)
        return [float(v) for v in stats["loss_history"]]

    return {
        "loss_grads": _outcome(lambda: net().loss(X, y, reg=0.1)),
        "direct_loss_grads": _outcome(lambda: student.nn_forward_backward(fresh(), X, y, 0.1)),
        "scores": _outcome(lambda: net().loss(X)),
        "direct_scores": _outcome(lambda: student.nn_forward_backward(fresh(), X)),
        "labels": _outcome(lambda: net().predict(X)),
        "direct_labels": _outcome(lambda: student.nn_predict(fresh(), student.nn_forward_backward, X)),
        "train": _outcome(lambda: trained(net, lambda n: n.train(X, y, X, y, learning_rate=1e-2, num_iters=3,
                                                                  batch_size=4, verbose=False))),
        "direct_train": _outcome(lambda: trained(fresh, lambda p: student.nn_train(
            p, student.nn_forward_backward, student.nn_predict, X, y, X, y, learning_rate=1e-2,
            num_iters=3, batch_size=4, verbose=False))),
    }


def save_load(student, inputs, ctx):
    """Save a net holding the check's parameters (values the grader knows), load the
    file into a fresh net with other values and another dtype, return what it holds."""
    D, H, C = (int(s) for s in inputs["sizes"])
    net = student.TwoLayerNet(D, H, C, dtype=torch.float64, device=ctx.device, std=0.1)
    net.params = ctx.tensors(inputs["params"], torch.float64)
    path = ctx.workdir / "saved_net.pt"
    net.save(str(path))
    torch.manual_seed(2)
    other = student.TwoLayerNet(D, H, C, dtype=torch.float32, device=ctx.device, std=1.0)
    before = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in other.params.items()} \
        if isinstance(getattr(other, "params", None), dict) else None
    other.load(str(path))
    return {"before": before, "loaded": getattr(other, "params", None)}


def digits_training(student, inputs, ctx):
    """Train a TwoLayerNet on real digits (scikit-learn's, or MNIST when a folder is given)
    and return its predictions on the held-out rows.

    train() gets a validation split cut from the training rows; the held-out rows go
    only to predict(), and their labels stay in the grader (the judge reads them), so
    no label of a row that is scored ever passes through the student's code."""
    o = ctx.options
    mnist = o.get("mnist_dir")
    X_train, y_train, X_held_out, _ = ctx.helpers.load_digits(dtype=torch.float32, device=ctx.device,
                                                               mnist_dir=mnist)
    n_val = max(1, X_train.shape[0] // 10)
    X_fit, y_fit, X_val, y_val = X_train[n_val:], y_train[n_val:], X_train[:n_val], y_train[:n_val]
    hp = o["mnist" if mnist else "digits"]
    torch.manual_seed(0)
    net = student.TwoLayerNet(X_train.shape[1], int(hp["hidden_size"]), 10, dtype=torch.float32,
                              device=ctx.device, std=float(hp["std"]))
    stats = net.train(X_fit, y_fit, X_val, y_val, learning_rate=float(hp["learning_rate"]),
                      learning_rate_decay=float(hp["learning_rate_decay"]), reg=float(hp["reg"]),
                      num_iters=int(hp["num_iters"]), batch_size=int(hp["batch_size"]), verbose=False)
    history = stats.get("loss_history", []) if isinstance(stats, dict) else []
    return {"predictions": net.predict(X_held_out), "data": "mnist" if mnist else "digits",
            "loss_history": [float(v) for v in history][:: max(1, len(history) // 200)]}
