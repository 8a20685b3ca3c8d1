"""Data sets and plots for the manual_backprop assignment (provided, not student work).

* ``CirclesData``: two noisy concentric rings in 2-D (class 0 on radius 2, class 1 on
  radius 1), with one-hot labels and a grid for drawing the decision surface.
* ``MNISTData``: real handwritten digits, flattened, with one-hot labels.

Both expose ``Xtrain, Ytrain, Xtest, Ytest`` as torch tensors ((n, nx) features,
(n, ny) one-hot labels), which is all ``train_manual`` and ``train_autograd`` use.
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["CirclesData", "MNISTData"]


def _one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((len(labels), num_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def _rings(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, 2, size=n)
    angles = rng.uniform(0.0, 2 * math.pi, size=n)
    radius = np.where(labels == 0, 2.0, 1.0)
    X = radius[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = X + noise * rng.standard_normal((n, 2))
    return X, labels


class CirclesData:
    """Two noisy rings: class 0 around radius 2, class 1 around radius 1.

    Attributes (torch tensors, float32 unless built with ``from_arrays(..., dtype)``):
    ``Xtrain`` (n_train, 2), ``Ytrain`` (n_train, 2) one-hot, ``Xtest``, ``Ytest``,
    and ``Xgrid`` (grid_size ** 2, 2), a grid over [-3, 3]^2 for plotting the
    decision surface (row-major: x varies fastest).
    """

    noise = 0.2
    extent = 3.0
    grid_size = 61

    def __init__(self, n_train: int = 200, n_test: int = 200, seed: int = 0):
        rng = np.random.default_rng(seed)
        Xtrain, ytrain = _rings(rng, n_train, self.noise)
        Xtest, ytest = _rings(rng, n_test, self.noise)
        ticks = np.linspace(-self.extent, self.extent, self.grid_size)
        gx, gy = np.meshgrid(ticks, ticks)
        Xgrid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        self._set(Xtrain, _one_hot(ytrain, 2), Xtest, _one_hot(ytest, 2), Xgrid, torch.float32)

    @classmethod
    def from_arrays(cls, Xtrain, Ytrain, Xtest, Ytest, Xgrid, dtype=torch.float32) -> "CirclesData":
        """The data set from given arrays (the grader uses this to hand the reference
        and your code the very same stored data)."""
        data = cls.__new__(cls)
        data._set(Xtrain, Ytrain, Xtest, Ytest, Xgrid, dtype)
        return data

    def _set(self, Xtrain, Ytrain, Xtest, Ytest, Xgrid, dtype) -> None:
        def t(a):
            return torch.as_tensor(np.asarray(a, dtype=np.float64)).to(dtype)

        self.Xtrain, self.Ytrain = t(Xtrain), t(Ytrain)
        self.Xtest, self.Ytest = t(Xtest), t(Ytest)
        self.Xgrid = t(Xgrid)
        self.grid_size = int(round(math.sqrt(self.Xgrid.shape[0])))

    def arrays(self) -> dict:
        """The data as float64 NumPy arrays."""
        return {k: getattr(self, k).double().numpy() for k in ("Xtrain", "Ytrain", "Xtest", "Ytest", "Xgrid")}

    # -- plots (matplotlib is imported only when you plot) ---------------------------------
    def plot_data(self, ax=None):
        """The training and test points, colored by class."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        for X, Y, marker, name in ((self.Xtrain, self.Ytrain, "o", "train"), (self.Xtest, self.Ytest, "x", "test")):
            labels = Y.argmax(dim=1).numpy()
            for k, color in ((0, "tab:blue"), (1, "tab:red")):
                pts = X[labels == k].double().numpy()
                ax.scatter(pts[:, 0], pts[:, 1], c=color, marker=marker, s=14, label=f"{name}, class {k}")
        ax.set_aspect("equal")
        ax.legend(fontsize=7, loc="upper right")
        return ax

    def plot_data_with_grid(self, Ygrid, title: str = "", ax=None):
        """The decision surface: Ygrid (grid_size ** 2, 2) holds yhat on Xgrid."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        n = self.grid_size
        p1 = torch.as_tensor(Ygrid).detach().double()[:, 1].reshape(n, n).numpy()
        ticks = np.linspace(-self.extent, self.extent, n)
        ax.contourf(ticks, ticks, p1, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.5)
        ax.contour(ticks, ticks, p1, levels=[0.5], colors="k", linewidths=1)
        self.plot_data(ax)
        ax.set_title(title)
        return ax

    @staticmethod
    def plot_loss(loss_train, loss_test, acc_train, acc_test):
        """Loss and accuracy curves, one point per epoch."""
        import matplotlib.pyplot as plt

        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
        a1.plot(loss_train, label="train")
        a1.plot(loss_test, label="test")
        a1.set_xlabel("epoch")
        a1.set_ylabel("loss")
        a1.legend()
        a2.plot(acc_train, label="train")
        a2.plot(acc_test, label="test")
        a2.set_xlabel("epoch")
        a2.set_ylabel("accuracy (%)")
        a2.legend()
        return fig


class MNISTData:
    """Handwritten digits: ``Xtrain`` (n, nx) in [0, 1], ``Ytrain`` (n, 10) one-hot, same for test.

    By default scikit-learn's 8x8 digits (offline, nx = 64); with ``mnist_dir``, a
    folder holding the four MNIST IDX files, MNIST itself (nx = 784).
    """

    def __init__(self, mnist_dir=None, dtype=torch.float32):
        # Imported here so the rest of this file works without the grader on the path.
        from grader.datasets import load_digits_arrays, load_mnist_arrays

        split = load_mnist_arrays(mnist_dir) if mnist_dir is not None else load_digits_arrays()
        self.source = split.source
        self.Xtrain = torch.from_numpy(split.X_train).to(dtype)
        self.Xtest = torch.from_numpy(split.X_val).to(dtype)
        self.Ytrain = torch.from_numpy(_one_hot(split.y_train, 10)).to(dtype)
        self.Ytest = torch.from_numpy(_one_hot(split.y_val, 10)).to(dtype)
