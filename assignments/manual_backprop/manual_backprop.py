"""Backpropagation by hand, then with torch.autograd.

A network with one tanh hidden layer and a softmax output,

    htilde = X @ Wh.T + bh.T,   h = tanh(htilde),
    ytilde = h @ Wy.T + by.T,   yhat = softmax(ytilde)  (row-wise),

trained on the mean cross-entropy L = -mean_i sum_k Y[i, k] log yhat[i, k] with
mini-batch SGD. Parameters use torch.nn.Linear's (out, in) layout and column biases:
Wh (nh, nx), bh (nh, 1), Wy (ny, nh), by (ny, 1). Y is one-hot (n, ny).

init_params, forward and loss_accuracy are provided; fill in the rest. The by-hand
part (backward, sgd, train_manual) must not use autograd: no requires_grad, no
.backward(). helpers.py provides the data: CirclesData() and MNISTData().
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
    """Gradients of L (the mean over the batch) from forward's outputs, by hand.

    Returns a dict with keys 'Wy', 'Wh', 'by', 'bh', each shaped like its parameter
    (by is (ny, 1), bh is (nh, 1)). No autograd.
    """
    raise NotImplementedError(
        "backward: apply the chain rule from dL/dytilde = (yhat - Y) / n down to Wh and bh, by hand"
    )


def sgd(params, grads, eta):
    """One gradient step: params[k] becomes params[k] - eta * grads[k] for every key.
    Returns params."""
    raise NotImplementedError("sgd: set params[k] = params[k] - eta * grads[k] for every key and return params")


def train_manual(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    """Mini-batch SGD with forward / backward / sgd.

    First torch.manual_seed(seed), then params = init_params(nx, nh, ny) with nx, ny
    from data.Xtrain and data.Ytrain. Each epoch: one torch.randperm(N) over the N
    training examples; mini-batches are its consecutive slices of batch_size (the
    last one may be shorter); after the epoch, record on the whole training and test
    sets (forward, then loss_accuracy) the four curves

        curves = {'acc_train': [...], 'acc_test': [...], 'loss_train': [...], 'loss_test': [...]}

    (one float per epoch). Returns (params, curves).
    """
    raise NotImplementedError(
        "train_manual: seed, init_params, then per epoch one randperm, forward/backward/sgd on each "
        "mini-batch, and record the four curves; return (params, curves)"
    )


# ---------------------------------------------------------------- with autograd
def init_params_autograd(nx, nh, ny):
    """As init_params (the same values from the same seed), every tensor a leaf with
    requires_grad=True."""
    raise NotImplementedError("init_params_autograd: init_params' tensors, each with requires_grad switched on")


def sgd_autograd(params, eta):
    """Update each parameter in place from its .grad (p -= eta * p.grad) under
    torch.no_grad(), then zero its .grad. Returns params."""
    raise NotImplementedError("sgd_autograd: under torch.no_grad(), p -= eta * p.grad in place, then zero p.grad")


def train_autograd(data, nh=10, eta=0.03, epochs=150, batch_size=10, seed=0):
    """train_manual's loop, with init_params_autograd, loss.backward() (the loss from
    loss_accuracy) and sgd_autograd. Returns (params, curves)."""
    raise NotImplementedError(
        "train_autograd: train_manual's loop with init_params_autograd, L.backward() and sgd_autograd"
    )


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
