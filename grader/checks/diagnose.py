"""Naming the likely cause of a failed comparison.

Each diagnosis is a small function ``(comparison, context) -> hint | None``. It
tests one common backprop mistake against the evidence (the student's array and
the reference, plus what the judge knows: batch size ``N``, ``reg``, the
parameter ``W``, arrays a known mistake would have produced) and speaks only when
the evidence fits. :func:`diagnose` tries them in order and returns the first
hint; when none fits it returns None and the message's "largest difference" has to
do. An assignment adds its own by passing ``variants`` (label -> array that a
specific mistake produces) or by calling its own function before this one.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from grader.checks.compare import Comparison, rel_error

Diagnosis = Callable[[Comparison, dict], "str | None"]

_CLOSE = 1e-6  # how close a mistake's prediction must be to what the student got


def _close(a: np.ndarray, b: np.ndarray, tol: float = _CLOSE) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and rel_error(a, b) <= tol


def known_variant(cmp: Comparison, ctx: dict) -> str | None:
    """The student's value equals what a specific, named mistake produces."""
    if cmp.got is None:
        return None
    tol = ctx.get("variant_tolerance", max(_CLOSE, 10 * float(ctx.get("tolerance", 0.0))))
    for hint, value in ctx.get("variants", {}).items():
        if value is not None and _close(cmp.got, value, tol):
            return hint
    return None


def nonfinite(cmp: Comparison, ctx: dict) -> str | None:
    """inf/NaN blamed on exp() overflowing only when the judge says the inputs make it
    overflow (``ctx["exp_overflows"]``): a NaN has other causes (0 * log 0, a log of
    a probability that underflowed), and then the hint stays silent."""
    if cmp.problem != "nonfinite" or not ctx.get("exp_overflows"):
        return None
    return ("inf/NaN where the reference is finite: exp() of large scores overflows. Subtract each "
            "row's maximum score before exponentiating (a numerically stable softmax).")


def _float32_values(a: np.ndarray) -> bool:
    """Every entry is a float32 number: what a float32 result cast back to float64 is,
    and what a float64 computation (an epsilon added, a different order of sums)
    almost never gives for more than a few entries."""
    a = np.asarray(a, dtype=np.float64)
    finite = a[np.isfinite(a)]
    return finite.size >= 4 and bool(np.all(finite.astype(np.float32).astype(np.float64) == finite))


def precision_lost(cmp: Comparison, ctx: dict) -> str | None:
    """Right to float32 precision but not beyond, where float64 was asked for, and a
    float32 value is in play: the student's values are float32 numbers."""
    if cmp.problem != "values" or cmp.rel_error is None or cmp.got is None or cmp.expected is None:
        return None
    if 1e-9 < cmp.rel_error < 1e-5 and _float32_values(cmp.got) \
            and _close(cmp.got, cmp.expected.astype(np.float32).astype(np.float64), 1e-6):
        return (f"{cmp.label} is right only to float32 precision (rel_error {cmp.rel_error:.1g}): part of the "
                f"computation ran in float32. Keep the inputs' dtype (float64) throughout: no .float(), no "
                f"dtype=torch.float32.")
    return None


def transposed(cmp: Comparison, ctx: dict) -> str | None:
    g, e = cmp.got, cmp.expected
    if g is None or e is None or e.ndim != 2 or e.shape[0] == e.shape[1] and _close(g, e):
        return None
    if g.shape == e.T.shape and _close(g, e.T):
        return (f"{cmp.label} holds the right numbers in the transposed layout {tuple(g.shape)}: check the "
                f"order of the matrix product (e.g. X.T @ dout rather than dout.T @ X).")
    return None


def wrong_axis(cmp: Comparison, ctx: dict) -> str | None:
    g, e = cmp.got, cmp.expected
    if cmp.problem != "shape" or g is None or e is None:
        return None
    N = ctx.get("N")
    if e.ndim == 1 and g.ndim == 1 and N is not None and g.shape[0] == N:
        return (f"{cmp.label} has one entry per example (shape {tuple(g.shape)}) instead of one per unit "
                f"{tuple(e.shape)}: sum over the batch axis (dim=0), not over the units.")
    if N is not None and g.shape == (N, N) and e.shape in ((N,), (N, 1)):
        return (f"{cmp.label} has shape ({N}, {N}): a ({N},) tensor met a ({N}, 1) tensor and broadcast. "
                f"Make both the same shape before subtracting (e.g. y.view(-1, 1) or pred.view(-1)).")
    if g.ndim == e.ndim + 1 and g.shape[1:] == e.shape:
        return f"{cmp.label} kept an extra leading axis {tuple(g.shape)}: reduce over it (sum or mean over the batch)."
    return None


def regularization(cmp: Comparison, ctx: dict) -> str | None:
    """Gradient of the reg term missing, halved, or doubled (the loss is reg * sum(W**2))."""
    g, e, W, reg = cmp.got, cmp.expected, ctx.get("W"), ctx.get("reg")
    if g is None or e is None or W is None or not reg:
        return None
    W = np.asarray(W, dtype=np.float64)
    if W.shape != e.shape:
        return None
    if ctx.get("is_bias"):
        if _close(g, e + 2 * reg * W):
            return f"{cmp.label}: biases are not regularized; drop the reg term for {cmp.label}."
        return None
    if _close(g, e - 2 * reg * W):
        return (f"{cmp.label} is missing the regularization gradient: d/dW of reg * sum(W**2) "
                f"is 2 * reg * W; add it.")
    if _close(g, e - reg * W):
        return (f"{cmp.label}: the regularization gradient is off by a factor 2: the loss uses "
                f"reg * sum(W**2) with no 0.5, so its gradient is 2 * reg * W, not reg * W.")
    if _close(g, e + 2 * reg * W):
        return f"{cmp.label}: the regularization gradient is added twice (or with the wrong factor)."
    return None


def constant_factor(cmp: Comparison, ctx: dict) -> str | None:
    """Yours = c * expected everywhere, for a c that names a mistake."""
    g, e = cmp.got, cmp.expected
    # A single number is always some multiple of another: that says nothing.
    if g is None or e is None or g.shape != e.shape or g.size < 2 or not np.all(np.isfinite(g)):
        return None
    denom = float(np.sum(e * e))
    if denom == 0.0:
        return None
    c = float(np.sum(g * e) / denom)
    if not _close(g, c * e, 1e-5) or abs(c - 1) < 1e-6:
        return None
    N = ctx.get("N")
    what = ctx.get("what", "the mean over the batch")
    if N and abs(c - N) < 1e-6 * N:
        return (f"{cmp.label} is {N:g}x the reference everywhere and N = {N:g}: you summed over the batch; "
                f"divide by N to take {what}.")
    if N and abs(c * N - 1) < 1e-6:
        return f"{cmp.label} is 1/{N:g} of the reference everywhere and N = {N:g}: you divided by N twice."
    if abs(c + 1) < 1e-6:
        return f"{cmp.label} has the right size but the wrong sign everywhere: check the sign of the gradient."
    if abs(c - 2) < 1e-6:
        return f"{cmp.label} is exactly 2x the reference: a factor 2 too many (e.g. a term counted twice)."
    if abs(c - 0.5) < 1e-6:
        return f"{cmp.label} is exactly half the reference: a factor 2 missing (e.g. a 0.5 that should not be there)."
    return f"{cmp.label} is {c:.4g}x the reference everywhere: a constant factor is off."


def dtype_device(cmp: Comparison, ctx: dict) -> str | None:
    if cmp.problem == "dtype":
        return ("the values are right but the dtype changed: do not hard-code dtype=torch.float32; create "
                "new tensors with dtype=X.dtype (or torch.zeros_like) so float64 inputs stay float64.")
    if cmp.problem == "device":
        return ("the values are right but the tensor is on the wrong device: create new tensors with "
                "device=X.device (or *_like functions) instead of the default CPU.")
    return None


DEFAULT_DIAGNOSES: tuple[Diagnosis, ...] = (
    known_variant, nonfinite, dtype_device, wrong_axis, transposed, regularization, constant_factor, precision_lost,
)


def diagnose(cmp: Comparison, context: dict | None = None,
             diagnoses: tuple[Diagnosis, ...] = DEFAULT_DIAGNOSES) -> str | None:
    """The first hint that fits, or None: silence is better than a wrong guess."""
    if cmp.passed:
        return None
    ctx = context or {}
    for d in diagnoses:
        hint = d(cmp, ctx)
        if hint:
            return hint
    return None


# Errors torch raises for the usual mistakes, and what they mean for a student.
_ERROR_HINTS = (
    (("Torch not compiled with CUDA", "no CUDA GPUs are available", "Found no NVIDIA driver"),
     "your code puts tensors on 'cuda' but this machine has no GPU: default to device='cpu' and create new "
     "tensors on X.device."),
    (("expected m1 and m2 to have the same dtype", "expected scalar type", "must have the same dtype",
      "expected both vectors to have same dtype"),
     "float32 and float64 tensors were mixed: a tensor created with a hard-coded dtype (e.g. dtype=torch.float32) "
     "met the float64 inputs. Create new tensors with dtype=X.dtype (or *_like functions)."),
    (("Expected all tensors to be on the same device",),
     "tensors on different devices were mixed: create new tensors with device=X.device."),
    (("shapes cannot be multiplied", "size mismatch"),
     "a matrix product got incompatible shapes: check each operand's shape (a missing transpose such as "
     "X.T @ dout, or a tensor that broadcast to an unexpected shape earlier)."),
    (("a leaf Variable that requires grad is being used in an in-place operation",),
     "a parameter that requires grad was updated in place outside torch.no_grad(): wrap the update in "
     "`with torch.no_grad():`."),
    (("The size of tensor a",),
     "two tensors of different shapes met in an elementwise operation: check shapes like (N,) vs (N, 1) "
     "and what your functions return."),
    (("element 0 of tensors does not require grad", "does not require grad and does not have a grad_fn"),
     "backward() reached tensors that do not require grad: where autograd is allowed, create the parameters "
     "with requires_grad=True and update them in place (w -= lr * w.grad under torch.no_grad()) instead of "
     "rebinding them (w = w - ...); where it is not, compute the gradients by hand."),
)


def hint_for_error(kind: str, message: str) -> str | None:
    """A hint for an exception the student's code raised, from its message."""
    for needles, hint in _ERROR_HINTS:
        if any(n in message for n in needles):
            return hint
    if kind == "RecursionError":
        return "a function calls itself without end (check for a method that calls itself instead of the function)."
    return None
