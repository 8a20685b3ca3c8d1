"""Data and a plot for the layered_backprop assignment (provided, not student work)."""
from __future__ import annotations

import torch

__all__ = ["five_points", "plot_decision_boundary"]


def five_points(dtype=torch.float32):
    """The lab's data: x (5, 2) and y (5,): the origin is class 1, its four neighbours class 0.

    Note that y is (5,) while the network predicts (5, 1).
    """
    x = torch.tensor([[0, 0], [1, 0], [0, -1], [-1, 0], [0, 1]], dtype=dtype)
    y = torch.tensor([1, 0, 0, 0, 0], dtype=dtype)
    return x, y


def grid(n: int = 81, extent: float = 2.0, dtype=torch.float32):
    """(n * n, 2) points covering [-extent, extent]^2, x varying fastest, and the ticks."""
    ticks = torch.linspace(-extent, extent, n, dtype=dtype)
    gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1), ticks


def plot_decision_boundary(net, x, y, ax=None, n: int = 81):
    """The network's output over [-2, 2]^2 with its 0.5 level, and the data points."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    points, ticks = grid(n, dtype=x.dtype)
    out = net.forward(points)[:, 0].detach().reshape(n, n).double().numpy()
    t = ticks.double().numpy()
    image = ax.contourf(t, t, out, levels=20, cmap="RdBu_r", alpha=0.6)
    ax.contour(t, t, out, levels=[0.5], colors="k")
    plt.colorbar(image, ax=ax)
    labels = y.reshape(len(x), -1)[:, 0].numpy()
    ax.scatter(x[:, 0], x[:, 1], c=labels, cmap="RdBu_r", edgecolors="k", s=60, vmin=0, vmax=1)
    ax.set_aspect("equal")
    return ax
