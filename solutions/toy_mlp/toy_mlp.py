"""Reference solution for the toy_mlp assignment.

Gradients of a tiny sigmoid network under binary cross-entropy, by hand; a
full-batch training loop; gradient descent with and without momentum.
"""
from typing import Callable, Dict, List

import numpy as np
import torch
from torch import nn


class ToyMLP(nn.Module):
    """3 inputs -> 2 sigmoid units -> 1 sigmoid output, no biases."""

    def __init__(self):
        super().__init__()
        self.i = nn.Linear(3, 2, bias=False)
        self.a = nn.Sigmoid()
        self.o = nn.Linear(2, 1, bias=False)

    def forward(self, X):
        return self.a(self.o(self.a(self.i(X))))


class MLP(nn.Module):
    """784 inputs -> 32 sigmoid units -> 10 logits."""

    def __init__(self):
        super().__init__()
        self.i = nn.Linear(784, 32)
        self.a = nn.Sigmoid()
        self.o = nn.Linear(32, 10)

    def forward(self, X):
        return self.o(self.a(self.i(X)))


def manual_gradients(model: ToyMLP, X: torch.Tensor, y: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Gradients of BCELoss()(model(X), y) for the two weight matrices, by hand."""
    with torch.no_grad():
        W1, W2 = model.i.weight, model.o.weight          # (2, 3), (1, 2)
        X2 = X.reshape(-1, 3).to(W1.dtype)               # one row per sample
        Y = y.reshape(-1, 1).to(W1.dtype)
        h = torch.sigmoid(X2 @ W1.T)                     # (N, 2)
        p = torch.sigmoid(h @ W2.T)                      # (N, 1)
        # BCE averaged over the N outputs, through the output sigmoid: (p - y) / N.
        dz2 = (p - Y) / Y.numel()
        dW2 = dz2.T @ h                                  # (1, 2)
        dz1 = (dz2 @ W2) * h * (1 - h)                   # (N, 2)
        dW1 = dz1.T @ X2                                 # (2, 3)
    return {'i.weight': dW1, 'o.weight': dW2}


def train(m: nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int = 100, lr: float = 1.0) -> List[float]:
    """Full-batch gradient descent on the cross-entropy of m's logits."""
    optimizer = torch.optim.SGD(m.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = loss_fn(m(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def gd(x0, grad: Callable, alpha: float, max_iter: int = 10) -> np.ndarray:
    """x0 and max_iter iterates of x <- x - alpha * grad(x)."""
    xs = [x0]
    x = x0
    for _ in range(max_iter):
        x = x - alpha * grad(x)
        xs.append(x)
    return np.array(xs)


def gd_momentum(x0, grad: Callable, alpha: float, beta: float = 0.9, max_iter: int = 10) -> np.ndarray:
    """Gradient descent on a bias-corrected moving average of the gradients."""
    xs, x, v = [x0], x0, 0.0
    for t in range(1, max_iter + 1):
        v = beta * v + (1 - beta) * grad(x)
        x = x - alpha * v / (1 - beta ** t)
        xs.append(x)
    return np.array(xs)
