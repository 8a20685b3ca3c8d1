import torch

# Heidi
# TODO: clean up before submitting


def nn_forward_pass(params, X):
    W1, b1 = params['W1'], params['b1']
    W2, b2 = params['W2'], params['b2']
    hidden = torch.relu(X.matmul(W1) + b1)
    scores = hidden.matmul(W2) + b2
    return scores, hidden


def nn_forward_backward(params, X, y=None, reg=0.0):
    W1, b1 = params['W1'], params['b1']
    W2, b2 = params['W2'], params['b2']
    scores, hidden = nn_forward_pass(params, X)
    if y is None:
        return scores

    N = X.shape[0]
    ar = torch.arange(N, device=X.device)

    # stable softmax
    m = scores.max(dim=1, keepdim=True).values
    e = (scores - m).exp()
    denom = e.sum(dim=1, keepdim=True)
    P = e / denom
    # -log(P[y]) = log(denom) - (s_y - m)
    loss = (denom.squeeze(1).log() - (scores - m)[ar, y]).mean()
    loss = loss + reg * ((W1 * W1).sum() + (W2 * W2).sum())

    dS = P.clone()
    dS[ar, y] -= 1
    dS = dS / N

    grads = {}
    grads['W2'] = hidden.T.matmul(dS) + 2 * reg * W2
    grads['b2'] = dS.sum(0)
    dH = dS.matmul(W2.T)
    dH = dH * (hidden > 0)
    grads['W1'] = X.T.matmul(dH) + 2 * reg * W1
    grads['b1'] = dH.sum(0)
    return loss, grads


def sample_batch(X, y, num_train, batch_size)
    ix = torch.randint(num_train, (batch_size,), device=X.device)
    return X[ix], y[ix]


def nn_train(params, loss_func, pred_func, X, y, X_val, y_val,
             learning_rate=1e-3, learning_rate_decay=0.95,
             reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)
    loss_history = []
    train_acc_history = []
    val_acc_history = []

    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        loss_history.append(loss.item())
        for k in params:
            params[k] -= learning_rate * grads[k]
        if verbose and it % 100 == 0:
            print('iteration %d / %d: loss %f' % (it, num_iters, loss.item()))
        if it % iterations_per_epoch == 0:
            tr = pred_func(params, loss_func, X_batch)
            va = pred_func(params, loss_func, X_val)
            train_acc_history.append((tr == y_batch).float().mean().item())
            val_acc_history.append((va == y_val).float().mean().item())
            learning_rate *= learning_rate_decay
    return {'loss_history': loss_history,
            'train_acc_history': train_acc_history,
            'val_acc_history': val_acc_history}


def nn_predict(params, loss_func, X):
    return loss_func(params, X).argmax(1)


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size,
                 dtype=torch.float32, device='cpu', std=1e-4):
        self.params = {}
        self.params['W1'] = std * torch.randn(input_size, hidden_size, dtype=dtype, device=device)
        self.params['b1'] = torch.zeros(hidden_size, dtype=dtype, device=device)
        self.params['W2'] = std * torch.randn(hidden_size, output_size, dtype=dtype, device=device)
        self.params['b2'] = torch.zeros(output_size, dtype=dtype, device=device)

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
