"""How each check decides. Runs in the grader's process, never next to student code.

``judge(got, expected, ctx) -> Verdict``: ``got`` is what the probe returned for the
student, ``expected`` what it returned for the reference solution, ``ctx.inputs`` the
network's parameters and data, ``ctx.mistakes`` what known mistakes would produce
(from solutions/layered_backprop/mistakes.py, on the instructor's side). NumPy only.
"""
from __future__ import annotations

import numpy as np

from grader.checks import (JudgeContext, Verdict, as_array, as_number, compare_arrays, describe, diagnose,
                           verdict_from, with_partial_credit)
from grader.checks.compare import Comparison
from grader.checks.figures import decision_surface

__all__ = ["forward", "loss", "y_shapes", "grads", "grads_numeric", "no_autograd", "apply_gradients", "train"]

GRADS = ("weight_grad", "bias_grad")


def _fail(msg: str, hint: str | None = None) -> Verdict:
    return Verdict(False, msg, hint, msg)


def _arch(ctx: JudgeContext) -> str:
    i = ctx.inputs
    return f"NeuralNetwork({i['input_size']}, {i['output_size']}, {list(i['hidden_sizes'])})"


def _n(ctx: JudgeContext) -> int:
    return int(np.asarray(ctx.inputs["x"]).shape[0])


def _trap(n: int) -> str:
    return (f"the broadcasting trap: y of shape ({n},) met predictions of shape ({n}, 1), and y_true - y_pred "
            f"silently broadcast to ({n}, {n}). Reshape y like the predictions (y.reshape(y_pred.shape), or "
            f"y.view(-1, 1)) before the loss and its gradient.")


def _scalar_hint(got, variants: dict, tol: float = 1e-9) -> str | None:
    value = as_number(got)
    if value is None:
        return None
    for hint, v in variants.items():
        if abs(value - v) <= max(tol, 1e-9) * max(1.0, abs(v)):
            return hint
    return None


# -- forward and loss ----------------------------------------------------------------------
def _single_output_flat(value, expected) -> dict | object:
    """A single output returned as (N,) instead of (N, 1), as the lab's own published solution
    does (it squeezes so that predictions meet y of shape (N,)): the same numbers, taken as (N, 1)."""
    a, e = as_array(value), as_array(expected)
    if a is not None and e is not None and e.values.ndim == 2 and e.values.shape[1] == 1 \
            and a.values.shape == (e.values.shape[0],):
        return {"__tensor__": a.values.reshape(-1, 1), "dtype": a.dtype, "device": a.device,
                "requires_grad": a.requires_grad}
    return value


def forward(got, expected, ctx: JudgeContext) -> Verdict:
    """y_pred = net.forward(x) against the reference; a single output may come as (N,).
    Options: ``tolerance``."""
    tol = float(ctx.options.get("tolerance", 1e-9))
    c = compare_arrays(f"{_arch(ctx)}.forward(x)", _single_output_flat(got.get("y_pred"), expected["y_pred"]),
                       expected["y_pred"], tol)
    if c.passed:
        return Verdict(True, c.message)
    variants = (ctx.mistakes or {}).get("y_pred", {})
    hint = diagnose(c, {"variants": variants, "tolerance": tol})
    hidden = [int(h) for h in ctx.inputs["hidden_sizes"]]
    out = int(ctx.inputs["output_size"])
    if hint is None and c.problem == "shape" and c.got is not None and c.got.ndim == 2 and \
            c.got.shape[0] == _n(ctx) and hidden and c.got.shape[1] == hidden[-1] != out:
        hint = (f"the output has {hidden[-1]} columns, the width of the last hidden layer: x must also go through "
                f"the last (sigmoid) layer of self.layers.")
    return Verdict(False, c.message, hint, c.redacted)


def loss(got, expected, ctx: JudgeContext) -> Verdict:
    """get_loss(x, y) with y shaped like the predictions. Options: ``tolerance``."""
    tol = float(ctx.options.get("tolerance", 1e-9))
    value = got.get("loss")
    c = compare_arrays(f"{_arch(ctx)}.get_loss(x, y)", value, expected["loss"], tol)
    if c.passed:
        a = as_array(value)
        if a is not None and a.values.shape != ():
            return _fail(f"get_loss returned {describe(value)}; the loss is a 0-dim tensor (values are right)",
                         "return the mean itself (torch.mean(...) is 0-dim); do not wrap or reshape it.")
        return Verdict(True, c.message)
    hint = _scalar_hint(value, (ctx.mistakes or {}).get("loss", {}), tol)
    if hint is None and c.problem == "type":
        hint = "get_loss should return self.loss.forward(y, y_pred), a 0-dim tensor."
    return Verdict(False, c.message, hint, c.redacted)


def _results(part: dict) -> list:
    """[(what, value)] for the loss and every gradient a y_shapes run produced."""
    out = [("get_loss(x, y)", part.get("loss"))]
    for i, layer in enumerate(part.get("grads") or []):
        for k in GRADS:
            out.append((f"layers[{i}].linear.{k}", layer.get(k) if isinstance(layer, dict) else None))
    return out


def _describe_raised(r: dict) -> str:
    where = r.get("where") or {}
    at = f" in {where['function']}, line {where['line']} (`{where['code']}`)" if where else ""
    return f"{r.get('type')}{at}: {r.get('message')}"


def _y_shape_parts(got, expected, tol: float) -> dict[str, bool]:
    """The loss and the gradients, each right for both shapes of y (the reference's results):
    half the points each. Zeros are the same for both shapes too, so sameness alone earns nothing."""
    parts = {}
    for part, keep in (("loss", lambda what: what == "get_loss(x, y)"), ("gradients", lambda what: what != "get_loss(x, y)")):
        ok = True
        for name in ("column", "flat"):
            mine = [(w, v) for w, v in _results(got.get(name, {})) if keep(w)]
            ref = [(w, v) for w, v in _results(expected[name]) if keep(w)]
            ok = ok and not (got.get(name) or {}).get("loss_raised" if part == "loss" else "grads_raised") and \
                len(mine) == len(ref) and all(compare_arrays(w, g, e, tol).passed for (w, g), (_, e) in zip(mine, ref))
        parts[part] = ok
    return parts


def y_shapes(got, expected, ctx: JudgeContext) -> Verdict:
    """get_loss and backward give the same, right results with y of shape (N,) and (N, 1).

    Half the points for the loss, half for the gradients (``options.partial``); a part pays
    only when its results are the reference's for both shapes. Options: ``tolerance``.
    """
    tol = float(ctx.options.get("tolerance", 1e-9))
    n = _n(ctx)
    parts = _y_shape_parts(got, expected, tol)
    column_raised = [(what, (got.get("column") or {}).get(f"{what}_raised")) for what in ("loss", "grads")]
    column_raised = [(what, r) for what, r in column_raised if r]
    if column_raised:
        lines = [f"with y ({n}, 1) {'get_loss(x, y)' if what == 'loss' else 'backward(x, y)'} raised "
                 f"{_describe_raised(r)}; with y ({n},) it works" for what, r in column_raised]
        hint = (f"the shape of y matters in your code: reshape y like the network's output "
                f"(y.reshape(y_pred.shape)) in get_loss and backward, so that ({n},) and ({n}, 1) mean the same.")
        return with_partial_credit(Verdict(False, "\n".join(lines), hint, "\n".join(lines)), parts, ctx.options)
    raised = [(what, got.get("flat", {}).get(f"{what}_raised")) for what in ("loss", "grads")]
    raised = [(what, r) for what, r in raised if r]
    if raised:
        lines = []
        flat_loss, column_loss = got.get("flat", {}).get("loss"), got.get("column", {}).get("loss")
        if flat_loss is not None:
            c = compare_arrays(f"get_loss(x, y) with y ({n},)", flat_loss, column_loss, tol)
            if not c.passed:
                lines.append(c.message.replace("expected", f"with y ({n}, 1)"))
        for what, r in raised:
            call = "get_loss(x, y)" if what == "loss" else "backward(x, y)"
            lines.append(f"with y ({n},) {call} raised {_describe_raised(r)}; with y ({n}, 1) it works")
        return with_partial_credit(Verdict(False, "\n".join(lines), _trap(n), "\n".join(lines)), parts, ctx.options)
    column, flat = _results(got.get("column", {})), _results(got.get("flat", {}))
    if len(column) != len(flat):
        msg = (f"backward(x, y) set gradients for {len(column) // 2} layers with y ({n}, 1) and for "
               f"{len(flat) // 2} with y ({n},)")
        return with_partial_credit(Verdict(False, msg, None, msg), parts, ctx.options)
    cmps = [compare_arrays(f"{what} with y ({n},)", f, c, tol) for (what, c), (_, f) in zip(column, flat)
            if as_array(c) is not None or as_number(c) is not None]
    v = verdict_from(cmps)
    if v.passed and all(parts.values()):
        return Verdict(True, f"y of shape ({n},) and ({n}, 1) give the same loss and the same gradients")
    if v.passed:
        wrong = [p for p, ok in parts.items() if not ok]
        first = " and ".join({"loss": "loss_five_points", "gradients": "grads_five_points"}[p] for p in wrong)
        msg = (f"y of shape ({n},) and ({n}, 1) give the same results, but the {' and the '.join(wrong)} "
               f"{'are' if len(wrong) > 1 else 'is'} not the reference's, so no credit for "
               f"{'them' if len(wrong) > 1 else 'it'}")
        return with_partial_credit(Verdict(False, msg, f"fix {first} first: this check pays only for results that "
                                           f"are right.", msg), parts, ctx.options)
    message = v.message.replace("expected", f"with y ({n}, 1)")
    right = {name: all(compare_arrays(w, g, e, tol).passed for (w, g), (_, e) in
                       zip(_results(got.get(name, {})), _results(expected[name])))
             for name in ("column", "flat")}
    if right["column"] and not right["flat"]:
        hint = _trap(n)
    elif right["flat"] and not right["column"]:
        hint = (f"y of shape ({n}, 1) met predictions flattened to ({n},) and broadcast to ({n}, {n}): reshape y "
                f"like the network's output (y.reshape(y_pred.shape)) before the loss and its gradient.")
    else:
        hint = ("the results depend on y's shape: reshape y like the predictions (y.reshape(y_pred.shape)) in both "
                "get_loss and backward; the loss and gradient checks say what else is off.")
    head = f"the same targets as ({n},) and as ({n}, 1) give different results:\n"
    return with_partial_credit(Verdict(False, head + message, hint, head + v.redacted), parts, ctx.options)


# -- gradients -----------------------------------------------------------------------------
def _layer_hint(c: Comparison, ctx: JudgeContext, variants: dict, tol: float) -> str | None:
    n = _n(ctx)
    if c.problem == "shape" and c.got is not None and c.expected is not None:
        g, e = c.got.shape, c.expected.shape
        if c.label.endswith("bias_grad") and len(e) == 1 and g == (n, e[0]):
            return (f"{c.label} has one row per example, shape {g}: bias_grad is delta summed over the batch "
                    f"(delta.sum(dim=0)), shape {e}, like the bias.")
        if (len(e) == 2 and e[1] == 1 and g == (e[0], n)) or (len(e) == 1 and e == (1,) and g == (n,)):
            return _trap(n)
    return diagnose(c, {"N": n, "variants": variants, "tolerance": tol, "what": "the sum over the batch"})


def _grads_verdict(layers, expected, ctx: JudgeContext, tol: float, other: str = "expected") -> Verdict:
    want = len(expected)
    if not isinstance(layers, list) or len(layers) != want:
        return _fail(f"expected gradients for {want} layers, got {describe(layers)}")
    variants = (ctx.mistakes or {}).get("grads", [])
    cmps, hints = [], {}
    for i, (layer, exp) in enumerate(zip(layers, expected)):
        for k in GRADS:
            label = f"layers[{i}].linear.{k}"
            value = layer.get(k) if isinstance(layer, dict) else None
            if value is None:
                msg = f"{label} is None after backward(x, y)"
                cmps.append(Comparison(label, False, "type", msg, msg))
                hints[label] = "backward must set weight_grad and bias_grad of every layer's linear."
                continue
            c = compare_arrays(label, value, exp[k], tol)
            if not c.passed:
                hint = _layer_hint(c, ctx, variants[i][k] if i < len(variants) else {}, tol)
                if other != "expected":
                    c = Comparison(c.label, False, c.problem, c.message.replace("expected", other), c.redacted,
                                   c.got, c.expected, c.rel_error)
                    hint = hint and hint.replace("the reference", "the numeric gradient")
                hints[label] = hint
            cmps.append(c)
    return verdict_from(cmps, hint_for=lambda c: hints.get(c.label))


def grads(got, expected, ctx: JudgeContext) -> Verdict:
    """Every layer's weight_grad and bias_grad after backward(x, y), against the reference."""
    tol = float(ctx.options.get("tolerance", 1e-9))
    v = _grads_verdict(got.get("grads"), expected["grads"], ctx, tol)
    if v.passed:
        return Verdict(True, f"{_arch(ctx)}.backward(x, y): every layer's gradients match ({v.message})")
    return Verdict(False, f"{_arch(ctx)}.backward(x, y):\n{v.message}", v.hint,
                   f"{_arch(ctx)}.backward(x, y):\n{v.redacted}")


def grads_numeric(got, expected, ctx: JudgeContext) -> Verdict:
    """The analytic gradients against central differences of the student's own get_loss."""
    tol = float(ctx.options.get("tolerance", 1e-6))
    numeric = got.get("numeric")
    v = _grads_verdict(got.get("analytic"), numeric, ctx, tol, other="numeric")
    loss = compare_arrays("get_loss(x, y)", got.get("loss"), expected["loss"], 1e-9)
    if v.passed and not loss.passed:
        # Gradients that follow a wrong loss (zeros follow a zero loss) earn nothing here.
        return Verdict(False, f"backward agrees with central differences of your get_loss, but that loss is not "
                              f"the mean squared error:\n{loss.message}",
                       "fix get_loss first (see loss_five_points): agreeing with the slope of a wrong loss earns "
                       "nothing.", f"backward follows your get_loss, which is not the reference's:\n{loss.redacted}")
    if v.passed:
        return Verdict(True, f"backward vs central differences of your get_loss: {v.message}")
    return Verdict(False, v.message, v.hint or "backward does not give the slope of your own get_loss: follow the "
                   "chain rule layer by layer (loss gradient, activation derivative at last_zin, then "
                   "last_input.T @ delta and delta @ weight.T).", v.redacted)


def no_autograd(got, expected, ctx: JudgeContext) -> Verdict:
    problems = []
    used = sorted(set(got.get("used", [])))
    if used:
        problems.append(f"backward called {', '.join(used)}")
    flagged = [i for i, f in enumerate(got.get("grads_require_grad", [])) if f]
    if flagged:
        problems.append(f"the gradients of layers {flagged} require grad")
    switched = [i for i, f in enumerate(got.get("params_require_grad", [])) if f]
    if switched:
        problems.append(f"backward turned requires_grad on for the parameters of layers {switched}")
    if problems:
        return _fail("; ".join(problems), "compute each layer's gradients with the chain rule on plain tensors: no "
                     "requires_grad, no .backward(), no torch.autograd.grad. PyTorch is only the tensor engine here.")
    # Zeros use no autograd either: the property pays only with the reference's gradients.
    if not _grads_verdict(got.get("grads"), expected["grads"], ctx, 1e-9).passed:
        msg = "backward uses no autograd, but its gradients are not the reference's, so no credit here"
        return _fail(msg, "fix grads_five_points first: this check pays only for gradients that are right.")
    return Verdict(True, "backward uses no autograd and its gradients are plain tensors with the reference's values")


def apply_gradients(got, expected, ctx: JudgeContext) -> Verdict:
    """Every layer's weight and bias after apply_gradients(lr) with known gradients."""
    tol = float(ctx.options.get("tolerance", 1e-14))
    params = got.get("params")
    want = expected["params"]
    if not isinstance(params, list) or len(params) != len(want):
        return _fail(f"expected the parameters of {len(want)} layers, got {describe(params)}")
    inputs, lr = ctx.inputs, float(ctx.inputs["lr"])
    cmps, hints = [], {}
    for i, (layer, exp) in enumerate(zip(params, want)):
        for k, key, gkey in (("weight", "weights", "weight_grads"), ("bias", "biases", "bias_grads")):
            label = f"layers[{i}].linear.{k}"
            c = compare_arrays(label, layer.get(k), exp[k], tol)
            cmps.append(c)
            if c.passed or c.got is None or c.got.shape != np.shape(inputs[key][i]):
                continue
            p, g = np.asarray(inputs[key][i], float), np.asarray(inputs[gkey][i], float)
            step = c.got - p
            if np.allclose(step, 0):
                hints[label] = (f"{label} was not changed: update every layer's weight and bias, and assign the "
                                f"result back to layer.linear.{k}.")
            elif np.allclose(step, lr * g):
                hints[label] = "the step goes uphill: subtract learning_rate times the gradient, do not add it."
            elif np.allclose(step, -g):
                hints[label] = "the learning rate is missing: the step is learning_rate * gradient."
    v = verdict_from(cmps, hint_for=lambda c: hints.get(c.label))
    if v.passed:
        return Verdict(True, f"apply_gradients({lr:g}): every layer's weight and bias moved by -lr * grad")
    return v


# -- training ------------------------------------------------------------------------------
def _figure(got, expected, ctx: JudgeContext, caption: str):
    grid = as_array(got.get("grid_pred"))
    if grid is None or grid.values.ndim not in (1, 2) or grid.values.size == 0:
        return ()
    values = grid.values.reshape(grid.values.shape[0], -1)
    n = int(round(np.sqrt(values.shape[0])))
    if n * n != values.shape[0]:
        return ()
    ticks = np.linspace(-2.0, 2.0, n)
    x = np.asarray(ctx.inputs["x"], float)
    labels = (np.asarray(ctx.inputs["y"], float).reshape(len(x), -1)[:, 0] > 0.5).astype(int)
    curves = {}
    mine = as_array(got.get("losses"))
    if mine is not None:
        curves["yours"] = mine.values.reshape(-1)
    elif isinstance(got.get("losses"), list) and all(isinstance(v, (int, float)) for v in got["losses"]):
        curves["yours"] = got["losses"]
    ref = as_array(expected.get("losses")) if expected else None
    if ref is not None:
        curves["reference"] = ref.values.reshape(-1)
    fig = decision_surface(ticks, ticks, values[:, 0].reshape(n, n), caption=caption,
                           title="output of your trained network", points=x, labels=labels,
                           value_label="y_pred[:, 0]", curves=curves or None, curve_label="loss", step_label="epoch",
                           log_curves=True)
    return (fig,) if fig is not None else ()


def _losses(value) -> np.ndarray | None:
    a = as_array(value)
    if a is not None:
        return a.values.astype(float)
    if isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return np.asarray(value, float)
    return None


def train(got, expected, ctx: JudgeContext) -> Verdict:
    """train(x, y, net, epochs, lr): the losses follow the reference's from the same start; a picture of
    the trained network's output.

    Options: ``epochs``, ``lr``, ``flat_y`` (y given as (N,), as in the lab), ``tolerance`` (rel_error of
    the loss curve), ``max_final_loss``.
    """
    o = ctx.options
    epochs, lr, tol = int(o["epochs"]), float(o["lr"]), float(o.get("tolerance", 1e-6))
    n = _n(ctx)
    shape = f"({n},)" if o.get("flat_y") else f"({n}, {ctx.inputs['output_size']})"
    call = f"train(x, y, net, {epochs}, {lr:g}) with {_arch(ctx)} and y {shape}"
    if got.get("raised"):
        return _fail(f"{call} raised {_describe_raised(got['raised'])}; the same run with y of shape ({n}, 1) "
                     f"does not", _trap(n))
    figures = _figure(got, expected, ctx, f"Your network's output after {call} (the data points on top); "
                                          f"right: your loss curve and the reference's.")
    losses = _losses(got.get("losses"))
    ref = np.asarray(as_array(expected["losses"]).values, float)
    if losses is None:
        return Verdict(False, f"{call}: losses is {describe(got.get('losses'))}, expected a 1-D tensor of "
                       f"{epochs} losses", "return (net, torch.stack(losses)) with one loss per epoch.",
                       f"{call}: losses is {describe(got.get('losses'))}", figures=figures)
    if losses.size != epochs:
        return Verdict(False, f"{call}: losses has {losses.size} entries, expected {epochs} (one per step)",
                       "record net.get_loss(x, y) once per epoch, before that epoch's step.",
                       f"{call}: losses has {losses.size} entries, expected {epochs}", figures=figures)
    if losses.ndim != 1:
        return Verdict(False, f"{call}: losses has shape {losses.shape}, expected ({epochs},)",
                       "each recorded loss is a 0-dim tensor; torch.stack of them is 1-D.",
                       f"{call}: losses has shape {losses.shape}", figures=figures)
    c = compare_arrays("losses", losses, ref, tol)
    final = f"final loss {losses[-1]:.3g} (the reference's {ref[-1]:.3g})"
    if c.passed:
        return Verdict(True, f"{call}: the {epochs} losses follow the reference's; {final}",
                       redacted=f"{call}: the {epochs} losses follow the reference's", figures=figures)
    bad = np.abs(losses - ref) > tol * np.maximum(np.abs(losses), np.abs(ref))
    first = int(np.argmax(bad))
    head = (f"{call}: the losses leave the reference's at step {first}" if first else
            f"{call}: the losses differ from the reference's from the first step")
    hint, extra = None, ""
    final_loss = got.get("final_loss") or {}
    flat, column = final_loss.get("flat"), final_loss.get("column")
    if flat is not None and column is not None and abs(flat - column) > 1e-9 * max(1.0, abs(column)):
        extra = (f"\nwith the trained network your get_loss gives {flat:.6g} for y of shape ({n},) and {column:.6g} "
                 f"for the same targets as ({n}, 1)")
        hint = _trap(n)
    if hint is None and first == 0:  # the first loss comes before any step: get_loss mistakes show there
        hint = _scalar_hint(losses[0], (ctx.mistakes or {}).get("first_loss", {}), 1e-9)
    if hint is None and first == 0 and np.allclose(losses[:-1], ref[1:], rtol=1e-6, atol=0):
        hint = "losses[i] must be the loss before step i: record get_loss(x, y) before backward and apply_gradients."
    if hint is None and first == 0:
        hint = ("already the first loss differs, before any step: get_loss is off (see the loss checks, and the "
                "y shape check if y is (N,)).")
    if hint is None:
        hint = ("the first loss matches and later ones do not: the steps differ from the reference's; the "
                "gradient and apply_gradients checks say which part is off.")
    return Verdict(False, f"{head}; {final}{extra}\n{c.message}", hint, f"{head}\n{c.redacted}", figures=figures)

