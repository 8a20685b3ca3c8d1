# Ivan -- two layer net
# I run this on the lab GPU, so float32 + cuda everywhere (float64 is slow on GPUs)
import torch


def nn_forward_pass(params, X):
    W1, b1, W2, b2 = params['W1'], params['b1'], params['W2'], params['b2']
    hidden = torch.relu(X @ W1 + b1)
    scores = hidden @ W2 + b2
    return scores, hidden


def nn_forward_backward(params, X, y=None, reg=0.0):
    W1, b1, W2, b2 = params['W1'], params['b1'], params['W2'], params['b2']
    scores, hidden = nn_forward_pass(params, X)
    if y is None:
        return scores

    N, C = scores.shape

    # labels as a one-hot matrix
    Y = torch.zeros(N, C, dtype=torch.float32, device=X.device)
    Y[torch.arange(N, device=X.device), y] = 1.0

    # softmax, stable
    shifted = scores - scores.max(dim=1, keepdim=True).values
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    probs = torch.exp(log_probs)

    # cross entropy = -sum_c Y_c log p_c, averaged over the batch
    loss = -(Y * log_probs).sum() / N
    loss = loss + reg * (torch.sum(W1 ** 2) + torch.sum(W2 ** 2))

    # dL/dW2 = h^T (P - Y) / N, split in two products
    dW2 = (hidden.t() @ probs - hidden.t() @ Y) / N + 2 * reg * W2
    dscores = (probs - Y) / N
    db2 = dscores.sum(dim=0)

    dhidden = dscores @ W2.t()
    dhidden = dhidden * (hidden > 0).float()
    dW1 = X.t() @ dhidden + 2 * reg * W1
    db1 = dhidden.sum(dim=0)

    return loss, {'W1': dW1, 'b1': db1, 'W2': dW2, 'b2': db2}


def sample_batch(X, y, num_train, batch_size):
    batch_idx = torch.randint(num_train, (batch_size,), device=X.device)
    return X[batch_idx], y[batch_idx]


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

        # SGD
        for p in params:
            params[p] -= learning_rate * grads[p]

        if verbose and it % 100 == 0:
            print('iteration %d / %d: loss %f' % (it, num_iters, loss.item()))

        if it % iterations_per_epoch == 0:
            train_acc = (pred_func(params, loss_func, X_batch) == y_batch).float().mean().item()
            val_acc = (pred_func(params, loss_func, X_val) == y_val).float().mean().item()
            train_acc_history.append(train_acc)
            val_acc_history.append(val_acc)
            learning_rate *= learning_rate_decay

    return {
        'loss_history': loss_history,
        'train_acc_history': train_acc_history,
        'val_acc_history': val_acc_history,
    }


def nn_predict(params, loss_func, X):
    return torch.argmax(loss_func(params, X), dim=1)


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size,
                 dtype=torch.float32, device='cuda', std=1e-4):
        self.params = {
            'W1': std * torch.randn(input_size, hidden_size, dtype=torch.float32, device=device),
            'b1': torch.zeros(hidden_size, dtype=torch.float32, device=device),
            'W2': std * torch.randn(hidden_size, output_size, dtype=torch.float32, device=device),
            'b2': torch.zeros(output_size, dtype=torch.float32, device=device),
        }

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
