"""Reading the plain data a probe sent back.

The harness turns a tensor into ``{"__tensor__": array, "dtype", "device",
"requires_grad"}`` and an object it cannot send into ``{"__object__": type}``.
These helpers give judges one way to look at either, and to describe what a
student returned in words.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ArrayValue:
    """An array the student returned, with where it lived."""

    values: np.ndarray
    kind: str            # "tensor" or "ndarray"
    dtype: str
    device: str | None = None
    requires_grad: bool = False


def as_array(value: Any) -> ArrayValue | None:
    """The array inside a probe value, or None when it is not an array."""
    if isinstance(value, dict) and "__tensor__" in value:
        return ArrayValue(np.asarray(value["__tensor__"]), "tensor", str(value.get("dtype")),
                          value.get("device"), bool(value.get("requires_grad")))
    if isinstance(value, np.ndarray):
        return ArrayValue(value, "ndarray", str(value.dtype))
    return None


def as_number(value: Any) -> float | None:
    """A Python number, or a one-element tensor/array, as a float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    arr = as_array(value)
    if arr is not None and arr.values.size == 1:
        return float(arr.values.reshape(()))
    return None


def describe(value: Any) -> str:
    """What the student returned, in words: 'a float64 tensor of shape (5, 3)'."""
    arr = as_array(value)
    if arr is not None:
        shape = tuple(int(s) for s in arr.values.shape)
        where = f" on {arr.device}" if arr.device and arr.device != "cpu" else ""
        noun = "tensor" if arr.kind == "tensor" else "NumPy array"
        return f"a {arr.dtype} {noun} of shape {shape}{where}"
    if isinstance(value, dict) and "__object__" in value:
        return f"a {value['__object__']} object"
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"a bool ({value})"
    if isinstance(value, int):
        return "an int"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return f"a tuple/list of {len(value)} items"
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:8])
        return f"a dict with keys {keys}" if value else "an empty dict"
    return type(value).__name__


_NUMERIC_KINDS = "biuf"


def unlike(got: Any, expected: Any, where: str = "", depth: int = 0) -> str | None:
    """How ``got`` differs in form from ``expected`` (the reference's output of the same
    probe), in words, or None when it has the same form: the same containers, keys,
    lengths, array shapes and kinds of number. Values (NaN included) do not count.

    The runner's line between a student's malformed reply and a grader bug: a judge
    that raises on a reply of the reference's form has a bug."""
    at = f" at {where}" if where else ""
    if depth > 30:
        return f"nested too deeply{at}"
    exp_arr = as_array(expected)
    if exp_arr is not None:
        got_arr = as_array(got)
        if got_arr is None:
            if as_number(got) is not None and exp_arr.values.size == 1:
                return None
            return f"{describe(got)} where an array of shape {tuple(exp_arr.values.shape)} belongs{at}"
        values = got_arr.values
        if not isinstance(values, np.ndarray) or values.dtype.kind not in _NUMERIC_KINDS:
            return f"an array of {getattr(values, 'dtype', type(values).__name__)}{at}, not of numbers"
        if values.shape != exp_arr.values.shape:
            return f"shape {tuple(values.shape)}{at} where {tuple(exp_arr.values.shape)} belongs"
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return None if type(got) is type(expected) else f"{describe(got)}{at} where {describe(expected)} belongs"
    if isinstance(expected, (int, float)):
        ok = isinstance(got, (int, float)) and not isinstance(got, bool)
        return None if ok else f"{describe(got)}{at} where a number belongs"
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return f"{describe(got)}{at} where {describe(expected)} belongs"
        for i, (g, e) in enumerate(zip(got, expected)):
            why = unlike(g, e, f"{where}[{i}]", depth + 1)
            if why:
                return why
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or "__tensor__" in got:
            return f"{describe(got)}{at} where a dict belongs"
        if "__object__" in expected:
            return None if got == expected else f"{describe(got)}{at} where {describe(expected)} belongs"
        keys, want = set(map(str, got)), set(map(str, expected))
        if keys != want:
            extra, lack = sorted(keys - want)[:5], sorted(want - keys)[:5]
            parts = ([f"missing key(s) {lack}"] if lack else []) + ([f"unexpected key(s) {extra}"] if extra else [])
            return f"{'; '.join(parts)}{at}"
        for k in expected:
            why = unlike(got[k], expected[k], f"{where}[{k!r}]", depth + 1)
            if why:
                return why
        return None
    return None
