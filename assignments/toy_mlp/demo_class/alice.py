"""Alice -- toy_mlp. Backpropagation by hand on a toy network; training loops; gradient descent.

1. manual_gradients: the gradients of a tiny sigmoid network under binary
   cross-entropy, computed by hand, to be checked against autograd.
2. train: full-batch gradient descent for a digits classifier.
3. gd, gd_momentum: gradient descent with and without momentum, e.g. on f(x) = x**2.

ToyMLP and MLP are provided: do not change them. load_digits_784 (in helpers.py)
provides the digits. Implement the four functions below; keep their names,
arguments and defaults.
"""
import numpy as np
import torch
from torch import nn

from helpers import load_digits_784  # noqa: F401  (provided: digits as 784 features)


class ToyMLP(nn.Module):
    """Provided. 3 inputs -> 2 sigmoid units -> 1 sigmoid output, no biases."""

    def __init__(self):
        super().__init__()
        self.i = nn.Linear(3, 2, bias=False)
        self.a = nn.Sigmoid()
        self.o = nn.Linear(2, 1, bias=False)

    def forward(self, X):
        return self.a(self.o(self.a(self.i(X))))


class MLP(nn.Module):
    """Provided. 784 inputs -> 32 sigmoid units -> 10 outputs. Returns logits
    (CrossEntropyLoss applies the softmax itself)."""

    def __init__(self):
        super().__init__()
        self.i = nn.Linear(784, 32)
        self.a = nn.Sigmoid()
        self.o = nn.Linear(32, 10)

    def forward(self, X):
        return self.o(self.a(self.i(X)))


def manual_gradients(model, X, y):
    # work on detached copies so nothing touches the model's autograd state
    W1 = model.i.weight.detach()
    W2 = model.o.weight.detach()
    if X.dim() == 1:          # a single sample: make it a batch of one
        X = X.unsqueeze(0)
        y = y.view(1, 1)
    n = X.shape[0]
    a1 = torch.sigmoid(X @ W1.t())
    out = torch.sigmoid(a1 @ W2.t())
    # dL/dout = (out - y) / (out (1 - out)) / n and dout/dz2 = out (1 - out)
    delta2 = (out - y.view(n, 1)) / n
    grad_o = delta2.t() @ a1
    delta1 = (delta2 @ W2) * a1 * (1 - a1)
    grad_i = delta1.t() @ X
    return {"i.weight": grad_i, "o.weight": grad_o}


def train(m, X, y, epochs=100, lr=1.0):
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(epochs):
        logits = m(X)
        loss = criterion(logits, y)
        losses.append(loss.item())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return losses


def gd(x0, grad, alpha, max_iter=10):
    xs = np.empty(max_iter + 1)
    xs[0] = x0
    for k in range(max_iter):
        xs[k + 1] = xs[k] - alpha * grad(xs[k])
    return xs


def gd_momentum(x0, grad, alpha, beta=0.9, max_iter=10):
    xs = np.empty(max_iter + 1)
    xs[0] = x0
    v = 0.0
    for t in range(1, max_iter + 1):
        v = beta * v + (1 - beta) * grad(xs[t - 1])
        v_hat = v / (1 - beta ** t)
        xs[t] = xs[t - 1] - alpha * v_hat
    return xs
