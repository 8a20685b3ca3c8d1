"""Real data sets as NumPy arrays, offline.

Two sources, both real handwritten digits:

* scikit-learn's 8x8 digits (1,797 images), read straight from the CSV file that
  scikit-learn ships. We locate the package without importing it: importing
  ``sklearn`` costs ~1.7 s, more than grading a whole submission should.
* MNIST from the four IDX files (``train-images-idx3-ubyte`` and friends, optionally
  gzipped) when the caller names a folder holding them.

Assignments wrap these in their own helpers (torch tensors, one-hot labels ...);
this module stays NumPy-only so the grader process never needs torch.
"""
from __future__ import annotations

import gzip
import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Split", "load_digits_arrays", "load_mnist_arrays", "read_idx", "write_idx"]

# IDX type codes (http://yann.lecun.com/exdb/mnist/ describes the format).
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}


@dataclass(frozen=True)
class Split:
    """A train/validation split: features float64 in [0, 1], labels int64."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    source: str


def _open_maybe_gzip(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (plain or gzipped) into an array of its stored shape."""
    path = Path(path)
    with _open_maybe_gzip(path) as fh:
        header = fh.read(4)
        if len(header) != 4 or header[0] != 0 or header[1] != 0:
            raise ValueError(f"{path}: not an IDX file (bad magic number)")
        code, ndim = header[2], header[3]
        if code not in _IDX_DTYPES:
            raise ValueError(f"{path}: unknown IDX element type 0x{code:02x}")
        dims = struct.unpack(f">{ndim}I", fh.read(4 * ndim))
        dtype = _IDX_DTYPES[code]
        count = int(np.prod(dims, dtype=np.int64)) if dims else 1
        data = fh.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ValueError(f"{path}: truncated IDX file ({len(data)} of {count * dtype.itemsize} data bytes)")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an array as an IDX file (used by tests and by people making small fixtures)."""
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype)
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = array.astype(_IDX_DTYPES[code]).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as fh:
        fh.write(header + body)


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{folder}: no {stem}[.gz] (expected the four MNIST IDX files)")


def load_mnist_arrays(folder: str | Path, num_train: int | None = None, num_val: int | None = None) -> Split:
    """MNIST from IDX files: images flattened to 784 floats in [0, 1].

    The official test set serves as the validation split.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist")
    X_train = read_idx(_find_idx(folder, "train-images-idx3-ubyte"))
    y_train = read_idx(_find_idx(folder, "train-labels-idx1-ubyte"))
    X_val = read_idx(_find_idx(folder, "t10k-images-idx3-ubyte"))
    y_val = read_idx(_find_idx(folder, "t10k-labels-idx1-ubyte"))
    if len(X_train) != len(y_train) or len(X_val) != len(y_val):
        raise ValueError(f"{folder}: image and label files disagree on the number of examples")

    def prep(X, y, n):
        X, y = X[:n], y[:n]
        return X.reshape(len(X), -1).astype(np.float64) / 255.0, y.astype(np.int64)

    Xt, yt = prep(X_train, y_train, num_train)
    Xv, yv = prep(X_val, y_val, num_val)
    return Split(Xt, yt, Xv, yv, source=f"MNIST ({folder})")


def _sklearn_digits_file() -> Path | None:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def load_digits_arrays(val_fraction: float = 0.2, seed: int = 0) -> Split:
    """scikit-learn's 8x8 digits: 64 features scaled to [0, 1], a seeded shuffle split."""
    path = _sklearn_digits_file()
    if path is not None:
        raw = np.loadtxt(path, delimiter=",")
        X, y = raw[:, :-1], raw[:, -1].astype(np.int64)
    else:  # a future scikit-learn may move its data file; fall back to the public API
        from sklearn.datasets import load_digits

        bunch = load_digits()
        X, y = bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    X = X / 16.0
    order = np.random.default_rng(seed).permutation(len(X))
    n_val = int(round(len(X) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    return Split(X[train], y[train], X[val], y[val], source="scikit-learn digits (8x8)")
