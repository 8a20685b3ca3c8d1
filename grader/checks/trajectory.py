"""Comparing sequences that evolve step by step: loss curves, optimizer iterates.

A trajectory is judged entry by entry (relative to each entry's own size, so a
curve that falls from 100 to 0.1 is held to the same relative standard at the end
as at the start), and a failure says *when* it went wrong: a difference from step
0 on points at the function being iterated (the loss, the gradient); one that
starts later points at the update; a curve that is the reference's shifted by one
step points at recording the value after the update instead of before.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.compare import Comparison
from grader.checks.values import as_array, as_number, describe

__all__ = ["as_sequence", "compare_trajectory", "trajectory_pattern", "matching_variant"]


def as_sequence(value: Any) -> np.ndarray | None:
    """A list of numbers, a 1-d array or tensor, as a float64 array; else None."""
    arr = as_array(value)
    if arr is not None:
        return arr.values.astype(np.float64).reshape(-1) if arr.values.ndim <= 1 else None
    if isinstance(value, list):
        numbers = [as_number(v) for v in value]
        if all(n is not None for n in numbers):
            return np.asarray(numbers, dtype=np.float64)
    return None


def _fmt(v: float) -> str:
    return f"{v:.8g}"


def _entry_errors(got: np.ndarray, exp: np.ndarray) -> np.ndarray:
    scale = np.abs(got) + np.abs(exp)
    diff = np.abs(got - exp)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)


def compare_trajectory(label: str, got: Any, expected: Any, tolerance: float, *, atol: float = 0.0,
                       step: str = "step", kind: str | None = None) -> Comparison:
    """Entry t passes when |yours - expected| <= tolerance * (|yours| + |expected|) or <= atol.

    ``step`` names an entry in messages ("epoch", "iterate"); ``kind`` ("ndarray")
    requires a NumPy array rather than a list or tensor.
    """
    exp = as_sequence(expected)
    if exp is None:
        raise ValueError(f"{label}: the expected value is not a sequence of numbers")
    g = as_sequence(got)
    if g is None:
        msg = f"{label}: expected a sequence of {len(exp)} numbers, got {describe(got)}"
        return Comparison(label, False, "type", msg, msg)
    if kind == "ndarray" and not isinstance(got, np.ndarray):
        msg = f"{label}: expected a NumPy array of {len(exp)} numbers, got {describe(got)}"
        return Comparison(label, False, "type", msg, msg, got=g, expected=exp)
    if g.shape != exp.shape:
        msg = f"{label}: {g.size} entries, expected {exp.size} (one per {step})"
        return Comparison(label, False, "shape", msg, msg, got=g, expected=exp)
    bad_finite = ~np.isfinite(g) & np.isfinite(exp)
    if bad_finite.any():
        t = int(np.argmax(bad_finite))
        msg = (f"{label}: inf/NaN from {step} {t} on where the reference is finite "
               f"(yours {_fmt(g[t])}, expected {_fmt(exp[t])}); the last finite entries: "
               f"{', '.join(_fmt(v) for v in g[max(0, t - 3):t])}")
        red = f"{label}: inf/NaN from {step} {t} on where the reference is finite"
        return Comparison(label, False, "nonfinite", msg, red, got=g, expected=exp)
    err = _entry_errors(g, exp)
    diff = np.abs(g - exp)
    bad = (err > tolerance) & (diff > atol)
    worst = float(err.max()) if err.size else 0.0
    if not bad.any():
        msg = f"{label}: {g.size} entries, largest relative difference {worst:.2g} (tolerance {tolerance:g})"
        return Comparison(label, True, None, msg, msg, got=g, expected=exp, rel_error=worst)
    first = int(np.argmax(bad))
    w = int(np.argmax(np.where(bad, err, -1.0)))
    msg = (f"{label}: {int(bad.sum())}/{g.size} entries differ by more than {tolerance:g} (relative); "
           f"first at {step} {first}: yours {_fmt(g[first])}, expected {_fmt(exp[first])}"
           + (f"; largest at {step} {w}: yours {_fmt(g[w])}, expected {_fmt(exp[w])}" if w != first else ""))
    red = (f"{label}: {int(bad.sum())}/{g.size} entries differ by more than {tolerance:g} (relative), "
           f"the first at {step} {first}")
    return Comparison(label, False, "values", msg, red, got=g, expected=exp, rel_error=worst)


def _close(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    return a.shape == b.shape and a.size > 0 and bool(np.all(np.isfinite(a))) and \
        bool(np.all(_entry_errors(a, b) <= tolerance))


def matching_variant(cmp: Comparison, variants: dict, tolerance: float) -> str | None:
    """The hint of the first known mistake whose trajectory the student's follows."""
    if cmp.got is None:
        return None
    for hint, value in (variants or {}).items():
        v = as_sequence(value)
        if v is not None and _close(cmp.got, v, tolerance):
            return hint
    return None


def trajectory_pattern(cmp: Comparison, tolerance: float, *, step: str = "step",
                       record: str = "the loss", update: str = "the update") -> str | None:
    """What the shape of a failed comparison says, when it says something."""
    g, e = cmp.got, cmp.expected
    if cmp.passed or cmp.problem != "values" or g is None or e is None or g.size < 3:
        return None
    if _close(g[:-1], e[1:], tolerance):
        return (f"yours is the reference one {step} later: record {record} before {update} "
                f"(entry t is the value at the start of {step} t).")
    if g.size >= 2 and _close(g[1:], e[:-1], tolerance):
        return f"yours is the reference one {step} earlier: record {record} before {update}, once per {step}."
    bad = _entry_errors(g, e) > tolerance
    first = int(np.argmax(bad))
    if first >= 1:
        return (f"{step} 0 matches, so the starting point is right; the values part from {step} {first} on, "
                f"so look at {update}.")
    return None
