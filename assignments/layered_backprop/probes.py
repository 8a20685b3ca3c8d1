"""How each check calls the student's code. Runs inside the sandbox.

* input makers ``make_*(helpers, **args) -> dict`` build a network's parameters and
  data as NumPy float64 arrays (stored in ``reference_data/``);
* probes ``probe(student, inputs, ctx) -> value`` build the student's NeuralNetwork
  with those parameters (float64), call its methods and return what they produced.

The network is always made by the provided ``NeuralNetwork(input_size, output_size,
hidden_sizes)``; the probe then replaces every layer's weight and bias, so the
reference and the student start from the very same numbers.
"""
from __future__ import annotations

import traceback

import numpy as np
import torch

from grader.checks.gradients import numeric_gradient
from grader.harness import ProbeError

FIVE_X = [[0, 0], [1, 0], [0, -1], [-1, 0], [0, 1]]
FIVE_Y = [1, 0, 0, 0, 0]


# -- inputs ------------------------------------------------------------------------
def make_net(helpers, seed, hidden_sizes, output_size=1, input_size=2, n=6, data="random", bias_std=0.3,
             weight_scale=1.0):
    """Glorot-uniform weights (as Linear draws them, times weight_scale), biases of std
    bias_std (non-zero so that a bias left out shows), and data: the lab's five points,
    or n random points with targets in (0, 1)."""
    rng = np.random.default_rng(seed)
    sizes = [input_size] + list(hidden_sizes) + [output_size]
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (n_in + n_out))
        weights.append(weight_scale * rng.uniform(-bound, bound, size=(n_in, n_out)))
        biases.append(bias_std * rng.standard_normal(n_out))
    if data == "five_points":
        x, y = np.array(FIVE_X, dtype=np.float64), np.array(FIVE_Y, dtype=np.float64).reshape(-1, 1)
    else:
        x = rng.standard_normal((n, input_size))
        y = rng.uniform(0.05, 0.95, size=(n, output_size))
    return {"input_size": input_size, "output_size": output_size, "hidden_sizes": list(hidden_sizes),
            "weights": weights, "biases": biases, "x": x, "y": y}


def make_apply(helpers, seed, hidden_sizes, output_size=1, input_size=2, lr=0.25):
    """A network and gradients of the right shapes for every layer."""
    out = make_net(helpers, seed, hidden_sizes, output_size, input_size)
    rng = np.random.default_rng(seed + 1000)
    out["weight_grads"] = [rng.standard_normal(w.shape) for w in out["weights"]]
    out["bias_grads"] = [rng.standard_normal(b.shape) for b in out["biases"]]
    out["lr"] = lr
    return out


# -- small tools -------------------------------------------------------------------
def _net(student, inputs, ctx):
    """The student's NeuralNetwork with the stored parameters, in float64."""
    hidden = [int(h) for h in inputs["hidden_sizes"]]
    net = student.NeuralNetwork(int(inputs["input_size"]), int(inputs["output_size"]), hidden)
    layers = getattr(net, "layers", None)
    if not isinstance(layers, (list, tuple)) or len(layers) != len(inputs["weights"]):
        raise ProbeError(f"NeuralNetwork(..., hidden_sizes={hidden}) should have {len(inputs['weights'])} layers in "
                         f"self.layers (the provided constructor builds them)")
    for layer, W, b in zip(layers, inputs["weights"], inputs["biases"]):
        layer.linear.weight = ctx.tensor(W, torch.float64)
        layer.linear.bias = ctx.tensor(b, torch.float64)
    return net


def _data(inputs, ctx, flat_y=False):
    x = ctx.tensor(inputs["x"], torch.float64)
    y = ctx.tensor(inputs["y"], torch.float64)
    return x, (y.reshape(-1) if flat_y else y)


def _targets_like_output(net, x, y):
    """y in the shape of the network's own output: the (N,) vs (N, 1) question is for the
    y-shape check and the lab's run alone, so a network that squeezes a single output to (N,)
    (as the lab's published solution does) and one that keeps (N, 1) are both judged on their
    loss and gradients here, not on that again."""
    with torch.no_grad():
        out = net.forward(x)
    if isinstance(out, torch.Tensor) and out.numel() == y.numel() and out.shape != y.shape:
        return y.reshape(out.shape)
    return y


def _grads(net):
    return [{"weight_grad": layer.linear.weight_grad, "bias_grad": layer.linear.bias_grad} for layer in net.layers]


def _requires_grad(value) -> bool:
    return bool(getattr(value, "requires_grad", False))


def _raised(exc: Exception, student) -> dict:
    """An exception, with the line of the student's file it came from."""
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == getattr(student, "__file__", None):
            where = {"line": frame.lineno, "code": (frame.line or "").strip()[:200], "function": frame.name}
    return {"type": type(exc).__name__, "message": str(exc)[:300], "where": where}


# -- probes ------------------------------------------------------------------------
def forward(student, inputs, ctx):
    net = _net(student, inputs, ctx)
    x, _ = _data(inputs, ctx)
    return {"y_pred": net.forward(x)}


def loss(student, inputs, ctx):
    """get_loss with y shaped like the predictions."""
    net = _net(student, inputs, ctx)
    x, y = _data(inputs, ctx)
    return {"loss": net.get_loss(x, _targets_like_output(net, x, y))}


def y_shapes(student, inputs, ctx):
    """get_loss and backward with y as (N, 1) and as (N,): the same targets.

    An exception for one shape only is recorded (an error that only the flat y causes is
    the broadcasting trap); one for both shapes is a bug for the other checks.
    """
    out = {}
    for name, flat in (("column", False), ("flat", True)):
        x, y = _data(inputs, ctx, flat_y=flat)
        out[name] = {}
        for what, call in (("loss", lambda net: net.get_loss(x, y)), ("grads", lambda net: _backward(net, x, y))):
            try:
                out[name][what] = call(_net(student, inputs, ctx))
            except NotImplementedError:
                raise
            except Exception as exc:
                out[name][what + "_raised"] = _raised(exc, student)
    for what in ("loss", "grads"):  # raised for both shapes: a bug the other checks report
        if out["column"].get(what + "_raised") and out["flat"].get(what + "_raised"):
            raise ProbeError(f"{'get_loss' if what == 'loss' else 'backward'}(x, y) raised for y of both shapes: "
                             f"{out['column'][what + '_raised']['type']}: {out['column'][what + '_raised']['message']}")
    return out


def _backward(net, x, y):
    net.backward(x, y)
    return _grads(net)


def grads(student, inputs, ctx):
    """backward(x, y): every layer's weight_grad and bias_grad."""
    net = _net(student, inputs, ctx)
    x, y = _data(inputs, ctx)
    result = net.backward(x, _targets_like_output(net, x, y))
    return {"grads": _grads(net), "returned": result is None}


def grads_numeric(student, inputs, ctx):
    """The student's gradients next to central differences of the student's own get_loss
    (float64, h = 1e-6), for every layer's weight and bias."""
    net = _net(student, inputs, ctx)
    x, y = _data(inputs, ctx)
    y = _targets_like_output(net, x, y)
    loss_at_start = net.get_loss(x, y)
    net = _net(student, inputs, ctx)
    net.backward(x, y)
    analytic = _grads(net)
    numeric = []
    for i, layer in enumerate(net.layers):
        entry = {}
        for name, key in (("weight", "weights"), ("bias", "biases")):
            original = getattr(layer.linear, name)

            def f(values, layer=layer, name=name):
                setattr(layer.linear, name, torch.tensor(values, dtype=torch.float64, device=ctx.device))
                return float(net.get_loss(x, y))

            entry[f"{name}_grad"] = numeric_gradient(f, np.array(inputs[key][i], dtype=np.float64), h=1e-6)
            setattr(layer.linear, name, original)
        numeric.append(entry)
    return {"analytic": analytic, "numeric": numeric, "loss": loss_at_start}


def no_autograd(student, inputs, ctx):
    net = _net(student, inputs, ctx)
    x, y = _data(inputs, ctx)
    y = _targets_like_output(net, x, y)
    with ctx.watch_autograd() as used:
        net.backward(x, y)
    return {"used": list(used), "grads": _grads(net),
            "grads_require_grad": [_requires_grad(layer.linear.weight_grad) or _requires_grad(layer.linear.bias_grad)
                                   for layer in net.layers],
            "params_require_grad": [_requires_grad(layer.linear.weight) or _requires_grad(layer.linear.bias)
                                    for layer in net.layers]}


def apply_gradients(student, inputs, ctx):
    """Set known gradients, one apply_gradients(lr), then every layer's parameters."""
    net = _net(student, inputs, ctx)
    for layer, gW, gb in zip(net.layers, inputs["weight_grads"], inputs["bias_grads"]):
        layer.linear.weight_grad = ctx.tensor(gW, torch.float64)
        layer.linear.bias_grad = ctx.tensor(gb, torch.float64)
    net.apply_gradients(float(inputs["lr"]))
    return {"params": [{"weight": layer.linear.weight, "bias": layer.linear.bias} for layer in net.layers]}


def train(student, inputs, ctx):
    """train(x, y, net, epochs, lr) from the stored start; the losses, and the trained
    network's output on the data and on a grid over [-2, 2]^2 (for the picture)."""
    o = ctx.options
    net = _net(student, inputs, ctx)
    x, y = _data(inputs, ctx, flat_y=bool(o.get("flat_y")))
    try:
        result = student.train(x, y, net, int(o["epochs"]), float(o["lr"]))
    except NotImplementedError:
        raise
    except Exception as exc:
        if not o.get("flat_y") or not _shape_of_y_matters(student, inputs, ctx):
            raise
        return {"raised": _raised(exc, student), "y_shape_matters": True}
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ProbeError(f"train(x, y, net, epochs, lr) should return (net, losses); it returned {type(result).__name__}")
    trained, losses = result
    if not hasattr(trained, "forward"):
        raise ProbeError(f"train should return (net, losses) with net the trained network; got {type(trained).__name__}")
    if isinstance(losses, (list, tuple)):  # a list of 0-dim tensors: the values are what matters
        losses = [float(v) if isinstance(v, torch.Tensor) and v.numel() == 1 else v for v in losses]
    n = int(o.get("grid", 41))
    ticks = torch.linspace(-2.0, 2.0, n, dtype=torch.float64, device=ctx.device)
    gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
    with torch.no_grad():
        on_grid = trained.forward(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1))
        y_pred = trained.forward(x)
    out = {"losses": losses, "y_pred": y_pred, "grid_pred": on_grid}
    if o.get("flat_y"):
        # The trained network's loss for the same targets as (N,) and as (N, 1). (At the
        # start the two can agree by symmetry: on the five points with zero biases they do.)
        out["final_loss"] = {}
        for name, flat in (("flat", True), ("column", False)):
            try:
                out["final_loss"][name] = float(trained.get_loss(x, _data(inputs, ctx, flat_y=flat)[1]))
            except Exception:  # noqa: BLE001 - a loss that cannot be computed is no evidence either way
                out["final_loss"][name] = None
    return out


def _shape_of_y_matters(student, inputs, ctx) -> bool:
    """Whether the student's get_loss or backward behave differently for y (N,) and (N, 1)."""
    results = []
    for flat in (False, True):
        x, y = _data(inputs, ctx, flat_y=flat)
        try:
            net = _net(student, inputs, ctx)
            loss = float(net.get_loss(x, y))
            net = _net(student, inputs, ctx)
            net.backward(x, y)
            shapes = [tuple(layer.linear.weight_grad.shape) for layer in net.layers]
        except Exception as exc:
            results.append(("raised", type(exc).__name__))
            continue
        results.append((round(loss, 12), shapes))
    return results[0] != results[1]
