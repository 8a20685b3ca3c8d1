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
