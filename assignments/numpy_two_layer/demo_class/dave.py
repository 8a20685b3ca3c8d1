# numpy_two_layer.py -- dave
# the torch version just lets autograd do the work, it's the same gradients anyway
import numpy as np
import torch


def numpy_forward_backward(x, y, w1, w2):
    h = np.dot(x, w1)
    h_relu = np.maximum(h, 0)
    y_pred = np.dot(h_relu, w2)
    loss = float(((y_pred - y) ** 2).sum())
    g_pred = 2 * (y_pred - y)
    grad_w2 = np.dot(h_relu.T, g_pred)
    g_h = np.dot(g_pred, w2.T)
    g_h[h < 0] = 0
    grad_w1 = np.dot(x.T, g_h)
    return loss, grad_w1, grad_w2


def numpy_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    w1, w2 = w1.copy(), w2.copy()
    losses = []
    for _ in range(num_epochs):
        loss, g1, g2 = numpy_forward_backward(x, y, w1, w2)
        losses.append(loss)
        w1 = w1 - learning_rate * g1
        w2 = w2 - learning_rate * g2
    return w1, w2, losses


def torch_forward_backward(x, y, w1, w2):
    w1 = w1.detach().clone().requires_grad_(True)
    w2 = w2.detach().clone().requires_grad_(True)
    loss = ((x.mm(w1).clamp(min=0).mm(w2) - y) ** 2).sum()
    loss.backward()
    return loss.item(), w1.grad, w2.grad


def autograd_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    losses = []
    for _ in range(num_epochs):
        loss = ((x.mm(w1).clamp(min=0).mm(w2) - y) ** 2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad
    return losses


def build_model(D_in, H, D_out):
    return torch.nn.Sequential(torch.nn.Linear(D_in, H), torch.nn.ReLU(), torch.nn.Linear(H, D_out))


def optim_train(model, x, y, learning_rate=1e-4, num_epochs=500):
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
