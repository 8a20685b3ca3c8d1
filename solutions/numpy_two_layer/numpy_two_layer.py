"""Reference solution for the numpy_two_layer assignment.

The same two-layer ReLU network (no biases, sum of squared errors) five ways:
NumPy with hand-written gradients, torch tensors with hand-written gradients,
autograd, nn.Sequential, and torch.optim.
"""
from typing import List, Tuple

import numpy as np
import torch


def numpy_forward_backward(x: np.ndarray, y: np.ndarray, w1: np.ndarray,
                           w2: np.ndarray) -> Tuple[float, np.ndarray, np.ndarray]:
    """Loss sum((relu(x @ w1) @ w2 - y) ** 2) and its gradients for w1 and w2."""
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)
    loss = float(np.square(y_pred - y).sum())

    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.T.dot(grad_y_pred)
    grad_h_relu = grad_y_pred.dot(w2.T)
    # A new array: the mask must not write into anything the caller holds.
    grad_h = np.where(h < 0, 0.0, grad_h_relu)
    grad_w1 = x.T.dot(grad_h)
    return loss, grad_w1, grad_w2


def numpy_train(x: np.ndarray, y: np.ndarray, w1: np.ndarray, w2: np.ndarray,
                learning_rate: float = 1e-6, num_epochs: int = 500
                ) -> Tuple[np.ndarray, np.ndarray, List[float]]:
    """Full-batch gradient descent; losses[t] is the loss before step t."""
    losses = []
    for _ in range(num_epochs):
        loss, grad_w1, grad_w2 = numpy_forward_backward(x, y, w1, w2)
        losses.append(loss)
        w1, w2 = w1 - learning_rate * grad_w1, w2 - learning_rate * grad_w2
    return w1, w2, losses


def torch_forward_backward(x: torch.Tensor, y: torch.Tensor, w1: torch.Tensor,
                           w2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """numpy_forward_backward with torch tensors, by hand: no autograd."""
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum()

    grad_y_pred = (y_pred - y) * 2.0
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)
    return loss, grad_w1, grad_w2


def autograd_train(x: torch.Tensor, y: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor,
                   learning_rate: float = 1e-6, num_epochs: int = 500) -> List[float]:
    """Gradient descent on w1, w2 (requires_grad=True) with autograd, updated in place."""
    losses = []
    for _ in range(num_epochs):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for w in (w1, w2):
                w -= learning_rate * w.grad
                w.grad.zero_()
    return losses


def build_model(D_in: int, H: int, D_out: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )


def optim_train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                learning_rate: float = 1e-4, num_epochs: int = 500) -> List[float]:
    """Adam on the sum of squared errors; losses[t] is the loss before step t."""
    loss_fn = torch.nn.MSELoss(reduction='sum')
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    for _ in range(num_epochs):
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses
