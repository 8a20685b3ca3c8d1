"""How each check decides. Runs in the grader's process, never next to student code.

``judge(got, expected, ctx) -> Verdict``: ``got`` is what the probe returned for the
student, ``expected`` what it returned for the reference solution, ``ctx.inputs``
the inputs both received, ``ctx.mistakes`` what known mistakes would have produced
on them (computed on the instructor's side from solutions/manual_backprop/mistakes.py).
NumPy only: no torch here.
"""
from __future__ import annotations

import numpy as np

from grader.checks import (JudgeContext, Verdict, as_array, as_number, compare_arrays, describe, diagnose,
                           match_reference, verdict_from, with_partial_credit)
from grader.checks.compare import Comparison
from grader.checks.gradients import numeric_gradient
from grader.checks.figures import decision_surface

KEYS = ("Wh", "bh", "Wy", "by")
DEEP_KEYS = ("W1", "b1", "W2", "b2", "Wy", "by")
CURVES = ("acc_train", "acc_test", "loss_train", "loss_test")
# The trainers' defaults in the contract: train_*(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0).
DEFAULTS = {"nh": 10, "eta": 0.03, "epochs": 150, "batch_size": 10, "seed": 0}

__all__ = ["match_reference", "backward_vs_reference", "backward_vs_numeric", "no_autograd", "sgd_step",
           "init_autograd", "sgd_autograd_step", "trajectory", "accuracy", "deep_init", "deep_forward",
           "deep_backward"]


def _fail(msg: str, hint: str | None = None) -> Verdict:
    return Verdict(False, msg, hint, msg)


def _missing(label: str, got: dict) -> Comparison:
    msg = f"{label} is missing; the dict has keys {sorted(got)}"
    return Comparison(label, False, "type", msg, msg)


def _is_dict(value) -> bool:
    return isinstance(value, dict) and "__tensor__" not in value and "__object__" not in value


# -- hints ---------------------------------------------------------------------------------
def _column_bias(c: Comparison, N: int) -> str | None:
    """A bias gradient in the wrong layout: the parameter is a column (k, 1)."""
    g, e = c.got, c.expected
    if c.problem != "shape" or g is None or e is None or e.ndim != 2 or e.shape[1] != 1:
        return None
    k = e.shape[0]
    if g.shape in ((k,), (1, k)):
        return (f"{c.label} must be a column of shape ({k}, 1), like the bias itself: sum delta over the batch "
                f"keeping the dimension and transpose (delta.sum(dim=0, keepdim=True).T), or reshape(-1, 1).")
    if g.shape in ((k, N), (N, k), (N, 1)):
        return (f"{c.label} has shape {tuple(g.shape)}: the sum over the batch is missing or on the wrong axis; "
                f"a bias gradient adds delta over the N = {N} examples (dim=0 of delta).")
    return None


def _over_classes(c: Comparison, ny: int) -> str | None:
    """The gradient divided by the number of classes too: a mean over all N x classes entries."""
    g, e = c.got, c.expected
    if c.problem != "values" or g is None or e is None or g.shape != e.shape or ny < 2 or not np.any(e):
        return None
    if np.allclose(g * ny, e, rtol=1e-6, atol=1e-12 * float(np.abs(e).max())):
        return (f"{c.label} is 1/{ny} of the reference everywhere, and there are {ny} classes: you divided by "
                f"N x classes (a mean over every entry of Y); the loss averages over the batch only, so divide by N.")
    return None


def _grad_hint(c: Comparison, ctx: JudgeContext, key: str, tol: float, variants: dict) -> str | None:
    N, ny = np.shape(ctx.inputs["Y"])
    return _column_bias(c, int(N)) or _over_classes(c, int(ny)) or diagnose(
        c, {"N": int(N), "variants": variants.get(key, {}), "tolerance": tol, "what": "the mean over the batch"})


def _grads_verdict(grads, expected: dict, keys, tol: float, ctx: JudgeContext, fn: str) -> Verdict:
    if not _is_dict(grads):
        return _fail(f"{fn} should return a dict with keys {list(keys)}; it returned {describe(grads)}")
    variants = (ctx.mistakes or {}).get("grads", {})
    cmps, hints = [], {}
    for k in keys:
        if k not in grads:
            cmps.append(_missing(f"grads['{k}']", grads))
            continue
        c = compare_arrays(f"grads['{k}']", grads[k], expected[k], tol)
        cmps.append(c)
        if not c.passed:
            hints[c.label] = _grad_hint(c, ctx, k, tol, variants)
    return verdict_from(cmps, hint_for=lambda c: hints.get(c.label))


# -- by hand -------------------------------------------------------------------------------
def _forward_changed(got, expected, tol: float) -> Verdict | None:
    """backward is judged on forward's outputs: a forward that no longer computes the provided
    network fails the check with that cause."""
    c = compare_arrays("yhat", got.get("yhat"), expected["yhat"], tol)
    if c.passed:
        return None
    return Verdict(False, "forward(params, X) no longer computes the provided network: " + c.message,
                   "forward, init_params and loss_accuracy are provided: restore them from the stub "
                   "(backward is checked on forward's outputs).", "forward(params, X) changed: " + c.redacted)


def backward_vs_reference(got, expected, ctx: JudgeContext) -> Verdict:
    """backward's four gradients against the reference's, on the provided forward's outputs.

    Options: ``tolerance`` (rel_error bound).
    """
    tol = float(ctx.options.get("tolerance", 1e-9))
    forward_changed = _forward_changed(got, expected, tol)
    if forward_changed:
        return forward_changed
    v = _grads_verdict(got.get("grads"), expected["grads"], KEYS, tol, ctx, "backward(params, outputs, Y)")
    if v.passed:
        return Verdict(True, "backward: " + v.message)
    return v


def _reference_loss(params: dict, X: np.ndarray, Y: np.ndarray) -> float:
    """The provided forward and loss_accuracy's L, in NumPy float64: the mean over the batch of
    -sum_k Y log softmax(tanh(X Wh^T + bh^T) Wy^T + by^T)."""
    h = np.tanh(X @ params["Wh"].T + params["bh"].T)
    z = h @ params["Wy"].T + params["by"].T
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-(Y * log_p).sum(axis=1).mean())


def _numeric_grads(inputs) -> dict:
    """Central differences (h = 1e-6, float64) of the contract's loss, computed here: the slope
    backward must give, whatever the student's own forward or loss_accuracy do."""
    params = {k: np.array(inputs["params"][k], dtype=np.float64) for k in KEYS}
    X, Y = np.asarray(inputs["X"], np.float64), np.asarray(inputs["Y"], np.float64)
    return {k: numeric_gradient(lambda _, k=k: _reference_loss(params, X, Y), params[k], h=1e-6) for k in KEYS}


def backward_vs_numeric(got, expected, ctx: JudgeContext) -> Verdict:
    """backward's gradients against central differences of the contract's loss (float64,
    h = 1e-6), taken in the grader from the inputs: a student's own loss_accuracy (say, a mean
    over N x classes) changes nothing here."""
    tol = float(ctx.options.get("tolerance", 1e-6))
    forward_changed = _forward_changed(got, expected, tol=1e-9)
    if forward_changed:
        return forward_changed
    analytic = got.get("grads")
    if not _is_dict(analytic):
        return _fail(f"backward should return a dict with keys {list(KEYS)}; it returned {describe(analytic)}")
    numeric = _numeric_grads(ctx.inputs)
    variants = (ctx.mistakes or {}).get("grads", {})
    cmps, hints = [], {}
    for k in KEYS:
        if k not in analytic:
            cmps.append(_missing(f"grads['{k}']", analytic))
            continue
        c = compare_arrays(f"grads['{k}']", analytic[k], numeric[k], tol)
        if not c.passed:
            hint = _grad_hint(c, ctx, k, tol, variants)
            c = Comparison(c.label, False, c.problem, c.message.replace("expected", "numeric"), c.redacted,
                           c.got, c.expected, c.rel_error)
            hints[c.label] = hint and hint.replace("the reference", "the numeric gradient")
        cmps.append(c)
    v = verdict_from(cmps, hint_for=lambda c: hints.get(c.label))
    if v.passed:
        return Verdict(True, "analytic vs central differences of the loss: " + v.message)
    if not v.hint and all(c.problem in (None, "values") for c in cmps):
        return Verdict(False, v.message, "your gradients are not the slope of the loss: go through the chain rule "
                       "step by step (ytilde, then h, then htilde) and compare each product's shape with the "
                       "forward pass.", v.redacted)
    return v


_AUTOGRAD_HINT = ("backward, sgd and train_manual are the by-hand part: compute each gradient with the chain rule "
                  "on plain tensors (no requires_grad, no .backward(), no torch.autograd.grad); autograd is for "
                  "train_autograd.")


# Each function's values, judged against the reference's run of the same probe: "no autograd"
# is credited only to a function that also computes the right thing (zeros use no autograd
# either). backward and sgd run in float64; train_manual's two short epochs in float32.
_BY_HAND = {"backward": ("backward_vs_reference", 1e-9), "sgd": ("sgd_update", 1e-12),
            "train_manual": ("train_manual_curves", 1e-4)}


def _right_values(got, expected, tol: float) -> bool:
    if not _is_dict(got) or not _is_dict(expected):
        return False
    return all(k in got and compare_arrays(k, got[k], expected[k], tol).passed for k in KEYS)


def no_autograd(got, expected, ctx: JudgeContext) -> Verdict:
    """No autograd in backward, sgd and train_manual, and nothing they return requires grad; a
    part per function (``options.partial``), each only when its values are right."""
    problems, wrong, credited, notes = [], [], [], []
    for fn, (check, tol) in _BY_HAND.items():
        seen = got.get(fn) if isinstance(got.get(fn), dict) else {}
        before = len(problems)
        used = sorted({str(u) for u in seen.get("used") or []})
        if used:
            problems.append(f"{fn} called {', '.join(used)}")
        flagged = [k for k, v in (seen.get("outputs_require_grad") or {}).items() if v]
        if flagged:
            problems.append(f"{fn} returned tensors that require grad ({', '.join(flagged)})")
        switched = [k for k, v in (seen.get("params_require_grad") or {}).items() if v]
        if switched:
            problems.append(f"{fn} turned requires_grad on for params {', '.join(switched)}")
        if len(problems) > before:
            continue
        if seen.get("raised"):
            notes.append(f"{fn} raised {seen['raised'].get('type')} (its own checks say more)")
            wrong.append((fn, check))
        elif not _right_values(seen.get("result"), (expected.get(fn) or {}).get("result"), tol):
            wrong.append((fn, check))
        else:
            credited.append(fn)
    if not problems and not wrong:
        return Verdict(True, "backward, sgd and train_manual use no autograd, return plain tensors and compute "
                             "the reference's values")
    lines = list(problems)
    if wrong:
        lines.append(f"{', '.join(fn for fn, _ in wrong)}: no autograd, but the values are not the reference's, so "
                     f"no credit here" + (f" ({'; '.join(notes)})" if notes else ""))
    hint = _AUTOGRAD_HINT if problems else f"fix {wrong[0][1]} first: a function earns this check only once its " \
        f"values are right."
    return with_partial_credit(Verdict(False, "; ".join(lines), hint, "; ".join(lines)),
                               {fn: fn in credited for fn in _BY_HAND}, ctx.options)


def _params_verdict(got: dict, expected: dict, ctx: JudgeContext, label: str, tol: float) -> Verdict:
    if not _is_dict(got):
        return _fail(f"{label} should return the params dict with keys {list(KEYS)}; it returned {describe(got)}")
    variants = (ctx.mistakes or {}).get("params", {})
    cmps, hints = [], {}
    for k in KEYS:
        if k not in got:
            cmps.append(_missing(f"params['{k}']", got))
            continue
        c = compare_arrays(f"params['{k}']", got[k], expected[k], tol)
        cmps.append(c)
        if not c.passed:
            hints[c.label] = diagnose(c, {"variants": variants.get(k, {}), "tolerance": tol})
    return verdict_from(cmps, hint_for=lambda c: hints.get(c.label))


def sgd_step(got, expected, ctx: JudgeContext) -> Verdict:
    """The params sgd returns, against p - eta * g for every key (to float64 rounding)."""
    tol = float(ctx.options.get("tolerance", 1e-14))
    if got.get("returned") is None:
        msg = "sgd(params, grads, eta) returned None"
        return _fail(msg, "sgd must return params, the dict holding the updated tensors: end it with `return params`.")
    v = _params_verdict(got.get("returned"), expected["returned"], ctx, "sgd(params, grads, eta)", tol)
    if v.passed:
        return Verdict(True, f"sgd: every parameter is p - eta * g ({v.message})")
    return v


# -- autograd ------------------------------------------------------------------------------
def init_autograd(got, expected, ctx: JudgeContext) -> Verdict:
    """The values init_params draws from the same seed, each a leaf that requires grad."""
    params = got.get("params")
    if not _is_dict(params):
        return _fail(f"init_params_autograd should return a dict with keys {list(KEYS)}; it returned "
                     f"{describe(params)}")
    problems, hint = [], None
    for k in KEYS:
        a = as_array(params.get(k))
        if a is None:
            problems.append(f"params['{k}'] is {describe(params.get(k))}")
            continue
        if not a.requires_grad:
            problems.append(f"params['{k}'] does not require grad")
            hint = hint or "call .requires_grad_() on every tensor of init_params' dict (or pass requires_grad=True)."
        elif not got.get("is_leaf", {}).get(k, True):
            problems.append(f"params['{k}'] is not a leaf tensor")
            hint = hint or (f"params['{k}'] is not a leaf: it was computed from a tensor that requires grad (e.g. 0.3 * torch.randn(..., "
                            f"requires_grad=True)), so loss.backward() leaves its .grad empty. Compute the value "
                            f"first, then call .requires_grad_() on the result.")
    if problems:
        return _fail("; ".join(problems), hint)
    plain = got.get("plain") if _is_dict(got.get("plain")) else expected["plain"]
    cmps = [compare_arrays(f"params['{k}']", params[k], expected["params"][k], 0.0) for k in KEYS]
    v = verdict_from(cmps)
    if not v.passed:
        same_as_own = all(compare_arrays(k, params[k], plain.get(k), 0.0).passed for k in KEYS if k in plain)
        return Verdict(False, v.message, None if same_as_own else
                       "draw the values exactly as init_params does, in the same order (or call init_params "
                       "and switch requires_grad on): from the same seed both give the same numbers.", v.redacted)
    return Verdict(True, "init_params' values from the same seed, every tensor a leaf that requires grad")


def _sgd_autograd_error_hint(raised: dict) -> str | None:
    msg = raised.get("message", "")
    if "leaf Variable that requires grad" in msg:
        return ("an in-place update of a parameter that requires grad must not be recorded by autograd: put it "
                "inside `with torch.no_grad():`.")
    if "NoneType" in msg and ("zero_" in msg or "unsupported operand" in msg or "not subscriptable" in msg):
        return ("a .grad was None: either no backward() ran on this tensor, or the update replaced the parameter "
                "by a new tensor (p = p - eta * p.grad) that has no .grad. Update in place (p -= eta * p.grad) "
                "under torch.no_grad(), then zero p.grad.")
    return None


def sgd_autograd_step(got, expected, ctx: JudgeContext) -> Verdict:
    """In place under no_grad: values p - eta * grad, grads zeroed, params still leaves that require grad."""
    tol = float(ctx.options.get("tolerance", 1e-14))
    raised = got.get("raised")
    if raised:
        return _fail(f"sgd_autograd raised {raised['type']}: {raised['message']}", _sgd_autograd_error_hint(raised))
    returned = got.get("returned")
    if not _is_dict(returned) or any(k not in returned for k in KEYS):
        return _fail(f"sgd_autograd should return the params dict (keys {list(KEYS)}); it returned "
                     f"{describe(returned)}", "update the tensors in place and return the dict you were given.")
    info = got.get("returned_info", {})
    graph = [k for k in KEYS if info.get(k, {}).get("has_grad_fn")]
    if graph:
        return _fail(f"after sgd_autograd, params {graph} have a grad_fn: the update was recorded in the graph, "
                     f"so they are no longer leaves",
                     "do the update inside `with torch.no_grad():` and in place (p -= eta * p.grad): then no graph "
                     "is built and each parameter stays the leaf tensor that backward() fills.")
    detached = [k for k in KEYS if not info.get(k, {}).get("requires_grad", False)]
    if detached:
        return _fail(f"after sgd_autograd, params {detached} no longer require grad",
                     "p = p - eta * p.grad under no_grad makes a new tensor that does not require grad, so the next "
                     "backward() cannot reach it: update in place (p -= eta * p.grad) so p stays the same leaf.")
    v = _params_verdict(got.get("given"), expected["given"], ctx, "sgd_autograd", tol)
    if not v.passed:
        moved = _params_verdict(returned, expected["given"], ctx, "sgd_autograd", tol).passed
        if moved:
            return _fail("sgd_autograd returned updated tensors but left the ones it was given unchanged",
                         "update each parameter in place (p -= eta * p.grad inside torch.no_grad()), as the "
                         "contract says: whoever holds the tensors must see the step.")
        return Verdict(False, "the parameters after sgd_autograd, against p - eta * p.grad:\n" + v.message,
                       v.hint, v.redacted)
    not_zeroed = []
    for k in KEYS:
        g = got.get("given_grad", {}).get(k)
        a = as_array(g)
        if g is not None and (a is None or np.any(a.values != 0)):
            not_zeroed.append(k)
    if not_zeroed:
        return _fail(f"after sgd_autograd, params {not_zeroed} still hold their gradient in .grad",
                     "zero each .grad after the step (p.grad.zero_(), or p.grad = None): backward() adds to "
                     ".grad, so gradients would pile up from batch to batch.")
    same = [k for k in KEYS if not info.get(k, {}).get("same_object", True)]
    if same:
        return _fail(f"sgd_autograd returned new tensors for {same} instead of the ones it updated",
                     "return the params dict you were given, with its tensors updated in place.")
    if got.get("grad_enabled_after") is False:
        return _fail("after sgd_autograd, autograd is switched off for the whole program",
                     "use `with torch.no_grad():` around the update instead of torch.set_grad_enabled(False): "
                     "the block switches it back on when it ends.")
    return Verdict(True, "in place, p - eta * p.grad for every parameter; grads zeroed; still leaves that "
                         "require grad, no grad_fn")


# -- training ------------------------------------------------------------------------------
def _first_diff(a: np.ndarray, b: np.ndarray, tol: float, atol: float) -> int | None:
    n = min(len(a), len(b))
    bad = np.abs(a[:n] - b[:n]) > np.maximum(atol, tol * np.maximum(np.abs(a[:n]), np.abs(b[:n])))
    return int(np.argmax(bad)) if bad.any() else None


def _batch_sizes(rows: list, batch_size: int) -> list[list[int]]:
    """forward() calls split into epochs: runs of calls on at most batch_size rows."""
    epochs, current = [], []
    for r in rows:
        if r <= batch_size:
            current.append(r)
        elif current:
            epochs.append(current)
            current = []
    if current:
        epochs.append(current)
    return epochs


def _sizes(batches: list[int]) -> str:
    if not batches:
        return "none"
    parts, i = [], 0
    while i < len(batches):
        j = i
        while j < len(batches) and batches[j] == batches[i]:
            j += 1
        parts.append(f"{j - i} x {batches[i]}" if j - i > 1 else f"{batches[i]}")
        i = j
    return ", ".join(parts)


def _settings(ctx: JudgeContext) -> dict:
    return {**DEFAULTS, **ctx.options.get("train", {})}


def _call(which: str, ctx: JudgeContext) -> str:
    given = ctx.options.get("train", {})
    return f"{which}(data{''.join(f', {k}={v}' for k, v in given.items())})"


def _convention_hint(got: dict, expected: dict, ny: int) -> str | None:
    """The student's loss_accuracy (on one fixed input, measured by the probe) against the provided
    one's: a rewritten loss changes every curve, and in train_autograd every step too."""
    mine, ref = got.get("loss_accuracy"), (expected or {}).get("loss_accuracy")
    if not isinstance(mine, list) or not isinstance(ref, list) or len(mine) != 2 or len(ref) != 2 or \
            any(as_number(v) is None for v in mine + ref):
        return None
    (L, acc), (L_ref, acc_ref) = [float(v) for v in mine], [float(v) for v in ref]

    def close(a, b):
        return abs(a - b) <= 1e-6 * max(1.0, abs(b))

    if ny > 1 and close(L, L_ref / ny):
        return (f"your loss_accuracy averages over N x classes (torch.mean(Y * torch.log(Yhat))), so its loss is the "
                f"provided one's divided by {ny}, the number of classes. The provided loss sums over the classes and "
                f"averages over the batch, -(Y * torch.log(Yhat)).sum(dim=1).mean(): restore it.")
    if close(L, L_ref) and close(acc, acc_ref / 100):
        return ("your loss_accuracy returns the accuracy as a fraction; the provided one returns a percentage (100 "
                "times the fraction of rows whose argmax agrees): restore it.")
    if not (close(L, L_ref) and close(acc, acc_ref)):
        return ("your loss_accuracy does not compute what the provided one does (the mean over the batch of -sum_k "
                "Y log Yhat, and the accuracy in percent): restore it from the stub.")
    return None


def _trajectory_hint(got: dict, expected: dict, ctx: JudgeContext, first: int, which: str) -> str | None:
    convention = _convention_hint(got, expected, int(np.shape(ctx.inputs["Ytrain"])[1]))
    if convention:
        return convention
    t = _settings(ctx)
    epochs, bs = int(t["epochs"]), int(t["batch_size"])
    given = ctx.options.get("train", {})
    wrong = {k: v for k, v in got.get("defaults", {}).items()
             if k in DEFAULTS and k not in given and v != DEFAULTS[k]}
    if wrong:
        listed = ", ".join(f"{k}={v!r} (the contract: {DEFAULTS[k]!r})" for k, v in wrong.items())
        return (f"this call relies on {which}'s default arguments, and yours differ: {listed}. Keep the signature "
                f"{which}(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0).")
    perms = got.get("randperm", [])
    if len(perms) == 1 and epochs > 1:
        return ("torch.randperm was called once for all epochs: the first epoch matches the reference and every later "
                "one differs. Draw a new permutation at the start of every epoch (each epoch visits the training "
                "set in a new order); the final accuracy alone cannot show this.")
    if not perms:
        return ("torch.randperm was never called: shuffle with torch.randperm(N) each epoch, so that "
                "torch.manual_seed(seed) decides the order (NumPy's or Python's shuffling does not follow it).")
    if len(perms) != epochs:
        return (f"torch.randperm was called {len(perms)} times for {epochs} epochs: draw exactly one permutation "
                f"of the training set per epoch (an extra random draw shifts every later one).")
    mine = _batch_sizes(got.get("forward_rows", []), bs)
    ref = _batch_sizes(expected.get("forward_rows", []), bs)
    if mine and ref and mine[0] != ref[0]:
        if mine[0] == ref[0][:-1]:
            return (f"the last, shorter mini-batch of each epoch (of {ref[0][-1]} examples) was dropped: keep it "
                    f"(batches are perm[i:i + batch_size] for i in range(0, N, batch_size)).")
        return (f"in the first epoch your mini-batches had sizes {_sizes(mine[0])}, the reference's {_sizes(ref[0])}: "
                f"batches are consecutive slices perm[i:i + batch_size] for i in range(0, N, batch_size).")
    curves, exp = got["curves"], expected["curves"]
    shifted = all(np.allclose(np.asarray(curves[k][1:], float), np.asarray(exp[k][:-1], float), rtol=1e-9, atol=1e-9)
                  for k in CURVES)
    if shifted and epochs > 1:
        return ("your curves are the reference's one epoch late: record them after each epoch's training, not "
                "before it.")
    if first == 0:
        return ("the curves differ from the first epoch on: the order must be torch.manual_seed(seed), then "
                f"{'init_params' if which == 'train_manual' else 'init_params_autograd'}(nx, nh, ny), then one "
                "torch.randperm(N) per epoch, with no other random draw; curves are measured on the whole training "
                "and test sets with forward and loss_accuracy. If the update itself is wrong, the "
                + ("backward and sgd" if which == "train_manual" else "init_params_autograd and sgd_autograd")
                + " checks say so.")
    return None


def trajectory(got, expected, ctx: JudgeContext) -> Verdict:
    """The four curves (one point per epoch) against the reference's from the same seed.

    Options: ``train`` (the trainer's arguments), ``trainer``, ``tolerance`` (rel_error
    of the loss curves), ``acc_atol`` (accuracy points, in percent).
    """
    o = ctx.options
    which = o.get("trainer", "train_manual")
    epochs = int(_settings(ctx)["epochs"])
    call = _call(which, ctx)
    curves = got.get("curves", {})
    missing = [k for k in CURVES if k not in curves]
    if missing:
        return _fail(f"{call}: curves has keys {got.get('curve_keys')}, missing {missing}",
                     f"return (params, curves) with curves = {{{', '.join(repr(k) for k in CURVES)}}}, one list each.")
    for k in CURVES:
        v = curves[k]
        if not isinstance(v, list) or len(v) != epochs or any(as_number(x) is None for x in v):
            n = len(v) if isinstance(v, list) else describe(v)
            per_batch = isinstance(v, list) and len(v) > epochs
            return _fail(f"{call}: curves['{k}'] has {n} entries, expected {epochs} numbers (one per epoch)",
                         "record each curve once per epoch, after the epoch's mini-batches, on the whole training "
                         "and test sets." if per_batch else "append one float per epoch to each curve.")
    tol, atol = float(o.get("tolerance", 1e-9)), float(o.get("acc_atol", 1e-3))
    cmps, firsts = [], []
    for k in CURVES:
        a, b = np.asarray(curves[k], float), np.asarray(expected["curves"][k], float)
        if k.startswith("acc"):
            c = compare_arrays(f"curves['{k}']", a, b, 0.0, atol=atol)
        else:
            c = compare_arrays(f"curves['{k}']", a, b, tol)
        cmps.append(c)
        first = _first_diff(a, b, tol if k.startswith("loss") else 0.0, atol if k.startswith("acc") else 0.0)
        if not c.passed and first is not None:
            firsts.append(first)
    v = verdict_from(cmps)
    final = f"final test accuracy {curves['acc_test'][-1]:.1f}%"
    if v.passed:
        return Verdict(True, f"{call}: the 4 curves follow the reference's over all {epochs} epochs; {final}",
                       redacted=f"the 4 curves follow the reference's over all {epochs} epochs")
    first = min(firsts) if firsts else 0
    where = (f"follow the reference's for the first {first} epoch(s), then leave it at epoch {first + 1}" if first
             else "leave the reference's from the first epoch on")
    head = f"{call}: the curves {where}; {final} (the reference: {expected['curves']['acc_test'][-1]:.1f}%)"
    red = f"{call}: the curves {where}"
    return Verdict(False, head + "\n" + v.message, _trajectory_hint(got, expected, ctx, first, which),
                   red + "\n" + v.redacted)


def _surface_figure(got, expected, ctx: JudgeContext, title: str, caption: str):
    inputs = ctx.inputs
    grid = np.asarray(inputs["Xgrid"], float)
    n = int(round(np.sqrt(len(grid))))
    values = as_array(got.get("grid_p1"))
    if values is None or values.values.size != n * n:
        return ()
    xs = grid[:n, 0]
    ys = grid[::n, 1]
    curves = {}
    if got.get("loss_train"):
        curves["yours"] = got["loss_train"]
    if expected and expected.get("loss_train"):
        curves["reference"] = expected["loss_train"]
    fig = decision_surface(xs, ys, values.values.reshape(n, n), caption=caption, title=title,
                           points=np.asarray(inputs["Xtest"], float),
                           labels=np.asarray(inputs["Ytest"]).argmax(axis=1), value_label="yhat[:, 1]",
                           curves=curves or None, curve_label="training loss", step_label="epoch")
    return (fig,) if fig is not None else ()


def _training_hint(loss_train, which: str) -> str | None:
    """What the recorded training loss says about a run that did not learn."""
    loss = [x for x in loss_train if isinstance(x, float)] if isinstance(loss_train, list) else []
    if loss and (not np.isfinite(loss[-1]) or loss[-1] > loss[0]):
        first = ("the backward or sgd checks fail" if which == "train_manual" else
                 "the sgd_autograd check fails (gradients that are never zeroed pile up into ever larger steps)")
        return (f"training diverged (the loss grew or became NaN): if {first}, fix that first; otherwise "
                f"check the sign and size of the update (p - eta * g).")
    if loss and abs(loss[-1] - np.log(2)) < 0.02:
        first = "backward and sgd" if which == "train_manual" else "sgd_autograd"
        return (f"the training loss stayed near ln 2 = 0.693, chance level for two classes: the network did not "
                f"learn. If the {first} checks fail, fix that first; otherwise check that every update is "
                f"written back into params.")
    return None


def accuracy(got, expected, ctx: JudgeContext) -> Verdict:
    """Test accuracy of the trained parameters on the circles, with a picture of the decision surface.

    Options: ``min_accuracy`` (percent), ``trainer``.
    """
    which = ctx.options.get("trainer", "train_manual")
    call = _call(which, ctx)
    threshold = float(ctx.options["min_accuracy"])
    acc = as_number(got.get("acc_test"))
    ref = as_number(expected.get("acc_test")) if expected else None
    figures = _surface_figure(got, expected, ctx, f"{which}: test accuracy {acc:.1f}%" if acc is not None
                              else which, f"Your network's decision surface after {call} on the circles "
                              f"(test points on top); right: your training loss and the reference's.")
    if acc is None:
        return Verdict(False, f"the test accuracy could not be measured ({describe(got.get('acc_test'))})",
                       figures=figures)
    theirs = f" (the reference reaches {ref:.1f}%)" if ref is not None else ""
    if acc < threshold:
        hint = _convention_hint(got, expected, int(np.shape(ctx.inputs["Ytrain"])[1])) or \
            _training_hint(got.get("loss_train"), which)
        msg = f"{call}: test accuracy {acc:.1f}%, needs at least {threshold:g}%{theirs}"
        return Verdict(False, msg, hint, f"test accuracy {acc:.1f}%, needs at least {threshold:g}%", figures=figures)
    return Verdict(True, f"{call}: test accuracy {acc:.1f}% >= {threshold:g}%{theirs}",
                   figures=figures)


# -- bonus ---------------------------------------------------------------------------------
def deep_init(got, expected, ctx: JudgeContext) -> Verdict:
    nx, nh1, nh2, ny = (int(s) for s in ctx.inputs["sizes"])
    shapes = {"W1": (nh1, nx), "b1": (nh1, 1), "W2": (nh2, nh1), "b2": (nh2, 1), "Wy": (ny, nh2), "by": (ny, 1)}
    params = got.get("params")
    if not _is_dict(params):
        return _fail(f"init_params_deep should return a dict with keys {list(shapes)}; it returned {describe(params)}")
    std = float(ctx.options.get("std", 0.3))
    problems, hint = [], None
    for k, shape in shapes.items():
        a = as_array(params.get(k))
        if a is None:
            problems.append(f"params['{k}'] is {describe(params.get(k))}")
            continue
        if a.values.shape != shape:
            problems.append(f"params['{k}'] has shape {tuple(a.values.shape)}, expected {shape}")
            hint = hint or "weights are (out, in) like torch.nn.Linear's, biases columns (out, 1)."
        elif k.startswith("b") and np.any(a.values != 0):
            problems.append(f"params['{k}'] should start at zero")
        elif k.startswith("W") and not 0.85 * std <= float(a.values.std()) <= 1.15 * std:
            problems.append(f"params['{k}'] has std {float(a.values.std()):.3g}, expected about {std:g}")
            hint = hint or f"draw the weights as {std:g} * torch.randn(out, in), like init_params."
    if problems:
        return _fail("; ".join(problems[:4]) + (f"; ... {len(problems) - 4} more" if len(problems) > 4 else ""), hint)
    return Verdict(True, "init_params_deep: shapes (out, in) and (out, 1), weights of std about 0.3, zero biases")


def deep_forward(got, expected, ctx: JudgeContext) -> Verdict:
    tol = float(ctx.options.get("tolerance", 1e-9))
    c = compare_arrays("yhat from forward_deep(params, X)", got.get("yhat"), expected["yhat"], tol)
    if c.passed:
        return Verdict(True, c.message)
    return Verdict(False, c.message, diagnose(c, {"tolerance": tol}) or
                   "yhat = softmax(tanh(tanh(X @ W1.T + b1.T) @ W2.T + b2.T) @ Wy.T + by.T), row-wise.", c.redacted)


def deep_backward(got, expected, ctx: JudgeContext) -> Verdict:
    tol = float(ctx.options.get("tolerance", 1e-9))
    c = compare_arrays("yhat", got.get("yhat"), expected["yhat"], tol)
    if not c.passed:
        return _fail("backward_deep is checked on forward_deep's outputs, and forward_deep's yhat does not match the "
                     "reference (see deep_forward)", "fix forward_deep first.")
    if got.get("autograd"):
        return _fail(f"backward_deep called {', '.join(sorted(set(got['autograd'])))}", _AUTOGRAD_HINT.replace(
            "backward, sgd and train_manual are", "backward_deep is"))
    v = _grads_verdict(got.get("grads"), expected["grads"], DEEP_KEYS, tol, ctx, "backward_deep(params, outputs, Y)")
    return Verdict(True, "backward_deep: " + v.message) if v.passed else v
