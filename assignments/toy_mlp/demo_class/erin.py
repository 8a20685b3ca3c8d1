"""Erin's toy_mlp.

Backpropagation by hand on a toy network; training loops; gradient descent.

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
    W1 = model.i.weight.data
    W2 = model.o.weight.data
    X = torch.atleast_2d(X)
    y = y.reshape(-1, 1)
    h = torch.sigmoid(X @ W1.T)
    p = torch.sigmoid(h @ W2.T)
    err = p - y                      # dL/dz for BCE + sigmoid
    dW2 = err.T @ h
    dW1 = ((err @ W2) * h * (1 - h)).T @ X
    return {"i.weight": dW1, "o.weight": dW2}


def train(m, X, y, epochs=100, lr=1.0):
    optimizer = torch.optim.SGD(m.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(m(X), y)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return losses


def gd(x0, grad, alpha, max_iter=10):
    xs = []
    x = x0
    for _ in range(max_iter):
        x = x - alpha * grad(x)
        xs.append(x)
    return np.array(xs)


def gd_momentum(x0, grad, alpha, beta=0.9, max_iter=10):
    xs = [x0]
    x, v = x0, 0.0
    for t in range(1, max_iter + 1):
        v = beta * v + (1 - beta) * grad(x)
        x = x - alpha * v / (1 - beta ** t)
        xs.append(x)
    return np.array(xs)
