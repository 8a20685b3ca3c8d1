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
# With `outputs` from `forward`, the chain rule gives, for the mean over the batch:
#
#     delta_y = (yhat - Y) / n                     # dL/dytilde, (n, ny)
#     grads['Wy'] = delta_y.T @ h;   grads['by'] = column sum of delta_y over the batch
#     delta_h = (delta_y @ Wy) * (1 - h ** 2)      # dL/dhtilde, tanh' = 1 - tanh^2
#     grads['Wh'] = delta_h.T @ X;   grads['bh'] = column sum of delta_h over the batch
#
# Biases are columns: `grads['by']` has shape (ny, 1), like `params['by']`.

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
