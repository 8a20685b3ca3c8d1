"""Cells of the two_layer_net walkthrough notebook (two_layer_net.ipynb in the bundle).

Percent format (see grader/walkthrough.py): each `# %%` line starts a cell and says
where it goes (intro, before=<part>, after=<part>, end); `[markdown]` cells are
commented out with `# `. The grader adds the title, the setup cell, one section
per part with its public checks, and the summary. This file is never imported.
"""

# %% [markdown] intro
# The cells below also use the assignment's helpers: `get_toy_data` (a small fixed
# problem), `compute_numeric_gradient` and `rel_error` (to check your gradients
# yourself) and `load_digits` (real handwritten digits, offline).

# %% intro
import torch
import matplotlib.pyplot as plt

from helpers import compute_numeric_gradient, get_toy_data, load_digits, rel_error

# %% [markdown] before=forward
# The network maps each input row (D features) to C class scores, in math:
#
#     h = max(0, X W1 + b1)      the hidden layer, N x H (the max is taken entry by entry)
#     s = h W2 + b2              the scores, N x C (b1, b2 are added to every row)
#
# Implement `nn_forward_pass(params, X)` returning `(scores, hidden)`, and the
# `y is None` branch of `nn_forward_backward`, which returns the scores only.
# Create no tensor with a fixed dtype or device: use those of `X` and `params`.

# %% after=forward
with attempt("the forward pass on the toy data"):
    toy_X, toy_y, params = get_toy_data(dtype=torch.float64)
    scores, hidden = two_layer_net.nn_forward_pass(params, toy_X)
    print(f"scores {tuple(scores.shape)}, hidden {tuple(hidden.shape)}, dtype {scores.dtype}")
    print(scores)

# %% [markdown] before=loss
# With labels `y`, `nn_forward_backward(params, X, y, reg)` returns `(loss, grads)`.
# The loss is the mean softmax cross-entropy plus `reg * (sum(W1**2) + sum(W2**2))`
# (no 0.5; biases are not regularized). Subtract each row's maximum score before
# `exp`, or large scores overflow to `inf` and the loss becomes `nan`.

# %% [markdown] before=gradients
# The backward pass, in math. With p[i, j] = exp(s[i, j]) / sum_k exp(s[i, k]) (the
# softmax of row i), the loss is
#
#     L = (1/N) sum_i -log p[i, y_i]  +  reg * (sum of W1's squares + sum of W2's squares)
#
# 1. Scores: for one row, d(-log p[y]) / ds[j] = p[j] - [j = y] (the softmax minus the
#    one-hot label); the mean over the batch divides every row by N.
# 2. Second layer: dL/dW2[k, j] = sum over rows i of h[i, k] * dL/ds[i, j], plus the slope
#    of the regularization, 2 * reg * W2; dL/db2[j] = sum over rows i of dL/ds[i, j].
# 3. Back into the hidden layer: dL/dh[i, k] = sum over j of dL/ds[i, j] * W2[k, j]; the
#    ReLU passes it where its input was positive (h > 0) and stops it elsewhere.
# 4. First layer: as step 2, with X in place of h and the gradient of step 3 in place of dL/ds.
#
# Do not modify `params`, `X` or `y` in place, and keep the input's dtype and device.

# %% [markdown] after=gradients
# Check each piece numerically: `compute_numeric_gradient` nudges each entry of a
# parameter by ±h and measures how your loss changes (central differences). The
# gradients are checked in the order of the steps: b2 tests step 1 alone, W2 adds step 2,
# b1 tests step 3, W1 step 4. In float64 the relative error should be below about 1e-7;
# fix the first one that is not (the later ones build on it).

# %% after=gradients
with attempt("the numeric gradient check"):
    toy_X, toy_y, params = get_toy_data(dtype=torch.float64)
    params = {k: v * 1e3 for k, v in params.items()}  # weights large enough for every term to show
    reg = 0.05
    loss, grads = two_layer_net.nn_forward_backward(params, toy_X, toy_y, reg=reg)
    print(f"loss {loss.item():.6f}")
    steps = {"b2": "step 1", "W2": "step 2", "b1": "step 3", "W1": "step 4"}
    for name, step in steps.items():
        f = lambda _: two_layer_net.nn_forward_backward(params, toy_X, toy_y, reg=reg)[0]
        numeric = compute_numeric_gradient(f, params[name], h=1e-6)
        err = rel_error(numeric, grads[name])
        print(f"grads['{name}'] ({step}): rel_error {err:.2e} {'ok' if err < 1e-7 else '<- check this step'}")

# %% [markdown] before=training
# `sample_batch` draws a minibatch with replacement; `nn_train` runs stochastic
# gradient descent with it (update `params` in place, decay the learning rate once
# per epoch, record the loss every iteration and the accuracies every epoch);
# `nn_predict` returns the argmax of the scores.

# %% after=training
with attempt("training on the toy data"):
    toy_X, toy_y, params = get_toy_data(dtype=torch.float64)
    stats = two_layer_net.nn_train(params, two_layer_net.nn_forward_backward, two_layer_net.nn_predict,
                                   toy_X, toy_y, toy_X, toy_y,
                                   learning_rate=1e-1, reg=1e-6, num_iters=200, verbose=False)
    print(f"final training loss {stats['loss_history'][-1]:.4f} (the check wants it below 1.0)")
    plt.figure(figsize=(5, 3))
    plt.plot(stats['loss_history'])
    plt.xlabel('iteration')
    plt.ylabel('training loss')
    plt.title('Toy data')
    plt.show()

# %% [markdown] before=class
# `TwoLayerNet` keeps one set of parameters and delegates to your functions; `save`
# and `load` round-trip them through a file.

# %% [markdown] after=class
# Now on real data: scikit-learn's 8x8 handwritten digits (64 features, 10 classes),
# with the hyperparameters the `digits_val_accuracy` check uses.

# %% after=class
with attempt("training on the digits data"):
    X_train, y_train, X_val, y_val = load_digits(dtype=torch.float32)
    torch.manual_seed(0)
    net = two_layer_net.TwoLayerNet(X_train.shape[1], 64, 10, dtype=torch.float32, std=0.1)
    stats = net.train(X_train, y_train, X_val, y_val, learning_rate=1.0, learning_rate_decay=0.95,
                      reg=1e-4, num_iters=300, batch_size=200)
    val_acc = (net.predict(X_val) == y_val).double().mean().item()
    print(f"validation accuracy {val_acc:.3f} (the check wants 0.93 or more)")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_loss.plot(stats['loss_history'])
    ax_loss.set(xlabel='iteration', ylabel='training loss', title='Loss')
    ax_acc.plot(stats['train_acc_history'], label='train (batch)')
    ax_acc.plot(stats['val_acc_history'], label='validation')
    ax_acc.set(xlabel='epoch', ylabel='accuracy', title='Accuracy')
    ax_acc.legend()
    plt.show()
