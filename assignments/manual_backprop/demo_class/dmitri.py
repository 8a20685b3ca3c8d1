# manual_backprop.py -- Dmitri
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
    N = Y.shape[0]
    grads = {}
    dytilde = (outputs['yhat'] - Y) / N
    grads['Wy'] = torch.mm(dytilde.t(), outputs['h'])
    grads['by'] = torch.sum(dytilde, 0, keepdim=True).t()
    dh = torch.mm(dytilde, params['Wy'])
    dhtilde = dh * (1 - outputs['htilde'] ** 2)     # derivative of tanh
    grads['Wh'] = torch.mm(dhtilde.t(), outputs['X'])
    grads['bh'] = torch.sum(dhtilde, 0, keepdim=True).t()
    return grads


def sgd(params, grads, eta):
    new_params = {}
    for name in ['Wh', 'bh', 'Wy', 'by']:
        new_params[name] = params[name] - eta * grads[name]
    return new_params


def train_manual(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    torch.manual_seed(seed)
    N = data.Xtrain.shape[0]
    params = init_params(data.Xtrain.shape[1], nh, data.Ytrain.shape[1])
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}
    nb_batches = (N + batch_size - 1) // batch_size
    for epoch in range(epochs):
        perm = torch.randperm(N)
        for b in range(nb_batches):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            _, outputs = forward(params, data.Xtrain[idx])
            params = sgd(params, backward(params, outputs, data.Ytrain[idx]), eta)
        for name, X, Y in [('train', data.Xtrain, data.Ytrain), ('test', data.Xtest, data.Ytest)]:
            L, acc = loss_accuracy(forward(params, X)[0], Y)
            curves['loss_' + name].append(float(L))
            curves['acc_' + name].append(acc)
    return params, curves


# ---------------------------------------------------------------- with autograd
def init_params_autograd(nx, nh, ny):
    params = init_params(nx, nh, ny)
    return {name: t.clone().requires_grad_(True) for name, t in params.items()}


def sgd_autograd(params, eta):
    with torch.no_grad():
        for name in params:
            params[name] -= eta * params[name].grad
    return params


def train_autograd(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    torch.manual_seed(seed)
    N = data.Xtrain.shape[0]
    params = init_params_autograd(data.Xtrain.shape[1], nh, data.Ytrain.shape[1])
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}
    nb_batches = (N + batch_size - 1) // batch_size
    for epoch in range(epochs):
        perm = torch.randperm(N)
        for b in range(nb_batches):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            yhat, _ = forward(params, data.Xtrain[idx])
            L, _ = loss_accuracy(yhat, data.Ytrain[idx])
            L.backward()
            params = sgd_autograd(params, eta)
        with torch.no_grad():
            for name, X, Y in [('train', data.Xtrain, data.Ytrain), ('test', data.Xtest, data.Ytest)]:
                L, acc = loss_accuracy(forward(params, X)[0], Y)
                curves['loss_' + name].append(float(L))
                curves['acc_' + name].append(acc)
    return params, curves


# ---------------------------------------------------------------- bonus: two hidden layers
def init_params_deep(nx, nh1, nh2, ny):
    return {'W1': 0.3 * torch.randn(nh1, nx), 'b1': torch.zeros(nh1, 1),
            'W2': 0.3 * torch.randn(nh2, nh1), 'b2': torch.zeros(nh2, 1),
            'Wy': 0.3 * torch.randn(ny, nh2), 'by': torch.zeros(ny, 1)}


def forward_deep(params, X):
    out = {'X': X}
    out['h1'] = torch.tanh(X @ params['W1'].T + params['b1'].T)
    out['h2'] = torch.tanh(out['h1'] @ params['W2'].T + params['b2'].T)
    out['yhat'] = torch.softmax(out['h2'] @ params['Wy'].T + params['by'].T, dim=1)
    return out['yhat'], out


def backward_deep(params, outputs, Y):
    N = Y.shape[0]
    g = {}
    d = (outputs['yhat'] - Y) / N
    g['Wy'], g['by'] = d.t() @ outputs['h2'], d.sum(0, keepdim=True).t()
    d = d @ params['Wy']
    g['W2'], g['b2'] = d.t() @ outputs['h1'], d.sum(0, keepdim=True).t()
    d = d @ params['W2']
    g['W1'], g['b1'] = d.t() @ outputs['X'], d.sum(0, keepdim=True).t()
    return g
