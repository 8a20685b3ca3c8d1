"""How each check decides. Runs in the grader's process, never next to student code.

``judge(got, expected, ctx) -> Verdict``: ``got`` is what the probe returned for the
student, ``expected`` what it returned for the reference solution, ``ctx.inputs``
the inputs both received and ``ctx.mistakes`` what the usual mistakes would have
produced on them (computed on the instructor's side). NumPy only.
"""
from __future__ import annotations

import numpy as np

from grader.checks import Verdict, as_array, compare_arrays, describe, diagnose, verdict_from, with_partial_credit
from grader.checks.compare import Comparison
from grader.checks.diagnose import known_variant
from grader.checks.judges import JudgeContext
from grader.checks.trajectory import compare_trajectory, matching_variant, trajectory_pattern

GRADS = ("grad_w1", "grad_w2")
FUNCTIONS = {"numpy": "numpy_forward_backward(x, y, w1, w2)", "torch": "torch_forward_backward(x, y, w1, w2)"}

__all__ = ["loss_and_grads", "gradients_vs_numeric", "versions_agree", "no_autograd", "inputs_unchanged",
           "numpy_trajectory", "autograd_trajectory", "optim_trajectory", "model_structure", "defaults"]


def _fail(msg: str, hint: str | None = None) -> Verdict:
    return Verdict(False, msg, hint, msg)


def _variant_hint(cmp: Comparison, variants: dict, tol: float) -> str | None:
    return diagnose(cmp, {"variants": variants or {}, "tolerance": tol})


def _triple(got, label: str) -> str | None:
    if not isinstance(got, list) or len(got) != 3:
        return f"{label} should return (loss, grad_w1, grad_w2); it returned {describe(got)}"
    return None


def _compare_triple(got, expected, label: str, tol: float, ltol: float, *, kind: str, dtype: str | None,
                    device: str | None, mistakes: dict | None) -> tuple[list[Comparison], dict]:
    cmps, hints = [], {}
    mistakes = mistakes or {}
    c = compare_arrays("loss", got[0], expected[0], ltol, kind=kind, device=device)
    cmps.append(c)
    if not c.passed:
        hints[c.label] = _loss_hint(c, mistakes.get("loss", {}), ltol)
    for i, key in enumerate(GRADS, start=1):
        c = compare_arrays(key, got[i], expected[i], tol, kind=kind, dtype=dtype, device=device)
        cmps.append(c)
        if not c.passed:
            hints[c.label] = _variant_hint(c, mistakes.get("grads", {}).get(key, {}), tol)
    return cmps, hints


def _loss_hint(c: Comparison, variants: dict, tol: float) -> str | None:
    if c.got is None:
        return diagnose(c)
    got = float(np.asarray(c.got).reshape(-1)[0])
    for hint, value in variants.items():
        if abs(got - value) <= max(tol, 1e-9) * max(1.0, abs(value)):
            return hint
    return diagnose(c)


def loss_and_grads(got, expected, ctx: JudgeContext) -> Verdict:
    """(loss, grad_w1, grad_w2) against the reference.

    Options: ``version`` ("numpy": NumPy arrays out; "torch": tensors of the input's
    dtype on the input's device), ``tolerance`` (grads), ``loss_tolerance``, ``dtype``.
    """
    o = ctx.options
    version = o.get("version", "numpy")
    label = FUNCTIONS[version]
    problem = _triple(got, label)
    if problem:
        return _fail(problem)
    tol = float(o.get("tolerance", 1e-9))
    kind = "ndarray" if version == "numpy" else "tensor"
    cmps, hints = _compare_triple(got, expected, label, tol, float(o.get("loss_tolerance", tol)), kind=kind,
                                  dtype=o.get("dtype", "float64") if version == "torch" else None,
                                  device=ctx.device if version == "torch" else None, mistakes=ctx.mistakes)
    v = verdict_from(cmps, hint_for=lambda c: hints.get(c.label))
    if v.passed:
        return Verdict(True, f"{label}: loss and both gradients match the reference; {v.message}")
    return Verdict(False, f"{label}:\n{v.message}", v.hint, f"{label}:\n{v.redacted}")


def gradients_vs_numeric(got, expected, ctx: JudgeContext) -> Verdict:
    """The student's analytic gradients against central differences of the student's own loss."""
    tol = float(ctx.options.get("tolerance", 1e-6))
    label = FUNCTIONS[ctx.options.get("version", "numpy")]
    analytic, numeric = got.get("analytic", {}), got.get("numeric", {})
    cmps = []
    for key in GRADS:
        c = compare_arrays(key, analytic.get(key), numeric[key], tol)
        if not c.passed:
            c = Comparison(c.label, False, c.problem, c.message.replace("expected", "numeric gradient of your loss"),
                           c.redacted, c.got, c.expected, c.rel_error)
        cmps.append(c)
    loss = compare_arrays("loss", got.get("loss"), expected["loss"], float(ctx.options.get("loss_tolerance", 1e-9)))
    # With the lecture's loss, its slope is the true gradient: a known mistake in the backward
    # pass then shows as itself (checked before the ratio patterns, which assume nothing).
    variants = (ctx.mistakes or {}).get("grads", {}) if loss.passed else {}
    v = verdict_from(cmps, hint_for=lambda c: known_variant(c, {"variants": variants.get(c.label, {}), "tolerance": tol})
                     or _numeric_hint(c, ctx))
    if v.passed and not loss.passed:
        # Gradients that follow a wrong loss (zeros follow a zero loss) earn nothing here.
        first = "numpy_loss_and_grads" if ctx.options.get("version", "numpy") == "numpy" else "torch_loss_and_grads"
        return Verdict(False, f"{label}: the gradients agree with central differences of your own loss, but that "
                              f"loss is not the lecture's:\n{loss.message}",
                       f"fix the loss first (see {first}): agreeing with the slope of a wrong loss earns nothing.",
                       f"{label}: the gradients follow your own loss, which is not the lecture's:\n{loss.redacted}")
    if v.passed:
        return Verdict(True, f"{label}: both gradients agree with central differences of your own loss; "
                             f"{v.message}")
    hint = v.hint or ("your gradients do not follow your own loss: the backward pass and the forward pass "
                      "disagree. Walk the forward code backwards, one line at a time: the derivative of the "
                      "squared error, which array each matrix product uses, and where the ReLU lets the "
                      "gradient through.")
    return Verdict(False, f"{label} vs central differences (h = 1e-6) of its own loss:\n{v.message}", hint,
                   f"{label} vs central differences of its own loss:\n{v.redacted}")


def _numeric_hint(c: Comparison, ctx: JudgeContext) -> str | None:
    """A constant ratio between the analytic and the numeric gradient names the mismatch."""
    if c.got is None or c.expected is None or c.got.shape != c.expected.shape:
        return diagnose(c)
    g, e = c.got.reshape(-1), c.expected.reshape(-1)
    denom = float(e @ e)
    if denom > 0 and np.all(np.isfinite(g)):
        ratio = float(g @ e) / denom
        entries = int(np.asarray(ctx.inputs["y"]).size)
        if np.allclose(g, ratio * e, rtol=1e-5, atol=1e-8 * float(np.abs(e).max())):
            if abs(ratio - entries) < 1e-4 * entries:
                return (f"{c.label} is {entries}x the slope of your loss, and y has {entries} entries: the loss "
                        f"is divided by their number (a mean) but the gradient is not. The lecture's loss is the "
                        f"sum of squares; keep both as sums.")
            if abs(ratio - 0.5) < 1e-6:
                return (f"{c.label} is half the slope of your loss: the factor 2 of d/dy_pred (y_pred - y) ** 2 "
                        f"= 2 * (y_pred - y) is missing.")
            if abs(ratio - 2) < 1e-6:
                return (f"{c.label} is twice the slope of your loss: is the loss halved (0.5 * sum) while the "
                        f"gradient is not?")
            if abs(ratio + 1) < 1e-6:
                return (f"{c.label} has the wrong sign everywhere: d loss / d y_pred is 2 * (y_pred - y), "
                        f"not 2 * (y - y_pred).")
    hint = diagnose(c)
    return hint and hint.replace("the reference", "the numeric gradient of your loss")


def versions_agree(got, expected, ctx: JudgeContext) -> Verdict:
    """The NumPy and torch versions give the same loss and gradients on the same numbers."""
    tol = float(ctx.options.get("tolerance", 1e-10))
    for version in ("numpy", "torch"):
        problem = _triple(got.get(version), FUNCTIONS[version])
        if problem:
            return _fail(problem)
    cmps = [compare_arrays(name, got["torch"][i], got["numpy"][i], tol)
            for i, name in enumerate(("loss",) + GRADS)]
    v = verdict_from(cmps, hint_for=lambda c: None)
    off = [version for version in ("numpy", "torch") if not _right(got[version], expected[version], tol)]
    if v.passed and not off:
        return Verdict(True, f"numpy_forward_backward and torch_forward_backward agree, and both are right; "
                             f"{v.message}")
    if off == ["numpy"]:
        hint = ("your torch version matches the reference here and your NumPy version does not: "
                "fix numpy_forward_backward.")
    elif off == ["torch"]:
        hint = ("your NumPy version matches the reference here and your torch version does not: "
                "fix torch_forward_backward.")
    elif v.passed:
        hint = ("fix numpy_loss_and_grads and torch_loss_and_grads first: the two versions agree, but on values "
                "that are not the lecture's.")
    else:
        hint = ("the two versions should do the same arithmetic: compare them line by line "
                "(x.dot(w1) / x.mm(w1), np.maximum / clamp(min=0), .T / .t()).")
    if v.passed:
        msg = (f"the two versions agree with each other, but {' and '.join(FUNCTIONS[o].split('(')[0] for o in off)} "
               f"{'do' if len(off) > 1 else 'does'} not match the reference on these inputs")
        return Verdict(False, msg, hint, msg)
    msg = "torch_forward_backward (yours) vs numpy_forward_backward (yours) on the same inputs:\n" + \
        v.message.replace("expected", "NumPy version")
    return Verdict(False, msg, hint, msg)


def _right(got, expected, tol: float) -> bool:
    """(loss, grad_w1, grad_w2) equal to the reference's on the same inputs."""
    if _triple(got, "") or _triple(expected, ""):
        return False
    return all(compare_arrays(n, got[i], expected[i], tol).passed for i, n in enumerate(("loss",) + GRADS))


def _right_versions(got, expected, tol: float = 1e-9) -> list[str]:
    """The hand-written versions whose outputs in this probe are the reference's."""
    return [v for v in ("numpy", "torch") if _right(got.get(f"{v}_out"), expected.get(f"{v}_out"), tol)]


def no_autograd(got, expected, ctx: JudgeContext) -> Verdict:
    """No Tensor.backward / torch.autograd.grad inside the hand-written versions, and
    torch_forward_backward's outputs carry no autograd graph. Half the points per version,
    and only for a version that also computes the right values."""
    problems = {"numpy": [], "torch": []}
    for version in ("numpy", "torch"):
        used = got.get(f"{version}_used") or []
        if used:
            problems[version].append(f"{FUNCTIONS[version].split('(')[0]} called "
                                     f"{', '.join(sorted({str(u) for u in used}))}")
    rg = got.get("torch_requires_grad") or []
    gf = got.get("torch_has_grad_fn") or []
    names = ("loss", "grad_w1", "grad_w2")
    flagged = [names[i] for i in range(min(len(names), len(rg))) if rg[i] or (i < len(gf) and gf[i])]
    if flagged:
        problems["torch"].append(f"torch_forward_backward returned {', '.join(flagged)} with requires_grad=True "
                                 f"(inputs had requires_grad=False)")
    if not got.get("grad_was_enabled", True):
        problems["torch"].append("torch_forward_backward left autograd switched off (torch.set_grad_enabled(False))")
    return _credit_right_versions(got, expected, ctx.options, "neither version uses autograd; torch_forward_backward's outputs "
                                  "carry no graph", "use no autograd", problems,
                                  "these two versions compute the gradients by hand, as the lecture's first two parts "
                                  "do: no requires_grad, no .backward(), no torch.autograd; autograd comes in "
                                  "autograd_train.")


def _credit_right_versions(got, expected, options: dict, ok: str, what: str, problems: dict | None = None,
                           problem_hint: str | None = None) -> Verdict:
    """A property of both versions pays per version (``options.partial``): for a version that has
    it (no entry in ``problems``) and whose values are right."""
    problems = problems or {}
    right = _right_versions(got, expected)
    has = [v for v in ("numpy", "torch") if not problems.get(v)]
    credited = [v for v in has if v in right]
    if len(credited) == 2:
        return Verdict(True, ok + "; both compute the reference's values")
    lines = [line for v in ("numpy", "torch") for line in problems.get(v, [])]
    wrong = [v for v in has if v not in right]
    if wrong:
        names = " and ".join(FUNCTIONS[v].split("(")[0] for v in wrong)
        lines.append(f"{names}: {what}, but the values are not the reference's, so no credit for "
                     f"{'them' if len(wrong) > 1 else 'it'}")
    if any(problems.get(v) for v in ("numpy", "torch")):
        hint = problem_hint
    else:
        hint = f"fix {' and '.join(f'{v}_loss_and_grads' for v in wrong)} first: this check pays only for a version " \
               f"that also computes the right values."
    msg = "; ".join(lines)
    return with_partial_credit(Verdict(False, msg, hint, msg), {v: v in credited for v in ("numpy", "torch")}, options)


def inputs_unchanged(got, expected, ctx: JudgeContext) -> Verdict:
    """Both hand-written versions leave x, y, w1, w2 as they were: half the points per version,
    and only for a version that also computes the right values."""
    changed = {"numpy": [], "torch": []}
    for version in ("numpy", "torch"):
        after = got.get(version) if isinstance(got.get(version), dict) else {}
        for name in ("x", "y", "w1", "w2"):
            a = as_array(after.get(name))
            want = np.asarray(ctx.inputs[name], dtype=np.float64)
            if a is None or a.values.shape != want.shape or not np.array_equal(a.values.astype(np.float64), want):
                changed[version].append(name)
    problems = {v: [f"{FUNCTIONS[v].split('(')[0]} changed {', '.join(names)} in place"] if names else []
                for v, names in changed.items()}
    return _credit_right_versions(got, expected, ctx.options, "x, y, w1 and w2 are unchanged after both functions",
                                  "the inputs are unchanged", problems,
                                  "an in-place operation (+=, -=, *=, slice assignment, np.maximum(h, 0, out=h), "
                                  "clamp_) modified an input: work on new arrays (e.g. grad_h = grad_h_relu.copy() "
                                  "before masking it).")


# -- training -------------------------------------------------------------------------------
def _mean_hint(c: Comparison, ctx: JudgeContext, advice: str) -> str | None:
    """The first loss (before any step) is the reference's over the number of entries of y: a mean."""
    g, e = c.got, c.expected
    if c.problem != "values" or g is None or e is None or not g.size:
        return None
    n_out = int(np.asarray(ctx.inputs["y"]).size)
    if abs(g[0] * n_out - e[0]) <= 1e-4 * abs(e[0]):
        return (f"your first loss is the reference's divided by {n_out} = N * D_out, the number of entries of y: "
                f"{advice}")
    return None


def _losses_verdict(label: str, got, expected, ctx: JudgeContext, tol: float, variants: dict,
                    record: str = "the loss") -> tuple[Comparison, str | None]:
    c = compare_trajectory(label, got, expected, tol, step="epoch")
    hint = None
    if not c.passed:
        hint = matching_variant(c, variants, max(10 * tol, 1e-6)) or \
            _mean_hint(c, ctx, "a mean squared error; the lecture's loss is the sum of squares.") or \
            trajectory_pattern(c, tol, step="epoch", record=record, update="the weight update")
    return c, hint


def numpy_trajectory(got, expected, ctx: JudgeContext) -> Verdict:
    """numpy_train: losses per epoch and the trained weights, against the reference."""
    o = ctx.options
    tol = float(o.get("tolerance", 1e-8))
    variants = (ctx.mistakes or {}).get("losses", {})
    c, hint = _losses_verdict("losses", got.get("losses"), expected["losses"], ctx, tol, variants)
    cmps = [c]
    hints = {"losses": hint}
    for name in ("w1", "w2"):
        w = compare_arrays(name, got.get(name), expected[name], float(o.get("weight_tolerance", tol)),
                           kind="ndarray")
        cmps.append(w)
        if not w.passed and c.passed:
            same_as_start = as_array(got.get(name)) is not None and \
                np.array_equal(as_array(got.get(name)).values, np.asarray(ctx.inputs[name]))
            hints[w.label] = ("the returned weights are the initial ones: return the trained w1, w2 "
                              "(the ones the loop updated)." if same_as_start else None)
    v = verdict_from(cmps, hint_for=lambda cmp: hints.get(cmp.label))
    if v.passed:
        return Verdict(True, f"numpy_train: {len(expected['losses'])} losses and the trained weights match the "
                             f"reference ({c.message.split(': ', 1)[1]})")
    return Verdict(False, f"numpy_train(x, y, w1, w2, learning_rate={ctx.inputs['learning_rate']:g}, "
                          f"num_epochs={int(ctx.inputs['num_epochs'])}); losses, then the returned w1 and w2:\n"
                          f"{v.message}", v.hint,
                   f"numpy_train:\n{v.redacted}")


def autograd_trajectory(got, expected, ctx: JudgeContext) -> Verdict:
    """autograd_train: losses per epoch, and the caller's w1, w2 trained in place."""
    o = ctx.options
    tol = float(o.get("tolerance", 1e-5))
    epochs = int(ctx.inputs["num_epochs"])
    variants = (ctx.mistakes or {}).get("losses", {})
    c, hint = _losses_verdict("losses", got.get("losses"), expected["losses"], ctx, tol, variants)
    cmps, hints = [c], {"losses": hint}
    for name in ("w1", "w2"):
        w = compare_arrays(name, got.get(name), expected[name],
                           float(o.get("weight_tolerance", tol)), dtype=o.get("dtype"), device=ctx.device)
        cmps.append(w)
        if not w.passed and c.passed:
            unchanged = as_array(got.get(name)) is not None and np.allclose(
                as_array(got.get(name)).values, np.asarray(ctx.inputs[name]), rtol=1e-6, atol=1e-7)
            hints[w.label] = ("the w1, w2 you were given were not updated: update them in place "
                              "(w1 -= learning_rate * w1.grad under torch.no_grad()), not a copy."
                              if unchanged else None)
    v = verdict_from(cmps, hint_for=lambda cmp: hints.get(cmp.label))
    calls = got.get("backward_calls")
    if v.passed and calls != epochs:
        return _fail(f"autograd_train: the losses are right but loss.backward() ran {calls} times for "
                     f"num_epochs = {epochs}", "call loss.backward() once per epoch; let autograd compute the "
                     "gradients.")
    if v.passed:
        return Verdict(True, f"autograd_train: {epochs} losses and the trained w1, w2 match the reference "
                             f"({c.message.split(': ', 1)[1]})")
    return Verdict(False, f"autograd_train(x, y, w1, w2, learning_rate={ctx.inputs['learning_rate']:g}, "
                          f"num_epochs={epochs}) in {o.get('dtype', 'float64')}; losses, then w1 and w2 after "
                          f"training:\n{v.message}", v.hint,
                   f"autograd_train:\n{v.redacted}")


def optim_trajectory(got, expected, ctx: JudgeContext) -> Verdict:
    """optim_train: losses per epoch from a fixed initialisation; the optimizers it built."""
    o = ctx.options
    tol = float(o.get("tolerance", 1e-5))
    label = (f"optim_train(model, x, y, learning_rate={float(ctx.inputs['learning_rate']):g}, "
             f"num_epochs={int(ctx.inputs['num_epochs'])}) in {o.get('dtype', 'float64')}")
    c = compare_trajectory("losses", got.get("losses"), expected["losses"], tol, step="epoch")
    if c.passed:
        return Verdict(True, f"{label}: the losses match the reference ({c.message.split(': ', 1)[1]})")
    made = got.get("optimizers") or []
    want_lr = float(expected["learning_rate"])
    hint = None
    if not made:
        hint = "no torch.optim optimizer was created: build torch.optim.Adam(model.parameters(), lr=learning_rate)."
    elif len(made) > 1:
        hint = (f"{len(made)} optimizers were created: build one before the loop (a new Adam each epoch "
                f"forgets its running averages).")
    elif made[0]["type"] != "Adam":
        hint = f"the optimizer is torch.optim.{made[0]['type']}; the lecture uses torch.optim.Adam."
    elif made[0]["lr"] is not None and abs(made[0]["lr"] - want_lr) > 1e-9 * want_lr:
        hint = (f"your Adam was built with lr={made[0]['lr']:g}, but optim_train was called with "
                f"learning_rate={want_lr:g}: pass the argument, torch.optim.Adam(model.parameters(), "
                f"lr=learning_rate). (The lecture's cell created its optimizer before assigning learning_rate, "
                f"so it silently kept the previous cell's value.)")
    elif not got.get("zero_grad_calls"):
        hint = ("zero_grad was never called: .grad accumulates across backward() calls, so every step used the "
                "sum of all gradients so far. Call optimizer.zero_grad() before loss.backward() each epoch.")
    if hint is None:
        hint = _mean_hint(c, ctx, "MSELoss averages by default; the lecture sums, MSELoss(reduction='sum').")
    if hint is None:
        hint = trajectory_pattern(c, tol, step="epoch", record="loss.item()", update="optimizer.step()")
    return Verdict(False, f"{label}:\n{c.message}", hint, f"{label}:\n{c.redacted}")


def model_structure(got, expected, ctx: JudgeContext) -> Verdict:
    """build_model(D_in, H, D_out): Sequential(Linear(D_in, H), ReLU(), Linear(H, D_out))."""
    D_in, H, D_out = (int(s) for s in ctx.inputs["sizes"])
    want = f"Sequential(Linear({D_in}, {H}), ReLU(), Linear({H}, {D_out}))"

    def show(layers):
        parts = []
        for m in layers:
            if m["type"] == "Linear":
                bias = "" if m["bias"] else ", bias=False"
                parts.append(f"Linear({m['in_features']}, {m['out_features']}{bias})")
            else:
                parts.append(f"{m['type']}()")
        return ", ".join(parts)

    if not got.get("is_sequential"):
        return _fail(f"build_model({D_in}, {H}, {D_out}) returned a {got.get('class')}, expected {want}",
                     "return a torch.nn.Sequential of the three layers (the other building blocks take "
                     "other arguments).")
    layers = got.get("layers") or []
    yours = f"Sequential({show(layers)})"
    if layers == expected["layers"] and got.get("output_shape") == expected["output_shape"]:
        return Verdict(True, f"build_model({D_in}, {H}, {D_out}) is {want}")
    msg = f"build_model({D_in}, {H}, {D_out}) is {yours}, expected {want}"
    types = [m["type"] for m in layers]
    if types == ["Linear", "Linear"]:
        hint = "the ReLU between the two Linear layers is missing: without it the network is linear."
    elif len(types) == 3 and types[0] == types[2] == "Linear" and types[1] != "ReLU":
        hint = f"the activation is {types[1]}; the lecture's network uses ReLU."
    elif len(layers) == 3 and any(not m["bias"] for m in layers if m["type"] == "Linear"):
        hint = ("nn.Linear layers keep their bias here (the default bias=True): only the NumPy and tensor "
                "versions have no biases.")
    elif len(layers) == 3 and layers[0].get("in_features") == H and layers[0].get("out_features") == D_in:
        hint = "the sizes of a Linear layer are (in_features, out_features): Linear(D_in, H) maps D_in inputs to H."
    else:
        hint = "the layers, in order: Linear(D_in, H), ReLU(), Linear(H, D_out)."
    return _fail(msg, hint)


def defaults(got, expected, ctx: JudgeContext) -> Verdict:
    """Each training function called without learning_rate / num_epochs gives what it gives
    with the contract's defaults spelled out (the student's own code both times), and that run
    is the reference's: a third per function."""
    problems, credited, wrong = [], {}, []
    got = got if isinstance(got, dict) else {}
    for name in expected:  # the reference's runs: a function the reply leaves out counts as wrong
        runs = got.get(name)
        if not isinstance(runs, dict):
            problems.append(f"{name}: no runs came back")
            credited[name] = False
            continue
        # The arguments spelled out are the contract's (the reference's run), not the reply's.
        args = ", ".join(f"{k}={v:g}" for k, v in expected[name]["explicit_args"].items())
        c = compare_trajectory(f"{name} with no learning_rate/num_epochs", runs["defaults"], runs["explicit"],
                               1e-6, step="epoch")
        if not c.passed:
            problems.append(c.message.replace("expected", f"with {args}"))
            credited[name] = False
            continue
        right = compare_trajectory(f"{name}({args})", runs["explicit"], expected[name]["explicit"], 2e-5,
                                   step="epoch")
        credited[name] = right.passed
        if not right.passed:
            wrong.append(name)
    if not problems and not wrong:
        return Verdict(True, "numpy_train and autograd_train default to learning_rate=1e-6, num_epochs=500; "
                             "optim_train to learning_rate=1e-4, num_epochs=500")
    if problems:
        return with_partial_credit(Verdict(
            False, "\n".join(problems), "keep the stub's signatures and defaults: numpy_train and autograd_train "
            "(..., learning_rate=1e-6, num_epochs=500), optim_train(..., learning_rate=1e-4, num_epochs=500), and use "
            "the arguments rather than fixed numbers inside.", "\n".join(problems)), credited, ctx.options)
    msg = (f"{', '.join(wrong)}: the defaults are used, but the losses are not the reference's, so no credit for "
           f"{'them' if len(wrong) > 1 else 'it'}")
    first = {"numpy_train": "numpy_train_trajectory", "autograd_train": "autograd_train_trajectory",
             "optim_train": "optim_train_trajectory"}[wrong[0]]
    return with_partial_credit(Verdict(False, msg, f"fix {first} first: defaults pay only for a function that trains "
                                       f"right.", msg), credited, ctx.options)
