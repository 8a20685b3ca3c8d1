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
# The backward pass, in math. Layer l maps its input a_{l-1} (N x n_in) to
#
#     z_l = a_{l-1} W_l + b_l        a_l = f_l(z_l)
#
# and the loss L is a function of the last layer's output. Write g_l = dL/da_l (N x n_out),
# starting at the last layer from the loss's own derivative with respect to the prediction
# (with the targets shaped like the prediction: (N, 1), not (N,)). The chain rule gives,
# layer by layer from the last one down:
#
# 1. through the activation: dL/dz_l is g_l times f_l'(z_l), entry by entry
#    (the activations provide f'; each layer kept its z_l in the forward pass);
# 2. the weights: dL/dW_l[i, j] = sum over the rows n of a_{l-1}[n, i] * dL/dz_l[n, j],
#    a matrix of W_l's shape (n_in x n_out);
# 3. the bias: dL/db_l[j] = sum over the rows n of dL/dz_l[n, j];
# 4. the layer below: g_{l-1}[n, i] = sum over j of dL/dz_l[n, j] * W_l[i, j].
#
# The cell after the checks tests each layer's pieces numerically against
# central differences of your own loss, so you can see which layer and which of
# steps 2 and 3 is off.

# %% [markdown] after=gradients
# Your gradients against central differences of `net.get_loss`, one layer at a time.
# A wrong bias with a right weight points at step 3; every layer below a wrong one is
# wrong too (step 4 carries the error down), so fix the highest wrong layer first.

# %% after=gradients
with attempt("the numeric check of backward"):
    torch.manual_seed(0)
    net = layered_backprop.NeuralNetwork(2, 1, [5, 3])
    xd, yd = x.double(), y.double()
    for layer in net.layers:
        layer.linear.weight, layer.linear.bias = layer.linear.weight.double(), layer.linear.bias.double()
    net.backward(xd, yd)

    def slope(tensor, h=1e-6):
        """Central differences of the loss along every entry of tensor (nudged in place, restored)."""
        out = torch.zeros_like(tensor)
        flat, grad = tensor.view(-1), out.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + h
            plus = net.get_loss(xd, yd).item()
            flat[i] = old - h
            minus = net.get_loss(xd, yd).item()
            flat[i] = old
            grad[i] = (plus - minus) / (2 * h)
        return out

    for number, layer in enumerate(net.layers, 1):
        for name in ("weight", "bias"):
            yours = getattr(layer.linear, f"{name}_grad")
            numeric = slope(getattr(layer.linear, name))
            err = ((yours - numeric).abs().max() / (yours.abs() + numeric.abs()).max().clamp(min=1e-12)).item()
            print(f"layer {number} {name}_grad: rel_error {err:.1e} {'ok' if err < 1e-6 else '<- check this one'}")

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
