"""
Erin's two layer net.

Notation:  z1 = X W1 + b1,  a1 = relu(z1),  z2 = a1 W2 + b2 (the scores)
"""
import torch


def nn_forward_pass(params, X):
    z1 = X @ params['W1'] + params['b1']
    a1 = torch.relu(z1)
    z2 = a1 @ params['W2'] + params['b2']
    return z2, a1


def nn_forward_backward(params, X, y=None, reg=0.0):
    W1, b1, W2, b2 = (params[k] for k in ('W1', 'b1', 'W2', 'b2'))
    z2, a1 = nn_forward_pass(params, X)
    if y is None:
        return z2

    N = X.shape[0]
    rows = torch.arange(N, device=X.device)

    # log softmax, max trick for stability
    z2_shift = z2 - z2.max(dim=1, keepdim=True).values
    log_p = z2_shift - torch.logsumexp(z2_shift, dim=1, keepdim=True)
    loss = -log_p[rows, y].mean() + reg * ((W1 ** 2).sum() + (W2 ** 2).sum())

    # dL/dz2
    dz2 = log_p.exp()
    dz2[rows, y] -= 1.0
    dz2 /= N

    dW2 = a1.T @ dz2 + 2 * reg * W2
    db2 = dz2.sum(dim=0)

    # back through the relu into layer 1
    dz1 = dz2 @ W2.T
    dW1 = X.T @ dz1 + 2 * reg * W1
    db1 = dz1.sum(dim=0)

    return loss, {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}


def sample_batch(X, y, num_train, batch_size):
    i = torch.randint(num_train, (batch_size,), device=X.device)
    return X[i], y[i]


def nn_train(params, loss_func, pred_func, X, y, X_val, y_val,
             learning_rate=1e-3, learning_rate_decay=0.95,
             reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)
    stats = {'loss_history': [], 'train_acc_history': [], 'val_acc_history': []}

    for it in range(num_iters):
        Xb, yb = sample_batch(X, y, num_train, batch_size)
        loss, grads = loss_func(params, Xb, y=yb, reg=reg)
        stats['loss_history'].append(loss.item())

        for k in params:
            params[k] -= learning_rate * grads[k]

        if verbose and it % 100 == 0:
            print('iteration %d / %d: loss %f' % (it, num_iters, loss.item()))

        if it % iterations_per_epoch == 0:
            stats['train_acc_history'].append(
                (pred_func(params, loss_func, Xb) == yb).float().mean().item())
            stats['val_acc_history'].append(
                (pred_func(params, loss_func, X_val) == y_val).float().mean().item())
            learning_rate *= learning_rate_decay

    return stats


def nn_predict(params, loss_func, X):
    return loss_func(params, X).argmax(dim=1)


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size,
                 dtype=torch.float32, device='cpu', std=1e-4):
        self.params = {
            'W1': std * torch.randn(input_size, hidden_size, dtype=dtype, device=device),
            'b1': torch.zeros(hidden_size, dtype=dtype, device=device),
            'W2': std * torch.randn(hidden_size, output_size, dtype=dtype, device=device),
            'b2': torch.zeros(output_size, dtype=dtype, device=device),
        }

    def loss(self, X, y=None, reg=0.0):
        return nn_forward_backward(self.params, X, y, reg)

    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100, batch_size=200, verbose=False):
        return nn_train(self.params, nn_forward_backward, nn_predict, X, y, X_val, y_val,
                        learning_rate, learning_rate_decay, reg, num_iters, batch_size, verbose)

    def predict(self, X):
        return nn_predict(self.params, nn_forward_backward, X)

    def save(self, path):
        torch.save(self.params, path)

    def load(self, path):
        self.params = torch.load(path)
