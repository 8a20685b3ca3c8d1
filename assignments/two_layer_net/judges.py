"""How each check decides. Runs in the grader's process, never next to student code.

``judge(got, expected, ctx) -> Verdict``: ``got`` is what the probe returned for the
student, ``expected`` what it returned for the reference solution, ``ctx.inputs``
the inputs both received. The generic judges come from ``grader.checks``; the ones
here add what only this assignment knows (the contract of ``nn_train``, the known
mistakes of a two-layer net's backward pass) so that hints can name causes.
"""
from __future__ import annotations

import numpy as np

from dataclasses import replace

from grader.checks import (JudgeContext, Verdict, as_array, as_number, compare_arrays, describe, diagnose,
                           match_reference, verdict_from, walk_compare)
from grader.checks.figures import curves, error_heatmaps

KEYS = ("W1", "b1", "W2", "b2")

__all__ = ["match_reference", "loss_and_grads", "no_autograd", "gradients_vs_numeric", "inputs_unchanged", "dtype_preserved",
           "sample_batch", "train_updates", "train_decay", "train_histories", "train_quiet", "toy_training",
           "trajectory", "predict", "net_init", "net_methods", "save_load", "accuracy"]


# -- hints from known mistakes ---------------------------------------------------------------
# The values the usual mistakes produce on a check's inputs are computed on the
# instructor's side (solutions/two_layer_net/mistakes.py) and arrive in
# ctx.mistakes; here they only meet the student's value.
def _grad_context(ctx: JudgeContext, key: str, tolerance: float) -> dict:
    inputs = ctx.inputs
    reg = float(ctx.options.get("reg", 0.0))
    return {"N": int(np.asarray(inputs["X"]).shape[0]), "reg": reg, "W": inputs["params"][key],
            "is_bias": key.startswith("b"), "variants": (ctx.mistakes or {}).get("grads", {}).get(key, {}),
            "tolerance": tolerance, "what": "the mean over the batch"}


def _loss_hint(got: float, ctx: JudgeContext, tol: float) -> str | None:
    for hint, value in (ctx.mistakes or {}).get("loss", {}).items():
        if abs(got - value) <= max(tol, 1e-9) * max(1.0, abs(value)):
            return hint
    return None


# -- judges --------------------------------------------------------------------------------
def loss_and_grads(got, expected, ctx: JudgeContext) -> Verdict:
    """(loss, grads) against the reference; a hint per parameter from the known mistakes.

    Options: ``reg``, ``tolerance`` (grads), ``loss_tolerance``, ``only`` ("loss" or "grads").
    """
    o = ctx.options
    tol, ltol = float(o.get("tolerance", 1e-8)), float(o.get("loss_tolerance", 1e-8))
    label = "nn_forward_backward(params, X, y, reg)"
    if not isinstance(got, list) or len(got) != 2:
        msg = f"{label} should return (loss, grads); it returned {describe(got)}"
        return Verdict(False, msg, redacted=msg)
    cmps, hints = [], {}
    if o.get("only") != "grads":
        c = compare_arrays("loss", got[0], expected[0], ltol)
        cmps.append(c)
        if not c.passed and as_number(got[0]) is not None:
            hints[c.label] = _loss_hint(as_number(got[0]), ctx, ltol)
    if o.get("only") != "loss":
        grads = got[1]
        if not isinstance(grads, dict) or "__tensor__" in grads or "__object__" in grads:
            msg = f"grads should be a dict with keys {list(KEYS)}; got {describe(grads)}"
            return Verdict(False, msg, redacted=msg)
        for k in KEYS:
            if k not in grads:
                cmps.append(_missing(f"grads['{k}']", grads))
                continue
            c = compare_arrays(f"grads['{k}']", grads[k], expected[1][k], tol)
            cmps.append(c)
            if not c.passed:
                hints[c.label] = diagnose(c, _grad_context(ctx, k, tol))
    v = verdict_from(cmps, hint_for=lambda c: hints.get(c.label))
    return _with_heatmaps(v, cmps, ctx)


def _with_heatmaps(v: Verdict, cmps, ctx: JudgeContext) -> Verdict:
    """A failed gradient check shows where each gradient is off, entry by entry, when
    its options ask for it (``figures = true``): ~0.2 s a picture adds up over a class."""
    grads = [c for c in cmps if c.label.startswith("grads[")]
    if v.passed or not ctx.option("figures") or not any(not c.passed for c in grads):
        return v
    fig = error_heatmaps({c.label: (c.got, c.expected) for c in grads},
                         caption="Relative error of each gradient entry, yours vs the reference (black: right; "
                                 "bright: wrong). Whole rows or columns point to a mask, a diagonal pattern to a "
                                 "transpose, uniform color to a scale factor.")
    return replace(v, figures=v.figures + ((fig,) if fig else ()))


def _missing(label, got):
    from grader.checks.compare import Comparison

    msg = f"{label} is missing; the dict has keys {sorted(got)}"
    return Comparison(label, False, "type", msg, msg)


def _numeric_hint(c, ctx: JudgeContext, key: str) -> str | None:
    """Here the 'expected' side is the slope of the student's own loss: a mismatch
    means the loss and the gradients disagree, and the hint must say which way."""
    g, e = c.got, c.expected
    if g is None or e is None or g.shape != e.shape:
        return None
    N = int(np.asarray(ctx.inputs["X"]).shape[0])
    reg = float(ctx.options.get("reg", 0.0))
    W = np.asarray(ctx.inputs["params"][key], float)
    close = lambda a, b: np.allclose(a, b, rtol=1e-5, atol=1e-8)  # noqa: E731
    if reg and not key.startswith("b") and close(g, e + 2 * reg * W):
        return ("your gradients include the regularization term 2 * reg * W but your loss has no "
                "reg * sum(W**2) (or its slope differs): add the same term to the loss.")
    if reg and not key.startswith("b") and close(g, e - 2 * reg * W):
        return ("your loss includes reg * sum(W**2) but your gradients lack its slope 2 * reg * W.")
    if close(g * N, e):
        return (f"your loss is {N}x the slope your gradients follow (N = {N}): one of them averages over the "
                f"batch and the other sums; the loss is the mean over the N samples.")
    if close(g, e * N):
        return (f"your gradients are {N}x the slope of your loss (N = {N}): divide the gradients by N, as the "
                f"loss averages over the batch.")
    return None


def gradients_vs_numeric(got, expected, ctx: JudgeContext) -> Verdict:
    """The student's analytic gradients against central differences of the student's own loss."""
    tol = float(ctx.options.get("tolerance", 1e-6))
    cmps, hints = [], {}
    analytic = got.get("analytic") if isinstance(got, dict) else None
    if not isinstance(analytic, dict):
        msg = f"grads should be a dict with keys {list(KEYS)}; got {describe(analytic)}"
        return Verdict(False, msg, redacted=msg)
    for k in KEYS:
        if k not in analytic:
            cmps.append(_missing(f"grads['{k}']", analytic))
            continue
        c = compare_arrays(f"grads['{k}']", analytic[k], got["numeric"][k], tol)
        if not c.passed:
            hint = _numeric_hint(c, ctx, k)
            # Say that the comparison is with the student's own loss, not with ours.
            c = type(c)(c.label, False, c.problem,
                        c.message.replace("expected", "numeric gradient of your loss"),
                        c.redacted, c.got, c.expected, c.rel_error)
            hints[c.label] = hint
        cmps.append(c)
    v = verdict_from(cmps, hint_for=lambda c: hints.get(c.label))
    if not v.passed and not v.hint:
        v = Verdict(False, v.message, "your gradients do not match the slope of your own loss: the backward pass "
                    "and the forward pass disagree (check each step of the chain rule against the forward code).",
                    v.redacted)
    return v


def inputs_unchanged(got, expected, ctx: JudgeContext) -> Verdict:
    """params, X and y hold what was passed in, after the call."""
    inputs = ctx.inputs
    changed = []
    for k in KEYS:
        a = as_array(got["params"].get(k)) if isinstance(got.get("params"), dict) else None
        if a is None or a.values.shape != np.shape(inputs["params"][k]) or \
                not np.array_equal(a.values.astype(float), inputs["params"][k]):
            changed.append(f"params['{k}']")
    for name in ("X", "y"):
        a = as_array(got.get(name))
        if a is None or a.values.shape != np.shape(inputs[name]) or not np.array_equal(a.values, inputs[name]):
            changed.append(name)
    if not changed:
        return Verdict(True, "params, X and y are unchanged after nn_forward_backward")
    msg = f"nn_forward_backward changed {', '.join(changed)} in place"
    return Verdict(False, msg, "an in-place operation (+=, -=, *=, .add_(), .mul_(), slice assignment) modified an "
                   "input: build new tensors instead (e.g. dscores = probs.clone(), then modify the copy).", msg)


def no_autograd(got, expected, ctx: JudgeContext) -> Verdict:
    """The gradients are computed by hand: no backward() / autograd.grad, no graph on the outputs."""
    used = sorted(set(got.get("used", [])))
    out = got.get("out")
    tensors = [out[0], *out[1].values()] if isinstance(out, list) and len(out) == 2 and isinstance(out[1], dict) else []
    graph = [v for v in (as_array(t) for t in tensors) if v is not None and v.requires_grad]
    if used or graph:
        what = f"called {', '.join(used)}" if used else "returned tensors that require grad"
        msg = f"nn_forward_backward {what}: this assignment asks for the gradients by hand"
        return Verdict(False, msg, "derive each gradient with the chain rule and compute it with tensor "
                       "operations; do not call loss.backward() or torch.autograd.grad, and do not set "
                       "requires_grad on the parameters.", msg)
    return Verdict(True, "no autograd: gradients computed by hand")


def dtype_preserved(got, expected, ctx: JudgeContext) -> Verdict:
    """Scores, loss and grads have the inputs' dtype and device, and values right for that dtype."""
    o = ctx.options
    tol, dtype = float(o.get("tolerance", 1e-5)), o.get("dtype")
    cmps = walk_compare(got.get("scores"), expected["scores"], "scores", tol, dtype=dtype, device=ctx.device)
    lg, elg = got.get("loss_grads"), expected["loss_grads"]
    if not isinstance(lg, list) or len(lg) != 2 or not isinstance(lg[1], dict):
        msg = f"nn_forward_backward(params, X, y, reg) should return (loss, grads); it returned {describe(lg)}"
        return Verdict(False, msg, redacted=msg)
    cmps += walk_compare(lg[0], elg[0], "loss", tol, dtype=dtype, device=ctx.device)
    hints = {}
    if not cmps[-1].passed and as_number(lg[0]) is not None:
        hints["loss"] = _loss_hint(as_number(lg[0]), ctx, tol)
    for k in KEYS:
        if k not in lg[1]:
            cmps.append(_missing(f"grads['{k}']", lg[1]))
            continue
        c = compare_arrays(f"grads['{k}']", lg[1][k], elg[1][k], tol, dtype=dtype, device=ctx.device)
        cmps.append(c)
        if not c.passed:
            hints[c.label] = diagnose(c, _grad_context(ctx, k, tol))
    return _with_heatmaps(verdict_from(cmps, hint_for=lambda c: hints.get(c.label)), cmps, ctx)


def sample_batch(got, expected, ctx: JudgeContext) -> Verdict:
    inputs = ctx.inputs
    n, b = int(inputs["num_train"]), int(inputs["batch_size"])
    first, again = got.get("first"), got.get("again")
    if not isinstance(first, list) or len(first) != 2:
        msg = f"sample_batch should return (X_batch, y_batch); it returned {describe(first)}"
        return Verdict(False, msg, redacted=msg)
    Xb, yb = as_array(first[0]), as_array(first[1])
    D = np.shape(inputs["X"])[1]
    problems = []
    if Xb is None or Xb.values.shape != (b, D):
        problems.append(f"X_batch is {describe(first[0])}, expected shape ({b}, {D})")
    if yb is None or yb.values.shape != (b,):
        problems.append(f"y_batch is {describe(first[1])}, expected shape ({b},)")
    if problems:
        msg = "; ".join(problems)
        hint = None
        if Xb is not None and Xb.values.ndim == 2 and Xb.values.shape[0] == min(b, n) < b:
            hint = (f"only {n} rows came back for batch_size {b}: sampling without replacement (e.g. "
                    f"torch.randperm) cannot draw more rows than there are. Draw indices with replacement: "
                    f"torch.randint(num_train, (batch_size,)).")
        return Verdict(False, msg, hint, msg)
    ids = Xb.values[:, 0].astype(int)
    if (ids >= n).any():
        msg = f"X_batch holds rows past num_train = {n} (row {int(ids.max())})"
        return Verdict(False, msg, "draw indices from range(num_train), not from len(X): "
                       "torch.randint(num_train, (batch_size,)).", msg)
    if not np.array_equal(yb.values, np.asarray(inputs["y"])[ids]):
        msg = "y_batch does not hold the labels of the rows in X_batch"
        return Verdict(False, msg, "index X and y with the same indices.", msg)
    if b > n and len(set(ids.tolist())) == len(ids):
        msg = f"batch_size {b} > num_train {n} but no row repeats"
        return Verdict(False, msg, "sample with replacement (torch.randint), not a permutation.", msg)
    g2 = as_array(again[0]) if isinstance(again, list) and again else None
    if g2 is None or not np.array_equal(g2.values, Xb.values):
        msg = "with the same torch seed, two calls gave different batches"
        return Verdict(False, msg, "draw the indices with torch.randint so torch.manual_seed makes them "
                       "repeatable (not random/numpy, which torch's seed does not control).", msg)
    if ctx.device == "cpu":
        exp_ids = as_array(expected["first"][0]).values[:, 0].astype(int)
        if not np.array_equal(ids, exp_ids):
            msg = f"the rows drawn differ from torch.randint's under the same seed (yours {ids[:6].tolist()}..., expected {exp_ids[:6].tolist()}...)"
            return Verdict(False, msg, "draw exactly one torch.randint(num_train, (batch_size,)) per call, "
                           "so the same seed gives the same batch as the reference.", "the rows drawn differ from the reference's under the same seed")
    return Verdict(True, f"shapes ({b}, {D}) and ({b},), rows from range(num_train), with replacement, repeatable")


def _expected_learning_rates(inputs) -> list[float]:
    lr, decay = float(inputs["learning_rate"]), float(inputs["learning_rate_decay"])
    per_epoch = max(int(inputs["num_train"]) // int(inputs["batch_size"]), 1)
    rates = []
    for it in range(int(inputs["num_iters"])):
        rates.append(lr)
        if it % per_epoch == 0:
            lr *= decay
    return rates


def _steps(got, inputs) -> dict[str, list[np.ndarray]]:
    """Per key, per iteration: (p_t - p_{t+1}) / grad_scale, from the params the loss spy
    saw at each call and the params left in the caller's dict at the end."""
    snapshots = [c["params"] for c in got.get("calls", [])]
    final = got.get("final_params", {})
    snapshots.append({k: as_array(v).values for k, v in final.items() if as_array(v) is not None}
                     if isinstance(final, dict) else {})
    out = {}
    for k in KEYS:
        seq = [snap.get(k) for snap in snapshots]
        if any(v is None for v in seq):
            continue
        out[k] = [(np.asarray(a, float) - np.asarray(b, float)) / float(inputs["grad_scale"][k])
                  for a, b in zip(seq, seq[1:])]
    return out


def train_updates(got, expected, ctx: JudgeContext) -> Verdict:
    """Once per iteration: loss_func(params, X_batch, y=y_batch, reg=reg), then
    params[k] -= lr * grads[k] for every key, left in the caller's dict."""
    inputs = ctx.inputs
    calls = got.get("calls", [])
    iters = int(inputs["num_iters"])
    if len(calls) != iters:
        msg = f"loss_func was called {len(calls)} times for num_iters = {iters}"
        return Verdict(False, msg, "call loss_func exactly once per iteration.", msg)
    bad_call = [i for i, c in enumerate(calls) if abs(c["reg"] - float(inputs["reg"])) > 1e-12]
    if bad_call:
        msg = f"loss_func got reg = {calls[bad_call[0]]['reg']} at iteration {bad_call[0]}, expected {inputs['reg']}"
        return Verdict(False, msg, "pass reg=reg through to loss_func.", msg)
    steps = _steps(got, inputs)
    for k in KEYS:
        if k not in steps:
            msg = f"after nn_train, params['{k}'] is missing or not a tensor"
            return Verdict(False, msg, "update the tensors in the params dict you were given.", msg)
    lr0 = float(inputs["learning_rate"])
    for t in range(iters):
        rates = {k: steps[k][t] for k in KEYS}
        ref = float(np.mean(rates["W1"]))
        for k, r in rates.items():
            if not np.allclose(r, ref, rtol=1e-5, atol=1e-7):
                if np.allclose(r, 0.0):
                    msg = f"params['{k}'] was not updated at iteration {t}" + (
                        " (nor later: the caller's dict never changed)" if all(np.allclose(x, 0) for x in steps[k]) else "")
                    return Verdict(False, msg, "write the update back into the params dict (params[k] -= "
                                   "learning_rate * grads[k]) for every key; rebinding a local name changes nothing "
                                   "for the caller.", msg)
                msg = (f"at iteration {t}, params['{k}'] moved by {float(np.mean(r)):.4g} x its gradient while "
                       f"params['W1'] moved by {ref:.4g} x")
                return Verdict(False, msg, "apply the same update params[k] -= learning_rate * grads[k] to every key.", msg)
        if t == 0 and abs(ref - lr0) > 1e-6 * lr0:
            msg = f"the first update moved params by {ref:.4g} x the gradient; with learning_rate = {lr0:g} it should be {lr0:g} x"
            hint = ("the update goes uphill: subtract the gradient (params[k] -= learning_rate * grads[k])."
                    if ref < 0 else "the update should be params[k] -= learning_rate * grads[k], with the learning rate "
                    "you were given (decay it only after the update).")
            return Verdict(False, msg, hint, msg)
    return Verdict(True, f"{iters} SGD updates, each params[k] -= lr * grads[k] for all four keys, in the caller's dict")


def train_decay(got, expected, ctx: JudgeContext) -> Verdict:
    inputs = ctx.inputs
    want = _expected_learning_rates(inputs)
    steps = _steps(got, inputs).get("W1")
    # The size of each step: a sign error is the update check's business, not the schedule's.
    seen = [abs(float(np.mean(x))) for x in steps] if steps else None
    if seen is None or len(seen) != len(want) or not any(seen):
        msg = "no update of params could be seen, so neither could the learning-rate schedule"
        return Verdict(False, msg, "see the nn_train_sgd_update check: the params must be updated in place.", msg)
    per_epoch = max(int(inputs["num_train"]) // int(inputs["batch_size"]), 1)
    for it, (s, w) in enumerate(zip(seen, want)):
        if abs(s - w) > 1e-6 * max(1.0, abs(w)):
            msg = (f"iteration {it} used learning rate {s:.6g}, expected {w:.6g} "
                   f"(iterations_per_epoch = {per_epoch}, decay {inputs['learning_rate_decay']})")
            if all(abs(x - float(inputs['learning_rate'])) < 1e-9 for x in seen):
                hint = "the learning rate never decays: multiply it by learning_rate_decay when it % iterations_per_epoch == 0."
            elif it > 0 and abs(s - want[0] * float(inputs["learning_rate_decay"]) ** it) < 1e-9:
                hint = "the learning rate decays every iteration; decay it only at epoch boundaries (it % iterations_per_epoch == 0)."
            else:
                hint = "decay the learning rate after the update, when it % iterations_per_epoch == 0 (including it = 0)."
            return Verdict(False, msg, hint, msg)
    return Verdict(True, f"learning rate decayed at the epoch boundaries ({len(want)} iterations)")


def train_histories(got, expected, ctx: JudgeContext) -> Verdict:
    inputs = ctx.inputs
    stats = got.get("stats")
    iters = int(inputs["num_iters"])
    if not isinstance(stats, dict) or not {"loss_history", "train_acc_history", "val_acc_history"} <= set(stats):
        msg = f"nn_train should return a dict with loss_history, train_acc_history, val_acc_history; got {describe(stats)}"
        return Verdict(False, msg, None, msg)
    losses = stats["loss_history"]
    want_losses = [1.0 + 0.25 * i for i in range(iters)]
    nums = [as_number(v) for v in losses] if isinstance(losses, list) else None
    if nums is None or len(nums) != iters or any(v is None for v in nums):
        msg = f"loss_history should hold {iters} floats (one per iteration); it is {describe(losses)}"
        return Verdict(False, msg, "append loss.item() once per iteration.", msg)
    if not np.allclose(nums, want_losses):
        msg = f"loss_history {nums[:4]}... does not hold the losses loss_func returned {want_losses[:4]}..."
        return Verdict(False, msg, "record loss.item() of each iteration's loss_func call, before the update.", msg)
    per_epoch = max(int(inputs["num_train"]) // int(inputs["batch_size"]), 1)
    epochs = len([it for it in range(iters) if it % per_epoch == 0])
    for key in ("train_acc_history", "val_acc_history"):
        h = stats[key]
        if not isinstance(h, list) or len(h) != epochs:
            msg = f"{key} has {len(h) if isinstance(h, list) else describe(h)} entries, expected {epochs} (one per epoch, it % {per_epoch} == 0)"
            return Verdict(False, msg, "record accuracies when it % iterations_per_epoch == 0, including it = 0.", msg)
    val_want = float(np.mean(np.asarray(inputs["y_val"]) == 0))
    vals = [as_number(v) for v in stats["val_acc_history"]]
    if any(v is None or abs(v - val_want) > 1e-6 for v in vals):
        msg = f"val_acc_history is {vals}, but pred_func's labels match y_val on {val_want:.4g} of rows"
        return Verdict(False, msg, "val accuracy = (pred_func(params, loss_func, X_val) == y_val).float().mean().item().", msg)
    preds = got.get("pred_calls", [])
    if preds and not all(p["got_loss_func"] for p in preds):
        msg = "pred_func was not given the loss_func nn_train received"
        return Verdict(False, msg, "call pred_func(params, loss_func, X).", msg)
    if sum(1 for p in preds if p["is_val"]) != epochs:
        msg = f"pred_func was called on X_val {sum(1 for p in preds if p['is_val'])} times, expected {epochs}"
        return Verdict(False, msg, None, msg)
    return Verdict(True, f"loss_history has the {iters} losses; {epochs} train/val accuracies, one per epoch")


def train_quiet(got, expected, ctx: JudgeContext) -> Verdict:
    quiet, loud = got.get("quiet", ""), got.get("verbose", "")
    if quiet.strip():
        first = quiet.strip().splitlines()[0][:120]
        msg = f"nn_train printed with verbose=False: {first!r}"
        return Verdict(False, msg, "print progress only when verbose is True.", msg)
    if not loud.strip():
        msg = "nn_train printed nothing with verbose=True over 201 iterations"
        return Verdict(False, msg, "when verbose is True, print the loss every 100 iterations.", msg)
    return Verdict(True, "silent with verbose=False; prints progress with verbose=True")


def toy_training(got, expected, ctx: JudgeContext) -> Verdict:
    limit = float(ctx.options.get("max_final_loss", 1.0))
    hist = got.get("loss_history", [])
    if len(hist) != 200:
        msg = f"loss_history has {len(hist)} entries, expected 200"
        return Verdict(False, msg, None, msg)
    final = hist[-1]
    ref = expected["loss_history"][-1]
    def figures():  # drawn for failures only: a class of hundreds pays ~0.3 s per picture
        fig = curves({"yours": hist, "reference": expected["loss_history"]}, log=True,
                     caption="Training loss on the toy data (lr 1e-1, reg 1e-6), yours and the reference's.")
        return (fig,) if fig else ()
    if not np.isfinite(final) or final >= limit:
        msg = f"final training loss {final:.4g} after 200 iterations, must be below {limit:g} (the reference reaches {ref:.4g})"
        hint = None
        if np.isfinite(final) and final > hist[0]:
            hint = ("the loss grew during training (it diverged): check the sign of the update (params[k] -= lr * "
                    "grads[k]) and the scale of your gradients.")
        return Verdict(False, msg, hint, f"final training loss {final:.4g}, must be below {limit:g}",
                       figures=figures() if ctx.option("figures") else ())
    return Verdict(True, f"final training loss {final:.4g} < {limit:g} (reference {ref:.4g})")


def trajectory(got, expected, ctx: JudgeContext) -> Verdict:
    """The whole loss curve matches the reference's from the same seed and start."""
    tol = float(ctx.options.get("tolerance", 1e-6))
    c = compare_arrays("loss_history", np.asarray(got.get("loss_history", []), float),
                       np.asarray(expected["loss_history"], float), tol)
    if c.passed:
        return Verdict(True, c.message)
    return Verdict(False, c.message, "a correct nn_train follows the reference's loss curve exactly from the same "
                   "seed: check the batch sampling, the update and the decay schedule.", c.redacted)


def predict(got, expected, ctx: JudgeContext) -> Verdict:
    labels = got.get("labels")
    a = as_array(labels)
    N = np.shape(ctx.inputs["X"])[0]
    if a is None:
        msg = f"nn_predict returned {describe(labels)}, expected an int64 tensor of shape ({N},)"
        return Verdict(False, msg, None, msg)
    if a.values.ndim == 2:
        msg = f"nn_predict returned {describe(labels)}: scores, not labels"
        return Verdict(False, msg, "return the argmax class of each row: scores.argmax(dim=1).", msg)
    if a.dtype != "int64":
        msg = f"nn_predict returned {describe(labels)}; labels must be int64"
        return Verdict(False, msg, "argmax already returns int64; do not convert labels to float.", msg)
    c = compare_arrays("labels", labels, expected["labels"], 0.0)
    if not c.passed:
        return Verdict(False, c.message, None, c.redacted)
    spy = as_array(got.get("spy_labels"))
    want = np.argmax(np.asarray(ctx.inputs["fixed_scores"]), axis=1)
    if spy is None or spy.values.shape != want.shape or not np.array_equal(spy.values, want):
        msg = "with a loss_func that returns fixed scores, nn_predict did not return their argmax"
        return Verdict(False, msg, "compute the scores with the loss_func you are given: loss_func(params, X).", msg)
    return Verdict(True, f"int64 labels of shape ({N},), equal to the argmax of loss_func's scores")


def net_init(got, expected, ctx: JudgeContext) -> Verdict:
    D, H, C = (int(s) for s in ctx.inputs["sizes"])
    shapes = {"W1": [D, H], "b1": [H], "W2": [H, C], "b2": [C]}
    problems, hint = [], None
    if got.get("device_default") not in ("'cpu'", "None"):
        problems.append(f"the default device is {got.get('device_default')}, the contract says 'cpu'")
        hint = "use device='cpu' as the default so the class works on machines without a GPU."
    for which, dtype, std in (("default", "float32", 1e-4), ("float64", "float64", 0.1)):
        params = got.get(which, {})
        for k in KEYS:
            d = params.get(k)
            if d is None:
                problems.append(f"{which}: params has no '{k}'")
                continue
            if d["shape"] != shapes[k]:
                problems.append(f"{which}: params['{k}'] has shape {d['shape']}, expected {shapes[k]}")
            if d["dtype"] != dtype:
                problems.append(f"{which}: params['{k}'] is {d['dtype']}, expected {dtype}")
                hint = hint or "create the parameters with dtype=dtype."
            if d["device"] != (ctx.device if which == "float64" else "cpu"):
                problems.append(f"{which}: params['{k}'] is on {d['device']}")
            if k.startswith("b") and d["max_abs"] != 0:
                problems.append(f"{which}: params['{k}'] should start at zero")
            if k.startswith("W") and not (0.8 * std <= d["std"] <= 1.2 * std):
                problems.append(f"{which}: params['{k}'] has std {d['std']:.3g}, expected about {std:g} (std * randn)")
                hint = hint or "initialize weights as std * torch.randn(...)."
    if problems:
        msg = "; ".join(problems[:4]) + (f"; ... {len(problems) - 4} more" if len(problems) > 4 else "")
        return Verdict(False, msg, hint, msg)
    return Verdict(True, "shapes, dtypes, device and scale of the initial parameters are right")


def net_methods(got, expected, ctx: JudgeContext) -> Verdict:
    """Each method behaves exactly as the function it delegates to (same result, or
    the same exception), whether or not that function is right: correctness is
    graded by the functions' own checks."""
    pairs = {"loss": ("net.loss(X, y, reg)", "nn_forward_backward(params, X, y, reg)"),
             "scores": ("net.loss(X)", "nn_forward_backward(params, X)"),
             "labels": ("net.predict(X)", "nn_predict(params, nn_forward_backward, X)"),
             "train": ("net.train(...)", "nn_train(params, ...)")}
    keys = {"loss": "loss_grads", "scores": "scores", "labels": "labels", "train": "train"}
    for what, (method, function) in pairs.items():
        m, f = got.get(keys[what], {}), got.get("direct_" + keys[what], {})
        if "raised" in m or "raised" in f:
            if m.get("raised") == f.get("raised"):
                continue
            msg = (f"{method} {'raised ' + m['raised'] if 'raised' in m else 'returned a value'} but {function} "
                   f"{'raised ' + f['raised'] if 'raised' in f else 'returned a value'}")
            return Verdict(False, msg, _DELEGATE, msg)
        cmps = walk_compare(m.get("value"), f.get("value"), method, 0.0)
        if not all(c.passed for c in cmps):
            v = verdict_from(cmps)
            return Verdict(False, v.message.replace("expected", f"{function} gives"), _DELEGATE, v.redacted)
    return Verdict(True, "loss, predict and train behave exactly as nn_forward_backward, nn_predict and nn_train")


_DELEGATE = ("the methods should delegate: loss -> nn_forward_backward(self.params, X, y, reg), predict -> "
             "nn_predict(self.params, nn_forward_backward, X), train -> nn_train(self.params, ...).")


def save_load(got, expected, ctx: JudgeContext) -> Verdict:
    saved, loaded = got.get("saved", {}), got.get("loaded", {})
    if not isinstance(loaded, dict):
        msg = f"after load, net.params is {describe(loaded)}"
        return Verdict(False, msg, None, msg)
    cmps = []
    for k in KEYS:
        s = as_array(saved.get(k))
        if s is None:
            continue
        cmps.append(compare_arrays(f"loaded params['{k}']", loaded.get(k), saved[k], 0.0, dtype=s.dtype,
                                   device=s.device))
    v = verdict_from(cmps)
    if not v.passed and not v.hint:
        v = Verdict(False, v.message, "save self.params with torch.save and restore them in load with "
                    "torch.load, keeping dtype and device.", v.redacted)
    return v


def accuracy(got, expected, ctx: JudgeContext) -> Verdict:
    data = got.get("data", "digits")
    threshold = float(ctx.options[f"min_{data}_accuracy"])
    acc = as_number(got.get("val_acc"))
    if acc is None:
        msg = f"validation accuracy could not be measured ({describe(got.get('val_acc'))})"
        return Verdict(False, msg, None, msg)
    ref = f" (the reference reaches {expected['val_acc']:.3f})" if expected and data == expected.get("data") else ""
    if acc < threshold:
        msg = f"validation accuracy on {data}: {acc:.3f}, needs at least {threshold:.2f}{ref}"
        return Verdict(False, msg, None, f"validation accuracy on {data}: {acc:.3f}, needs at least {threshold:.2f}")
    return Verdict(True, f"validation accuracy on {data}: {acc:.3f} >= {threshold:.2f}{ref}")
