# Carol -- numpy_two_layer
# Followed the lecture notebook cell by cell.
import numpy as np
import torch


def numpy_forward_backward(x, y, w1, w2):
    # Forward pass: compute predicted y
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    y_pred = h_relu.dot(w2)

    # Compute loss
    loss = np.square(y_pred - y).sum()

    # Backprop to compute gradients of w1 and w2 with respect to loss
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.T.dot(grad_y_pred)
    grad_h_relu = grad_y_pred.dot(w2.T)
    grad_h = grad_h_relu.copy()
    grad_h[h < 0] = 0
    grad_w1 = x.T.dot(grad_h)
    return loss, grad_w1, grad_w2


def numpy_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    losses = []
    for t in range(num_epochs):
        loss, grad_w1, grad_w2 = numpy_forward_backward(x, y, w1, w2)
        losses.append(loss)
        # Update weights
        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    return w1, w2, losses


def torch_forward_backward(x, y, w1, w2):
    h = x.mm(w1)
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum().item()

    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)
    return loss, grad_w1, grad_w2


def autograd_train(x, y, w1, w2, learning_rate=1e-6, num_epochs=500):
    losses = []
    for t in range(num_epochs):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad
            # Manually zero the gradients after updating weights
            w1.grad.zero_()
            w2.grad.zero_()
    return losses


def build_model(D_in, H, D_out):
    model = torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )
    return model


def optim_train(model, x, y, learning_rate=1e-4, num_epochs=500):
    loss_fn = torch.nn.MSELoss(reduction='sum')
    lr = 1e-6  # learning rate from the autograd cell
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    lr = learning_rate
    losses = []
    for t in range(num_epochs):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses
