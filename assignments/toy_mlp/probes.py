"""How each check calls the student's code. Runs inside the sandbox.

* input makers ``make_*(helpers, **args) -> dict`` build a check's inputs as NumPy
  float64 arrays (run once by ``backprop-grader reference``, stored in
  ``reference_data/``);
* probes ``probe(student, inputs, ctx) -> value`` build the models and tensors
  (on ``ctx.device``, in the check's dtype), call the student's functions and
  return what came back. Judging happens in judges.py, in the grader's process.

The networks are built here from the contract (ToyMLP, MLP) rather than taken from
the student's module, so that a change to a provided class cannot change a grade.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from grader.harness import ProbeError

LECTURE_X = [1.0, 2.0, 0.5]
LECTURE_Y = [1.0]


class ToyMLP(nn.Module):
    """The contract's ToyMLP: Linear(3, 2, bias=False), sigmoid, Linear(2, 1, bias=False), sigmoid."""

    def __init__(self):
        super().__init__()
        self.i = nn.Linear(3, 2, bias=False)
        self.a = nn.Sigmoid()
        self.o = nn.Linear(2, 1, bias=False)

    def forward(self, X):
        return self.a(self.o(self.a(self.i(X))))


class MLP(nn.Module):
    """The contract's MLP: Linear(784, 32), sigmoid, Linear(32, 10); logits out."""

    def __init__(self):
        super().__init__()
        self.i = nn.Linear(784, 32)
        self.a = nn.Sigmoid()
        self.o = nn.Linear(32, 10)

    def forward(self, X):
        return self.o(self.a(self.i(X)))


# -- inputs ------------------------------------------------------------------------
def make_toy(helpers, seed, N=None, X=None, y=None, weight_std=1.0):
    """ToyMLP weights drawn from a seeded normal; X and y as given (the lecture's sample)
    or drawn: one sample (N None) of shape (3,), or a batch (N, 3) with labels (N, 1)."""
    rng = np.random.default_rng(seed)
    weights = {"i.weight": weight_std * rng.standard_normal((2, 3)),
               "o.weight": weight_std * rng.standard_normal((1, 2))}
    if X is None:
        shape = (3,) if N is None else (N, 3)
        X = rng.standard_normal(shape)
        y = rng.integers(0, 2, size=(1,) if N is None else (N, 1)).astype(np.float64)
        if N is not None and N >= 2:
            y[:2, 0] = [0.0, 1.0]  # both classes appear
    return {"weights": weights, "X": np.asarray(X, dtype=np.float64), "y": np.asarray(y, dtype=np.float64)}


def make_lecture_sample(helpers, seed):
    return make_toy(helpers, seed, X=LECTURE_X, y=LECTURE_Y)


def make_by_hand(helpers, seed):
    return {"sample": make_lecture_sample(helpers, seed), "batch": make_toy(helpers, seed + 1, N=4)}


def make_train_problem(helpers, seed, N=40, D=12, H=8, C=4, epochs=None, lr=None):
    """A small classification problem and a fixed initialisation of
    Sequential(Linear(D, H), Sigmoid(), Linear(H, C)) (nn.Linear's uniform ranges).
    epochs / lr None: train is called with its defaults."""
    rng = np.random.default_rng(seed)
    centers = 1.5 * rng.standard_normal((C, D))
    y = np.arange(N) % C
    X = centers[y] + rng.standard_normal((N, D))

    def uniform(shape, fan_in):
        return rng.uniform(-1.0, 1.0, size=shape) / np.sqrt(fan_in)

    layers = {"0.weight": uniform((H, D), D), "0.bias": uniform((H,), D),
              "2.weight": uniform((C, H), H), "2.bias": uniform((C,), H)}
    return {"X": X, "y": y.astype(np.int64), "layers": layers, "epochs": epochs, "lr": lr}


def make_gd(helpers, x0, alpha, max_iter=None, beta=None):
    """f(x) = x ** 2 from x0; max_iter / beta None: the student's defaults are used."""
    return {"x0": float(x0), "alpha": float(alpha), "max_iter": max_iter, "beta": beta}


def make_digits(helpers):
    return {}


# -- helpers -----------------------------------------------------------------------
def _dtype(ctx):
    return getattr(torch, ctx.options.get("dtype", "float64"))


def _toy_model(weights, ctx) -> ToyMLP:
    model = ToyMLP().to(dtype=_dtype(ctx))
    with torch.no_grad():  # in the check's dtype, so float64 weights stay exact
        for name, p in model.named_parameters():
            p.copy_(torch.as_tensor(np.asarray(weights[name])))
    return model.to(device=ctx.device)


def _state(model: nn.Module) -> dict:
    return {name: {"grad": None if p.grad is None else p.grad.detach().clone(),
                   "value": p.detach().clone(), "requires_grad": bool(p.requires_grad)}
            for name, p in model.named_parameters()}


def _autograd_grads(weights, X, y, ctx) -> dict:
    """What autograd says, on a fresh copy of the model: the lecture's own check."""
    model = _toy_model(weights, ctx)
    nn.BCELoss()(model(X), y).backward()
    return {name: p.grad for name, p in model.named_parameters()}


# -- probes: manual_gradients --------------------------------------------------------
def manual_grads(student, inputs, ctx):
    X, y = ctx.tensor(inputs["X"], _dtype(ctx)), ctx.tensor(inputs["y"], _dtype(ctx))
    model = _toy_model(inputs["weights"], ctx)
    out = student.manual_gradients(model, X, y)
    if not isinstance(out, dict):
        raise ProbeError(f"manual_gradients must return a dict with keys 'i.weight' and 'o.weight'; "
                         f"it returned a {type(out).__name__}")
    return {"manual": out, "autograd": _autograd_grads(inputs["weights"], X, y, ctx)}


def by_hand(student, inputs, ctx):
    """manual_gradients on the lecture sample and on a batch, under an autograd spy:
    what it used, and the model's parameters (values, .grad, requires_grad) after."""
    out = {}
    for case in ("sample", "batch"):
        data = inputs[case]
        X, y = ctx.tensor(data["X"], _dtype(ctx)), ctx.tensor(data["y"], _dtype(ctx))
        model = _toy_model(data["weights"], ctx)
        with ctx.watch_autograd() as used:
            grads = student.manual_gradients(model, X, y)
        after = _state(model)
        out[case] = {"used": list(used), "manual": grads,
                     "grads_left": {n: s["grad"] for n, s in after.items() if s["grad"] is not None},
                     "values": {n: s["value"] for n, s in after.items()},
                     "requires_grad": {n: s["requires_grad"] for n, s in after.items()}}
    return out


# -- probes: train -------------------------------------------------------------------
def _float_list(losses, name):
    if isinstance(losses, torch.Tensor):
        losses = losses.detach().cpu().reshape(-1).tolist()
    if not isinstance(losses, (list, tuple, np.ndarray)):
        raise ProbeError(f"{name} must return a list of losses; it returned {type(losses).__name__}")
    out = []
    for v in losses:
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            v = v.detach().cpu().item()
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            raise ProbeError(f"{name}: the losses must be numbers; found a {type(v).__name__}") from None
    return out


def _sequential(layers, ctx):
    D, H, C = np.shape(layers["0.weight"])[1], np.shape(layers["0.weight"])[0], np.shape(layers["2.weight"])[0]
    model = nn.Sequential(nn.Linear(D, H), nn.Sigmoid(), nn.Linear(H, C)).to(dtype=_dtype(ctx))
    with torch.no_grad():  # in the check's dtype, so float64 weights stay exact
        for name, p in model.named_parameters():
            p.copy_(torch.as_tensor(np.asarray(layers[name])))
    return model.to(device=ctx.device)


def training(student, inputs, ctx):
    model = _sequential(inputs["layers"], ctx)
    X, y = ctx.tensor(inputs["X"], _dtype(ctx)), ctx.tensor(inputs["y"]).long()
    kwargs = {k: (int(inputs[k]) if k == "epochs" else float(inputs[k]))
              for k in ("epochs", "lr") if inputs.get(k) is not None}
    with ctx.watch_optimizers() as spy:
        losses = student.train(model, X, y, **kwargs)
    return {"losses": _float_list(losses, "train"), "optimizers": spy.made, "zero_grad_calls": spy.zero_grad_calls}


def digits_accuracy(student, inputs, ctx):
    """Train the contract's MLP on digits (MNIST with --mnist) and measure test accuracy."""
    o = ctx.options
    mnist = o.get("mnist_dir")
    X_train, y_train, X_test, y_test = ctx.helpers.load_digits_784(seed=0, path=mnist)
    hp = o["mnist" if mnist else "digits"]
    n = min(int(hp.get("num_train", len(X_train))), len(X_train))
    X_train, y_train = X_train[:n].to(ctx.device), y_train[:n].to(ctx.device)
    X_test, y_test = X_test.to(ctx.device), y_test.to(ctx.device)
    torch.manual_seed(0)
    model = MLP().to(ctx.device)
    losses = student.train(model, X_train, y_train, epochs=int(hp["epochs"]), lr=float(hp["lr"]))
    with torch.no_grad():
        acc = float((model(X_test).argmax(dim=1) == y_test).double().mean())
    losses = _float_list(losses, "train")
    return {"test_acc": acc, "data": "mnist" if mnist else "digits", "num_train": n,
            "num_test": int(len(y_test)), "losses": losses[:: max(1, len(losses) // 200)]}


# -- probes: gradient descent on f(x) = x ** 2 --------------------------------------------
def _descent(student, inputs, name):
    calls = []

    def grad(x):  # f(x) = x ** 2
        calls.append(x)
        return 2 * x

    kwargs = {}
    if inputs.get("max_iter") is not None:
        kwargs["max_iter"] = int(inputs["max_iter"])
    if name == "gd_momentum" and inputs.get("beta") is not None:
        kwargs["beta"] = float(inputs["beta"])
    xs = getattr(student, name)(float(inputs["x0"]), grad, float(inputs["alpha"]), **kwargs)
    if isinstance(xs, torch.Tensor):
        xs = xs.detach().cpu()  # reported as a tensor: the judge asks for a NumPy array
    return {"xs": xs, "grad_calls": len(calls)}


def gd_run(student, inputs, ctx):
    return _descent(student, inputs, "gd")


def momentum_run(student, inputs, ctx):
    return _descent(student, inputs, "gd_momentum")
