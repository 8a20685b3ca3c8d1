"""Erin's numpy_two_layer: mean squared error everywhere (it's the usual loss, right?)."""
import numpy as np
import torch


def numpy_forward_backward(x, y, w1, w2):
    n = y.size
    h = x @ w1
    h_relu = np.maximum(h, 0)
    y_pred = h_relu @ w2
    loss = float(np.mean((y_pred - y) ** 2))
    grad_y_pred = 2 * (y_pred - y) / n
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = grad_y_pred @ w2.T
    grad_h = grad_h * (h > 0)
    grad_w1 = x.T @ grad_h
    return loss, grad_w1, grad_w2


def numpy_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    losses = []
    for _ in range(num_epochs):
        loss, g1, g2 = numpy_forward_backward(x, y, w1, w2)
        losses.append(loss)
        w1 = w1 - learning_rate * g1
        w2 = w2 - learning_rate * g2
    return w1, w2, losses


def torch_forward_backward(x, y, w1, w2):
    n = y.numel()
    h = x @ w1
    h_relu = torch.clamp(h, min=0)
    y_pred = h_relu @ w2
    loss = torch.mean((y_pred - y) ** 2)
    grad_y_pred = 2 * (y_pred - y) / n
    grad_w2 = h_relu.T @ grad_y_pred
    grad_h = (grad_y_pred @ w2.T) * (h > 0)
    grad_w1 = x.T @ grad_h
    return loss, grad_w1, grad_w2


def autograd_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    losses = []
    for _ in range(num_epochs):
        loss = torch.mean((torch.relu(x @ w1) @ w2 - y) ** 2)
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return losses


def build_model(D_in, H, D_out):
    return torch.nn.Sequential(torch.nn.Linear(D_in, H), torch.nn.ReLU(), torch.nn.Linear(H, D_out))


def optim_train(model, x, y, learning_rate=1e-4, num_epochs=500):
    loss_fn = torch.nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    for _ in range(num_epochs):
        loss = loss_fn(model(x), y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses
