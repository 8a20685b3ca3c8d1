"""The wire and reference format: plain data round-trips; nothing else gets through."""
import pickle

import numpy as np
import pytest

from grader.codec import CodecError, decode, encode


def test_round_trip_keeps_values_shapes_and_dtypes():
    value = {"loss": 1.5, "grads": {"W1": np.arange(6.0).reshape(2, 3), "b1": np.zeros(0, np.float32)},
             "scalar": np.array(3.0), "labels": np.array([1, 2], np.int64), "flags": [True, None, "x", float("inf")]}
    back = decode(encode(value))
    assert back["grads"]["W1"].shape == (2, 3) and back["grads"]["b1"].dtype == np.float32
    assert back["scalar"].shape == () and back["labels"].dtype == np.int64
    assert back["flags"][:3] == [True, None, "x"] and back["flags"][3] == float("inf")


def test_encoding_is_deterministic():
    v = {"b": np.ones(3), "a": [1, 2]}
    assert encode(v) == encode({"a": [1, 2], "b": np.ones(3)})


@pytest.mark.parametrize("bad", [object(), {1: "x"}, np.array(["a"], dtype=object), lambda: 0, {"__array__": 1}])
def test_refuses_what_is_not_plain_data(bad):
    with pytest.raises(CodecError):
        encode(bad)


@pytest.mark.parametrize("data", [b"", b"garbage" * 10, pickle.dumps({"a": 1}), b"\x08\x00\x00\x00\x00\x00\x00\x00{}"])
def test_refuses_bytes_that_are_not_an_encoded_value(data):
    with pytest.raises(CodecError):
        decode(data)
