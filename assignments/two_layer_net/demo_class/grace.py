"""Two-layer net (Grace)."""
import torch


def nn_forward_pass(params, X):
    """hidden = relu(X W1 + b1), scores = hidden W2 + b2"""
    hidden = torch.clamp(X @ params['W1'] + params['b1'], min=0.0)
    scores = hidden @ params['W2'] + params['b2']
    return scores, hidden


def nn_forward_backward(params, X, y=None, reg=0.0):
    """Softmax loss and gradients."""
    W1, W2 = params['W1'], params['W2']
    scores, hidden = nn_forward_pass(params, X)
    if y is None:
        return scores

    num_examples = X.shape[0]
    idx = torch.arange(num_examples, device=X.device)

    # subtract the max so the exponentials stay small
    logits = scores - scores.max(dim=1, keepdim=True).values
    log_z = logits.exp().sum(dim=1).log()
    loss = (log_z - logits[idx, y]).mean()
    loss = loss + reg * (W1.square().sum() + W2.square().sum())

    # softmax probabilities, then subtract one at the true class
    probs = (logits - log_z.unsqueeze(1)).exp()
    probs[idx, y] -= 1
    dscores = probs / num_examples

    dW2 = hidden.t() @ dscores + 2 * reg * W2
    db2 = dscores.sum(dim=0)
    dhidden = (dscores @ W2.t()) * (hidden > 0).to(dscores.dtype)
    dW1 = X.t() @ dhidden + 2 * reg * W1
    db1 = dhidden.sum(dim=0)

    return loss, {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}


def sample_batch(X, y, num_train, batch_size):
    """batch_size random rows, with replacement."""
    rand_idx = torch.randint(num_train, (batch_size,), device=X.device)
    return X[rand_idx], y[rand_idx]


def nn_train(params, loss_func, pred_func, X, y, X_val, y_val,
             learning_rate=1e-3, learning_rate_decay=0.95,
             reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    """Minibatch SGD."""
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)

    loss_history = []
    train_acc_history = []
    val_acc_history = []

    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        loss_history.append(loss.item())

        for name in ('W1', 'b1', 'W2', 'b2'):
            params[name] -= learning_rate * grads[name]

        if verbose and it % 100 == 0:
            print('iteration {} / {}: loss {:.6f}'.format(it, num_iters, loss.item()))

        # end of an epoch: check how we are doing
        if it % iterations_per_epoch == 0:
            train_acc = (pred_func(params, loss_func, X_batch) == y_batch).float().mean().item()
            val_acc = (pred_func(params, loss_func, X_val) == y_val).float().mean().item()
            train_acc_history.append(train_acc)
            val_acc_history.append(val_acc)

    return {
        'loss_history': loss_history,
        'train_acc_history': train_acc_history,
        'val_acc_history': val_acc_history,
    }


def nn_predict(params, loss_func, X):
    """Class predictions for X."""
    scores = loss_func(params, X)
    return scores


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

    def train(self, X, y, X_val, y_val,
              learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100, batch_size=200, verbose=False):
        return nn_train(self.params, nn_forward_backward, nn_predict,
                        X, y, X_val, y_val, learning_rate, learning_rate_decay,
                        reg, num_iters, batch_size, verbose)

    def predict(self, X):
        return nn_predict(self.params, nn_forward_backward, X)

    def save(self, path):
        torch.save(self.params, path)

    def load(self, path):
        self.params = torch.load(path)
