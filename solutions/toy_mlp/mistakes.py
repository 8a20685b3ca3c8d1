"""What the usual mistakes would output, for the judges' hints. Instructor-only.

``backprop-grader reference`` calls :func:`known_mistakes` for every check and
stores the result next to the expected outputs as ``mistakes``: for each output a
dict mapping a hint to the value that mistake produces on that check's inputs.
A judge that sees the student's value match one of them gives that hint.

Models of the backward pass and of the optimizers are solutions, so they live
here (NumPy, float64) and never ship.
"""
from __future__ import annotations

import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# -- manual_gradients -------------------------------------------------------------------
def _toy_grads(inputs, *, delta="bce", hidden_deriv="h", mean=True, w2_input="h"):
    W1, W2 = np.asarray(inputs["weights"]["i.weight"]), np.asarray(inputs["weights"]["o.weight"])
    X = np.asarray(inputs["X"], dtype=np.float64).reshape(-1, 3)
    Y = np.asarray(inputs["y"], dtype=np.float64).reshape(-1, 1)
    z1 = X @ W1.T
    h = _sigmoid(z1)
    p = _sigmoid(h @ W2.T)
    dz2 = (p - Y) if delta == "bce" else (p - Y) * p * (1 - p)
    if mean:
        dz2 = dz2 / Y.size
    dW2 = dz2.T @ (h if w2_input == "h" else z1)
    dh = dz2 @ W2
    if hidden_deriv == "h":
        dz1 = dh * h * (1 - h)
    elif hidden_deriv == "z":
        dz1 = dh * z1 * (1 - z1)
    else:
        dz1 = dh
    return {"i.weight": dz1.T @ X, "o.weight": dW2}


TOY_MISTAKES = {
    "the output delta is (p - y) * p * (1 - p), the squared-error one: with BCELoss after a sigmoid the two "
    "derivatives cancel to d loss / d z_out = (p - y) / N.": dict(delta="mse"),
    "the hidden sigmoid's derivative is missing: multiply the gradient reaching the hidden layer by "
    "h * (1 - h), with h = sigmoid(z1).": dict(hidden_deriv=None),
    "the sigmoid's derivative is taken at the pre-activation: it is s * (1 - s) with s = sigmoid(z), "
    "not z * (1 - z).": dict(hidden_deriv="z"),
    "grads['o.weight'] multiplies by the hidden pre-activation z1; the output layer's input is h = sigmoid(z1).":
        dict(w2_input="z"),
}


def _manual(inputs) -> dict:
    right = _toy_grads(inputs)
    grads = {k: {} for k in right}
    for hint, kw in TOY_MISTAKES.items():
        g = _toy_grads(inputs, **kw)
        for k in right:
            if np.max(np.abs(g[k] - right[k])) > 1e-9 * max(1e-12, float(np.max(np.abs(right[k])))):
                grads[k][hint] = g[k]
    return {"grads": grads}


# -- train -----------------------------------------------------------------------------------
def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _train(inputs, *, epochs, lr, accumulate=False, softmax_first=False):
    X, y = np.asarray(inputs["X"], dtype=np.float64), np.asarray(inputs["y"], dtype=np.int64)
    params = {k: np.array(v, dtype=np.float64) for k, v in inputs["layers"].items()}
    acc = {k: np.zeros_like(v) for k, v in params.items()}
    N = len(y)
    losses = []
    for _ in range(epochs):
        W1, b1, W2, b2 = params["0.weight"], params["0.bias"], params["2.weight"], params["2.bias"]
        h = _sigmoid(X @ W1.T + b1)
        z = h @ W2.T + b2
        s = _softmax(z) if softmax_first else z
        probs = _softmax(s)
        losses.append(float(-np.log(probs[np.arange(N), y]).mean()))
        ds = probs.copy()
        ds[np.arange(N), y] -= 1
        ds /= N
        dz = s * (ds - (ds * s).sum(axis=1, keepdims=True)) if softmax_first else ds
        dh = dz @ W2 * h * (1 - h)
        grads = {"2.weight": dz.T @ h, "2.bias": dz.sum(0), "0.weight": dh.T @ X, "0.bias": dh.sum(0)}
        for k in params:
            if accumulate:  # .grad never zeroed: each step follows the sum of all gradients so far
                acc[k] = acc[k] + grads[k]
                grads[k] = acc[k]
            params[k] = params[k] - lr * grads[k]
    return np.asarray(losses)


def _trajectories(inputs) -> dict:
    epochs = 100 if inputs.get("epochs") is None else int(inputs["epochs"])
    lr = 1.0 if inputs.get("lr") is None else float(inputs["lr"])
    out = {
        "the loss follows gradients that were never zeroed: .grad accumulates across backward() calls, so each "
        "step follows the sum of all past gradients (the lecture's loop). Call optimizer.zero_grad() every epoch.":
            _train(inputs, epochs=epochs, lr=lr, accumulate=True),
        "the loss follows a softmax applied before CrossEntropyLoss, which applies its own: pass the logits "
        "m(X) to the loss as they are.": _train(inputs, epochs=epochs, lr=lr, softmax_first=True),
    }
    if lr != 1.0:
        out[f"the loss follows training with lr=1.0 (the default), not the lr={lr:g} train was given: "
            f"torch.optim.SGD(m.parameters(), lr=lr)."] = _train(inputs, epochs=epochs, lr=1.0)
    return {"losses": out}


# -- gradient descent on f(x) = x ** 2 ------------------------------------------------------------
def _momentum(x0, alpha, beta, n, *, correct="t", ema=True, v0="zero", keep_corrected=False, classic=False):
    xs, x = [x0], x0
    v = 2 * x0 if v0 == "grad" else 0.0
    for t in range(1, n + 1):
        g = 2 * x
        if classic:  # heavy ball: v <- beta v + alpha g; x <- x - v
            v = beta * v + alpha * g
            x = x - v
            xs.append(x)
            continue
        v = beta * v + ((1 - beta) * g if ema else g)
        if correct == "t":
            step = v / (1 - beta ** t)
        elif correct == "t+1":
            step = v / (1 - beta ** (t + 1))
        else:
            step = v
        if keep_corrected:
            v = step
        x = x - alpha * step
        xs.append(x)
    return np.asarray(xs)


def _descent(inputs, probe: str) -> dict:
    x0, alpha = float(inputs["x0"]), float(inputs["alpha"])
    n = 10 if inputs.get("max_iter") is None else int(inputs["max_iter"])
    if probe == "gd_run":
        up = [x0]
        for _ in range(n):
            up.append(up[-1] + alpha * 2 * up[-1])
        return {"xs": {"the iterates move uphill: gradient descent subtracts, x <- x - alpha * grad(x).":
                       np.asarray(up)}}
    beta = 0.9 if inputs.get("beta") is None else float(inputs["beta"])
    right = _momentum(x0, alpha, beta, n)
    out = {
        "the bias correction is missing: divide the moving average by (1 - beta ** t) before the step, "
        "x <- x - alpha * v / (1 - beta ** t).": _momentum(x0, alpha, beta, n, correct=None),
        "the bias correction uses t + 1: the first step is t = 1, so it divides by 1 - beta ** 1.":
            _momentum(x0, alpha, beta, n, correct="t+1"),
        "the bias-corrected value was stored back into v: keep v as the plain moving average and correct only "
        "the step, x <- x - alpha * v / (1 - beta ** t).": _momentum(x0, alpha, beta, n, keep_corrected=True),
        "v is a sum, not an average: v <- beta * v + (1 - beta) * grad(x).": _momentum(x0, alpha, beta, n, ema=False),
        "v starts at the first gradient; it starts at 0 (the bias correction makes up for that).":
            _momentum(x0, alpha, beta, n, v0="grad"),
        "this is heavy-ball momentum (v <- beta v + alpha grad, x <- x - v); the assignment's is the bias-corrected "
        "moving average, v <- beta v + (1 - beta) grad, x <- x - alpha v / (1 - beta ** t).":
            _momentum(x0, alpha, beta, n, classic=True),
    }
    if beta != 0.9:
        out[f"the iterates follow beta = 0.9, not the beta = {beta:g} you were given."] = _momentum(x0, alpha, 0.9, n)
    return {"xs": {h: v for h, v in out.items() if v.shape != right.shape or not np.allclose(v, right, rtol=1e-9)}}


def known_mistakes(check: str, probe: str, inputs, options: dict) -> dict | None:
    if probe == "manual_grads":
        return _manual(inputs)
    if probe == "training":
        return _trajectories(inputs)
    if probe in ("gd_run", "momentum_run"):
        return _descent(inputs, probe)
    return None
