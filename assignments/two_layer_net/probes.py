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

import inspect
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


def make_random(helpers, seed, N=5, D=4, H=10, C=3, weight_std=0.5, bias_std=0.1, x_std=1.0):
    """A random problem with weights large enough that every term of the loss
    (and every mistake) shows, and non-zero biases (a bias left out shows too)."""
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
    return {"X": X, "y": y, "params": params}


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


def make_sample_batch(helpers, num_train=12, extra_rows=4, D=3, batch_size=30, seed=5):
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
    numeric = {}
    for k in KEYS:
        def f(x, k=k):
            p = _problem(inputs, ctx)[0]
            p[k] = torch.tensor(x, dtype=torch.float64, device=ctx.device)
            return float(student.nn_forward_backward(p, X.clone(), y.clone(), reg=reg)[0])

        numeric[k] = numeric_gradient(f, inputs["params"][k].astype(np.float64).copy(), h=1e-6)
    return {"analytic": out[1], "numeric": numeric}


def inputs_after_call(student, inputs, ctx):
    params, X, y = _problem(inputs, ctx)
    student.nn_forward_backward(params, X, y, reg=ctx.options.get("reg", 0.0))
    return {"params": params, "X": X, "y": y}


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
    _, _, _, _, quiet = _train_with_spies(student, inputs, ctx, 201, verbose=False)
    _, _, _, _, loud = _train_with_spies(student, inputs, ctx, 201, verbose=True)
    return {"quiet": quiet[:2000], "verbose": loud[:2000]}


def toy_training(student, inputs, ctx):
    params, X, y = _problem(inputs, ctx)
    stats = student.nn_train(params, student.nn_forward_backward, student.nn_predict, X, y, X, y,
                             learning_rate=1e-1, reg=1e-6, num_iters=200, verbose=False)
    if not isinstance(stats, dict) or "loss_history" not in stats:
        raise ProbeError("nn_train must return a dict with 'loss_history'")
    return {"loss_history": [float(v) for v in stats["loss_history"]]}


def predict(student, inputs, ctx):
    params, X, _ = _problem(inputs, ctx)
    labels = student.nn_predict(params, student.nn_forward_backward, X)
    fixed = ctx.tensor(inputs["fixed_scores"], _dtype(ctx))
    spy_labels = student.nn_predict(params, lambda p, X_, y=None, reg=0.0: fixed, X)
    return {"labels": labels, "spy_labels": spy_labels}


def make_predict(helpers, seed=11, N=12, D=4, H=10, C=5):
    out = make_random(helpers, seed, N=N, D=D, H=H, C=C, weight_std=1.0)
    out["fixed_scores"] = np.random.default_rng(seed + 1).standard_normal((N, C))
    return out


def _describe_params(params):
    out = {}
    for k, v in params.items():
        t = v.detach().double().cpu() if isinstance(v, torch.Tensor) else None
        out[k] = {"shape": list(v.shape) if t is not None else None,
                  "dtype": str(v.dtype).replace("torch.", "") if t is not None else type(v).__name__,
                  "device": v.device.type if t is not None else None,
                  "std": float(t.std()) if t is not None and t.numel() > 1 else 0.0,
                  "max_abs": float(t.abs().max()) if t is not None and t.numel() else 0.0}
    return out


def net_init(student, inputs, ctx):
    D, H, C = (int(s) for s in inputs["sizes"])
    default_device = inspect.signature(student.TwoLayerNet.__init__).parameters.get("device")
    torch.manual_seed(0)
    net = student.TwoLayerNet(D, H, C)
    torch.manual_seed(0)
    net64 = student.TwoLayerNet(D, H, C, dtype=torch.float64, device=ctx.device, std=0.1)
    return {"default": _describe_params(net.params), "float64": _describe_params(net64.params),
            "device_default": repr(default_device.default) if default_device is not None else None}


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
    D, H, C = (int(s) for s in inputs["sizes"])
    torch.manual_seed(1)
    net = student.TwoLayerNet(D, H, C, dtype=torch.float64, device=ctx.device, std=0.1)
    path = ctx.workdir / "saved_net.pt"
    net.save(str(path))
    torch.manual_seed(2)
    other = student.TwoLayerNet(D, H, C, dtype=torch.float32, device="cpu", std=1.0)
    other.load(str(path))
    return {"saved": net.params, "loaded": other.params}


def digits_training(student, inputs, ctx):
    """Train a TwoLayerNet on real digits (scikit-learn's, or MNIST when a folder is given)."""
    o = ctx.options
    mnist = o.get("mnist_dir")
    X_train, y_train, X_val, y_val = ctx.helpers.load_digits(dtype=torch.float32, device=ctx.device,
                                                             mnist_dir=mnist)
    hp = o["mnist" if mnist else "digits"]
    torch.manual_seed(0)
    net = student.TwoLayerNet(X_train.shape[1], int(hp["hidden_size"]), 10, dtype=torch.float32,
                              device=ctx.device, std=float(hp["std"]))
    stats = net.train(X_train, y_train, X_val, y_val, learning_rate=float(hp["learning_rate"]),
                      learning_rate_decay=float(hp["learning_rate_decay"]), reg=float(hp["reg"]),
                      num_iters=int(hp["num_iters"]), batch_size=int(hp["batch_size"]), verbose=False)
    pred = net.predict(X_val)
    val_acc = float((pred.reshape(-1).long() == y_val).double().mean())
    history = stats.get("loss_history", []) if isinstance(stats, dict) else []
    return {"val_acc": val_acc, "data": "mnist" if mnist else "digits",
            "loss_history": [float(v) for v in history][:: max(1, len(history) // 200)]}
