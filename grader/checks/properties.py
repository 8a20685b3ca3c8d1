"""Checks of a property (agreement with central differences, inputs left unchanged,
no autograd) that pay only with real work.

A property alone is cheap to have: a function that returns zeros agrees with the
central differences of its own constant loss, leaves its inputs alone and uses no
autograd. So a property is credited only when the values the function computed
are also right (judged against the reference, as every value is).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from grader.checks.compare import Comparison, compare_arrays
from grader.checks.judges import verdict_from
from grader.checks.results import Verdict
from grader.checks.values import as_array, describe


def only_if_right(prop: Verdict, values: Verdict, what: str) -> Verdict:
    """``prop`` (the property's verdict) when ``values`` (the same call's outputs
    against the reference) passed; else a failure that says the property is not
    credited on wrong values. The hint is the values' own: that is the cause."""
    if values.passed:
        return prop
    head = f"{what} is credited only when the function's values are right, and they are not:"
    return Verdict(False, f"{head}\n{values.message}", values.hint,
                   f"{head}\n{values.redacted or values.message}")


def _nontrivial(label: str, got: Any, reference: Any, scale: float) -> str | None:
    """Why a gradient counts as no work (all zero, or far smaller than it should be), or None."""
    g, r = as_array(got), as_array(reference)
    if g is None or r is None:
        return None
    gv = np.abs(np.asarray(g.values, dtype=np.float64))
    rv = np.abs(np.asarray(r.values, dtype=np.float64))
    if rv.size == 0 or not np.all(np.isfinite(rv)) or float(rv.max()) == 0.0:
        return None
    if gv.size == 0 or not np.all(np.isfinite(gv)) or float(gv.max()) < scale * float(rv.max()):
        return f"{label} is (nearly) all zero where the true gradient is not"
    return None


def gradient_check(analytic: Mapping, numeric: Mapping, loss: Any, expected_loss: Any,
                   expected_grads: Mapping | None = None, *, tolerance: float = 1e-6,
                   loss_tolerance: float = 1e-6, scale: float = 1e-3, label: str = "grads") -> Verdict:
    """The student's gradients against central differences of the student's own loss,
    credited only when that loss is the right loss here (against ``expected_loss``)
    and, with ``expected_grads``, no gradient is trivially zero where the true one
    is not.

    ``analytic`` and ``numeric`` map a parameter name to a probe value; ``numeric``
    is what the probe measured by central differences of the student's loss.
    """
    loss_cmp = compare_arrays("loss", loss, expected_loss, loss_tolerance)
    if not loss_cmp.passed:
        msg = ("agreement with the slope of your own loss is credited only when the loss is right, and it "
               f"is not:\n{loss_cmp.message}")
        return Verdict(False, msg, "fix the loss first: the gradients are checked against its slope",
                       f"agreement with the slope of your own loss is credited only when the loss is right, "
                       f"and it is not:\n{loss_cmp.redacted}")
    if not isinstance(analytic, Mapping) or not isinstance(numeric, Mapping):
        msg = f"{label} should be a dict of gradients; got {describe(analytic)}"
        return Verdict(False, msg, redacted=msg)
    cmps = []
    for k, slope in numeric.items():
        if k not in analytic:
            msg = f"{label}['{k}'] is missing; got keys {sorted(map(str, analytic))}"
            cmps.append(Comparison(f"{label}['{k}']", False, "type", msg, msg))
            continue
        cmps.append(compare_arrays(f"{label}['{k}']", analytic[k], slope, tolerance))
    v = verdict_from(cmps)
    if not v.passed:
        # The loss is right here, so its slope is the true gradient: the gradients are
        # what is wrong. (The generic diagnoses speak of "the reference": not this.)
        return Verdict(False, v.message.replace("expected", "numeric slope of your loss"),
                       "your gradients do not match the slope of your loss, which is right here: the backward "
                       "pass is wrong (check each step of the chain rule against the forward code).",
                       (v.redacted or "").replace("expected", "numeric slope of your loss"))
    if expected_grads:
        trivial = [why for k, ref in expected_grads.items()
                   if (why := _nontrivial(f"{label}['{k}']", analytic.get(k), ref, scale))]
        if trivial:
            msg = "; ".join(trivial)
            return Verdict(False, msg, None, msg)
    return v
