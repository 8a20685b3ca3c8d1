"""Cells of the layered_backprop walkthrough notebook (layered_backprop.ipynb in the bundle).

Percent format (see grader/walkthrough.py): each `# %%` line starts a cell and says
where it goes (intro, before=<part>, after=<part>, end). This file is never imported.
"""

# %% [markdown] intro
# The lab's data: five points, the origin of class 1 and its four neighbours of class 0.
# Note the shapes: `y` is (5,), the network will predict (5, 1).

# %% intro
import matplotlib.pyplot as plt
import torch

from helpers import five_points, plot_decision_boundary

x, y = five_points()
print(x.shape, y.shape)

# %% [markdown] before=gradients
# For each layer, from the last to the first, with `grad` = dL/d(layer output):
#
#     delta = grad * layer.activation.get_gradient(layer.last_zin)   # dL/dzin
#     layer.linear.weight_grad = layer.last_input.T @ delta
#     layer.linear.bias_grad = delta.sum(dim=0)
#     grad = delta @ layer.linear.weight.T                           # for the layer below
#
# starting from `grad = self.loss.get_gradient(y, y_pred)` with `y` shaped like `y_pred`.

# %% [markdown] after=training
# The lab's run: 2500 steps of 0.25 from a seeded start, then the decision boundary.

# %% after=training
with attempt("training on the five points"):
    torch.manual_seed(0)
    net = layered_backprop.NeuralNetwork(2, 1, [5, 3])
    net, losses = layered_backprop.train(x, y, net, 2500, 0.25)
    plt.semilogy(losses.detach())
    plt.xlabel("step")
    plt.ylabel("loss")
    plt.show()
    plot_decision_boundary(net, x, y)
    plt.show()
