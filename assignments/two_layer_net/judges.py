"""How each check decides. Runs in the grader's process, never next to student code.

``judge(got, expected, ctx) -> Verdict``: ``got`` is what the probe returned for the
student, ``expected`` what it returned for the reference solution, ``ctx.inputs``
the inputs both received. The generic judges come from ``grader.checks``; the ones
here add what only this assignment knows (the contract of ``nn_train``, the known
mistakes of a two-layer net's backward pass) so that hints can name causes.

Every point comes from values judged here: a property (inputs unchanged, no
autograd, agreement with the slope of your own loss, delegation) pays only when the
values that come with it are right too, and nothing the child computed about itself
(a flag, an accuracy, a summary) is taken on trust.
"""
from __future__ import annotations

import numpy as np

from dataclasses import replace

from grader.checks import (JudgeContext, Verdict, as_array, as_number, compare_arrays, describe, diagnose,
                           match_reference, partial_credit, parts_of, verdict_from, walk_compare,
                           with_partial_credit)
from grader.checks.compare import Comparison
from grader.checks.diagnose import (DEFAULT_DIAGNOSES, constant_factor, dtype_device, hint_for_error, nonfinite,
                                    precision_lost)
from grader.checks.figures import curves, error_heatmaps

KEYS = ("W1", "b1", "W2", "b2")

__all__ = ["match_reference", "forward", "loss_and_grads", "loss_and_grads_cases", "no_autograd",
           "gradients_vs_numeric", "inputs_unchanged", "dtype_preserved", "sample_batch", "train_updates",
           "train_decay", "train_histories", "train_quiet", "toy_training", "trajectory", "predict", "net_init",
           "net_methods", "save_load", "accuracy"]

# -- evidence about the inputs ---------------------------------------------------------------
# What a check's own inputs allow, computed here from the inputs alone: a hint names
# overflow only when exp() of these scores overflows, underflow only when a softmax
# probability of these scores is below the smallest float.
_EXP_LIMIT = {"float64": 709.0, "float32": 88.0}
_LOG_TINY = {"float64": 708.0, "float32": 87.0}   # -log of the smallest normal float, about


def _scores(inputs) -> np.ndarray | None:
    try:
        p, X = inputs["params"], np.asarray(inputs["X"], float)
        return np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    except (KeyError, TypeError, ValueError):
        return None


def _overflows(inputs, dtype: str) -> bool:
    s = _scores(inputs)
    return s is not None and float(np.max(np.abs(s))) > _EXP_LIMIT.get(dtype, 709.0)


def _underflows(inputs, dtype: str) -> bool:
    """Some softmax probability is below the smallest float even with the row max subtracted."""
    s = _scores(inputs)
    return s is not None and float(np.max(s.max(axis=1) - s.min(axis=1))) > _LOG_TINY.get(dtype, 708.0)


OVERFLOW = ("inf/NaN where the reference is finite: scores here reach {top:.0f}, and exp() of a score above "
            "{limit:.0f} overflows in {dtype}. Subtract each row's maximum score before exponentiating (a "
            "numerically stable softmax).")
LOG_UNDERFLOW = ("the loss is inf: scores in a row here are about {gap:.0f} apart, so a softmax probability "
                 "underflows to 0 and log(0) = -inf. Compute the log-probabilities as a log-softmax, shifted - "
                 "log(sum(exp(shifted))), instead of taking the log of the probabilities.")
ZERO_LOG_ZERO = ("the loss is NaN: scores in a row here are about {gap:.0f} apart (no exp() overflows), so a "
                 "softmax probability underflows to 0, and 0 * log(0) is NaN (e.g. sum(one_hot * log(probs))). "
                 "Take only the correct class's log-probability, log_probs[arange(N), y], from a log-softmax.")
GLOBAL_MAX = ("your softmax survives large scores of one size but not rows whose maxima differ by thousands: "
              "subtract each row's own maximum (scores.max(dim=1, keepdim=True)), not one maximum of the whole "
              "batch, which leaves rows far below it at exp() = 0 and 0 / 0.")
ONE_HOT_WIDTH = ("this batch has no example of class {top} (C = {C}), and a tensor came out {width} wide: "
                 "one_hot(y) without num_classes makes max(y) + 1 columns. Pass num_classes=C "
                 "(scores.shape[1]).")


def _nonfinite_hint(label: str, got, inputs, dtype: str) -> str | None:
    """Why a value is inf/NaN, when these inputs establish it."""
    if _overflows(inputs, dtype):
        s = _scores(inputs)
        return OVERFLOW.format(top=float(np.max(np.abs(s))), limit=_EXP_LIMIT.get(dtype, 709.0), dtype=dtype)
    if label == "loss" and _underflows(inputs, dtype):
        s = _scores(inputs)
        gap = float(np.max(s.max(axis=1) - s.min(axis=1)))
        value = as_number(got)
        if value is not None and np.isinf(value):
            return LOG_UNDERFLOW.format(gap=gap)
        if value is not None and np.isnan(value):
            return ZERO_LOG_ZERO.format(gap=gap)
    return None


def _float32_in_play(cmp: Comparison, ctx: dict) -> str | None:
    """precision_lost, only when the values are float32 numbers: an epsilon added to a
    float64 softmax is off by as little, and is not a float32 problem."""
    g = cmp.got
    if g is None or not np.all(np.isfinite(g)):
        return None
    with np.errstate(over="ignore"):  # values beyond float32's range are no float32 numbers
        if not np.array_equal(g.astype(np.float32).astype(np.float64), g):
            return None
    return precision_lost(cmp, ctx)


def _scaled(cmp: Comparison, ctx: dict) -> str | None:
    """constant_factor, but not for all zeros: a function that returns zeros has not
    computed anything yet, which is no factor of the reference."""
    if cmp.got is not None and cmp.got.size and not np.any(cmp.got):
        return None
    return constant_factor(cmp, ctx)


# The generic diagnoses, with those that need evidence only this lab has replaced:
# overflow (see _nonfinite_hint), float32 (see _float32_in_play), zeros (_scaled).
_OWN = {precision_lost: _float32_in_play, constant_factor: _scaled}
DIAGNOSES = tuple(_OWN.get(d, d) for d in DEFAULT_DIAGNOSES if d is not nonfinite)


# -- hints from known mistakes ---------------------------------------------------------------
# The values the usual mistakes produce on a check's inputs are computed on the
# instructor's side (solutions/two_layer_net/mistakes.py) and arrive in
# ctx.mistakes; here they only meet the student's value.
def _grad_context(ctx: JudgeContext, key: str, tolerance: float, inputs=None, mistakes=None) -> dict:
    inputs = ctx.inputs if inputs is None else inputs
    mistakes = ctx.mistakes if mistakes is None else mistakes
    reg = float(ctx.options.get("reg", 0.0))
    return {"N": int(np.asarray(inputs["X"]).shape[0]), "reg": reg, "W": inputs["params"][key],
            "is_bias": key.startswith("b"), "variants": (mistakes or {}).get("grads", {}).get(key, {}),
            "tolerance": tolerance, "what": "the mean over the batch"}


def _loss_hint(got: float, mistakes: dict | None, tol: float) -> str | None:
    for hint, value in (mistakes or {}).get("loss", {}).items():
        if np.isfinite(value) and abs(got - value) <= max(tol, 1e-9) * max(1.0, abs(value)):
            return hint
    return None


def _part(c: Comparison) -> str:
    """The part of a check a comparison belongs to: grads['W1'] -> W1; loss -> loss."""
    return c.label.split("'")[1] if "['" in c.label else c.label


def _loss_grads_comparisons(got, expected, ctx: JudgeContext, inputs, mistakes, dtype: str = "float64",
                            check_dtype: bool = False):
    """(comparisons, hints by label, or a Verdict when the reply is unusable) for one (loss, grads)."""
    o = ctx.options
    tol, ltol = float(o.get("tolerance", 1e-8)), float(o.get("loss_tolerance", o.get("tolerance", 1e-8)))
    want = dict(dtype=dtype, device=ctx.device) if check_dtype else {}
    label = "nn_forward_backward(params, X, y, reg)"
    if not isinstance(got, list) or len(got) != 2:
        msg = f"{label} should return (loss, grads); it returned {describe(got)}"
        return Verdict(False, msg, redacted=msg)
    cmps, hints = [], {}
    if o.get("only") != "grads":
        c = compare_arrays("loss", got[0], expected[0], ltol, **want)
        cmps.append(c)
        if not c.passed:
            value = as_number(got[0])
            if c.problem == "nonfinite":
                hints["loss"] = _nonfinite_hint("loss", got[0], inputs, dtype)
            elif value is not None and np.isfinite(value):
                hints["loss"] = _loss_hint(value, mistakes, ltol) or diagnose(
                    c, {"tolerance": ltol}, (_float32_in_play, dtype_device))
            elif c.problem in ("dtype", "device"):
                hints["loss"] = diagnose(c, {}, DIAGNOSES)
    if o.get("only") != "loss":
        grads = got[1]
        if not isinstance(grads, dict) or "__tensor__" in grads or "__object__" in grads:
            msg = f"grads should be a dict with keys {list(KEYS)}; got {describe(grads)}"
            return Verdict(False, msg, redacted=msg)
        for k in KEYS:
            if k not in grads:
                cmps.append(_missing(f"grads['{k}']", grads))
                continue
            c = compare_arrays(f"grads['{k}']", grads[k], expected[1][k], tol, **want)
            cmps.append(c)
            if not c.passed:
                hints[c.label] = (_nonfinite_hint(c.label, grads[k], inputs, dtype) if c.problem == "nonfinite"
                                  else diagnose(c, _grad_context(ctx, k, tol, inputs, mistakes), DIAGNOSES))
    return cmps, hints


def _verdict(cmps: list[Comparison], hints: dict) -> Verdict:
    """verdict_from with this lab's hints only: its fallback to the generic diagnoses
    would bring back the overflow and float32 guesses that DIAGNOSES leaves out."""
    v = verdict_from(cmps)
    hint = next((hints.get(c.label) for c in cmps if not c.passed and hints.get(c.label)), None)
    return replace(v, hint=hint)


# -- judges --------------------------------------------------------------------------------
def forward(got, expected, ctx: JudgeContext) -> Verdict:
    """match_reference, plus the forward passes of known mistakes (a sigmoid for the
    ReLU, a bias left out) for the hint."""
    o = ctx.options
    tol = float(o.get("tolerance", 1e-9))
    cmps = walk_compare(got, expected, o.get("label", "output"), tol, names=o.get("names"))
    variants = (ctx.mistakes or {}).get("forward", {})

    def hint_for(c):
        which = 1 if c.label == "hidden" else 0
        for hint, value in variants.items():
            v = np.asarray(value[which] if isinstance(value, list) else value)
            if c.got is not None and c.got.shape == v.shape and np.all(np.isfinite(c.got)) \
                    and np.allclose(c.got, v, rtol=1e-6, atol=1e-9):
                return hint
        return diagnose(c, {"tolerance": tol}, DIAGNOSES)

    return _verdict(cmps, {c.label: hint_for(c) for c in cmps if not c.passed})


def loss_and_grads(got, expected, ctx: JudgeContext) -> Verdict:
    """(loss, grads) against the reference; a hint per parameter from the known mistakes.

    Options: ``reg``, ``tolerance`` (grads), ``loss_tolerance``, ``only`` ("loss" or
    "grads"), ``partial`` (weights of loss, W1, b1, W2, b2).
    """
    out = _loss_grads_comparisons(got, expected, ctx, ctx.inputs, ctx.mistakes)
    if isinstance(out, Verdict):
        return out
    cmps, hints = out
    v = _verdict(cmps, hints)
    return _with_heatmaps(with_partial_credit(v, parts_of(cmps, _part), ctx.options), cmps, ctx)


def _one_hot_hint(raised: str, problem: dict) -> str | None:
    """A size mismatch whose numbers are max(y) + 1 and C, on a batch that lacks the top class."""
    import re

    y = np.asarray(problem["y"], int)
    C = int(np.shape(problem["params"]["W2"])[1])
    width = int(y.max()) + 1 if y.size else 0
    sizes = {int(n) for n in re.findall(r"\((\d+)\)", raised)} | {int(n) for n in re.findall(r"\[(\d+)\]", raised)}
    if width < C and {width, C} <= sizes | {int(n) for n in re.findall(r"\b(\d+)\b", raised)} and width in sizes:
        return ONE_HOT_WIDTH.format(top=C - 1, C=C, width=width)
    return None


def loss_and_grads_cases(got, expected, ctx: JudgeContext) -> Verdict:
    """loss_and_grads on each case ({case: problem}), each case an equal share of the
    points; within a case, ``partial`` splits loss and gradients."""
    if not isinstance(got, dict) or not isinstance(expected, dict):
        msg = f"expected one reply per case, got {describe(got)}"
        return Verdict(False, msg, redacted=msg)
    lines, fractions, hint = [], [], None
    failed = {}
    for name, want in expected.items():
        problem = ctx.inputs[name]
        reply = got.get(name) if isinstance(got.get(name), dict) else {}
        mistakes = (ctx.mistakes or {}).get(name)
        if "raised" in reply or "value" not in reply:
            raised = str(reply.get("raised", "no reply"))
            lines.append(f"{name}: nn_forward_backward raised {raised}")
            fractions.append(0.0)
            kind, _, text = raised.partition(": ")
            failed[name] = _one_hot_hint(raised, problem) or hint_for_error(kind, text)
            continue
        out = _loss_grads_comparisons(reply["value"], want["value"], ctx, problem, mistakes)
        if isinstance(out, Verdict):
            lines.append(f"{name}: {out.message}")
            fractions.append(0.0)
            failed[name] = None
            continue
        cmps, hints = out
        v = _verdict(cmps, hints)
        if v.passed:
            fractions.append(1.0)
            continue
        fractions.append(partial_credit(parts_of(cmps, _part), ctx.option("partial"))[0])
        lines.append("\n".join(f"{name}: {line}" for line in v.message.splitlines()))
        failed[name] = v.hint
    if not failed:
        return Verdict(True, f"all {len(expected)} cases match: " + ", ".join(expected))
    if set(failed) == {"spread"} and "same_scale" in expected:
        hint = GLOBAL_MAX
    else:
        hint = next((h for h in failed.values() if h), None)
    msg = "\n".join(lines)
    return Verdict(False, msg, hint, msg, fraction=sum(fractions) / len(fractions))


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


FLOAT32_NUMERIC = ("your {what} came back as float32 from float64 inputs: central differences with h = 1e-6 "
                   "need float64 throughout (a float32 loss changes in steps of about 1e-7). Keep the inputs' "
                   "dtype: no .float(), no dtype=torch.float32.")


def gradients_vs_numeric(got, expected, ctx: JudgeContext) -> Verdict:
    """The student's loss is right, and their analytic gradients agree with central
    differences of that loss: the property pays only with a right loss (a constant loss
    has a zero slope that zero gradients match)."""
    tol = float(ctx.options.get("tolerance", 1e-6))
    ltol = float(ctx.options.get("loss_tolerance", 1e-9))
    analytic = got.get("analytic") if isinstance(got, dict) else None
    if not isinstance(analytic, dict) or "__tensor__" in analytic or "__object__" in analytic:
        msg = f"grads should be a dict with keys {list(KEYS)}; got {describe(analytic)}"
        return Verdict(False, msg, redacted=msg)
    numeric = got.get("numeric") if isinstance(got.get("numeric"), dict) else {}
    dtypes = {as_array(v).dtype for v in [got.get("loss"), *analytic.values()] if as_array(v) is not None}
    c = compare_arrays("loss", got.get("loss"), expected["loss"], ltol)
    if not c.passed:
        value = as_number(got.get("loss"))
        if "float32" in dtypes:
            hint = FLOAT32_NUMERIC.format(what="loss or gradients")
        elif c.problem == "nonfinite":
            hint = _nonfinite_hint("loss", got.get("loss"), ctx.inputs, "float64")
        else:
            hint = _loss_hint(value, ctx.mistakes, ltol) if value is not None and np.isfinite(value) else None
        msg = (f"{c.message}\nyour loss is not the reference's, so agreeing with its slope proves nothing: "
               f"this check pays once the loss is right")
        return Verdict(False, msg, hint, msg)
    cmps, hints = [], {}
    for k in KEYS:
        if k not in analytic:
            cmps.append(_missing(f"grads['{k}']", analytic))
            continue
        c = compare_arrays(f"grads['{k}']", analytic[k], numeric.get(k), tol)
        if not c.passed:
            hint = _numeric_hint(c, ctx, k)
            # Say that the comparison is with the student's own loss, not with ours.
            c = Comparison(c.label, False, c.problem, c.message.replace("expected", "numeric gradient of your loss"),
                           c.redacted, c.got, c.expected, c.rel_error)
            hints[c.label] = hint
        cmps.append(c)
    v = _verdict(cmps, hints)
    if v.passed:
        return v
    if not v.hint:
        hint = FLOAT32_NUMERIC.format(what="gradients") if "float32" in dtypes else (
            "your loss is right but your gradients do not match its slope: the backward pass and the forward "
            "pass disagree (check each step of the chain rule against the forward code).")
        v = replace(v, hint=hint)
    return with_partial_credit(v, parts_of(cmps, _part), ctx.options)


def _outputs_right(out, expected_out, ctx: JudgeContext) -> str | None:
    """None when (loss, grads) match the reference, else one line saying what is off."""
    res = _loss_grads_comparisons(out, expected_out, ctx, ctx.inputs, ctx.mistakes)
    if isinstance(res, Verdict):
        return res.message
    bad = [c for c in res[0] if not c.passed]
    return None if not bad else f"{', '.join(c.label for c in bad)} not right"


PAYS_WITH_RIGHT_VALUES = ("this check pays only when nn_forward_backward's loss and grads are also right: fix "
                          "those first (loss_with_reg, grads_vs_reference).")


def inputs_unchanged(got, expected, ctx: JudgeContext) -> Verdict:
    """params, X and y hold what was passed in, after the call, and the call's outputs are right."""
    inputs = ctx.inputs
    if not isinstance(got, dict):
        msg = f"expected params, X and y back, got {describe(got)}"
        return Verdict(False, msg, redacted=msg)
    changed = []
    params = got.get("params")
    for k in KEYS:
        a = as_array(params.get(k)) if isinstance(params, dict) else None
        if a is None or a.values.shape != np.shape(inputs["params"][k]) or \
                not np.array_equal(a.values.astype(float), inputs["params"][k]):
            changed.append(f"params['{k}']")
    for name in ("X", "y"):
        a = as_array(got.get(name))
        if a is None or a.values.shape != np.shape(inputs[name]) or not np.array_equal(a.values, inputs[name]):
            changed.append(name)
    if changed:
        msg = f"nn_forward_backward changed {', '.join(changed)} in place"
        return Verdict(False, msg, "an in-place operation (+=, -=, *=, .add_(), .mul_(), slice assignment) "
                       "modified an input: build new tensors instead (e.g. dscores = probs.clone(), then modify "
                       "the copy).", msg)
    wrong = _outputs_right(got.get("out"), expected["out"], ctx)
    if wrong:
        msg = f"params, X and y are unchanged, but the outputs are wrong ({wrong})"
        return Verdict(False, msg, PAYS_WITH_RIGHT_VALUES, msg)
    return Verdict(True, "params, X and y are unchanged after nn_forward_backward, and its outputs are right")


def no_autograd(got, expected, ctx: JudgeContext) -> Verdict:
    """The gradients are computed by hand (no backward() / autograd.grad, no graph on
    the outputs) and are right."""
    if not isinstance(got, dict):
        msg = f"expected the autograd record, got {describe(got)}"
        return Verdict(False, msg, redacted=msg)
    used = sorted({str(u) for u in got.get("used", []) if isinstance(u, str)}) if isinstance(got.get("used"), list) else []
    out = got.get("out")
    tensors = [out[0], *out[1].values()] if isinstance(out, list) and len(out) == 2 and isinstance(out[1], dict) else []
    graph = [v for v in (as_array(t) for t in tensors) if v is not None and v.requires_grad]
    if used or graph:
        what = f"called {', '.join(used)}" if used else "returned tensors that require grad"
        msg = f"nn_forward_backward {what}: this assignment asks for the gradients by hand"
        return Verdict(False, msg, "derive each gradient with the chain rule and compute it with tensor "
                       "operations; do not call loss.backward() or torch.autograd.grad, and do not set "
                       "requires_grad on the parameters.", msg)
    wrong = _outputs_right(out, expected["out"], ctx)
    if wrong:
        msg = f"no autograd was seen, but the outputs are wrong ({wrong})"
        return Verdict(False, msg, PAYS_WITH_RIGHT_VALUES, msg)
    return Verdict(True, "no autograd: gradients computed by hand, and right")


def dtype_preserved(got, expected, ctx: JudgeContext) -> Verdict:
    """Scores, loss and grads have the inputs' dtype and device, and values right for that dtype."""
    o = ctx.options
    tol, dtype = float(o.get("tolerance", 1e-5)), o.get("dtype")
    if not isinstance(got, dict):
        msg = f"expected scores and (loss, grads), got {describe(got)}"
        return Verdict(False, msg, redacted=msg)
    cmps = walk_compare(got.get("scores"), expected["scores"], "scores", tol, dtype=dtype, device=ctx.device)
    hints = {}
    out = _loss_grads_comparisons(got.get("loss_grads"), expected["loss_grads"], ctx, ctx.inputs, ctx.mistakes,
                                  dtype=dtype or "float64", check_dtype=True)
    if isinstance(out, Verdict):
        return out
    cmps += out[0]
    hints.update(out[1])
    v = _verdict(cmps, {c.label: hints.get(c.label) or diagnose(c, {"tolerance": tol}, DIAGNOSES) for c in cmps})
    return _with_heatmaps(with_partial_credit(v, parts_of(cmps, _part), o), cmps, ctx)


def _not_a_record(got) -> Verdict | None:
    """The probe's record is a dict; anything else did not come from it."""
    if isinstance(got, dict):
        return None
    msg = f"this check could not read its record of the call: got {describe(got)}"
    return Verdict(False, msg, None, msg)


def sample_batch(got, expected, ctx: JudgeContext) -> Verdict:
    if _not_a_record(got):
        return _not_a_record(got)
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
    X_all = np.asarray(inputs["X"], float)
    rows = np.asarray(Xb.values, float)
    if not np.all(np.isfinite(rows)) or not all((X_all == r).all(axis=1).any() for r in rows):
        msg = "X_batch holds rows that are not rows of X"
        return Verdict(False, msg, "return rows of X (X[idx]) for the indices you drew.", msg)
    ids = rows[:, 0].astype(int)
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
            # A random draw that is not torch's: one randint call per batch names it; one row repeated does not.
            hint = ("draw exactly one torch.randint(num_train, (batch_size,)) per call, so the same seed gives the "
                    "same batch as the reference.") if len(set(ids.tolist())) > 1 else None
            return Verdict(False, msg, hint, "the rows drawn differ from the reference's under the same seed")
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
    calls = got.get("calls") if isinstance(got.get("calls"), list) else []
    snapshots = [c["params"] if isinstance(c, dict) and isinstance(c.get("params"), dict) else {} for c in calls]
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
    if _not_a_record(got):
        return _not_a_record(got)
    inputs = ctx.inputs
    calls = got.get("calls") if isinstance(got.get("calls"), list) else []
    calls = [c if isinstance(c, dict) and isinstance(as_number(c.get("reg")), float) else {"reg": float("nan")}
             for c in calls]
    iters = int(inputs["num_iters"])
    if len(calls) != iters:
        msg = f"loss_func was called {len(calls)} times for num_iters = {iters}"
        return Verdict(False, msg, "call loss_func exactly once per iteration.", msg)
    bad_call = [i for i, c in enumerate(calls) if not abs(float(c["reg"]) - float(inputs["reg"])) <= 1e-12]
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
    if _not_a_record(got):
        return _not_a_record(got)
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
    if _not_a_record(got):
        return _not_a_record(got)
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
    preds = [c for c in got.get("pred_calls", []) if isinstance(c, dict)] if isinstance(got.get("pred_calls"), list) else []
    if preds and not all(p.get("got_loss_func") is True for p in preds):
        msg = "pred_func was not given the loss_func nn_train received"
        return Verdict(False, msg, "call pred_func(params, loss_func, X).", msg)
    if sum(1 for p in preds if p.get("is_val") is True) != epochs:
        msg = f"pred_func was called on X_val {sum(1 for p in preds if p.get('is_val') is True)} times, expected {epochs}"
        return Verdict(False, msg, None, msg)
    return Verdict(True, f"loss_history has the {iters} losses; {epochs} train/val accuracies, one per epoch")


def train_quiet(got, expected, ctx: JudgeContext) -> Verdict:
    """Silent with verbose=False, prints with verbose=True; pays only when that run
    really trained: its loss_history holds the 201 losses loss_func returned."""
    if not isinstance(got, dict):
        msg = f"expected what nn_train printed, got {describe(got)}"
        return Verdict(False, msg, redacted=msg)
    quiet, loud = str(got.get("quiet") or ""), str(got.get("verbose") or "")
    history = got.get("loss_history")
    nums = [as_number(v) for v in history] if isinstance(history, list) else None
    want = [1.0 + 0.25 * i for i in range(201)]
    if nums is None or len(nums) != len(want) or any(v is None for v in nums) or not np.allclose(nums, want):
        msg = "nn_train's loss_history does not hold the losses loss_func returned, so its printing cannot be judged"
        return Verdict(False, msg, None, msg)
    if quiet.strip():
        first = quiet.strip().splitlines()[0][:120]
        msg = f"nn_train printed with verbose=False: {first!r}"
        return Verdict(False, msg, "print progress only when verbose is True.", msg)
    if not loud.strip():
        msg = "nn_train printed nothing with verbose=True over 201 iterations"
        return Verdict(False, msg, "when verbose is True, print the loss every 100 iterations.", msg)
    return Verdict(True, "silent with verbose=False; prints progress with verbose=True")


def _data_loss(params: dict, X, y, reg: float) -> float | None:
    """The regularized softmax loss of returned parameters, computed here (float64)."""
    from scipy.special import log_softmax

    p = {}
    for k in KEYS:
        a = as_array(params.get(k)) if isinstance(params, dict) else None
        if a is None:
            return None
        p[k] = np.asarray(a.values, float)
    X, y = np.asarray(X, float), np.asarray(y, int)
    try:
        scores = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
        if scores.ndim != 2 or scores.shape[0] != len(y) or scores.shape[1] <= y.max():
            return None
        with np.errstate(all="ignore"):
            data = -log_softmax(scores, axis=1)[np.arange(len(y)), y].mean()
            return float(data + reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2)))
    except (ValueError, TypeError):  # shapes that do not fit the data
        return None


def toy_training(got, expected, ctx: JudgeContext) -> Verdict:
    """The loss of the parameters nn_train left in the caller's dict, computed here on
    the toy data: a loss_history that says "below 1" counts for nothing by itself."""
    limit = float(ctx.options.get("max_final_loss", 1.0))
    if not isinstance(got, dict):
        msg = f"expected the training record, got {describe(got)}"
        return Verdict(False, msg, redacted=msg)
    inputs, reg = ctx.inputs, 1e-6
    final = _data_loss(got.get("final_params"), inputs["X"], inputs["y"], reg)
    ref = _data_loss(expected["final_params"], inputs["X"], inputs["y"], reg)
    hist = got.get("loss_history") if isinstance(got.get("loss_history"), list) else []
    ref_hist = expected["loss_history"]

    def figures():  # drawn for failures only: a class of hundreds pays ~0.3 s per picture
        if not ctx.option("figures") or not hist or not all(isinstance(v, (int, float)) for v in hist):
            return ()
        fig = curves({"yours": hist, "reference": ref_hist}, log=True,
                     caption="Training loss on the toy data (lr 1e-1, reg 1e-6), yours and the reference's.")
        return (fig,) if fig else ()

    if final is None:
        msg = f"after nn_train, params does not hold four parameters that fit the toy data ({describe(got.get('final_params'))})"
        return Verdict(False, msg, None, msg)
    if not np.isfinite(final) or final >= limit:
        msg = (f"the loss of the trained params on the toy data is {final:.4g} after 200 iterations, must be below "
               f"{limit:g} (the reference's params reach {ref:.4g})")
        hint = None
        start = _data_loss(inputs["params"], inputs["X"], inputs["y"], reg)
        said = as_number(hist[-1]) if hist else None
        if said is not None and np.isfinite(said) and said < limit and start is not None and abs(final - start) < 1e-12:
            hint = ("your loss_history goes down, but the params dict you were given never changed: update its "
                    "tensors in place (params[k] -= learning_rate * grads[k]) instead of rebinding a name.")
        return Verdict(False, msg, hint, f"the loss of the trained params is {final:.4g}, must be below {limit:g}",
                       figures=figures())
    return Verdict(True, f"the trained params give loss {final:.4g} < {limit:g} on the toy data (reference {ref:.4g})")


def trajectory(got, expected, ctx: JudgeContext) -> Verdict:
    """The whole loss curve matches the reference's from the same seed and start. No
    cause of its own: a wrong loss, wrong gradients, batches or schedule all bend the
    curve, and the checks listed in ``after`` tell which."""
    tol = float(ctx.options.get("tolerance", 1e-6))
    hist = got.get("loss_history", []) if isinstance(got, dict) else []
    nums = [as_number(v) for v in hist] if isinstance(hist, list) else []
    values = np.asarray([np.nan if v is None else v for v in nums], float)
    c = compare_arrays("loss_history", values, np.asarray(expected["loss_history"], float), tol)
    if c.passed:
        return Verdict(True, c.message)
    return Verdict(False, c.message, None, c.redacted)


def predict(got, expected, ctx: JudgeContext) -> Verdict:
    """The labels: the argmax class of the network's scores (however they were computed)."""
    labels = got.get("labels") if isinstance(got, dict) else None
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
    return Verdict(True, f"int64 labels of shape ({N},), the argmax of the network's scores")


def net_init(got, expected, ctx: JudgeContext) -> Verdict:
    """Shapes, dtype, device, zero biases and the std of the weights, measured here
    from the parameters themselves."""
    D, H, C = (int(s) for s in ctx.inputs["sizes"])
    shapes = {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
    problems, hint = [], None
    for which, dtype, std in (("default", "float32", 1e-4), ("float64", "float64", 0.1)):
        params = got.get(which) if isinstance(got, dict) else None
        if not isinstance(params, dict) or "__tensor__" in params or "__object__" in params:
            problems.append(f"{which}: net.params is {describe(params)}, expected a dict of four tensors")
            continue
        for k in KEYS:
            a = as_array(params.get(k))
            if a is None:
                problems.append(f"{which}: params['{k}'] is {describe(params.get(k))}")
                continue
            if tuple(a.values.shape) != shapes[k]:
                problems.append(f"{which}: params['{k}'] has shape {tuple(a.values.shape)}, expected {shapes[k]}")
                continue
            if a.dtype != dtype:
                problems.append(f"{which}: params['{k}'] is {a.dtype}, expected {dtype}")
                hint = hint or "create the parameters with dtype=dtype."
            if a.device != ctx.device:
                problems.append(f"{which}: params['{k}'] is on {a.device}, expected {ctx.device}")
                hint = hint or "create the parameters with device=device."
            v = np.asarray(a.values, float)
            if not np.all(np.isfinite(v)):
                problems.append(f"{which}: params['{k}'] holds inf or NaN")
            elif k.startswith("b") and np.any(v != 0):
                problems.append(f"{which}: params['{k}'] should start at zero")
            elif k.startswith("W") and not (0.8 * std <= float(v.std()) <= 1.2 * std):
                problems.append(f"{which}: params['{k}'] has std {float(v.std()):.3g}, expected about {std:g} (std * randn)")
                hint = hint or "initialize weights as std * torch.randn(...)."
    if problems:
        msg = "; ".join(problems[:4]) + (f"; ... {len(problems) - 4} more" if len(problems) > 4 else "")
        return Verdict(False, msg, hint, msg)
    return Verdict(True, "shapes, dtypes, device and scale of the initial parameters are right")


def net_methods(got, expected, ctx: JudgeContext) -> Verdict:
    """Each method behaves exactly as the function it delegates to, and gives the
    reference's values: delegating to a wrong function earns nothing here (the
    functions' own checks say what is wrong); each method is one share of the points."""
    tol = float(ctx.options.get("tolerance", 1e-8))
    pairs = {"loss": ("loss_grads", "net.loss(X, y, reg)", "nn_forward_backward(params, X, y, reg)"),
             "scores": ("scores", "net.loss(X)", "nn_forward_backward(params, X)"),
             "labels": ("labels", "net.predict(X)", "nn_predict(params, nn_forward_backward, X)"),
             "train": ("train", "net.train(...)", "nn_train(params, ...)")}
    if not isinstance(got, dict):
        msg = f"expected the methods' results, got {describe(got)}"
        return Verdict(False, msg, redacted=msg)
    parts, lines, hint = {}, [], None
    for what, (key, method, function) in pairs.items():
        m, f = got.get(key), got.get("direct_" + key)
        m, f = (m if isinstance(m, dict) else {}), (f if isinstance(f, dict) else {})
        if "raised" in m or "raised" in f or "value" not in m or "value" not in f:
            parts[what] = False
            if m.get("raised") != f.get("raised"):
                lines.append(f"{method} {'raised ' + str(m['raised']) if 'raised' in m else 'returned a value'} but "
                             f"{function} {'raised ' + str(f['raised']) if 'raised' in f else 'returned a value'}")
                hint = hint or _DELEGATE
            else:
                lines.append(f"{method} and {function} both raised {m.get('raised')}: the function is not right yet")
            continue
        same = walk_compare(m["value"], f["value"], method, 0.0)
        if not all(c.passed for c in same):
            parts[what] = False
            lines.append(verdict_from(same).message.replace("expected", f"{function} gives"))
            hint = hint or _DELEGATE
            continue
        right = walk_compare(m["value"], expected[key]["value"], method, tol)
        parts[what] = all(c.passed for c in right)
        if not parts[what]:
            lines.append(f"{method} delegates to {function}, but the values are not right yet")
    if all(parts.values()):
        return Verdict(True, "loss, predict and train behave exactly as nn_forward_backward, nn_predict and nn_train")
    if hint is None:
        hint = "the methods delegate, but the functions they call are not right yet: fix those first."
    msg = "\n".join(lines)
    return with_partial_credit(Verdict(False, msg, hint, msg), parts, ctx.options)


_DELEGATE = ("the methods should delegate: loss -> nn_forward_backward(self.params, X, y, reg), predict -> "
             "nn_predict(self.params, nn_forward_backward, X), train -> nn_train(self.params, ...).")


def save_load(got, expected, ctx: JudgeContext) -> Verdict:
    """A fresh net, after load, holds the parameters that were saved (values the grader
    gave the saved net, float64): not its own, not nothing. The device is not asked
    for: the course's own load maps to the CPU."""
    saved = ctx.inputs["params"]
    loaded = got.get("loaded") if isinstance(got, dict) else None
    before = got.get("before") if isinstance(got, dict) else None
    if not isinstance(loaded, dict) or "__tensor__" in loaded or "__object__" in loaded:
        msg = f"after load, net.params is {describe(loaded)}, expected a dict of four tensors"
        return Verdict(False, msg, None, msg)
    if isinstance(before, dict) and all(k in before and k in loaded for k in KEYS) and all(
            as_array(loaded[k]) is not None and as_array(before[k]) is not None
            and np.array_equal(as_array(loaded[k]).values, as_array(before[k]).values) for k in KEYS):
        msg = "after load, net.params still holds the fresh net's own parameters, not the saved ones"
        return Verdict(False, msg, "load must restore what save wrote: self.params = torch.load(path) (and save "
                       "must write self.params: torch.save(self.params, path)).", msg)
    cmps = [compare_arrays(f"loaded params['{k}']", loaded.get(k), saved[k], 0.0, dtype="float64")
            if k in loaded else _missing(f"loaded params['{k}']", loaded) for k in KEYS]
    v = _verdict(cmps, {})
    if v.passed:
        return Verdict(True, "load restored the saved parameters (values and dtype)")
    if all(c.problem == "dtype" for c in cmps if not c.passed):
        return replace(v, hint="the values came back but not their dtype: load the saved tensors as they are "
                       "(torch.load), without converting them to the fresh net's dtype.")
    return v


def accuracy(got, expected, ctx: JudgeContext) -> Verdict:
    """Validation accuracy computed here, from the predictions on held-out rows whose
    labels the grader reads itself (they never reach the student's code)."""
    from grader.datasets import load_digits_arrays, load_mnist_arrays

    mnist = ctx.option("mnist_dir")
    data = "mnist" if mnist else "digits"
    threshold = float(ctx.options[f"min_{data}_accuracy"])
    labels = (load_mnist_arrays(mnist) if mnist else load_digits_arrays(0.2, 0)).y_val
    pred = as_array(got.get("predictions")) if isinstance(got, dict) else None
    if pred is None or pred.values.reshape(-1).shape != labels.shape or pred.values.dtype.kind not in "iub":
        what = describe(got.get("predictions")) if isinstance(got, dict) else describe(got)
        msg = f"net.predict(X_val) returned {what}, expected {labels.shape[0]} integer labels"
        return Verdict(False, msg, None, msg)
    acc = float(np.mean(pred.values.reshape(-1) == labels))
    ref_pred = as_array(expected.get("predictions")) if expected and expected.get("data") == data else None
    ref = f" (the reference reaches {float(np.mean(ref_pred.values.reshape(-1) == labels)):.3f})" \
        if ref_pred is not None else ""
    if acc < threshold:
        msg = f"validation accuracy on {data}: {acc:.3f}, needs at least {threshold:.2f}{ref}"
        return Verdict(False, msg, None, f"validation accuracy on {data}: {acc:.3f}, needs at least {threshold:.2f}")
    return Verdict(True, f"validation accuracy on {data}: {acc:.3f} >= {threshold:.2f}{ref}")
