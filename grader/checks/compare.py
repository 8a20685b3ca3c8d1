"""Comparing what a student produced with what was expected, in words a student can use.

A failure message follows one order: the kind of value first (a tensor? a
number?), then shape, then non-finite entries, then the values: the global
``rel_error`` (the course's definition), how many entries are off, and the entry
that is off the most, with both values. Messages have a redacted twin without
expected values, for hidden checks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.checks.values import ArrayValue, as_array, as_number, describe


def rel_error(x, y, eps: float = 1e-10) -> float:
    """max |x - y| / max(|x| + |y|), the relative error the course prints.

    One number for a whole array, so a single wrong entry in a large array still
    shows; ``eps`` keeps all-zero arrays from dividing by zero.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0 and y.size == 0:
        return 0.0
    top = np.max(np.abs(x - y))
    bottom = max(eps, float(np.max(np.abs(x) + np.abs(y))))
    return float(top / bottom)


def _index(idx: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _fmt(v: float) -> str:
    return f"{v:.6g}"


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one value. ``problem`` names what went wrong first."""

    label: str
    passed: bool
    problem: str | None        # None, "type", "shape", "nonfinite", "values", "dtype", "device"
    message: str
    redacted: str
    got: np.ndarray | None = None
    expected: np.ndarray | None = None
    rel_error: float | None = None


def compare_arrays(label: str, got, expected, tolerance: float, *, atol: float = 0.0,
                   dtype: str | None = None, device: str | None = None,
                   kind: str | None = None) -> Comparison:
    """Compare a student's array-like value against an expected array.

    ``tolerance`` bounds :func:`rel_error`; ``atol`` is an absolute floor (for values
    near zero). ``dtype``/``device``/``kind`` ("tensor" or "ndarray"), when given,
    must match what the student returned.
    """
    exp_arr = as_array(expected)
    exp = exp_arr.values if exp_arr is not None else np.asarray(expected)
    g = as_array(got)
    if g is None:
        number = as_number(got)
        if number is not None and exp.size == 1:
            g = ArrayValue(np.asarray(number), "number", "float")
        else:
            msg = f"{label}: expected a tensor of shape {tuple(exp.shape)}, got {describe(got)}"
            return Comparison(label, False, "type", msg, msg)
    if kind is not None and g.kind not in (kind, "number"):
        want = "a torch tensor" if kind == "tensor" else "a NumPy array"
        msg = f"{label}: expected {want}, got {describe(got)}"
        return Comparison(label, False, "type", msg, msg)
    values = g.values
    if values.shape != exp.shape and not (values.size == exp.size == 1):
        msg = (f"{label}: shape {tuple(values.shape)}, expected {tuple(exp.shape)}")
        return Comparison(label, False, "shape", msg, msg, got=values, expected=exp)
    values = values.reshape(exp.shape).astype(np.float64)
    expf = exp.astype(np.float64)
    bad_finite = ~np.isfinite(values) & np.isfinite(expf)
    if bad_finite.any():
        idx = tuple(np.argwhere(bad_finite)[0])
        msg = (f"{label}: {int(bad_finite.sum())}/{values.size} entries are inf or NaN "
               f"where the reference is finite, first at {label}{_index(idx)} (yours {values[idx]})")
        red = f"{label}: {int(bad_finite.sum())}/{values.size} entries are inf or NaN where the reference is finite"
        return Comparison(label, False, "nonfinite", msg, red, got=values, expected=expf)
    err = rel_error(values, expf)
    diff = np.abs(values - expf)
    diff = np.where(np.isnan(diff), 0.0, diff)
    scale = np.abs(values) + np.abs(expf)
    entry_bad = (diff > tolerance * max(float(np.max(scale)) if scale.size else 0.0, 1e-10)) & (diff > atol)
    passed = err <= tolerance or float(np.max(diff) if diff.size else 0.0) <= atol
    if not passed:
        idx = tuple(np.unravel_index(int(np.argmax(diff)), diff.shape)) if diff.ndim else ()
        where = f" at {label}{_index(idx)}" if idx else ""
        n_bad = int(entry_bad.sum())
        msg = (f"{label}: rel_error {err:.3g} (tolerance {tolerance:g}); {n_bad}/{values.size} entries differ; "
               f"largest difference{where}: yours {_fmt(values[idx])}, expected {_fmt(expf[idx])}")
        red = (f"{label}: rel_error {err:.3g} (tolerance {tolerance:g}); "
               f"{n_bad}/{values.size} entries differ")
        return Comparison(label, False, "values", msg, red, got=values, expected=expf, rel_error=err)
    if dtype is not None and g.kind != "number" and g.dtype != dtype:
        msg = f"{label}: dtype {g.dtype}, expected {dtype} (values are right)"
        return Comparison(label, False, "dtype", msg, msg, got=values, expected=expf, rel_error=err)
    if device is not None and g.device is not None and g.device != device:
        msg = f"{label}: on device {g.device}, expected {device} (values are right)"
        return Comparison(label, False, "device", msg, msg, got=values, expected=expf, rel_error=err)
    msg = f"{label}: rel_error {err:.2g} (tolerance {tolerance:g})"
    return Comparison(label, True, None, msg, msg, got=values, expected=expf, rel_error=err)
