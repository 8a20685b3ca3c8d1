"""What the usual mistakes would output, for the judges' hints. Instructor-only.

``backprop-grader reference`` calls :func:`known_mistakes` for every check and stores
the result with the expected outputs as ``mistakes``: for each parameter, a hint
(what to tell the student) mapped to the value that mistake produces on the check's
inputs. A judge that sees the student's value match one gives that hint.

This is a NumPy model of the backward pass, i.e. a solution: it lives in solutions/
so that it never ships in the student bundle (judges.py and probes.py do).
"""
from __future__ import annotations

import numpy as np

KEYS = ("Wh", "bh", "Wy", "by")


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _backward(inputs, *, tanh_grad="h", delta="yhat-Y", wy_input="h"):
    p = inputs["params"]
    X, Y = np.asarray(inputs["X"], float), np.asarray(inputs["Y"], float)
    N = X.shape[0]
    htilde = X @ p["Wh"].T + p["bh"].T
    h = np.tanh(htilde)
    yhat = _softmax(h @ p["Wy"].T + p["by"].T)
    d = {"yhat-Y": yhat - Y, "yhat": yhat, "Y": -Y}[delta] / N
    g = {"Wy": d.T @ {"h": h, "htilde": htilde}[wy_input], "by": d.sum(0, keepdims=True).T}
    local = {"h": 1 - h ** 2, "htilde": 1 - htilde ** 2, "none": np.ones_like(h), "tanh": h}[tanh_grad]
    dh = (d @ p["Wy"]) * local
    g["Wh"] = dh.T @ X
    g["bh"] = dh.sum(0, keepdims=True).T
    return g


GRAD_MISTAKES = {
    ("the tanh derivative is missing: the gradient reaching htilde must be multiplied by "
     "tanh'(htilde) = 1 - h**2 (elementwise)."): dict(tanh_grad="none"),
    ("the tanh derivative is taken as 1 - htilde**2; it is 1 - tanh(htilde)**2 = 1 - h**2 (use the "
     "activation h, not the pre-activation htilde)."): dict(tanh_grad="htilde"),
    ("the tanh derivative is taken as tanh(htilde) = h; it is 1 - h**2."): dict(tanh_grad="tanh"),
    ("the output layer's input is h = tanh(htilde), not htilde: grads['Wy'] = delta_y.T @ h."):
        dict(wy_input="htilde"),
    ("the gradient of softmax + cross-entropy with respect to ytilde is yhat - Y (divided by N for the "
     "mean); here Y was left out."): dict(delta="yhat"),
    ("the gradient of softmax + cross-entropy with respect to ytilde is yhat - Y; here yhat was left "
     "out (only -Y remains)."): dict(delta="Y"),
}


def _deep_backward(inputs, *, skip_tanh=()):
    p = inputs["params"]
    X, Y = np.asarray(inputs["X"], float), np.asarray(inputs["Y"], float)
    h1 = np.tanh(X @ p["W1"].T + p["b1"].T)
    h2 = np.tanh(h1 @ p["W2"].T + p["b2"].T)
    yhat = _softmax(h2 @ p["Wy"].T + p["by"].T)
    d = (yhat - Y) / X.shape[0]
    g = {}
    for W, b, below, h in (("Wy", "by", h2, h2), ("W2", "b2", h1, h1), ("W1", "b1", X, None)):
        g[W], g[b] = d.T @ below, d.sum(0, keepdims=True).T
        if h is not None:
            d = (d @ p[W]) * (1.0 if W in skip_tanh else 1 - h ** 2)
    return g


DEEP_MISTAKES = {
    "the derivative of the second tanh layer (1 - h2**2) is missing.": dict(skip_tanh=("Wy",)),
    "the derivative of the first tanh layer (1 - h1**2) is missing.": dict(skip_tanh=("W2",)),
    "the tanh derivatives (1 - h**2) are missing in both hidden layers.": dict(skip_tanh=("Wy", "W2")),
}


def _differs(a, b) -> bool:
    return np.max(np.abs(a - b)) > 1e-9 * max(1.0, float(np.max(np.abs(b))))


def _variants(right, table, model, inputs, keys):
    out = {k: {} for k in keys}
    for hint, kw in table.items():
        g = model(inputs, **kw)
        for k in keys:
            if _differs(g[k], right[k]):
                out[k][hint] = g[k]
    return out


def known_mistakes(check: str, probe: str, inputs, options: dict) -> dict | None:
    if probe in ("backward_grads", "backward_numeric"):
        return {"grads": _variants(_backward(inputs), GRAD_MISTAKES, _backward, inputs, KEYS)}
    if probe == "deep_backward":
        keys = tuple(inputs["params"])
        return {"grads": _variants(_deep_backward(inputs), DEEP_MISTAKES, _deep_backward, inputs, keys)}
    if probe == "sgd_step":
        p, g, eta = inputs["params"], inputs["grads"], float(inputs["eta"])
        table = {
            "the step goes uphill: subtract the gradient (p - eta * g), do not add it.":
                {k: p[k] + eta * g[k] for k in p},
            "the step size is missing: the update is p - eta * g.": {k: p[k] - g[k] for k in p},
            "the parameters were not updated: the update is p - eta * g, for every key, and the "
            "updated dict is returned.": {k: p[k] for k in p},
        }
        return {"params": {k: {hint: v[k] for hint, v in table.items()} for k in p}}
    return None
