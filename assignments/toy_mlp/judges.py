"""How each check decides. Runs in the grader's process, never next to student code.

``judge(got, expected, ctx) -> Verdict``: ``got`` is what the probe returned for the
student, ``expected`` what it returned for the reference solution, ``ctx.inputs``
the inputs both received and ``ctx.mistakes`` what the usual mistakes would have
produced on them (computed on the instructor's side). NumPy (and matplotlib, for
the pictures) only.
"""
from __future__ import annotations

import io
import logging

import numpy as np

from grader.checks import (Figure, Verdict, as_array, as_number, compare_arrays, describe, diagnose, verdict_from,
                           with_partial_credit)
from grader.checks.compare import Comparison
from grader.checks.judges import JudgeContext
from grader.checks.trajectory import as_sequence, compare_trajectory, matching_variant, trajectory_pattern

log = logging.getLogger(__name__)

KEYS = ("i.weight", "o.weight")
SHAPES = {"i.weight": (2, 3), "o.weight": (1, 2)}

__all__ = ["manual_grads", "by_hand", "train_trajectory", "descent", "accuracy"]


def _fail(msg: str, hint: str | None = None) -> Verdict:
    return Verdict(False, msg, hint, msg)


# -- manual_gradients ---------------------------------------------------------------------
def manual_grads(got, expected, ctx: JudgeContext) -> Verdict:
    """manual_gradients' dict against autograd's gradients (from the reference run)."""
    tol = float(ctx.options.get("tolerance", 1e-9))
    X = np.asarray(ctx.inputs["X"])
    N = 1 if X.ndim == 1 else X.shape[0]
    label = f"manual_gradients(model, X, y), X of shape {tuple(X.shape)}"
    manual = got.get("manual")
    if not isinstance(manual, dict) or "__object__" in manual or "__tensor__" in manual:
        return _fail(f"{label} should return a dict with keys {list(KEYS)}; it returned {describe(manual)}")
    cmps, hints = [], {}
    variants = (ctx.mistakes or {}).get("grads", {})
    for key in KEYS:
        if key not in manual:
            msg = f"grads['{key}'] is missing; the dict has keys {sorted(manual)}"
            cmps.append(Comparison(f"grads['{key}']", False, "type", msg, msg))
            hints[f"grads['{key}']"] = ("name the entries as model.named_parameters() does: 'i.weight' for "
                                        "model.i.weight and 'o.weight' for model.o.weight.")
            continue
        c = compare_arrays(f"grads['{key}']", manual[key], expected["autograd"][key], tol)
        cmps.append(c)
        if not c.passed:
            hints[c.label] = _grad_hint(c, key, N, variants.get(key, {}), tol)
    v = verdict_from(cmps, hint_for=lambda c: hints.get(c.label))
    if v.passed:
        return Verdict(True, f"{label}: both gradients match autograd's; {v.message}")
    return Verdict(False, f"{label}, against autograd (BCELoss, mean over the batch):\n{v.message}", v.hint,
                   f"{label}, against autograd:\n{v.redacted}")


def _grad_hint(c: Comparison, key: str, N: int, variants: dict, tol: float) -> str | None:
    want = SHAPES[key]
    if c.problem == "shape" and c.got is not None and c.got.size == int(np.prod(want)) and c.got.shape != want[::-1]:
        return (f"{c.label} has the right number of entries in shape {tuple(c.got.shape)}: return it shaped like "
                f"model.{key.split('.')[0]}.weight, {want}.")
    return diagnose(c, {"variants": variants, "tolerance": tol, "N": N if N > 1 else None,
                        "what": "the mean over the batch (BCELoss averages by default)"})


def by_hand(got, expected, ctx: JudgeContext) -> Verdict:
    """No autograd inside manual_gradients, and the model left as it was given:
    no .grad, same weights, still requiring gradients."""
    problems, hint = [], None
    for case, what in (("sample", "the lecture's sample"), ("batch", "a batch")):
        r = got.get(case) or {}
        used = sorted(set(r.get("used") or []))
        if used:
            problems.append(f"on {what}, manual_gradients called {', '.join(used)}")
            hint = hint or ("compute the gradients from model.i.weight and model.o.weight with the chain rule "
                            "(sigmoid'(z) = s * (1 - s)); autograd is what you compare against, not what you use.")
        left = sorted((r.get("grads_left") or {}).keys())
        if left:
            problems.append(f"on {what}, the model was left with .grad set on {', '.join(left)}")
            hint = hint or ("leave the model as you found it: no backward() on it (or reset with "
                            "model.zero_grad(set_to_none=True) if you used it to check yourself).")
        data = ctx.inputs[case]
        for name, value in (r.get("values") or {}).items():
            a = as_array(value)
            if a is None or not np.allclose(a.values, np.asarray(data["weights"][name]), rtol=1e-12, atol=0):
                problems.append(f"on {what}, manual_gradients changed the weights {name}")
                hint = hint or "read the weights, do not update them: compute new tensors instead of in-place ops."
        frozen = [n for n, rg in (r.get("requires_grad") or {}).items() if not rg]
        if frozen:
            problems.append(f"on {what}, {', '.join(frozen)} no longer require gradients")
            hint = hint or ("do not call requires_grad_(False) on the model's weights: read them under "
                            "torch.no_grad() or with .detach().")
    if problems:
        return _fail("; ".join(problems[:4]), hint)
    # By hand and harmless pays only for right gradients: zeros use no autograd either.
    right = [case for case in ("sample", "batch") if _right_grads((got.get(case) or {}).get("manual"),
                                                                   (expected.get(case) or {}).get("manual"))]
    if len(right) == 2:
        return Verdict(True, "manual_gradients uses no autograd, leaves the model as it was (no .grad, same "
                             "weights) and gives the reference's gradients")
    wrong = [what for case, what in (("sample", "the lecture's sample"), ("batch", "a batch")) if case not in right]
    msg = (f"manual_gradients uses no autograd and leaves the model as it was, but its gradients on "
           f"{' and '.join(wrong)} are not autograd's, so no credit for {'them' if len(wrong) > 1 else 'it'}")
    first = "manual_grads_lecture_sample" if "sample" not in right else "manual_grads_batch"
    return with_partial_credit(Verdict(False, msg, f"fix {first} first: this check pays only for gradients that are "
                                       f"right.", msg), {case: case in right for case in ("sample", "batch")}, ctx.options)


def _right_grads(got, expected, tol: float = 1e-9) -> bool:
    if not isinstance(got, dict) or not isinstance(expected, dict) or "__tensor__" in got or "__object__" in got:
        return False
    return all(k in got and compare_arrays(k, got[k], expected[k], tol).passed for k in KEYS)


# -- train ----------------------------------------------------------------------------------
def train_trajectory(got, expected, ctx: JudgeContext) -> Verdict:
    """train's losses per epoch from a fixed initialisation, against the reference."""
    o, inputs = ctx.options, ctx.inputs
    tol = float(o.get("tolerance", 2e-5))
    args = ", ".join(f"{k}={inputs[k]:g}" for k in ("epochs", "lr") if inputs.get(k) is not None)
    label = (f"train(m, X, y, {args})" if args else "train(m, X, y) with its defaults") + \
        f" in {o.get('dtype', 'float64')}"
    c = compare_trajectory("losses", got.get("losses"), expected["losses"], tol, step="epoch")
    if c.passed:
        return Verdict(True, f"{label}: the losses match the reference ({c.message.split(': ', 1)[1]})")
    hint = matching_variant(c, (ctx.mistakes or {}).get("losses", {}), max(10 * tol, 1e-6))
    made = got.get("optimizers") or []
    want_lr = 1.0 if inputs.get("lr") is None else float(inputs["lr"])
    if hint is None:
        if not made:
            hint = "no torch.optim optimizer was created: use torch.optim.SGD(m.parameters(), lr=lr)."
        elif len(made) > 1:
            hint = f"{len(made)} optimizers were created: build one SGD optimizer before the loop."
        elif made[0]["type"] != "SGD":
            hint = f"the optimizer is torch.optim.{made[0]['type']}; the assignment uses torch.optim.SGD."
        elif made[0]["lr"] is not None and abs(made[0]["lr"] - want_lr) > 1e-9 * want_lr:
            hint = (f"your SGD was built with lr={made[0]['lr']:g}, but train was called with lr={want_lr:g}: "
                    f"torch.optim.SGD(m.parameters(), lr=lr).")
        elif not got.get("zero_grad_calls"):
            hint = ("the gradients are never zeroed: .grad accumulates across backward() calls, so each step "
                    "follows the sum of all past gradients. Call optimizer.zero_grad() every epoch.")
    hint = hint or trajectory_pattern(c, tol, step="epoch", record="loss.item()", update="optimizer.step()")
    return Verdict(False, f"{label}:\n{c.message}", hint, f"{label}:\n{c.redacted}")


def accuracy(got, expected, ctx: JudgeContext) -> Verdict:
    data = got.get("data", "digits")
    threshold = float(ctx.options[f"min_{data}_accuracy"])
    acc = as_number(got.get("test_acc"))
    if acc is None:
        return _fail(f"test accuracy could not be measured ({describe(got.get('test_acc'))})")
    where = f"{data} ({got.get('num_train')} training, {got.get('num_test')} test images)"
    ref = f" (the reference reaches {expected['test_acc']:.3f})" if expected and data == expected.get("data") else ""
    hp = ctx.options[data]
    if acc >= threshold:
        return Verdict(True, f"MLP trained with train(epochs={hp['epochs']}, lr={hp['lr']:g}) on {where}: "
                             f"test accuracy {acc:.3f} >= {threshold:.2f}{ref}")
    losses = as_sequence(got.get("losses"))
    hint = None
    if losses is not None and losses.size and not np.all(np.isfinite(losses)):
        hint = "the loss became inf/NaN during training: check the update and the learning rate."
    elif losses is not None and losses.size >= 2 and losses[-1] >= losses[0]:
        hint = "the training loss did not go down: check that each epoch calls backward() and optimizer.step()."
    msg = f"MLP trained with train(epochs={hp['epochs']}, lr={hp['lr']:g}) on {where}: test accuracy {acc:.3f}, " \
          f"needs at least {threshold:.2f}"
    return Verdict(False, msg + ref, hint, msg)


# -- gradient descent -----------------------------------------------------------------------
def descent(got, expected, ctx: JudgeContext) -> Verdict:
    """gd / gd_momentum iterates on f(x) = x**2, exactly (up to rounding), as a NumPy array."""
    o, inputs = ctx.options, ctx.inputs
    name = o.get("function", "gd")
    tol = float(o.get("tolerance", 1e-12))
    args = [f"x0={inputs['x0']:g}", "grad", f"alpha={inputs['alpha']:g}"]
    if name == "gd_momentum" and inputs.get("beta") is not None:
        args.append(f"beta={inputs['beta']:g}")
    if inputs.get("max_iter") is not None:
        args.append(f"max_iter={int(inputs['max_iter'])}")
    label = f"{name}({', '.join(args)}) on f(x) = x**2"
    exp = as_sequence(expected["xs"])
    atol = tol * max(1.0, abs(float(inputs["x0"])))
    c = compare_trajectory("xs", got.get("xs"), exp, tol, atol=atol, step="iterate", kind="ndarray")
    figures = _descent_figure(name, label, got.get("xs"), exp, ctx)
    if c.passed:
        return Verdict(True, f"{label}: all {exp.size} iterates match the reference "
                             f"({c.message.split(': ', 1)[1]})", figures=figures)
    hint = None
    g = as_sequence(got.get("xs"))
    if c.problem == "type" and g is not None:
        hint = "return a NumPy array: np.array(xs), with xs the list of iterates."
    elif c.problem == "shape" and g is not None and g.size == exp.size - 1:
        hint = (f"{exp.size} iterates expected (x0 and max_iter = {exp.size - 1} updates)"
                + (": x0 is missing at the start." if _close(g, exp[1:], tol, atol) else "."))
    elif c.problem == "shape" and g is not None and g.size == exp.size + 1:
        hint = f"{exp.size} iterates expected (x0 and max_iter = {exp.size - 1} updates): one step too many."
    if hint is None:
        hint = matching_variant(c, (ctx.mistakes or {}).get("xs", {}), max(10 * tol, 1e-9))
    if hint is None and c.problem == "nonfinite" and name == "gd_momentum":
        hint = "inf/NaN at the first step: the bias correction 1 - beta ** t is 0 for t = 0; count steps from t = 1."
    if hint is None:
        hint = trajectory_pattern(c, tol, step="iterate", record="x", update="the update")
    return Verdict(False, f"{label}:\n{c.message}", hint, f"{label}:\n{c.redacted}", figures=figures)


def _close(a: np.ndarray, b: np.ndarray, tol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= np.maximum(tol * (np.abs(a) + np.abs(b)), atol)))


def _descent_figure(name: str, label: str, got, expected: np.ndarray, ctx: JudgeContext) -> tuple:
    """The iterates on the parabola and against the step number, yours next to the reference's."""
    if ctx.check.endswith("hidden"):
        return ()
    try:
        from matplotlib.figure import Figure as MplFigure
    except Exception:  # no matplotlib: the report goes without the picture
        return ()
    try:
        yours = as_sequence(got)
        fig = MplFigure(figsize=(8.4, 3.2))
        ax1, ax2 = fig.subplots(1, 2)
        finite = [v for v in (expected, yours) if v is not None and v.size and np.all(np.isfinite(v))]
        span = max(float(np.max(np.abs(np.concatenate(finite)))), 1e-3) * 1.15
        grid = np.linspace(-span, span, 200)
        ax1.plot(grid, grid ** 2, color="0.75", lw=1)
        ax1.plot(expected, expected ** 2, "o-", color="tab:blue", ms=4, lw=1, label="reference")
        if yours is not None and yours.size and np.all(np.isfinite(yours)):
            ax1.plot(yours, yours ** 2, "x--", color="tab:red", ms=6, lw=1, label="yours")
            ax2.plot(np.arange(yours.size), yours, "x--", color="tab:red", ms=6, lw=1, label="yours")
        ax1.set_xlabel("x")
        ax1.set_ylabel("f(x) = x²")
        ax1.legend(fontsize=8)
        ax2.plot(np.arange(expected.size), expected, "o-", color="tab:blue", ms=4, lw=1, label="reference")
        ax2.axhline(0.0, color="0.75", lw=1)
        ax2.set_xlabel("iteration t")
        ax2.set_ylabel("x_t")
        ax2.legend(fontsize=8)
        fig.suptitle(label, fontsize=9)
        # A fixed layout and no tight bounding box: each automatic layout pass redraws the figure.
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.88, wspace=0.25)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        return (Figure(f"{name}: the iterates on f(x) = x² (left) and x_t against t (right), yours and the "
                       f"reference's", buf.getvalue()),)
    except Exception:  # a picture must never cost a grade
        log.exception("drawing the %s figure failed", name)
        return ()
