"""What the usual mistakes would output, for the judges' hints. Instructor-only.

``backprop-grader reference`` calls :func:`known_mistakes` for every check and
stores the result next to the expected outputs as ``mistakes``: for each output a
dict mapping a hint to the value that mistake produces on that check's inputs.
A judge that sees the student's value match one of them gives that hint.

A model of the backward pass is a solution, so it lives here and never ships.
"""
from __future__ import annotations

import numpy as np


def _forward_backward(x, y, w1, w2, *, factor=2.0, mask="h>0", relu_for_w2=True, mean=False):
    h = x @ w1
    h_relu = np.maximum(h, 0)
    y_pred = h_relu @ w2
    loss = float(np.sum((y_pred - y) ** 2))
    grad_y_pred = factor * (y_pred - y)
    if mean:
        loss /= y.size
        grad_y_pred = grad_y_pred / y.size
    grad_w2 = (h_relu if relu_for_w2 else h).T @ grad_y_pred
    grad_h = grad_y_pred @ w2.T
    if mask == "h>0":
        grad_h = grad_h * (h > 0)
    elif mask == "inverted":
        grad_h = grad_h * (h <= 0)
    grad_w1 = x.T @ grad_h
    return loss, grad_w1, grad_w2


GRAD_MISTAKES = {
    "d loss / d y_pred is 2 * (y_pred - y): the factor 2 from the square is missing.": dict(factor=1.0),
    "the ReLU mask is missing in the backward pass: zero grad_h where h < 0 (the ReLU was off there).":
        dict(mask=None),
    "the ReLU mask is inverted: the gradient must pass where h > 0 and be zeroed where h < 0.":
        dict(mask="inverted"),
    "grad_w2 = h_relu.T @ grad_y_pred uses the ReLU's output, not the pre-activation h.": dict(relu_for_w2=False),
    "this is the mean squared error: the lecture's loss is the sum of the squared errors, "
    "((y_pred - y) ** 2).sum(), so no division by the number of entries, in the loss or its gradient.":
        dict(mean=True),
}

LOSS_MISTAKES = {
    "this is the mean squared error: the lecture's loss is the sum of the squared errors, "
    "((y_pred - y) ** 2).sum(), not their mean.":
        lambda x, y, w1, w2: float(np.mean((np.maximum(x @ w1, 0) @ w2 - y) ** 2)),
    "the loss has a 0.5 factor; the lecture's loss is the plain sum of squares.":
        lambda x, y, w1, w2: 0.5 * float(np.sum((np.maximum(x @ w1, 0) @ w2 - y) ** 2)),
    "the ReLU is missing in the forward pass: h_relu = max(h, 0).":
        lambda x, y, w1, w2: float(np.sum((x @ w1 @ w2 - y) ** 2)),
    "the differences are not squared: the loss is the sum of (y_pred - y) ** 2.":
        lambda x, y, w1, w2: float(np.sum(np.abs(np.maximum(x @ w1, 0) @ w2 - y))),
}


def _train(x, y, w1, w2, lr, epochs, *, accumulate=False, **kw):
    w1, w2 = w1.copy(), w2.copy()
    acc1, acc2 = np.zeros_like(w1), np.zeros_like(w2)
    losses = []
    for _ in range(epochs):
        loss, g1, g2 = _forward_backward(x, y, w1, w2, **kw)
        losses.append(loss)
        if accumulate:  # .grad never zeroed: each step uses the sum of all gradients so far
            acc1, acc2 = acc1 + g1, acc2 + g2
            g1, g2 = acc1, acc2
        w1 -= lr * g1
        w2 -= lr * g2
    return losses


def _arrays(inputs):
    return [np.asarray(inputs[k], dtype=np.float64) for k in ("x", "y", "w1", "w2")]


def _grads(inputs) -> dict:
    x, y, w1, w2 = _arrays(inputs)
    _, r1, r2 = _forward_backward(x, y, w1, w2)
    grads = {"grad_w1": {}, "grad_w2": {}}
    for hint, kw in GRAD_MISTAKES.items():
        _, g1, g2 = _forward_backward(x, y, w1, w2, **kw)
        for key, g, r in (("grad_w1", g1, r1), ("grad_w2", g2, r2)):
            if np.max(np.abs(g - r)) > 1e-9 * max(1.0, float(np.max(np.abs(r)))):
                grads[key][hint] = g
    right = _forward_backward(x, y, w1, w2)[0]
    loss = {h: f(x, y, w1, w2) for h, f in LOSS_MISTAKES.items()}
    loss = {h: v for h, v in loss.items() if abs(v - right) > 1e-9 * max(1.0, abs(right))}
    return {"loss": loss, "grads": grads}


def _trajectories(inputs, probe: str) -> dict:
    x, y, w1, w2 = _arrays(inputs)
    lr, epochs = float(inputs["learning_rate"]), int(inputs["num_epochs"])
    out = {
        "the losses follow gradient descent with half the gradient: d loss / d y_pred is 2 * (y_pred - y), "
        "the factor 2 is missing.": _train(x, y, w1, w2, lr, epochs, factor=1.0),
        "the losses follow gradient descent without the ReLU mask in the backward pass: zero grad_h where h < 0.":
            _train(x, y, w1, w2, lr, epochs, mask=None),
        f"the losses follow training with the default learning_rate=1e-6, not the learning_rate={lr:g} "
        "you were given: pass the argument on.": _train(x, y, w1, w2, 1e-6, epochs),
    }
    right = np.asarray(_train(x, y, w1, w2, lr, epochs))
    out["your losses are the reference's divided by the number of entries of y (N * D_out): the loss you record "
        "is a mean; the lecture's loss is the sum of squares."] = right / y.size
    if probe == "autograd_training":
        out["the losses follow gradients that were never zeroed: .grad accumulates across backward() calls, "
            "so each step used the sum of all gradients so far. Zero w1.grad and w2.grad after each update "
            "(w1.grad.zero_())."] = _train(x, y, w1, w2, lr, epochs, accumulate=True)
    return {"losses": {h: np.asarray(v) for h, v in out.items()}}


def known_mistakes(check: str, probe: str, inputs, options: dict) -> dict | None:
    if probe in ("numpy_loss_and_grads", "torch_loss_and_grads", "numpy_analytic_and_numeric",
                 "torch_analytic_and_numeric"):
        return _grads(inputs)
    if probe in ("numpy_training", "autograd_training"):
        return _trajectories(inputs, probe)
    return None
