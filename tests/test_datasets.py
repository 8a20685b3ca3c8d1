"""Real data offline: scikit-learn's digits, and MNIST's IDX format on files the test writes."""
import numpy as np
import pytest

from grader.datasets import load_digits_arrays, load_mnist_arrays, read_idx, write_idx


def test_digits_split_is_seeded_and_scaled():
    a, b = load_digits_arrays(seed=0), load_digits_arrays(seed=0)
    assert a.X_train.shape == (1438, 64) and a.X_val.shape == (359, 64)
    assert np.array_equal(a.y_val, b.y_val) and 0 <= a.X_train.min() and a.X_train.max() == 1.0
    assert set(np.unique(a.y_train)) == set(range(10))


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_loader_reads_idx_files(tmp_path, gz):
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    images = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 20, dtype=np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", labels)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{ext}", images[:5])
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{ext}", labels[:5])
    split = load_mnist_arrays(tmp_path)
    assert split.X_train.shape == (20, 784) and split.y_val.dtype == np.int64
    assert np.allclose(split.X_train[3] * 255, images[3].reshape(-1))
    assert np.array_equal(read_idx(tmp_path / f"train-labels-idx1-ubyte{ext}"), labels)


def test_bad_idx_files_are_refused_clearly(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", np.zeros((4, 4), np.uint8))
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_mnist_arrays(tmp_path)
