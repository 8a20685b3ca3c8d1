"""What the usual mistakes would output, for the judges' hints. Instructor-only.

``backprop-grader reference`` calls :func:`known_mistakes` for every check and stores
the result with the expected outputs as ``mistakes``. A NumPy model of the network's
forward and backward passes, i.e. a solution: it lives in solutions/ so it never
ships in the student bundle.
"""
from __future__ import annotations

import numpy as np


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _forward(inputs, *, activations=True):
    """Per layer: (input, zin, zout), and the output."""
    a = np.asarray(inputs["x"], float)
    cache = []
    L = len(inputs["weights"])
    for i, (W, b) in enumerate(zip(inputs["weights"], inputs["biases"])):
        z = a @ W + b
        out = (_sigmoid(z) if i == L - 1 else np.tanh(z)) if activations else z
        cache.append((a, z, out))
        a = out
    return cache, a


def _local(i, L, z, out, where):
    if where == "none":
        return np.ones_like(z)
    if where == "zout":  # the derivative formula applied to the layer's output
        z = out
    if i == L - 1:
        s = _sigmoid(z)
        return s * (1 - s)
    return 1 - np.tanh(z) ** 2


def _backward(inputs, *, where="zin", bias="sum", flat_y=False):
    cache, y_pred = _forward(inputs)
    y = np.asarray(inputs["y"], float)
    if flat_y:  # y (N,) against y_pred (N, 1): broadcasts to (N, N)
        y = y.reshape(-1)
    grad = 2 * (y_pred - y) / y.size
    L = len(cache)
    out = [None] * L
    for i in reversed(range(L)):
        a, z, zout = cache[i]
        delta = grad * _local(i, L, z, zout, where)
        out[i] = {"weight_grad": a.T @ delta, "bias_grad": delta.sum(0) if bias == "sum" else delta.mean(0)}
        grad = delta @ inputs["weights"][i].T
    return out


GRAD_MISTAKES = {
    ("the activation's derivative is taken at the layer's output (last_zout); get_gradient expects the "
     "pre-activation: activation.get_gradient(layer.last_zin)."): dict(where="zout"),
    ("the activation's derivative is missing: multiply the incoming gradient by "
     "activation.get_gradient(layer.last_zin) before computing weight_grad and bias_grad."): dict(where="none"),
    ("bias_grad is averaged over the batch; the 1/N is already in the loss's gradient, so bias_grad is the "
     "sum of delta over the batch (dim=0)."): dict(bias="mean"),
}

TRAP = ("the broadcasting trap: y of shape ({n},) met predictions of shape ({n}, 1), and y_true - y_pred silently "
        "broadcast to ({n}, {n}). Reshape y like the predictions (y.reshape(y_pred.shape), or y.view(-1, 1)) "
        "before the loss and its gradient.")


def _differs(a, b) -> bool:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape != b.shape or np.max(np.abs(a - b)) > 1e-9 * max(1.0, float(np.max(np.abs(b))))


def known_mistakes(check: str, probe: str, inputs, options: dict) -> dict | None:
    if probe in ("grads", "grads_numeric", "y_shapes"):
        right = _backward(inputs)
        out = [{"weight_grad": {}, "bias_grad": {}} for _ in right]
        for hint, kw in GRAD_MISTAKES.items():
            for i, layer in enumerate(_backward(inputs, **kw)):
                for k, v in layer.items():
                    if _differs(v, right[i][k]):
                        out[i][k][hint] = v
        return {"grads": out}
    if probe == "train":
        # What the first loss (before any step) would be for the usual get_loss mistakes.
        y_pred = _forward(inputs)[1]
        y = np.asarray(inputs["y"], float)
        n = len(y)
        first = {"the loss is summed over the entries; MSE is their mean.": float(np.sum((y - y_pred) ** 2))}
        if options.get("flat_y") and y_pred.shape[1] == 1:
            first[TRAP.format(n=n)] = float(np.mean((y.reshape(1, -1) - y_pred) ** 2))
        return {"first_loss": first}
    if probe in ("forward", "loss"):
        cache, y_pred = _forward(inputs)
        y = np.asarray(inputs["y"], float)
        linear = _forward(inputs, activations=False)[1]
        return {
            "y_pred": {"the activations are missing: each layer is linear, then its activation (tanh, or sigmoid "
                       "for the last one): call layer.forward(x), not layer.linear.forward(x).": linear},
            "loss": {
                "the loss is summed over the entries; MSE is their mean.": float(np.sum((y - y_pred) ** 2)),
                "the loss is the root of the mean squared error; MSE has no square root.":
                    float(np.sqrt(np.mean((y - y_pred) ** 2))),
            },
        }
    return None
