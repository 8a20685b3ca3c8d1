"""One two-layer ReLU network, five ways.

    y_pred = relu(x @ w1) @ w2,    loss = sum((y_pred - y) ** 2)

No biases; the loss is the *sum* of squared errors, as in the lecture. Shapes:
x (N, D_in), w1 (D_in, H), w2 (H, D_out), y (N, D_out).

1. numpy_forward_backward / numpy_train: NumPy, gradients by hand.
2. torch_forward_backward: torch tensors, gradients by hand (no autograd).
3. autograd_train: torch tensors, gradients from loss.backward().
4. build_model: the same network as a torch.nn.Sequential.
5. optim_train: that model trained with torch.optim.Adam.

Implement every function below; keep the names, arguments and defaults.
"""
import numpy as np
import torch


def numpy_forward_backward(x, y, w1, w2):
    """Loss and gradients of the network, in NumPy, by hand.

    Inputs: NumPy arrays x (N, D_in), y (N, D_out), w1 (D_in, H), w2 (H, D_out).

    Computes h = x @ w1, h_relu = max(h, 0), y_pred = h_relu @ w2 and
    loss = sum((y_pred - y) ** 2).

    Returns (loss, grad_w1, grad_w2): loss a Python float; grad_w1 and grad_w2
    NumPy arrays shaped like w1 and w2, the exact gradients of loss.
    Must not modify its inputs.
    """
    raise NotImplementedError(
        "numpy_forward_backward: compute the loss forward, then grad_y_pred, grad_w2, grad_h and grad_w1 by hand"
    )


def numpy_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    """Full-batch gradient descent with numpy_forward_backward.

    Each epoch: compute (loss, grad_w1, grad_w2), record loss, then
    w1 -= learning_rate * grad_w1 and w2 -= learning_rate * grad_w2.

    Returns (w1, w2, losses): the trained weights (you may train copies of the
    inputs) and a list of num_epochs floats, losses[t] the loss before step t.
    """
    raise NotImplementedError(
        "numpy_train: loop num_epochs times: loss and gradients, record the loss, step w1 and w2"
    )


def torch_forward_backward(x, y, w1, w2):
    """numpy_forward_backward with torch tensors, still by hand.

    Inputs: tensors of one dtype on one device (CPU or GPU), without requires_grad.
    No autograd: no .backward(), no torch.autograd, no requires_grad.

    Returns (loss, grad_w1, grad_w2): loss a Python float or a 0-dim tensor;
    grad_w1, grad_w2 tensors of the inputs' dtype, on the inputs' device.
    """
    raise NotImplementedError(
        "torch_forward_backward: the NumPy version with tensor operations (mm, clamp, t()), gradients by hand"
    )


def autograd_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    """Gradient descent with autograd.

    w1 and w2 are tensors with requires_grad=True. Each epoch: compute the loss
    from the forward pass, record loss.item(), call loss.backward(), then under
    torch.no_grad() update w1 and w2 in place (w1 -= learning_rate * w1.grad)
    and zero their gradients.

    Returns losses: a list of num_epochs floats, losses[t] the loss before step t.
    """
    raise NotImplementedError(
        "autograd_train: forward, loss.backward(), in-place update under torch.no_grad(), zero the grads"
    )


def build_model(D_in, H, D_out):
    """The network as torch.nn.Sequential(Linear(D_in, H), ReLU(), Linear(H, D_out)).

    (nn.Linear has a bias by default: keep it.)
    """
    raise NotImplementedError(
        "build_model: return torch.nn.Sequential of Linear(D_in, H), ReLU(), Linear(H, D_out)"
    )


def optim_train(model, x, y, learning_rate=1e-4, num_epochs=500):
    """Train model with torch.optim.Adam(model.parameters(), lr=learning_rate) on
    torch.nn.MSELoss(reduction='sum').

    Each epoch: loss = loss_fn(model(x), y), record loss.item(),
    optimizer.zero_grad(), loss.backward(), optimizer.step().

    Returns losses: a list of num_epochs floats, losses[t] the loss before step t.
    """
    raise NotImplementedError(
        "optim_train: build Adam with lr=learning_rate and MSELoss(reduction='sum'), then zero_grad/backward/step"
    )


if __name__ == "__main__":
    # The lecture's setting: N, D_in, H, D_out = 64, 1000, 100, 10.
    N, D_in, H, D_out = 64, 1000, 100, 10
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    w1, w2 = rng.standard_normal((D_in, H)), rng.standard_normal((H, D_out))
    _, _, losses = numpy_train(x, y, w1, w2)
    print("numpy_train: loss", losses[0], "->", losses[-1])
