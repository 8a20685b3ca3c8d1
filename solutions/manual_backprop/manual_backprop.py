"""Reference solution for the manual_backprop assignment.

A one-hidden-layer tanh network with a softmax output, trained with mini-batch SGD:
first with a hand-written backward pass, then with torch.autograd; and, as a bonus,
the same by hand for two hidden layers. Parameters use torch.nn.Linear's (out, in)
layout and column biases (out, 1).
"""
from typing import Dict, Tuple

import torch

Params = Dict[str, torch.Tensor]


# ---------------------------------------------------------------- provided
def init_params(nx, nh, ny):
    """Wh (nh, nx), Wy (ny, nh) drawn as 0.3 * randn; bh (nh, 1), by (ny, 1) zeros."""
    params = {}
    params['Wh'] = 0.3 * torch.randn(nh, nx)
    params['Wy'] = 0.3 * torch.randn(ny, nh)
    params['bh'] = torch.zeros(nh, 1)
    params['by'] = torch.zeros(ny, 1)
    return params


def forward(params, X):
    """yhat (n, ny), the row-wise softmax of the network's output, and the
    intermediate values in outputs: X, htilde, h, ytilde, yhat."""
    outputs = {}
    outputs['X'] = X
    outputs['htilde'] = X @ params['Wh'].T + params['bh'].T
    outputs['h'] = torch.tanh(outputs['htilde'])
    outputs['ytilde'] = outputs['h'] @ params['Wy'].T + params['by'].T
    outputs['yhat'] = torch.softmax(outputs['ytilde'], dim=1)
    return outputs['yhat'], outputs


def loss_accuracy(Yhat, Y):
    """L = -mean_i sum_k Y[i, k] log Yhat[i, k] (a 0-dim tensor) and the accuracy in
    percent (a float): how many rows' argmax agree."""
    L = -(Y * torch.log(Yhat)).sum(dim=1).mean()
    acc = 100.0 * (Yhat.argmax(dim=1) == Y.argmax(dim=1)).double().mean().item()
    return L, acc


# ---------------------------------------------------------------- by hand
def backward(params: Params, outputs: Params, Y: torch.Tensor) -> Params:
    """Gradients of the mean cross-entropy, each shaped like its parameter."""
    N = Y.shape[0]
    # Softmax followed by cross-entropy: dL/dytilde = (yhat - Y) / N.
    delta_y = (outputs['yhat'] - Y) / N
    grads = {}
    grads['Wy'] = delta_y.T @ outputs['h']
    grads['by'] = delta_y.sum(dim=0, keepdim=True).T
    # tanh'(htilde) = 1 - tanh(htilde)^2 = 1 - h^2.
    delta_h = (delta_y @ params['Wy']) * (1 - outputs['h'] ** 2)
    grads['Wh'] = delta_h.T @ outputs['X']
    grads['bh'] = delta_h.sum(dim=0, keepdim=True).T
    return grads


def sgd(params: Params, grads: Params, eta: float) -> Params:
    """One gradient step on every parameter."""
    for name in params:
        params[name] = params[name] - eta * grads[name]
    return params


def _record(curves: dict, params: Params, data) -> None:
    """Loss and accuracy on the whole training and test sets, appended to curves."""
    for split, X, Y in (('train', data.Xtrain, data.Ytrain), ('test', data.Xtest, data.Ytest)):
        Yhat, _ = forward(params, X)
        L, acc = loss_accuracy(Yhat, Y)
        curves['loss_' + split].append(L.item())
        curves['acc_' + split].append(acc)


def train_manual(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    """Mini-batch SGD with backward(); returns (params, curves), one curve point per epoch."""
    torch.manual_seed(seed)
    N, nx = data.Xtrain.shape
    ny = data.Ytrain.shape[1]
    params = init_params(nx, nh, ny)
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}
    for epoch in range(epochs):
        perm = torch.randperm(N)  # a new order every epoch
        # Consecutive slices of the permutation; the last one may be shorter.
        for i in range(0, N, batch_size):
            idx = perm[i:i + batch_size]
            Yhat, outputs = forward(params, data.Xtrain[idx])
            grads = backward(params, outputs, data.Ytrain[idx])
            params = sgd(params, grads, eta)
        _record(curves, params, data)
    return params, curves


# ---------------------------------------------------------------- with autograd
def init_params_autograd(nx, nh, ny):
    """init_params, with every tensor a leaf that requires grad."""
    params = init_params(nx, nh, ny)
    for p in params.values():
        p.requires_grad_(True)
    return params


def sgd_autograd(params: Params, eta: float) -> Params:
    """p -= eta * p.grad in place, outside the graph; then zero the grads."""
    with torch.no_grad():
        for name in params:
            params[name] -= eta * params[name].grad
            params[name].grad.zero_()
    return params


def train_autograd(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    """train_manual with loss.backward() and sgd_autograd."""
    torch.manual_seed(seed)
    N, nx = data.Xtrain.shape
    ny = data.Ytrain.shape[1]
    params = init_params_autograd(nx, nh, ny)
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}
    for epoch in range(epochs):
        order = torch.randperm(N)
        for start in range(0, N, batch_size):
            batch = order[start:start + batch_size]
            Yhat, _ = forward(params, data.Xtrain[batch])
            L, _ = loss_accuracy(Yhat, data.Ytrain[batch])
            L.backward()
            params = sgd_autograd(params, eta)
        with torch.no_grad():
            _record(curves, params, data)
    return params, curves


# ---------------------------------------------------------------- bonus: two hidden layers
def init_params_deep(nx, nh1, nh2, ny):
    """W1 (nh1, nx), W2 (nh2, nh1), Wy (ny, nh2) as 0.3 * randn; column biases of zeros."""
    return {
        'W1': 0.3 * torch.randn(nh1, nx), 'b1': torch.zeros(nh1, 1),
        'W2': 0.3 * torch.randn(nh2, nh1), 'b2': torch.zeros(nh2, 1),
        'Wy': 0.3 * torch.randn(ny, nh2), 'by': torch.zeros(ny, 1),
    }


def forward_deep(params: Params, X: torch.Tensor) -> Tuple[torch.Tensor, Params]:
    """X -> tanh -> tanh -> softmax; returns (yhat, outputs)."""
    outputs = {'X': X}
    outputs['h1'] = torch.tanh(X @ params['W1'].T + params['b1'].T)
    outputs['h2'] = torch.tanh(outputs['h1'] @ params['W2'].T + params['b2'].T)
    outputs['yhat'] = torch.softmax(outputs['h2'] @ params['Wy'].T + params['by'].T, dim=1)
    return outputs['yhat'], outputs


def backward_deep(params: Params, outputs: Params, Y: torch.Tensor) -> Params:
    """Gradients of the mean cross-entropy for the two-hidden-layer network."""
    N = Y.shape[0]
    grads = {}
    delta = (outputs['yhat'] - Y) / N
    for W, b, below, act in (('Wy', 'by', 'h2', 'h2'), ('W2', 'b2', 'h1', 'h1'), ('W1', 'b1', 'X', None)):
        grads[W] = delta.T @ outputs[below]
        grads[b] = delta.sum(dim=0, keepdim=True).T
        if act is not None:
            delta = (delta @ params[W]) * (1 - outputs[act] ** 2)
    return grads
