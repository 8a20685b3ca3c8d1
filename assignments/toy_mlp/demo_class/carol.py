# Carol -- toy_mlp (following the lecture notebook)
import numpy as np
import torch
from torch import nn

from helpers import load_digits_784


class ToyMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.i = nn.Linear(3, 2, bias=False)
        self.a = nn.Sigmoid()
        self.o = nn.Linear(2, 1, bias=False)

    def forward(self, X):
        return self.a(self.o(self.a(self.i(X))))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.i = nn.Linear(784, 32)
        self.a = nn.Sigmoid()
        self.o = nn.Linear(32, 10)

    def forward(self, X):
        return self.o(self.a(self.i(X)))


def sigmoid(z):
    return 1 / (1 + torch.exp(-z))


def manual_gradients(model, X, y):
    with torch.no_grad():
        w_i = model.i.weight
        w_o = model.o.weight
        X = X.reshape(-1, 3)
        y = y.reshape(-1, 1)
        z1 = X @ w_i.T
        h = sigmoid(z1)
        z2 = h @ w_o.T
        y_hat = sigmoid(z2)
        # dL/dy_hat * dy_hat/dz2
        d_z2 = (y_hat - y) / len(y)
        d_w_o = d_z2.T @ h
        d_h = d_z2 @ w_o
        d_z1 = d_h * h * (1 - h)
        d_w_i = d_z1.T @ X
    return {'i.weight': d_w_i, 'o.weight': d_w_o}


def train(m, X, y, epochs=100, lr=1.0):
    optimizer = torch.optim.SGD(m.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for epoch in range(epochs):
        output = m(X)
        loss = loss_fn(output, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def gd(x0, grad, alpha, max_iter=10):
    x = x0
    xs = [x]
    for i in range(max_iter):
        x = x - alpha * grad(x)
        xs.append(x)
    return np.array(xs)


def gd_momentum(x0, grad, alpha, beta=0.9, max_iter=10):
    x = x0
    v = 0
    xs = [x]
    for i in range(max_iter):
        v = beta * v + (1 - beta) * grad(x)
        x = x - alpha * v
        xs.append(x)
    return np.array(xs)
