"""Two-layer neural network, written by hand.

Alice -- assignment 3, part 1.
"""
import torch


def nn_forward_pass(params, X):
    """Forward pass: returns (scores, hidden)."""
    W1, b1, W2, b2 = params['W1'], params['b1'], params['W2'], params['b2']

    pre_activation = X @ W1 + b1                      # (N, H)
    # ReLU written with torch.where so I can see exactly which units are "off"
    hidden = torch.where(pre_activation > 0, pre_activation,
                         torch.zeros_like(pre_activation))
    scores = hidden @ W2 + b2                         # (N, C)
    return scores, hidden


def nn_forward_backward(params, X, y=None, reg=0.0):
    """Scores if y is None, otherwise (loss, grads)."""
    W1, W2 = params['W1'], params['W2']
    num_samples = X.shape[0]

    scores, hidden = nn_forward_pass(params, X)
    if y is None:
        return scores

    # --- loss ---
    # shift every row so its largest score is 0 -> exp() can't blow up
    row_max = torch.max(scores, dim=1, keepdim=True)[0]
    shifted_scores = scores - row_max
    log_normalizer = torch.log(torch.sum(torch.exp(shifted_scores), dim=1, keepdim=True))
    log_softmax = shifted_scores - log_normalizer

    correct_log_prob = log_softmax.gather(1, y.view(-1, 1))
    data_loss = -correct_log_prob.mean()
    reg_loss = reg * (torch.sum(W1 * W1) + torch.sum(W2 * W2))
    loss = data_loss + reg_loss

    # --- backward ---
    softmax = torch.exp(log_softmax)
    # one-hot matrix of the labels, built with scatter (same dtype/device as scores)
    y_one_hot = torch.zeros_like(scores).scatter(1, y.view(-1, 1), 1.0)
    d_scores = (softmax - y_one_hot) / num_samples           # (N, C)

    grads = {}
    grads['W2'] = hidden.t() @ d_scores + 2 * reg * W2       # (H, C)
    grads['b2'] = d_scores.sum(dim=0)                         # (C,)

    d_hidden = d_scores @ W2.t()                              # (N, H)
    d_pre_activation = torch.where(hidden > 0, d_hidden, torch.zeros_like(d_hidden))
    grads['W1'] = X.t() @ d_pre_activation + 2 * reg * W1    # (D, H)
    grads['b1'] = d_pre_activation.sum(dim=0)                 # (H,)

    return loss, grads


def sample_batch(X, y, num_train, batch_size):
    """Random minibatch, with replacement."""
    batch_indices = torch.randint(num_train, (batch_size,), device=X.device)
    X_batch = X[batch_indices]
    y_batch = y[batch_indices]
    return X_batch, y_batch


def nn_train(params, loss_func, pred_func, X, y, X_val, y_val,
             learning_rate=1e-3, learning_rate_decay=0.95,
             reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    """SGD. Returns a dict with the loss / accuracy histories."""
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)

    loss_history = []
    train_acc_history = []
    val_acc_history = []

    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)

        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        loss_history.append(loss.item())

        # vanilla SGD step, in place
        for key in params:
            params[key].sub_(learning_rate * grads[key])

        if verbose and it % 100 == 0:
            print('iteration %d / %d: loss %f' % (it, num_iters, loss.item()))

        if it % iterations_per_epoch == 0:
            batch_pred = pred_func(params, loss_func, X_batch)
            train_acc = (batch_pred == y_batch).sum().item() / y_batch.shape[0]
            val_pred = pred_func(params, loss_func, X_val)
            val_acc = (val_pred == y_val).sum().item() / y_val.shape[0]
            train_acc_history.append(train_acc)
            val_acc_history.append(val_acc)

            learning_rate = learning_rate * learning_rate_decay

    return {
        'loss_history': loss_history,
        'train_acc_history': train_acc_history,
        'val_acc_history': val_acc_history,
    }


def nn_predict(params, loss_func, X):
    """Predicted class for each row of X."""
    scores = loss_func(params, X)
    _, predicted_class = torch.max(scores, dim=1)
    return predicted_class


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
                        X, y, X_val, y_val,
                        learning_rate, learning_rate_decay,
                        reg, num_iters, batch_size, verbose)

    def predict(self, X):
        return nn_predict(self.params, nn_forward_backward, X)

    def save(self, path):
        torch.save(self.params, path)
        print("Saved in {}".format(path))

    def load(self, path):
        checkpoint = torch.load(path)
        self.params = checkpoint
        print("load checkpoint file: {}".format(path))
