"""Reference solution for the two_layer_net assignment.

A two-layer fully connected classifier, input -> Linear -> ReLU -> Linear ->
softmax cross-entropy, with the backward pass written by hand (no autograd).
Everything follows the tensors it is given: no dtype or device is hard-coded.
"""
from typing import Callable, Dict, Optional, Tuple, Union

import torch

Params = Dict[str, torch.Tensor]


def nn_forward_pass(params: Params, X: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Scores (N, C) and ReLU activations (N, H) of the network for X (N, D)."""
    W1, b1 = params['W1'], params['b1']
    W2, b2 = params['W2'], params['b2']
    hidden = (X.mm(W1) + b1).clamp(min=0)
    scores = hidden.mm(W2) + b2
    return scores, hidden


def nn_forward_backward(
    params: Params,
    X: torch.Tensor,
    y: Optional[torch.Tensor] = None,
    reg: float = 0.0,
) -> Union[torch.Tensor, Tuple[torch.Tensor, Params]]:
    """Scores when y is None, else (loss, grads) of the regularized softmax loss."""
    W1, W2 = params['W1'], params['W2']
    scores, hidden = nn_forward_pass(params, X)
    if y is None:
        return scores

    N = X.shape[0]
    rows = torch.arange(N, device=X.device)

    # Log-softmax with the row max subtracted: exp never overflows, and taking the
    # log of the normalizer (not of a probability) keeps the loss finite even when
    # a probability underflows to zero.
    shifted = scores - scores.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    loss = -log_probs[rows, y].mean() + reg * (W1.pow(2).sum() + W2.pow(2).sum())

    # d(mean cross-entropy)/d(scores) = (softmax - one_hot(y)) / N; log_probs is a
    # fresh tensor, so editing it does not touch the caller's inputs.
    dscores = log_probs.exp()
    dscores[rows, y] -= 1
    dscores /= N

    grads = {}
    grads['W2'] = hidden.t().mm(dscores) + 2 * reg * W2
    grads['b2'] = dscores.sum(dim=0)
    # ReLU passes the gradient only where its output was positive.
    dhidden = dscores.mm(W2.t()) * (hidden > 0)
    grads['W1'] = X.t().mm(dhidden) + 2 * reg * W1
    grads['b1'] = dhidden.sum(dim=0)
    return loss, grads


def sample_batch(
    X: torch.Tensor, y: torch.Tensor, num_train: int, batch_size: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    """batch_size rows of (X, y) drawn uniformly with replacement from range(num_train)."""
    # torch.randint keeps the draw repeatable under torch.manual_seed.
    idx = torch.randint(num_train, (batch_size,), device=X.device)
    return X[idx], y[idx]


def _accuracy(y_pred: torch.Tensor, y_true: torch.Tensor) -> float:
    return (y_pred == y_true).sum().item() / y_true.shape[0]


def nn_train(
    params: Params,
    loss_func: Callable,
    pred_func: Callable,
    X: torch.Tensor,
    y: torch.Tensor,
    X_val: torch.Tensor,
    y_val: torch.Tensor,
    learning_rate: float = 1e-3,
    learning_rate_decay: float = 0.95,
    reg: float = 5e-6,
    num_iters: int = 100,
    batch_size: int = 200,
    verbose: bool = False,
) -> dict:
    """Minibatch SGD on params (updated in place); returns the loss and accuracy histories."""
    num_train = X.shape[0]
    iterations_per_epoch = max(num_train // batch_size, 1)

    loss_history = []
    train_acc_history = []
    val_acc_history = []

    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        loss, grads = loss_func(params, X_batch, y=y_batch, reg=reg)
        loss_history.append(loss.item())

        # In place, so whoever holds params (or its tensors) sees the trained values.
        for name in params:
            params[name] -= learning_rate * grads[name]

        if verbose and it % 100 == 0:
            print(f'iteration {it} / {num_iters}: loss {loss.item():f}')

        # Once per epoch: record accuracies, then decay the learning rate.
        if it % iterations_per_epoch == 0:
            train_acc_history.append(_accuracy(pred_func(params, loss_func, X_batch), y_batch))
            val_acc_history.append(_accuracy(pred_func(params, loss_func, X_val), y_val))
            learning_rate *= learning_rate_decay

    return {
        'loss_history': loss_history,
        'train_acc_history': train_acc_history,
        'val_acc_history': val_acc_history,
    }


def nn_predict(params: Params, loss_func: Callable, X: torch.Tensor) -> torch.Tensor:
    """int64 labels (N,): the highest-scoring class of each row of X."""
    return loss_func(params, X).argmax(dim=1)


class TwoLayerNet:
    """The functions above wrapped around one set of parameters."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        dtype: torch.dtype = torch.float32,
        device: Union[str, torch.device] = 'cpu',
        std: float = 1e-4,
    ):
        D, H, C = input_size, hidden_size, output_size
        self.params = {
            'W1': std * torch.randn(D, H, dtype=dtype, device=device),
            'b1': torch.zeros(H, dtype=dtype, device=device),
            'W2': std * torch.randn(H, C, dtype=dtype, device=device),
            'b2': torch.zeros(C, dtype=dtype, device=device),
        }

    def loss(self, X: torch.Tensor, y: Optional[torch.Tensor] = None, reg: float = 0.0):
        return nn_forward_backward(self.params, X, y, reg)

    def train(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        X_val: torch.Tensor,
        y_val: torch.Tensor,
        learning_rate: float = 1e-3,
        learning_rate_decay: float = 0.95,
        reg: float = 5e-6,
        num_iters: int = 100,
        batch_size: int = 200,
        verbose: bool = False,
    ) -> dict:
        return nn_train(
            self.params, nn_forward_backward, nn_predict, X, y, X_val, y_val,
            learning_rate, learning_rate_decay, reg, num_iters, batch_size, verbose,
        )

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        return nn_predict(self.params, nn_forward_backward, X)

    def save(self, path) -> None:
        torch.save(self.params, path)

    def load(self, path) -> None:
        # map_location=None: every tensor goes back to the device it was saved from,
        # with its saved dtype; weights_only refuses anything but plain tensors.
        state = torch.load(path, map_location=None, weights_only=True)
        self.params = {name: state[name] for name in ('W1', 'b1', 'W2', 'b2')}
