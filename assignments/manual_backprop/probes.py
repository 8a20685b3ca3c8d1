"""How each check calls the student's code. Runs inside the sandbox.

* input makers ``make_*(helpers, **args) -> dict`` build a check's inputs as NumPy
  float64 arrays (run once by ``backprop-grader reference``, stored in
  ``reference_data/``);
* probes ``probe(student, inputs, ctx) -> value`` turn them into tensors, call the
  student's functions and return what those produced. Deciding happens in judges.py.

Gradient checks run in float64. The training trajectories run in float64 too (the
default dtype is switched for the call, so ``init_params`` draws float64), which
keeps two correct implementations within 1e-15 of each other after thousands of
SGD steps; the accuracy checks run as the lab does, in float32.
"""
from __future__ import annotations

import contextlib
import inspect
import traceback

import numpy as np
import torch

from grader.harness import ProbeError

KEYS = ("Wh", "bh", "Wy", "by")
DEEP_KEYS = ("W1", "b1", "W2", "b2", "Wy", "by")
CURVES = ("acc_train", "acc_test", "loss_train", "loss_test")


# -- inputs ------------------------------------------------------------------------
def _one_hot(rng, n, ny, every_class=True):
    labels = rng.integers(0, ny, size=n)
    if every_class:
        labels[: min(n, ny)] = np.arange(min(n, ny))  # every class that fits appears
    Y = np.zeros((n, ny))
    Y[np.arange(n), labels] = 1.0
    return Y


def make_problem(helpers, seed, n=6, nx=3, nh=5, ny=4, weight_std=0.5, bias_std=0.3, every_class=True):
    """Random parameters (non-zero biases, so a bias left out shows), inputs and one-hot labels
    (with every_class=False some classes may be absent, as in a small mini-batch)."""
    rng = np.random.default_rng(seed)
    params = {
        "Wh": weight_std * rng.standard_normal((nh, nx)),
        "bh": bias_std * rng.standard_normal((nh, 1)),
        "Wy": weight_std * rng.standard_normal((ny, nh)),
        "by": bias_std * rng.standard_normal((ny, 1)),
    }
    X = rng.standard_normal((n, nx))
    return {"params": params, "X": X, "Y": _one_hot(rng, n, ny, every_class), "eta": 0.1}


def make_sgd(helpers, seed, nx=3, nh=5, ny=2, eta=0.05):
    """Parameters and gradients of the usual shapes, and a step size."""
    rng = np.random.default_rng(seed)
    shapes = {"Wh": (nh, nx), "bh": (nh, 1), "Wy": (ny, nh), "by": (ny, 1)}
    return {"params": {k: rng.standard_normal(s) for k, s in shapes.items()},
            "grads": {k: rng.standard_normal(s) for k, s in shapes.items()}, "eta": eta}


def make_sizes(helpers, nx=2, nh=10, ny=2, seed=3):
    return {"nx": nx, "nh": nh, "ny": ny, "seed": seed}


def make_circles(helpers, n_train=200, n_test=200, seed=0):
    """The circles data set as stored arrays: the reference and the student get the same."""
    data = helpers.CirclesData(n_train, n_test, seed)
    return dict(data.arrays(), data_seed=seed)


def make_deep_problem(helpers, seed, n=7, nx=3, nh1=6, nh2=4, ny=3, weight_std=0.5, bias_std=0.3):
    rng = np.random.default_rng(seed)
    shapes = {"W1": (nh1, nx), "b1": (nh1, 1), "W2": (nh2, nh1), "b2": (nh2, 1), "Wy": (ny, nh2), "by": (ny, 1)}
    params = {k: (bias_std if k.startswith("b") else weight_std) * rng.standard_normal(s) for k, s in shapes.items()}
    X = rng.standard_normal((n, nx))
    return {"params": params, "X": X, "Y": _one_hot(rng, n, ny)}


# -- small tools -------------------------------------------------------------------
def _problem(inputs, ctx):
    params = ctx.tensors(inputs["params"], torch.float64)
    return params, ctx.tensor(inputs["X"], torch.float64), ctx.tensor(inputs["Y"], torch.float64)


def _pair(value, what, n=2):
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise ProbeError(f"{what} should return a tuple of {n}; it returned {type(value).__name__}"
                         + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""))
    return value


@contextlib.contextmanager
def _default_dtype(dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@contextlib.contextmanager
def _spy_training(student):
    """Count torch.randperm calls and record the rows of every forward() call."""
    seen = {"randperm": [], "forward_rows": []}
    randperm, fwd = torch.randperm, getattr(student, "forward", None)

    def spy_randperm(*a, **k):
        seen["randperm"].append(int(a[0]) if a and isinstance(a[0], int) else -1)
        return randperm(*a, **k)

    def spy_forward(params, X, *a, **k):
        if len(seen["forward_rows"]) < 20000:
            seen["forward_rows"].append(int(X.shape[0]))
        return fwd(params, X, *a, **k)

    torch.randperm = spy_randperm
    if fwd is not None:
        student.forward = spy_forward
    try:
        yield seen
    finally:
        torch.randperm = randperm
        if fwd is not None:
            student.forward = fwd


def _softmax_net(params, X):
    """The provided forward pass (the one in the stub), for measuring trained parameters."""
    h = torch.tanh(X @ params["Wh"].T + params["bh"].T)
    return torch.softmax(h @ params["Wy"].T + params["by"].T, dim=1)


def _data(inputs, dtype, helpers):
    return helpers.CirclesData.from_arrays(inputs["Xtrain"], inputs["Ytrain"], inputs["Xtest"], inputs["Ytest"],
                                           inputs["Xgrid"], dtype=dtype)


def _trainer(student, ctx):
    which = ctx.options.get("trainer", "train_manual")
    fn = getattr(student, which)
    student_file = getattr(student, "__file__", None)

    def train(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RuntimeError as exc:
            # torch's message reads as if autograd were forbidden; in train_autograd it means
            # the parameters stopped being leaves that require grad after an update.
            if which != "train_autograd" or "does not require grad" not in str(exc):
                raise
            where = ""
            for frame in traceback.extract_tb(exc.__traceback__):
                if student_file and frame.filename == student_file:
                    where = f" (line {frame.lineno}: `{(frame.line or '').strip()}`)"
            raise ProbeError(f"train_autograd: loss.backward() found nothing to differentiate{where}: after an "
                             f"update the parameters were no longer leaves with requires_grad=True. "
                             f"sgd_autograd must update them in place under torch.no_grad() "
                             f"(see sgd_autograd_update).") from None

    return which, train


def _loss_accuracy_probe(student, data):
    """The student's loss_accuracy on a fixed, non-one-hot Yhat: the provided function gives
    -log(0.7) and 100; a rewritten one (a mean over N x classes, a fraction) shows here."""
    Y = data.Ytrain
    ny = Y.shape[1]
    Yhat = 0.7 * Y + 0.3 * (1 - Y) / max(1, ny - 1)
    try:
        L, acc = student.loss_accuracy(Yhat, Y)
        return [float(L), float(acc)]
    except Exception:  # noqa: BLE001 - a loss_accuracy that fails here fails the trainers' own run too
        return None


def _floats(values):
    """A curve as a list of floats (from a list of numbers or 0-dim tensors, or a 1-D tensor);
    anything else as it is, for the judge to describe."""
    if isinstance(values, torch.Tensor) and values.dim() == 1:
        values = values.detach().cpu().tolist()
    if isinstance(values, (list, tuple)):
        try:
            return [float(v) for v in values]
        except (TypeError, ValueError, RuntimeError):
            return list(values)
    return values


def _defaults(fn) -> dict:
    """The keyword defaults of the student's trainer, as plain values."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params
            if p.default is not inspect.Parameter.empty and isinstance(p.default, (int, float, str, bool))}


def _params_of(value, what, keys=KEYS):
    params = _pair(value, what)[0]
    if not isinstance(params, dict) or any(k not in params or not isinstance(params[k], torch.Tensor)
                                           for k in keys):
        raise ProbeError(f"{what} should return (params, curves) with params a dict of tensors {list(keys)}")
    return params


# -- probes: by hand ---------------------------------------------------------------
def backward_grads(student, inputs, ctx):
    """forward (provided) then the student's backward on the same outputs."""
    params, X, Y = _problem(inputs, ctx)
    yhat, outputs = _pair(student.forward(params, X), "forward(params, X)")
    if X.shape[0] != 1:
        return {"yhat": yhat, "grads": student.backward(params, outputs, Y)}
    try:
        grads = student.backward(params, outputs, Y)
    except NotImplementedError:
        raise
    except (RuntimeError, IndexError) as exc:
        # Only a batch of one example: a shape error here usually means an axis of length 1 was
        # dropped, which the other backward checks (larger batches) do not show.
        where = ""
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == getattr(student, "__file__", None):
                where = f" (line {frame.lineno}: `{(frame.line or '').strip()}`)"
        raise ProbeError(f"backward raised {type(exc).__name__}{where} on a mini-batch of one example. If it works "
                         f"on larger batches, an axis of length 1 was dropped on the way (a squeeze(), or indexing "
                         f"such as delta[0]): keep every tensor 2-D, (N, ...).") from None
    return {"yhat": yhat, "grads": grads}


def _requires_grad(values):
    if isinstance(values, dict):
        return {str(k): bool(getattr(v, "requires_grad", False)) for k, v in values.items()}
    return {}


def _raised(exc: Exception) -> dict:
    return {"type": type(exc).__name__, "message": str(exc)[:300]}


def manual_no_autograd(student, inputs, ctx):
    """backward, sgd and a short train_manual, watched for autograd.

    Only autograd is judged here: an exception other than NotImplementedError (a bug the
    other checks report) is recorded and the next function is still watched.
    """
    params, X, Y = _problem(inputs, ctx)
    _, outputs = _pair(student.forward(params, X), "forward(params, X)")
    step_params = {k: v.clone() for k, v in params.items()}
    step_grads = {k: torch.ones_like(v) for k, v in params.items()}
    calls = {
        "backward": lambda: student.backward(params, outputs, Y),
        "sgd": lambda: student.sgd(step_params, step_grads, 0.1),
        "train_manual": lambda: _first(student.train_manual(ctx.helpers.CirclesData(20, 10, 5), nh=4, eta=0.1,
                                                            epochs=2, batch_size=5, seed=0)),
    }
    watched = {"backward": params, "sgd": step_params, "train_manual": {}}
    out = {}
    for name, call in calls.items():
        result, raised = None, None
        with ctx.watch_autograd() as used:
            try:
                result = call()
            except NotImplementedError:
                raise
            except Exception as exc:  # judged by the function's own checks
                raised = _raised(exc)
        out[name] = {"used": list(used), "outputs_require_grad": _requires_grad(result),
                     "params_require_grad": _requires_grad(watched[name]), "raised": raised,
                     "result": result if raised is None else None}
    return out


def _first(value):
    return value[0] if isinstance(value, (tuple, list)) and value else value


def sgd_step(student, inputs, ctx):
    params = ctx.tensors(inputs["params"], torch.float64)
    grads = ctx.tensors(inputs["grads"], torch.float64)
    return {"returned": student.sgd(params, grads, float(inputs["eta"]))}


# -- probes: autograd --------------------------------------------------------------
def init_autograd(student, inputs, ctx):
    nx, nh, ny, seed = (int(inputs[k]) for k in ("nx", "nh", "ny", "seed"))
    torch.manual_seed(seed)
    params = student.init_params_autograd(nx, nh, ny)
    torch.manual_seed(seed)
    plain = student.init_params(nx, nh, ny)
    if not isinstance(params, dict):
        raise ProbeError(f"init_params_autograd should return a dict; it returned {type(params).__name__}")
    leaf = {str(k): bool(v.is_leaf) for k, v in params.items() if isinstance(v, torch.Tensor)}
    return {"params": params, "plain": plain, "is_leaf": leaf}


def sgd_autograd_step(student, inputs, ctx):
    """Leaves with .grad set, one call, then what became of them."""
    params = {k: ctx.tensor(v, torch.float64).requires_grad_(True) for k, v in inputs["params"].items()}
    for k, p in params.items():
        p.grad = ctx.tensor(inputs["grads"][k], torch.float64)
    given = dict(params)
    try:
        returned = student.sgd_autograd(params, float(inputs["eta"]))
    except NotImplementedError:
        raise
    except Exception as exc:  # the usual autograd errors get a hint from the judge
        return {"raised": _raised(exc)}
    out = {"given": {k: p.detach().clone() for k, p in given.items()},
           "given_grad": {k: p.grad for k, p in given.items()},
           "given_requires_grad": _requires_grad(given),
           "grad_enabled_after": torch.is_grad_enabled(),
           "returned": returned}
    if isinstance(returned, dict):
        out["returned_info"] = {
            str(k): {"is_leaf": bool(v.is_leaf), "has_grad_fn": v.grad_fn is not None,
                     "requires_grad": bool(v.requires_grad), "same_object": v is given.get(k)}
            for k, v in returned.items() if isinstance(v, torch.Tensor)}
    return out


# -- probes: training --------------------------------------------------------------
def train_curves(student, inputs, ctx):
    """The trainer on the stored circles, in float64, with randperm and forward watched."""
    which, train = _trainer(student, ctx)
    data = _data(inputs, torch.float64, ctx.helpers)
    with _default_dtype(torch.float64), _spy_training(student) as seen:
        result = train(data, **ctx.options["train"])
    params = _params_of(result, which)
    curves = result[1]
    if not isinstance(curves, dict):
        raise ProbeError(f"{which} should return (params, curves) with curves a dict of lists")
    plain = {k: _floats(curves[k]) for k in CURVES if k in curves}
    return {"curves": plain, "curve_keys": sorted(str(k) for k in curves), "randperm": seen["randperm"],
            "loss_accuracy": _loss_accuracy_probe(student, data),
            "defaults": _defaults(getattr(student, which)),
            "forward_rows": seen["forward_rows"],
            "params_info": {k: {"requires_grad": bool(params[k].requires_grad), "is_leaf": bool(params[k].is_leaf)}
                            for k in KEYS}}


def train_accuracy(student, inputs, ctx):
    """The trainer with its defaults on the circles (float32, as in the lab); accuracy of the
    returned parameters on the test set, and their output on the grid for the picture."""
    which, train = _trainer(student, ctx)
    data = _data(inputs, torch.float32, ctx.helpers)
    result = train(data, **ctx.options.get("train", {}))
    params = _params_of(result, which)
    curves = result[1] if isinstance(result[1], dict) else {}
    with torch.no_grad():
        p = {k: params[k].detach().to(torch.float32) for k in KEYS}
        test = _softmax_net(p, data.Xtest)
        grid = _softmax_net(p, data.Xgrid)
    acc = 100.0 * float((test.argmax(dim=1) == data.Ytest.argmax(dim=1)).double().mean())
    loss = _floats(curves.get("loss_train"))
    return {"acc_test": acc, "grid_p1": grid[:, 1], "loss_accuracy": _loss_accuracy_probe(student, data),
            "loss_train": loss if isinstance(loss, list) and all(isinstance(v, float) for v in loss) else []}


# -- probes: bonus -----------------------------------------------------------------
def deep_init(student, inputs, ctx):
    sizes = [int(s) for s in inputs["sizes"]]
    torch.manual_seed(int(inputs["seed"]))
    params = student.init_params_deep(*sizes)
    if not isinstance(params, dict):
        raise ProbeError(f"init_params_deep should return a dict; it returned {type(params).__name__}")
    return {"params": params}


def deep_forward(student, inputs, ctx):
    params, X, _ = _problem(inputs, ctx)
    yhat, _ = _pair(student.forward_deep(params, X), "forward_deep(params, X)")
    return {"yhat": yhat}


def deep_backward(student, inputs, ctx):
    params, X, Y = _problem(inputs, ctx)
    yhat, outputs = _pair(student.forward_deep(params, X), "forward_deep(params, X)")
    with ctx.watch_autograd() as used:
        grads = student.backward_deep(params, outputs, Y)
    return {"yhat": yhat, "grads": grads, "autograd": list(used)}


def make_deep_sizes(helpers, nx=40, nh1=50, nh2=30, ny=10, seed=4):
    return {"sizes": [nx, nh1, nh2, ny], "seed": seed}
