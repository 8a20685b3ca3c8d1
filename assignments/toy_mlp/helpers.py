"""Data for the toy_mlp assignment (provided, not student work).

load_digits_784 gives handwritten digits as 784 features in [0, 1]: MNIST from its
IDX files when a folder holding them is given (or found), otherwise
scikit-learn's 8x8 digits, upsampled to 28x28 so that the same MLP(784 -> 32 -> 10)
fits both. Works offline.
"""
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

# Folders searched for MNIST when no path is given, relative to the current directory.
MNIST_FOLDERS = ("mnist", "MNIST", "data/mnist", "data/MNIST")
_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def find_mnist() -> Optional[Path]:
    """The first of MNIST_FOLDERS that holds the four IDX files (plain or .gz), or None."""
    for name in MNIST_FOLDERS:
        folder = Path(name)
        if folder.is_dir() and all(any((folder / f"{f}{ext}").is_file() for ext in ("", ".gz"))
                                   for f in _MNIST_FILES):
            return folder
    return None


def upsample_28(images_8x8: np.ndarray) -> np.ndarray:
    """(n, 64) images of 8x8 pixels -> (n, 784): bilinear upsampling to 28x28, flattened."""
    t = torch.from_numpy(np.asarray(images_8x8, dtype=np.float64)).reshape(-1, 1, 8, 8)
    big = F.interpolate(t, size=(28, 28), mode="bilinear", align_corners=False)
    return big.reshape(-1, 784).clamp(0.0, 1.0).numpy()


def load_digits_784(seed: int = 0, path=None, test_fraction: float = 0.2
                    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Handwritten digits as (X_train, y_train, X_test, y_test).

    X_* are float32 tensors (n, 784) with values in [0, 1]; y_* are int64 class
    indices (n,). With path (a folder holding the four MNIST IDX files), or when
    find_mnist() finds one: MNIST, its own test set as the test split (seed and
    test_fraction unused). Otherwise scikit-learn's 1,797 8x8 digits upsampled to
    28x28 (bilinear), split by a shuffle seeded with seed.
    """
    # Imported here so the rest of this file works without the grader on the path.
    from grader.datasets import load_digits_arrays, load_mnist_arrays

    folder = Path(path) if path is not None else find_mnist()
    if folder is not None:
        split = load_mnist_arrays(folder)
        X_train, X_test = split.X_train, split.X_val
    else:
        split = load_digits_arrays(val_fraction=test_fraction, seed=seed)
        X_train, X_test = upsample_28(split.X_train), upsample_28(split.X_val)

    def features(a):
        return torch.from_numpy(np.ascontiguousarray(a)).to(torch.float32)

    def labels(a):
        return torch.from_numpy(np.asarray(a)).to(torch.int64)

    return features(X_train), labels(split.y_train), features(X_test), labels(split.y_val)
