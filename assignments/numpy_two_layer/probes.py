"""How each check calls the student's code. Runs inside the sandbox.

* input makers ``make_*(helpers, **args) -> dict`` build a check's inputs as NumPy
  float64 arrays (run once by ``backprop-grader reference``, stored in
  ``reference_data/``);
* probes ``probe(student, inputs, ctx) -> value`` hand those inputs to the
  student's functions (as NumPy arrays, or as tensors on ``ctx.device`` in the
  check's dtype) and return what came back, untouched. Judging happens in
  judges.py, in the grader's process.
"""
from __future__ import annotations

import traceback

import numpy as np
import torch

from grader.checks.gradients import numeric_gradient
from grader.harness import ProbeError

# -- inputs ------------------------------------------------------------------------
def make_problem(helpers, seed, N=8, D_in=6, H=5, D_out=3, x_std=1.0, scale_weights=True):
    """x, y, w1, w2 as the lecture draws them (standard normal), with weights scaled by
    1/sqrt(fan-in) so that losses stay O(N * D_out) and training makes visible progress.
    Pre-activations are kept away from 0, where the ReLU has no derivative."""
    rng = np.random.default_rng(seed)
    x = x_std * rng.standard_normal((N, D_in))
    y = rng.standard_normal((N, D_out))
    w1 = rng.standard_normal((D_in, H)) / (np.sqrt(D_in) if scale_weights else 1.0)
    w2 = rng.standard_normal((H, D_out)) / (np.sqrt(H) if scale_weights else 1.0)
    # Keep pre-activations away from the kink, where central differences straddle it.
    while (np.abs(x @ w1) < 1e-3).any():
        w1 = w1 + 0.01 * rng.standard_normal(w1.shape)
    return {"x": x, "y": y, "w1": w1, "w2": w2}


def make_training(helpers, seed, learning_rate, num_epochs, N=16, D_in=30, H=12, D_out=4):
    out = make_problem(helpers, seed, N=N, D_in=D_in, H=H, D_out=D_out)
    out.update(learning_rate=float(learning_rate), num_epochs=int(num_epochs))
    return out


def make_optim_problem(helpers, seed, learning_rate, num_epochs, N=16, D_in=30, H=12, D_out=4):
    """A problem plus a fixed initialisation of Sequential(Linear, ReLU, Linear),
    drawn like nn.Linear's own (uniform in +-1/sqrt(fan_in)) but from NumPy."""
    out = make_problem(helpers, seed, N=N, D_in=D_in, H=H, D_out=D_out)
    out.update(learning_rate=float(learning_rate), num_epochs=int(num_epochs))
    rng = np.random.default_rng(seed + 1000)

    def uniform(shape, fan_in):
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape)

    out["layers"] = {"0.weight": uniform((H, D_in), D_in), "0.bias": uniform((H,), D_in),
                     "2.weight": uniform((D_out, H), H), "2.bias": uniform((D_out,), H)}
    return out


def make_sizes(helpers, D_in=1000, H=100, D_out=10):
    return {"sizes": [D_in, H, D_out]}


# -- helpers -----------------------------------------------------------------------
def _dtype(ctx):
    return getattr(torch, ctx.options.get("dtype", "float64"))


def _arrays(inputs):
    """Fresh float64 copies: the student may do what they like with them."""
    return [np.array(inputs[k], dtype=np.float64) for k in ("x", "y", "w1", "w2")]


def _tensors(inputs, ctx, requires_grad=False):
    dtype = _dtype(ctx)
    x, y, w1, w2 = (ctx.tensor(inputs[k], dtype) for k in ("x", "y", "w1", "w2"))
    if requires_grad:
        w1.requires_grad_(True)
        w2.requires_grad_(True)
    return x, y, w1, w2


def _triple(out, name):
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        length = f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""
        raise ProbeError(f"{name}(x, y, w1, w2) must return (loss, grad_w1, grad_w2); "
                         f"it returned {type(out).__name__}{length}")
    return out


def _loss_number(loss) -> float:
    if isinstance(loss, torch.Tensor):
        return float(loss.detach().double().cpu().reshape(-1)[0]) if loss.numel() == 1 else float("nan")
    return float(np.asarray(loss, dtype=np.float64).reshape(-1)[0])


# -- probes: the hand-written versions ----------------------------------------------
def numpy_loss_and_grads(student, inputs, ctx):
    return student.numpy_forward_backward(*_arrays(inputs))


def torch_loss_and_grads(student, inputs, ctx):
    return student.torch_forward_backward(*_tensors(inputs, ctx))


def _numeric(loss_of, inputs):
    """Central differences of a student's own loss with respect to w1 and w2 (float64, h = 1e-6)."""
    x, y, w1, w2 = _arrays(inputs)
    return {
        "grad_w1": numeric_gradient(lambda w: loss_of(x, y, w, w2), w1.copy(), h=1e-6),
        "grad_w2": numeric_gradient(lambda w: loss_of(x, y, w1, w), w2.copy(), h=1e-6),
    }


def numpy_analytic_and_numeric(student, inputs, ctx):
    out = _triple(student.numpy_forward_backward(*_arrays(inputs)), "numpy_forward_backward")

    def loss_of(x, y, w1, w2):
        return _loss_number(student.numpy_forward_backward(x.copy(), y.copy(), w1.copy(), w2.copy())[0])

    return {"loss": out[0], "analytic": {"grad_w1": out[1], "grad_w2": out[2]}, "numeric": _numeric(loss_of, inputs)}


def torch_analytic_and_numeric(student, inputs, ctx):
    out = _triple(student.torch_forward_backward(*_tensors(inputs, ctx)), "torch_forward_backward")

    def loss_of(x, y, w1, w2):
        t = [ctx.tensor(a, torch.float64) for a in (x, y, w1, w2)]
        return _loss_number(student.torch_forward_backward(*t)[0])

    return {"loss": out[0], "analytic": {"grad_w1": out[1], "grad_w2": out[2]}, "numeric": _numeric(loss_of, inputs)}


def both_versions(student, inputs, ctx):
    """The NumPy and the torch version on the same float64 numbers."""
    return {"numpy": student.numpy_forward_backward(*_arrays(inputs)),
            "torch": student.torch_forward_backward(*_tensors(inputs, ctx))}


def watch_manual(student, inputs, ctx):
    """Both hand-written versions under an autograd spy; what they returned, for requires_grad."""
    with ctx.watch_autograd() as used_numpy:
        numpy_out = student.numpy_forward_backward(*_arrays(inputs))
    with ctx.watch_autograd() as used_torch:
        out = student.torch_forward_backward(*_tensors(inputs, ctx))
    grad_enabled = torch.is_grad_enabled()
    torch.set_grad_enabled(True)  # a student who turned it off for good would hide nothing by it
    torch_out = out
    out = out if isinstance(out, (tuple, list)) else [out]
    return {"numpy_out": numpy_out, "torch_out": torch_out,
            "numpy_used": list(used_numpy), "torch_used": list(used_torch), "grad_was_enabled": grad_enabled,
            "torch_requires_grad": [bool(getattr(v, "requires_grad", False)) for v in out],
            "torch_has_grad_fn": [getattr(v, "grad_fn", None) is not None for v in out]}


def inputs_after_call(student, inputs, ctx):
    arrays = _arrays(inputs)
    numpy_out = student.numpy_forward_backward(*arrays)
    tensors = _tensors(inputs, ctx)
    torch_out = student.torch_forward_backward(*tensors)
    names = ("x", "y", "w1", "w2")
    return {"numpy": dict(zip(names, arrays)), "torch": dict(zip(names, tensors)),
            "numpy_out": numpy_out, "torch_out": torch_out}


# -- probes: training ---------------------------------------------------------------
def _float_list(losses, name):
    if isinstance(losses, torch.Tensor):
        losses = losses.detach().cpu().reshape(-1).tolist()
    if not isinstance(losses, (list, tuple, np.ndarray)):
        raise ProbeError(f"{name} must return a list of losses; it returned {type(losses).__name__}")
    out = []
    for v in losses:
        try:
            out.append(_loss_number(v))
        except (TypeError, ValueError):
            raise ProbeError(f"{name}: the losses must be numbers; found a {type(v).__name__}") from None
    return out


def numpy_training(student, inputs, ctx):
    x, y, w1, w2 = _arrays(inputs)
    out = student.numpy_train(x, y, w1, w2, learning_rate=float(inputs["learning_rate"]),
                              num_epochs=int(inputs["num_epochs"]))
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise ProbeError("numpy_train must return (w1, w2, losses)")
    return {"losses": _float_list(out[2], "numpy_train"), "w1": out[0], "w2": out[1]}


def _autograd_train(student, tensors, ctx, **kwargs):
    """student.autograd_train, with the usual in-place-update errors explained. Which one it is
    shows in when it happened: a .grad that is None before any backward() is zeroing too early;
    after one, the caller's tensors still hold their .grad, so the update made new ones."""
    with ctx.watch_autograd() as used:
        try:
            return student.autograd_train(*tensors, **kwargs)
        except (RuntimeError, TypeError, AttributeError) as exc:
            text = str(exc)
            if "leaf Variable that requires grad" in text:
                raise ProbeError(f"autograd_train{_where(exc)}: the in-place update of w1/w2 ran with autograd on: "
                                 "wrap the update in `with torch.no_grad():`") from None
            if "NoneType" in text and not any(u == "Tensor.backward()" for u in used):
                raise ProbeError(f"autograd_train{_where(exc)}: a .grad was None: no backward() had run yet, and "
                                 "w.grad stays None until the first one. Zero the gradients after each update "
                                 "(or only when w.grad is not None; or set w.grad = None)") from None
            if "does not require grad" in text or "NoneType" in text:
                raise ProbeError(f"autograd_train{_where(exc)}: w1/w2 had no gradient after an update (.grad "
                                 "was None): `w1 = w1 - learning_rate * w1.grad` makes a new tensor; update the "
                                 "given tensors in place (w1 -= learning_rate * w1.grad) under torch.no_grad()"
                                 ) from None
            raise


def autograd_training(student, inputs, ctx):
    x, y, w1, w2 = _tensors(inputs, ctx, requires_grad=True)
    with ctx.watch_autograd() as used:
        losses = _autograd_train(student, (x, y, w1, w2), ctx, learning_rate=float(inputs["learning_rate"]),
                                 num_epochs=int(inputs["num_epochs"]))
    return {"losses": _float_list(losses, "autograd_train"), "w1": w1.detach(), "w2": w2.detach(),
            "w1_grad": w1.grad, "w2_grad": w2.grad, "backward_calls": used.count("Tensor.backward()")}


def _where(exc: BaseException) -> str:
    """', line N (`code`)' for the innermost frame of the student's module, if any."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith("numpy_two_layer.py"):
            return f", line {frame.lineno} (`{(frame.line or '').strip()[:120]}`)"
    return ""


def _fixed_model(inputs, ctx):
    D_in, H = np.shape(inputs["layers"]["0.weight"])[1], np.shape(inputs["layers"]["0.weight"])[0]
    D_out = np.shape(inputs["layers"]["2.weight"])[0]
    model = torch.nn.Sequential(torch.nn.Linear(D_in, H), torch.nn.ReLU(), torch.nn.Linear(H, D_out))
    model = model.to(dtype=_dtype(ctx))
    with torch.no_grad():  # in the check's dtype, so float64 weights stay exact
        for name, p in model.named_parameters():
            p.copy_(torch.as_tensor(np.asarray(inputs["layers"][name])))
    return model.to(device=ctx.device)


def optim_training(student, inputs, ctx):
    model = _fixed_model(inputs, ctx)
    x, y = ctx.tensor(inputs["x"], _dtype(ctx)), ctx.tensor(inputs["y"], _dtype(ctx))
    kwargs = {"learning_rate": float(inputs["learning_rate"]), "num_epochs": int(inputs["num_epochs"])}
    with ctx.watch_optimizers() as spy:
        losses = student.optim_train(model, x, y, **kwargs)
    return {"losses": _float_list(losses, "optim_train"), "optimizers": spy.made,
            "zero_grad_calls": spy.zero_grad_calls, "learning_rate": kwargs["learning_rate"]}


def model_structure(student, inputs, ctx):
    D_in, H, D_out = (int(s) for s in inputs["sizes"])
    model = student.build_model(D_in, H, D_out)
    layers = []
    children = list(model.children()) if isinstance(model, torch.nn.Module) else []
    for m in children:
        layers.append({"type": type(m).__name__,
                       "in_features": int(getattr(m, "in_features", -1)),
                       "out_features": int(getattr(m, "out_features", -1)),
                       "bias": getattr(m, "bias", None) is not None})
    out_shape = None
    if isinstance(model, torch.nn.Module):
        with torch.no_grad():
            try:
                out_shape = list(model(torch.zeros(2, D_in)).shape)
            except Exception as exc:  # reported by the judge, with the layers it found
                out_shape = f"{type(exc).__name__}: {str(exc)[:200]}"
    return {"class": type(model).__name__, "is_sequential": isinstance(model, torch.nn.Sequential),
            "layers": layers, "output_shape": out_shape}


def default_arguments(student, inputs, ctx):
    """Each training function called without learning_rate / num_epochs, and again with
    the contract's defaults spelled out: the two runs must be the same."""
    out = {}
    for name, explicit in (("numpy_train", {"learning_rate": 1e-6, "num_epochs": 500}),
                           ("autograd_train", {"learning_rate": 1e-6, "num_epochs": 500}),
                           ("optim_train", {"learning_rate": 1e-4, "num_epochs": 500})):
        runs = []
        for kwargs in ({}, explicit):
            if name == "numpy_train":
                losses = student.numpy_train(*_arrays(inputs), **kwargs)[2]
            elif name == "autograd_train":
                losses = _autograd_train(student, _tensors(inputs, ctx, requires_grad=True), ctx, **kwargs)
            else:
                x, y = ctx.tensor(inputs["x"], _dtype(ctx)), ctx.tensor(inputs["y"], _dtype(ctx))
                losses = student.optim_train(_fixed_model(inputs, ctx), x, y, **kwargs)
            runs.append(_float_list(losses, name))
        out[name] = {"defaults": runs[0], "explicit": runs[1], "explicit_args": explicit}
    return out
