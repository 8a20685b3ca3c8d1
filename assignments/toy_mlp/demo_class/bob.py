"""Backpropagation by hand on a toy network; training loops; gradient descent.

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
    """The gradients of nn.BCELoss()(model(X), y) (the mean over the batch) with
    respect to the ToyMLP's two weight matrices, computed by hand.

    Inputs:
    - model: a ToyMLP; read its weights model.i.weight (2, 3) and model.o.weight (1, 2).
    - X: one sample (3,) or a batch (N, 3).
    - y: the targets in {0., 1.}, shaped like model(X): (1,) or (N, 1).

    Returns {'i.weight': tensor (2, 3), 'o.weight': tensor (1, 2)}.
    No .backward(), no torch.autograd; leave no gradients on the model and do not
    change its weights.
    """
    raise NotImplementedError(
        "manual_gradients: forward by hand, then the chain rule back through both sigmoids to both weights"
    )


def train(m, X, y, epochs=100, lr=1.0):
    """Full-batch gradient descent on nn.CrossEntropyLoss() of m(X) against y.

    Inputs:
    - m: a model returning logits, e.g. MLP().
    - X: (N, D) features; y: (N,) int64 class indices.
    - epochs: number of steps; lr: the step size.

    Uses torch.optim.SGD(m.parameters(), lr=lr); every epoch: zero the
    gradients, compute the loss on all of X, backward, step.

    Returns losses: a list of epochs floats, losses[t] the loss at epoch t
    (computed before that epoch's step).
    """
    raise NotImplementedError(
        "train: SGD with lr=lr and CrossEntropyLoss; each epoch zero_grad, loss, backward, step; record loss.item()"
    )


def gd(x0, grad, alpha, max_iter=10):
    """Gradient descent: x <- x - alpha * grad(x), max_iter times, from x0.

    grad is a function returning the gradient at x (for f(x) = x**2, 2 * x).
    Returns a NumPy array of max_iter + 1 iterates, starting with x0.
    """
    raise NotImplementedError(
        "gd: iterate x <- x - alpha * grad(x) and return np.array of x0 and the max_iter iterates"
    )


def gd_momentum(x0, grad, alpha, beta=0.9, max_iter=10):
    """Gradient descent on a bias-corrected moving average of the gradients.

    With v = 0 at the start, at steps t = 1, 2, ..., max_iter:
        v <- beta * v + (1 - beta) * grad(x)
        x <- x - alpha * v / (1 - beta ** t)
    Returns a NumPy array of max_iter + 1 iterates, starting with x0.
    """
    raise NotImplementedError(
        "gd_momentum: keep the moving average v, correct it by 1 - beta ** t (t from 1), step, return np.array"
    )


if __name__ == "__main__":
    model = ToyMLP()
    X, y = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([1.0])
    print("by hand:", manual_gradients(model, X, y))
    nn.BCELoss()(model(X), y).backward()
    print("autograd:", {name: p.grad for name, p in model.named_parameters()})
    print(gd(2.0, lambda x: 2 * x, 0.1))
