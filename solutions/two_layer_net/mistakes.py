"""What the usual mistakes would output, for the judges' hints. Instructor-only.

``backprop-grader reference`` calls :func:`known_mistakes` for every check and
stores the result next to the expected outputs as ``mistakes``: a dict mapping a
hint (what to tell the student) to the value that mistake produces on that check's
inputs. A judge that sees the student's value match one of them gives that hint.

This lives in solutions/ because a model of the backward pass is a solution: it
must not ship in the student bundle (judges.py does).
"""
from __future__ import annotations

import numpy as np

KEYS = ("W1", "b1", "W2", "b2")


def _forward_backward(inputs: dict, reg: float, *, mask=True, reg_bias=False):
    p = inputs["params"]
    X, y = np.asarray(inputs["X"], float), np.asarray(inputs["y"], int)
    N = X.shape[0]
    pre = X @ p["W1"] + p["b1"]
    h = np.maximum(pre, 0)
    s = h @ p["W2"] + p["b2"]
    shifted = s - s.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    probs = np.exp(log_probs)
    data_loss = -log_probs[np.arange(N), y].mean()
    reg_term = reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    ds = probs.copy()
    ds[np.arange(N), y] -= 1
    ds /= N
    g = {"W2": h.T @ ds + 2 * reg * p["W2"], "b2": ds.sum(0)}
    dh = ds @ p["W2"].T
    if mask:
        dh = dh * (pre > 0)
    g["W1"] = X.T @ dh + 2 * reg * p["W1"]
    g["b1"] = dh.sum(0)
    if reg_bias:
        g["b1"] = g["b1"] + 2 * reg * p["b1"]
        g["b2"] = g["b2"] + 2 * reg * p["b2"]
    return data_loss, reg_term, g


def _fancy_index_loss(inputs: dict) -> float:
    p = inputs["params"]
    X, y = np.asarray(inputs["X"], float), np.asarray(inputs["y"], int)
    s = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    shifted = s - s.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[:, y].mean())


def _epsilon_losses(inputs: dict) -> dict[str, float]:
    """An epsilon added inside the softmax or the log (log(p + eps), e / (sum(e) + eps)):
    the loss is off by about eps, which looks like rounding but is not."""
    p = inputs["params"]
    X, y = np.asarray(inputs["X"], float), np.asarray(inputs["y"], int)
    s = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    e = np.exp(s - s.max(axis=1, keepdims=True))
    rows = np.arange(len(y))
    out = {}
    with np.errstate(divide="ignore"):
        for eps in (1e-12, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5):
            out[f"log(p + {eps:g})"] = float(-np.log(e[rows, y] / e.sum(axis=1) + eps).mean())
            out[f"e / (sum(e) + {eps:g})"] = float(-np.log(e[rows, y] / (e.sum(axis=1) + eps)).mean())
    return out


EPSILON = ("the loss is off by about the size of an epsilon: it matches {how}. The softmax cross-entropy needs "
           "no epsilon when it is computed as a log-softmax (shifted - log(sum(exp(shifted)))); drop it.")


def _forward_variants(inputs: dict) -> dict:
    """(scores, hidden) of the usual forward-pass mistakes."""
    p = inputs["params"]
    X = np.asarray(inputs["X"], float)
    pre = X @ p["W1"] + p["b1"]
    out = {
        ("the hidden layer uses a sigmoid; this network uses a ReLU there: hidden = max(0, X @ W1 + b1) "
         "(e.g. (X.mm(W1) + b1).clamp(min=0))."): 1 / (1 + np.exp(-pre)),
        ("the hidden layer uses tanh; this network uses a ReLU there: hidden = max(0, X @ W1 + b1)."): np.tanh(pre),
        ("the ReLU is missing: hidden = max(0, X @ W1 + b1), not X @ W1 + b1."): pre,
        "b1 is missing from the hidden layer: hidden = max(0, X @ W1 + b1).": np.maximum(X @ p["W1"], 0),
    }
    h = np.maximum(pre, 0)
    variants = {hint: [hid @ p["W2"] + p["b2"], hid] for hint, hid in out.items()}
    variants["b2 is missing from the scores: scores = hidden @ W2 + b2."] = [h @ p["W2"], h]
    variants["the ReLU is applied to the scores too: scores = hidden @ W2 + b2 has no ReLU."] = [
        np.maximum(h @ p["W2"] + p["b2"], 0), h]
    return variants


GRAD_MISTAKES = {
    ("the ReLU mask is missing in the backward pass: the gradient flows through hidden units that were off "
     "(hidden <= 0). Multiply the upstream gradient by (hidden > 0)."): dict(mask=False),
    ("biases are regularized here, but the loss regularizes only W1 and W2: drop the reg term from the bias "
     "gradients."): dict(reg_bias=True),
}


def _loss_grads_mistakes(inputs, options: dict) -> dict:
    reg = float(options.get("reg", 0.0))
    N = np.asarray(inputs["X"]).shape[0]
    data, reg_term, right = _forward_backward(inputs, reg)
    loss = {
        "the regularization term is missing from the loss: add reg * (sum(W1**2) + sum(W2**2)).": data,
        "the regularization term has a 0.5 factor; this assignment uses reg * sum(W**2) without 0.5.":
            data + 0.5 * reg_term,
        f"the loss is summed over the batch instead of averaged: divide the data loss by N = {N}.":
            N * data + reg_term,
        "the regularization term is counted twice.": data + 2 * reg_term,
        ("the loss picks scores[:, y] (an N x N block: every row's score for every label) instead of one score "
         "per row: index with scores[torch.arange(N), y]."): _fancy_index_loss(inputs) + reg_term,
    }
    for how, value in _epsilon_losses(inputs).items():
        loss.setdefault(EPSILON.format(how=how), value + reg_term)
    # Keep only mistakes that change the value here (with reg = 0, reg mistakes are invisible),
    # and that are told apart from each other and from the right value.
    right_loss = data + reg_term
    loss = {h: float(v) for h, v in loss.items()
            if np.isfinite(v) and abs(v - right_loss) > 1e-9 * max(1.0, abs(right_loss))}
    grads = {k: {} for k in KEYS}
    for hint, kw in GRAD_MISTAKES.items():
        g = _forward_backward(inputs, reg, **kw)[2]
        for k in KEYS:
            if np.max(np.abs(g[k] - right[k])) > 1e-9 * max(1.0, float(np.max(np.abs(right[k])))):
                grads[k][hint] = g[k]
    return {"loss": loss, "grads": grads}


def known_mistakes(check: str, probe: str, inputs, options: dict) -> dict | None:
    if probe in ("forward_pass", "scores_only"):
        variants = _forward_variants(inputs)
        if probe == "scores_only":
            variants = {h: v[0] for h, v in variants.items()}
        return {"forward": variants}
    if probe == "loss_and_grads_cases":
        return {name: _loss_grads_mistakes(problem, options) for name, problem in inputs.items()}
    if probe not in ("loss_and_grads", "loss_grads_scores", "analytic_and_numeric", "inputs_after_call",
                     "autograd_use"):
        return None
    return _loss_grads_mistakes(inputs, options)
