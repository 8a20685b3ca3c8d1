"""Numeric gradients by central differences, in float64.

Built apart from any comparison (as ``torch.autograd.gradcheck`` does): nudge one
entry by +h and -h, evaluate, divide by 2h, restore. NumPy in, NumPy out, so
probes can use it on any framework by wrapping their function.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f(x) / dx for a scalar function ``f`` of the array ``x``.

    ``x`` is modified during the call and restored entry by entry; pass a float64
    array (float32 loses the difference in rounding for h this small).
    """
    if x.dtype != np.float64:
        raise TypeError(f"numeric_gradient needs a float64 array, got {x.dtype}: cast it with x.astype(np.float64)")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = float(f(x))
        flat[i] = old - h
        minus = float(f(x))
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad
