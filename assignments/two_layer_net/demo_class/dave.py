# two_layer_net.py  -- dave
# fully connected net: affine -> relu -> affine -> softmax loss
import torch


def nn_forward_pass(params, X):
    z1 = torch.addmm(params['b1'], X, params['W1'])   # b1 + X W1
    a1 = torch.maximum(z1, torch.zeros_like(z1))       # relu
    scores = torch.addmm(params['b2'], a1, params['W2'])
    return scores, a1


def nn_forward_backward(params, X, y=None, reg=0.0):
    W1 = params['W1']
    W2 = params['W2']

    scores, a1 = nn_forward_pass(params, X)
    if y is None:
        return scores

    n = X.shape[0]

    # softmax (stable version, subtract max of each row)
    scores_stable = scores - scores.amax(dim=1, keepdim=True)
    exps = torch.exp(scores_stable)
    sums = exps.sum(dim=1, keepdim=True)
    probs = exps / sums

    # cross entropy: -log p_y = log(sum) - score_y
    log_likelihood = torch.log(sums.squeeze(1)) - scores_stable[range(n), y]
    loss = log_likelihood.mean()
    # L2 penalty on the weights (not the biases)
    loss += reg * (W1.pow(2).sum() + W2.pow(2).sum())

    # backprop
    dscores = probs.clone()
    dscores[range(n), y] -= 1
    dscores = dscores / n

    grads = {}
    grads['W2'] = a1.T @ dscores
    grads['b2'] = dscores.sum(0)

    da1 = dscores @ W2.T
    dz1 = da1 * (a1 > 0)
    grads['W1'] = X.T @ dz1
    grads['b1'] = dz1.sum(0)

    return loss, grads


def sample_batch(X, y, num_train, batch_size):
    # random indices WITH replacement
    inds = torch.randint(num_train, (batch_size,), device=X.device)
    return X[inds], y[inds]


def nn_train(params, loss_func, pred_func, X, y, X_val, y_val,
             learning_rate=1e-3, learning_rate_decay=0.95,
             reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)

    loss_history, train_acc_history, val_acc_history = [], [], []

    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        loss_history.append(loss.item())

        for name, g in grads.items():
            params[name] -= learning_rate * g

        if verbose and it % 100 == 0:
            print(f"iteration {it} / {num_iters}: loss {loss.item():.6f}")

        if it % iterations_per_epoch == 0:
            train_acc = (pred_func(params, loss_func, X_batch) == y_batch).float().mean().item()
            val_acc = (pred_func(params, loss_func, X_val) == y_val).float().mean().item()
            train_acc_history.append(train_acc)
            val_acc_history.append(val_acc)
            learning_rate *= learning_rate_decay

    return {'loss_history': loss_history,
            'train_acc_history': train_acc_history,
            'val_acc_history': val_acc_history}


def nn_predict(params, loss_func, X):
    return torch.argmax(loss_func(params, X), dim=1)


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size,
                 dtype=torch.float32, device='cpu', std=1e-4):
        kw = dict(dtype=dtype, device=device)
        self.params = {
            'W1': std * torch.randn(input_size, hidden_size, **kw),
            'b1': torch.zeros(hidden_size, **kw),
            'W2': std * torch.randn(hidden_size, output_size, **kw),
            'b2': torch.zeros(output_size, **kw),
        }

    def loss(self, X, y=None, reg=0.0):
        return nn_forward_backward(self.params, X, y, reg)

    def train(self, X, y, X_val, y_val, learning_rate=1e-3,
              learning_rate_decay=0.95, reg=5e-6, num_iters=100,
              batch_size=200, verbose=False):
        return nn_train(self.params, nn_forward_backward, nn_predict,
                        X, y, X_val, y_val, learning_rate=learning_rate,
                        learning_rate_decay=learning_rate_decay, reg=reg,
                        num_iters=num_iters, batch_size=batch_size,
                        verbose=verbose)

    def predict(self, X):
        return nn_predict(self.params, nn_forward_backward, X)

    def save(self, path):
        torch.save(self.params, path)

    def load(self, path):
        self.params = torch.load(path, weights_only=True)
