"""TP backprop -- Amira.

Same network as in the handout; I wrote the gradients with einsum because the
index notation is how I derived them on paper.
"""
import torch


def init_params(nx, nh, ny):
    params = {}
    params['Wh'] = 0.3 * torch.randn(nh, nx)
    params['Wy'] = 0.3 * torch.randn(ny, nh)
    params['bh'] = torch.zeros(nh, 1)
    params['by'] = torch.zeros(ny, 1)
    return params


def forward(params, X):
    outputs = {}
    outputs['X'] = X
    outputs['htilde'] = X @ params['Wh'].T + params['bh'].T
    outputs['h'] = torch.tanh(outputs['htilde'])
    outputs['ytilde'] = outputs['h'] @ params['Wy'].T + params['by'].T
    outputs['yhat'] = torch.softmax(outputs['ytilde'], dim=1)
    return outputs['yhat'], outputs


def loss_accuracy(Yhat, Y):
    L = -(Y * torch.log(Yhat)).sum(dim=1).mean()
    acc = 100.0 * (Yhat.argmax(dim=1) == Y.argmax(dim=1)).double().mean().item()
    return L, acc


def backward(params, outputs, Y):
    n = Y.shape[0]
    # dL/dytilde_ik = (yhat_ik - Y_ik) / n
    d_ytilde = (outputs['yhat'] - Y) / n
    # dL/dWy_kj = sum_i d_ytilde_ik h_ij
    d_Wy = torch.einsum('ik,ij->kj', d_ytilde, outputs['h'])
    d_by = d_ytilde.sum(0).reshape(-1, 1)
    # dL/dh_ij = sum_k d_ytilde_ik Wy_kj ; tanh' = 1 - tanh^2
    d_h = torch.einsum('ik,kj->ij', d_ytilde, params['Wy'])
    d_htilde = d_h * (1 - torch.tanh(outputs['htilde']) ** 2)
    d_Wh = torch.einsum('ij,il->jl', d_htilde, outputs['X'])
    d_bh = d_htilde.sum(0).reshape(-1, 1)
    return {'Wy': d_Wy, 'Wh': d_Wh, 'by': d_by, 'bh': d_bh}


def sgd(params, grads, eta):
    return {name: value.sub(grads[name], alpha=eta) for name, value in params.items()}


def _evaluate(params, data):
    Yhat_train, _ = forward(params, data.Xtrain)
    Yhat_test, _ = forward(params, data.Xtest)
    L_train, acc_train = loss_accuracy(Yhat_train, data.Ytrain)
    L_test, acc_test = loss_accuracy(Yhat_test, data.Ytest)
    return L_train.item(), L_test.item(), acc_train, acc_test


def train_manual(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    torch.manual_seed(seed)
    N = data.Xtrain.shape[0]
    params = init_params(data.Xtrain.shape[1], nh, data.Ytrain.shape[1])
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}
    for epoch in range(epochs):
        indices = torch.randperm(N)
        for batch in torch.split(indices, batch_size):
            Yhat, outputs = forward(params, data.Xtrain[batch])
            params = sgd(params, backward(params, outputs, data.Ytrain[batch]), eta)
        L_train, L_test, acc_train, acc_test = _evaluate(params, data)
        curves['loss_train'].append(L_train)
        curves['loss_test'].append(L_test)
        curves['acc_train'].append(acc_train)
        curves['acc_test'].append(acc_test)
    return params, curves


def init_params_autograd(nx, nh, ny):
    return {name: p.requires_grad_() for name, p in init_params(nx, nh, ny).items()}


def sgd_autograd(params, eta):
    with torch.no_grad():
        for p in params.values():
            p.sub_(eta * p.grad)
            p.grad = None
    return params


def train_autograd(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    torch.manual_seed(seed)
    N = data.Xtrain.shape[0]
    params = init_params_autograd(data.Xtrain.shape[1], nh, data.Ytrain.shape[1])
    curves = {'acc_train': [], 'acc_test': [], 'loss_train': [], 'loss_test': []}
    for epoch in range(epochs):
        for batch in torch.split(torch.randperm(N), batch_size):
            Yhat, _ = forward(params, data.Xtrain[batch])
            loss, _ = loss_accuracy(Yhat, data.Ytrain[batch])
            loss.backward()
            sgd_autograd(params, eta)
        with torch.no_grad():
            L_train, L_test, acc_train, acc_test = _evaluate(params, data)
        curves['loss_train'].append(L_train)
        curves['loss_test'].append(L_test)
        curves['acc_train'].append(acc_train)
        curves['acc_test'].append(acc_test)
    return params, curves


# ---- bonus
def init_params_deep(nx, nh1, nh2, ny):
    return {'W1': 0.3 * torch.randn(nh1, nx), 'b1': torch.zeros(nh1, 1),
            'W2': 0.3 * torch.randn(nh2, nh1), 'b2': torch.zeros(nh2, 1),
            'Wy': 0.3 * torch.randn(ny, nh2), 'by': torch.zeros(ny, 1)}


def forward_deep(params, X):
    a1 = X @ params['W1'].T + params['b1'].T
    h1 = torch.tanh(a1)
    a2 = h1 @ params['W2'].T + params['b2'].T
    h2 = torch.tanh(a2)
    yhat = torch.softmax(h2 @ params['Wy'].T + params['by'].T, dim=1)
    return yhat, {'X': X, 'h1': h1, 'h2': h2, 'yhat': yhat}


def backward_deep(params, outputs, Y):
    n = Y.shape[0]
    d3 = (outputs['yhat'] - Y) / n
    d2 = (d3 @ params['Wy']) * (1 - outputs['h2'] ** 2)
    d1 = (d2 @ params['W2']) * (1 - outputs['h1'] ** 2)
    return {'Wy': d3.T @ outputs['h2'], 'by': d3.sum(0).reshape(-1, 1),
            'W2': d2.T @ outputs['h1'], 'b2': d2.sum(0).reshape(-1, 1),
            'W1': d1.T @ outputs['X'], 'b1': d1.sum(0).reshape(-1, 1)}
