# numpy_two_layer.py -- Alice
# Same network five ways. I wrote the backward pass with a boolean mask
# multiplied in, and trained copies of the weights.
import numpy as np
import torch


def numpy_forward_backward(x, y, w1, w2):
    h = x @ w1
    active = h > 0
    h_relu = h * active
    y_pred = h_relu @ w2
    diff = y_pred - y
    loss = float(np.sum(diff * diff))

    # backprop
    d_pred = 2 * diff
    grad_w2 = h_relu.T @ d_pred
    grad_w1 = x.T @ ((d_pred @ w2.T) * active)
    return loss, grad_w1, grad_w2


def numpy_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    w1 = np.array(w1, copy=True)
    w2 = np.array(w2, copy=True)
    losses = []
    for epoch in range(num_epochs):
        loss, g1, g2 = numpy_forward_backward(x, y, w1, w2)
        losses.append(loss)
        w1 -= learning_rate * g1
        w2 -= learning_rate * g2
    return w1, w2, losses


def torch_forward_backward(x, y, w1, w2):
    h = x @ w1
    active = (h > 0).to(x.dtype)
    h_relu = h * active
    y_pred = h_relu @ w2
    diff = y_pred - y
    loss = (diff * diff).sum().item()

    d_pred = 2 * diff
    grad_w2 = h_relu.T @ d_pred
    grad_w1 = x.T @ ((d_pred @ w2.T) * active)
    return loss, grad_w1, grad_w2


def autograd_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    losses = []
    for epoch in range(num_epochs):
        y_pred = torch.relu(x @ w1) @ w2
        loss = ((y_pred - y) ** 2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1.sub_(learning_rate * w1.grad)
            w2.sub_(learning_rate * w2.grad)
        w1.grad = None
        w2.grad = None
    return losses


def build_model(D_in, H, D_out):
    layers = [torch.nn.Linear(D_in, H), torch.nn.ReLU(), torch.nn.Linear(H, D_out)]
    return torch.nn.Sequential(*layers)


def optim_train(model, x, y, learning_rate=1e-4, num_epochs=500):
    criterion = torch.nn.MSELoss(reduction="sum")
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = []
    for epoch in range(num_epochs):
        loss = criterion(model(x), y)
        history.append(float(loss))
        model.zero_grad()
        loss.backward()
        opt.step()
    return history
