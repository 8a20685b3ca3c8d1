"""TME backprop -- Chloe Martin
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
    X, h, yhat = outputs['X'], outputs['h'], outputs['yhat']
    n = X.shape[0]

    delta_y = yhat - Y                                   # (n, ny)
    grad_Wy = delta_y.T @ h / n                          # (ny, nh)
    grad_by = delta_y.mean(dim=0).unsqueeze(1)           # (ny, 1)

    delta_h = (delta_y @ params['Wy']) * (1 - h * h)     # (n, nh)
    grad_Wh = delta_h.T @ X / n                          # (nh, nx)
    grad_bh = delta_h.mean(dim=0).unsqueeze(1)           # (nh, 1)

    return {'Wy': grad_Wy, 'Wh': grad_Wh, 'by': grad_by, 'bh': grad_bh}


def sgd(params, grads, eta):
    for k in params:
        params[k] = params[k] - eta * grads[k]
    return params


def train_manual(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    torch.manual_seed(seed)
    N, nx = data.Xtrain.shape
    ny = data.Ytrain.shape[1]
    params = init_params(nx, nh, ny)
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}

    # shuffle the training set
    perm = torch.randperm(N)
    Xtrain, Ytrain = data.Xtrain[perm], data.Ytrain[perm]

    for epoch in range(epochs):
        for j in range(0, N, batch_size):
            X = Xtrain[j:j + batch_size]
            Y = Ytrain[j:j + batch_size]
            Yhat, outputs = forward(params, X)
            grads = backward(params, outputs, Y)
            params = sgd(params, grads, eta)

        Yhat, _ = forward(params, data.Xtrain)
        L, acc = loss_accuracy(Yhat, data.Ytrain)
        curves['loss_train'].append(L.item())
        curves['acc_train'].append(acc)
        Yhat, _ = forward(params, data.Xtest)
        L, acc = loss_accuracy(Yhat, data.Ytest)
        curves['loss_test'].append(L.item())
        curves['acc_test'].append(acc)
        if epoch % 50 == 0:
            print(f"epoch {epoch}: loss {curves['loss_train'][-1]:.3f}, test acc {acc:.1f}%")
    return params, curves


# ---------------------------------------------------------------- with autograd
def init_params_autograd(nx, nh, ny):
    params = init_params(nx, nh, ny)
    for k in params:
        params[k].requires_grad = True
    return params


def sgd_autograd(params, eta):
    with torch.no_grad():
        for k in params:
            params[k] -= eta * params[k].grad
            params[k].grad.zero_()
    return params


def train_autograd(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    torch.manual_seed(seed)
    N, nx = data.Xtrain.shape
    ny = data.Ytrain.shape[1]
    params = init_params_autograd(nx, nh, ny)
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}

    perm = torch.randperm(N)
    Xtrain, Ytrain = data.Xtrain[perm], data.Ytrain[perm]

    for epoch in range(epochs):
        for j in range(0, N, batch_size):
            Yhat, _ = forward(params, Xtrain[j:j + batch_size])
            L, _ = loss_accuracy(Yhat, Ytrain[j:j + batch_size])
            L.backward()
            params = sgd_autograd(params, eta)

        with torch.no_grad():
            for split in ('train', 'test'):
                X, Y = (data.Xtrain, data.Ytrain) if split == 'train' else (data.Xtest, data.Ytest)
                L, acc = loss_accuracy(forward(params, X)[0], Y)
                curves['loss_' + split].append(L.item())
                curves['acc_' + split].append(acc)
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
