"""Two-layer neural network, written by hand.

    input -> Linear(W1, b1) -> ReLU -> Linear(W2, b2) -> softmax -> cross-entropy

Implement every function below. Do not use autograd (no .backward(), no
requires_grad): compute the gradients yourself. Do not hard-code a dtype or a
device: create new tensors with the dtype and device of the ones you are given.

`params` is a dict of tensors, all of one dtype and one device:
W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
"""
import torch


def nn_forward_pass(params, X):
    """Forward pass of the network.

    Inputs:
    - params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    - X: (N, D) tensor, same dtype and device as params.

    Returns a tuple (scores, hidden):
    - scores: (N, C) tensor, scores = hidden @ W2 + b2.
    - hidden: (N, H) tensor, hidden = relu(X @ W1 + b1).
    Both on X's dtype and device.
    """
    raise NotImplementedError(
        "nn_forward_pass: compute hidden = relu(X @ W1 + b1) and scores = hidden @ W2 + b2"
    )


def nn_forward_backward(params, X, y=None, reg=0.0):
    """Loss and gradients of the network.

    Inputs:
    - params: dict with W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
    - X: (N, D) tensor.
    - y: None, or an int64 tensor (N,) of class indices in [0, C).
    - reg: regularization strength.

    Returns:
    - If y is None: scores, the (N, C) tensor from nn_forward_pass.
    - Otherwise a tuple (loss, grads):
      - loss: 0-dim tensor, the mean softmax cross-entropy over the N samples
        plus reg * (sum(W1 ** 2) + sum(W2 ** 2)) (no 0.5 factor; biases are
        not regularized).
      - grads: dict with the keys of params; grads[k] is the gradient of loss
        with respect to params[k], same shape, dtype and device.

    The softmax must be numerically stable (finite for large scores), and this
    function must not modify params, X or y.
    """
    raise NotImplementedError(
        "nn_forward_backward: return scores if y is None, else the softmax loss "
        "plus reg * (sum(W1**2) + sum(W2**2)) and the gradient dict, computed by hand"
    )


def sample_batch(X, y, num_train, batch_size):
    """A random minibatch.

    Inputs:
    - X: (N, D) tensor; y: (N,) tensor of labels.
    - num_train: draw indices from range(num_train).
    - batch_size: how many rows to draw.

    Returns (X_batch, y_batch): batch_size rows of X and the matching labels,
    drawn uniformly at random with replacement using torch.randint.
    """
    raise NotImplementedError(
        "sample_batch: draw batch_size row indices uniformly, with replacement, from "
        "range(num_train) with torch's generator, and return those rows of X and y"
    )


def nn_train(params, loss_func, pred_func, X, y, X_val, y_val,
             learning_rate=1e-3, learning_rate_decay=0.95,
             reg=5e-6, num_iters=100, batch_size=200, verbose=False):
    """Train the network with stochastic gradient descent.

    Inputs:
    - params: dict of parameters; update its tensors in place
      (params[k] -= learning_rate * grads[k]).
    - loss_func: called as loss_func(params, X_batch, y=y_batch, reg=reg),
      returns (loss, grads) like nn_forward_backward.
    - pred_func: called as pred_func(params, loss_func, X), returns labels
      like nn_predict.
    - X: (N, D) training data; y: (N,) training labels.
    - X_val: (N_val, D) validation data; y_val: (N_val,) validation labels.
    - learning_rate: SGD step size.
    - learning_rate_decay: multiply the learning rate by this after each epoch.
    - reg: regularization strength.
    - num_iters: number of SGD steps.
    - batch_size: training examples per step.
    - verbose: if True, print progress every 100 iterations; else print nothing.

    Each iteration: X_batch, y_batch = sample_batch(X, y, num_train, batch_size);
    compute loss and grads; record loss.item(); update params. With
    iterations_per_epoch = max(num_train // batch_size, 1), whenever
    it % iterations_per_epoch == 0 (after the update) record the accuracy on the
    batch and on the validation set, then decay the learning rate.

    Returns a dict:
    - 'loss_history': list of num_iters floats, the loss at each iteration.
    - 'train_acc_history': list of floats, batch accuracy once per epoch.
    - 'val_acc_history': list of floats, validation accuracy once per epoch.
    """
    raise NotImplementedError(
        "nn_train: loop num_iters times: sample a batch, call loss_func, record the "
        "loss, update params in place; once per epoch record accuracies and decay the learning rate"
    )


def nn_predict(params, loss_func, X):
    """Predicted labels.

    Inputs:
    - params: dict of parameters.
    - loss_func: called as loss_func(params, X), returns the (N, C) scores.
    - X: (N, D) tensor.

    Returns an int64 tensor (N,): the index of the highest score in each row.
    """
    raise NotImplementedError(
        "nn_predict: return the class with the highest score for each row of X"
    )


class TwoLayerNet:
    """The functions above wrapped around one set of parameters, self.params."""

    def __init__(self, input_size, hidden_size, output_size,
                 dtype=torch.float32, device='cpu', std=1e-4):
        """Create self.params, a dict of tensors of the given dtype and device:
        W1 = std * randn(input_size, hidden_size), b1 = zeros(hidden_size),
        W2 = std * randn(hidden_size, output_size), b2 = zeros(output_size).
        """
        raise NotImplementedError(
            "TwoLayerNet.__init__: build self.params with W1, b1, W2, b2 of the given dtype and device"
        )

    def loss(self, X, y=None, reg=0.0):
        """Returns nn_forward_backward(self.params, X, y, reg)."""
        raise NotImplementedError(
            "TwoLayerNet.loss: delegate to nn_forward_backward with this net's parameters"
        )

    def train(self, X, y, X_val, y_val,
              learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100, batch_size=200, verbose=False):
        """Trains self.params; returns the stats dict from nn_train."""
        raise NotImplementedError(
            "TwoLayerNet.train: delegate to nn_train with this net's parameters and "
            "functions, passing every argument through"
        )

    def predict(self, X):
        """Returns nn_predict(self.params, nn_forward_backward, X)."""
        raise NotImplementedError(
            "TwoLayerNet.predict: delegate to nn_predict with this net's parameters"
        )

    def save(self, path):
        """Write self.params to the file at path."""
        raise NotImplementedError(
            "TwoLayerNet.save: write self.params to path with torch.save"
        )

    def load(self, path):
        """Read self.params back from a file written by save, with the saved
        values, dtype and device."""
        raise NotImplementedError(
            "TwoLayerNet.load: restore the parameters that save wrote to path"
        )
