"""Helpers for the two_layer_net assignment (provided, not student work).

Seeding, toy data, a numeric gradient and a relative error for checking your
gradients, and a loader for a real handwritten-digits data set.
"""
import itertools
import random
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch


def reset_seed(n: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators."""
    random.seed(n)
    np.random.seed(n)
    torch.manual_seed(n)


def get_toy_data(
    num_inputs: int = 5,
    input_size: int = 4,
    hidden_size: int = 10,
    num_classes: int = 3,
    dtype: torch.dtype = torch.float32,
    device='cpu',
) -> Tuple[torch.Tensor, torch.Tensor, Dict[str, torch.Tensor]]:
    """Small fixed data and parameters: (toy_X, toy_y, params).

    Everything is drawn on the CPU in float64 from seed 0 and only then converted,
    so every device and dtype sees the same numbers (up to rounding).
    """
    N, D, H, C = num_inputs, input_size, hidden_size, num_classes
    reset_seed(0)
    f64 = torch.float64
    params = {
        'W1': 1e-4 * torch.randn(D, H, dtype=f64),
        'b1': torch.zeros(H, dtype=f64),
        'W2': 1e-4 * torch.randn(H, C, dtype=f64),
        'b2': torch.zeros(C, dtype=f64),
    }
    toy_X = 10.0 * torch.randn(N, D, dtype=f64)
    if N == 5 and C >= 3:
        toy_y = torch.tensor([0, 1, 2, 2, 1], dtype=torch.int64)
    else:
        toy_y = torch.randint(C, (N,), dtype=torch.int64)

    params = {k: v.to(dtype=dtype, device=device) for k, v in params.items()}
    return toy_X.to(dtype=dtype, device=device), toy_y.to(device=device), params


def compute_numeric_gradient(
    f: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    dLdf: Optional[torch.Tensor] = None,
    h: float = 1e-7,
) -> torch.Tensor:
    """Central-difference gradient of sum(f(x) * dLdf) with respect to x.

    Nudges each entry of x by +h and -h in place, reruns f, and restores the entry,
    so f must read x afresh on every call. dLdf defaults to ones shaped like f(x).
    Use float64: with float32 and the default h the differences are mostly rounding.
    """
    fx = f(x)
    if dLdf is None:
        dLdf = torch.ones_like(fx)
    dLdf = dLdf.reshape(-1)

    grad = torch.zeros_like(x)
    # Index entry by entry (not through a flattened view) so any strides work.
    for idx in itertools.product(*(range(n) for n in x.shape)):
        old = x[idx].item()
        x[idx] = old + h
        f_plus = f(x).clone()
        x[idx] = old - h
        f_minus = f(x).clone()
        x[idx] = old
        df = (f_plus - f_minus) / (2 * h)
        grad[idx] = df.reshape(-1).dot(dLdf)
    return grad


def rel_error(x, y, eps: float = 1e-10) -> float:
    """max |x - y| / max(|x| + |y|), the denominator clamped below by eps.

    x and y may be tensors, arrays or numbers; the result is a Python float.
    """
    x = torch.as_tensor(x).detach().to(device='cpu', dtype=torch.float64)
    y = torch.as_tensor(y).detach().to(device='cpu', dtype=torch.float64)
    top = (x - y).abs().max().item()
    bot = (x.abs() + y.abs()).max().clamp(min=eps).item()
    return top / bot


def load_digits(
    dtype: torch.dtype = torch.float32,
    device='cpu',
    mnist_dir=None,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Handwritten digits as (X_train, y_train, X_val, y_val).

    Features are flattened images scaled to [0, 1] with the given dtype and device;
    labels are int64. By default: scikit-learn's 8x8 digits (64 features), split
    by a seeded shuffle with val_fraction held out. With mnist_dir (a folder
    holding the four MNIST IDX files): MNIST (784 features), its test set as the
    validation split; val_fraction and seed are then unused.
    """
    # Imported here so the rest of this file works without the grader on the path.
    from grader.datasets import load_digits_arrays, load_mnist_arrays

    if mnist_dir is not None:
        split = load_mnist_arrays(mnist_dir)
    else:
        split = load_digits_arrays(val_fraction, seed)

    def features(a):
        return torch.from_numpy(a).to(dtype=dtype, device=device)

    def labels(a):
        return torch.from_numpy(a).to(dtype=torch.int64, device=device)

    return (features(split.X_train), labels(split.y_train),
            features(split.X_val), labels(split.y_val))
