"""Backpropagation for an L-layer network, in a small object-oriented framework.

Hidden layers use tanh, the output layer a sigmoid, the loss is the mean squared
error. PyTorch is only the tensor engine here: no autograd (no requires_grad, no
.backward()), no torch.nn. The classes below are provided; fill in the methods of
NeuralNetwork marked as your work, and the function train.

Shapes: x is (N, input_size); predictions are (N, output_size); y may be given as
(N,) or (N, output_size), both meaning the same targets. A layer's weight is
(in_features, out_features) and its bias (out_features,); weight_grad and bias_grad
must have those same shapes.
"""
import math

import torch


# ---------------------------------------------------------------- provided
class Linear:
    """x @ weight + bias, with weight (in_features, out_features) drawn Glorot-uniform
    and bias (out_features,) zeros. weight_grad and bias_grad are filled by backward."""

    def __init__(self, in_features, out_features):
        bound = math.sqrt(6.0 / (in_features + out_features))
        self.weight = (2 * torch.rand(in_features, out_features) - 1) * bound
        self.bias = torch.zeros(out_features)
        self.weight_grad = None
        self.bias_grad = None

    def forward(self, x):
        return x @ self.weight + self.bias


class Sigmoid:
    def forward(self, x):
        return 1 / (1 + torch.exp(-x))

    def get_gradient(self, x):
        """The derivative at the pre-activation x."""
        s = self.forward(x)
        return s * (1 - s)


class TanH:
    def forward(self, x):
        return torch.tanh(x)

    def get_gradient(self, x):
        """The derivative at the pre-activation x."""
        return 1 - torch.tanh(x) ** 2


class MSELoss:
    def forward(self, y_true, y_pred):
        return torch.mean((y_true - y_pred) ** 2)

    def get_gradient(self, y_true, y_pred):
        """d loss / d y_pred."""
        return 2 * (y_pred - y_true) / y_true.numel()


class NeuralLayer:
    """A Linear layer followed by an activation ('tanh' or 'sigmoid')."""

    def __init__(self, in_features, out_features, activation):
        self.linear = Linear(in_features, out_features)
        if activation == 'tanh':
            self.activation = TanH()
        elif activation == 'sigmoid':
            self.activation = Sigmoid()
        else:
            raise ValueError(f"unknown activation {activation!r}: use 'tanh' or 'sigmoid'")
        self.last_input = None
        self.last_zin = None
        self.last_zout = None

    def forward(self, x):
        """Stores its input, pre-activation and output for the backward pass."""
        self.last_input = x
        self.last_zin = self.linear.forward(x)
        self.last_zout = self.activation.forward(self.last_zin)
        return self.last_zout


class NeuralNetwork:
    """tanh layers of hidden_sizes, then a sigmoid output layer; MSE loss."""

    def __init__(self, input_size, output_size, hidden_sizes):
        sizes = [input_size] + list(hidden_sizes)
        self.layers = [NeuralLayer(n_in, n_out, 'tanh') for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.layers.append(NeuralLayer(sizes[-1], output_size, 'sigmoid'))
        self.loss = MSELoss()

    # ------------------------------------------------------------ your work
    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def get_loss(self, x, y):
        y_pred = self.forward(x)
        return self.loss.forward(y, y_pred)

    def backward(self, x, y):
        y_pred = self.forward(x)
        # y is (5,) but y_pred is (5, 1): the gradient must be (5, 1) too
        grad = self.loss.get_gradient(y.reshape(-1, 1), y_pred)
        for layer in self.layers[::-1]:
            grad = grad * layer.activation.get_gradient(layer.last_zin)
            layer.linear.weight_grad = layer.last_input.T @ grad
            layer.linear.bias_grad = grad.sum(0)
            grad = grad @ layer.linear.weight.T

    def apply_gradients(self, learning_rate):
        for layer in self.layers:
            layer.linear.weight = layer.linear.weight - learning_rate * layer.linear.weight_grad
            layer.linear.bias = layer.linear.bias - learning_rate * layer.linear.bias_grad


def train(x, y, net, epochs, lr):
    losses = []
    for _ in range(epochs):
        loss = net.get_loss(x, y)
        net.backward(x, y)
        net.apply_gradients(lr)
        losses.append(loss)
    return net, torch.stack(losses)
