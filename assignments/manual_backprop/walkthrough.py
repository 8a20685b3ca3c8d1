"""Cells of the manual_backprop walkthrough notebook (manual_backprop.ipynb in the bundle).

Percent format (see grader/walkthrough.py): each `# %%` line starts a cell and says
where it goes (intro, before=<part>, after=<part>, end). This file is never imported.
"""

# %% [markdown] intro
# The data: `CirclesData()` from `helpers.py`, two noisy rings (class 0 outside, class 1
# inside), with `Xtrain, Ytrain, Xtest, Ytest` (one-hot labels) and a grid `Xgrid` for
# drawing what your network has learned.

# %% intro
import matplotlib.pyplot as plt
import torch

from helpers import CirclesData

data = CirclesData()
data.plot_data()
plt.show()

# %% [markdown] before=backward
# The backward pass, in math. For a batch of n rows, with the lab's shapes
# (weights are (out, in), biases are columns (out, 1)):
#
#     htilde = X Wh^T + bh^T,   h = tanh(htilde),   ytilde = h Wy^T + by^T,   yhat = softmax(ytilde)
#     L = -(1/n) sum over rows and classes of Y log(yhat)
#
# 1. Output scores: for softmax followed by cross-entropy, dL/dytilde = (yhat - Y) / n.
# 2. Output weights: dL/dWy[j, k] = sum over the rows i of dL/dytilde[i, j] * h[i, k]
#    (shape of Wy), and dL/dby[j] = sum over the rows of dL/dytilde[i, j] (a column).
# 3. Back through the output layer: dL/dh[i, k] = sum over j of dL/dytilde[i, j] * Wy[j, k].
# 4. Through tanh: tanh'(x) = 1 - tanh(x)^2, so dL/dhtilde = dL/dh times (1 - h^2), entry by entry.
# 5. Hidden weights and bias: as step 2, with dL/dhtilde and X in place of dL/dytilde and h.
#
# Check each piece below against central differences of the loss: the biases test
# steps 1 and 4 alone, the weights add steps 2 and 5.

# %% [markdown] after=backward
# Your `backward` against central differences of the loss of your own `forward`,
# one gradient at a time, on a few training rows, in float64.

# %% after=backward
with attempt("the numeric check of backward"):
    torch.manual_seed(0)
    params = {k: v.double() for k, v in manual_backprop.init_params(data.Xtrain.shape[1], 10, data.Ytrain.shape[1]).items()}
    X, Y = data.Xtrain[:8].double(), data.Ytrain[:8].double()

    def loss_of(p):
        yhat, _ = manual_backprop.forward(p, X)
        return manual_backprop.loss_accuracy(yhat, Y)[0].item()

    yhat, outputs = manual_backprop.forward(params, X)
    grads = manual_backprop.backward(params, outputs, Y)
    for name in ("by", "Wy", "bh", "Wh"):
        numeric = torch.zeros_like(params[name])
        flat, out = params[name].view(-1), numeric.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + 1e-6
            plus = loss_of(params)
            flat[i] = old - 1e-6
            minus = loss_of(params)
            flat[i] = old
            out[i] = (plus - minus) / 2e-6
        err = ((grads[name] - numeric).abs().max() / (grads[name].abs() + numeric.abs()).max().clamp(min=1e-12)).item()
        print(f"grads['{name}']: rel_error {err:.1e} {'ok' if err < 1e-6 else '<- check this one'}")

# %% [markdown] after=training
# Train both ways and look at the curves and at the decision surface (the grader
# draws the same picture in your report).

# %% after=training
with attempt("train_manual and its decision surface"):
    params, curves = manual_backprop.train_manual(data)
    CirclesData.plot_loss(curves['loss_train'], curves['loss_test'], curves['acc_train'], curves['acc_test'])
    plt.show()
    data.plot_data_with_grid(manual_backprop.forward(params, data.Xgrid)[0],
                             f"by hand: test accuracy {curves['acc_test'][-1]:.1f}%")
    plt.show()

# %% after=training
with attempt("train_autograd and its decision surface"):
    params, curves = manual_backprop.train_autograd(data)
    with torch.no_grad():
        data.plot_data_with_grid(manual_backprop.forward(params, data.Xgrid)[0],
                                 f"autograd: test accuracy {curves['acc_test'][-1]:.1f}%")
    plt.show()
