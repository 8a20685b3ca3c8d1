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


# -- replies a hostile child could send ------------------------------------------------
# A student's code runs in the process that builds the replies, so it can send any bytes
# at all: the grader's side must refuse these quickly and without allocating them.
def _raw(structure: str, arrays: dict | None = None) -> bytes:
    """Safetensors bytes carrying any structure, as a child that bypasses encode() sends."""
    from safetensors.numpy import save

    return save(arrays or {}, metadata={"structure": structure})


HOSTILE = {
    "8 million empty lists (24 MB)": (lambda: _raw("[" + ",".join(["[]"] * 8_000_000) + "]"), "bytes, over the limit"),
    "300 000 empty lists (0.9 MB)": (lambda: _raw("[" + ",".join(["[]"] * 300_000) + "]"), "more than 100000 parts"),
    "a 20 MB error message": (lambda: encode({"ok": False, "error": {"message": "x" * 20_000_000}}),
                              "bytes, over the limit"),
    "a 900 000-character message": (lambda: encode({"message": "x" * 900_000}), "string of 900000 characters"),
    "a 2.8 MB structure of emoji": (lambda: encode({"m": "\U0001F600" * 200_000}), "structure is .* bytes"),
    "a 900 000-character dict key": (lambda: encode({"k" * 900_000: 1}), "key of 900000 characters"),
    "a 20 MB dict key": (lambda: encode({"k" * 20_000_000: 1}), "bytes, over the limit"),
    "nested 66 deep": (lambda: _raw("[" * 66 + "]" * 66), "nested more than 64 deep"),
    "nested 5 000 deep": (lambda: _raw("[" * 5000 + "]" * 5000), "nested more than 64 deep"),
    "nested 400 000 deep": (lambda: _raw("[" * 400_000 + "]" * 400_000), "more than 100000 parts"),
    "a header claiming 2**60 bytes": (lambda: (1 << 60).to_bytes(8, "little") + b"{}", "structure is .* bytes"),
    "12 000 arrays": (lambda: encode([np.zeros(0)] * 12_000), "more than 100000 parts"),
    "an array nothing refers to": (lambda: _raw("1", {"a0": np.zeros(3)}), "arrays that no part"),
    "an array referred to twice": (lambda: _raw('[{"__array__":"a0"},{"__array__":"a0"}]', {"a0": np.zeros(3)}),
                                   "bad array reference"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_values_are_refused_before_they_are_built(case):
    from memwatch import peak_growth_mib

    make, why = HOSTILE[case]
    data = make()
    with peak_growth_mib() as grew:
        with pytest.raises(CodecError, match=why):
            decode(data)
    # Decoding the 8 million lists took 1.1 GiB before decode was bounded.
    assert grew() < 16, f"decoding grew the process by {grew():.0f} MiB"


def test_values_within_the_limits_decode():
    deep: list = [0]
    for _ in range(62):  # with the dict around it, 64 deep: the most encode sends
        deep = [deep]
    value = {"text": "y" * 10_000, "many": list(range(50_000)), "big": np.zeros(1 << 20), "deep": deep}
    back = decode(encode(value))
    assert back["text"] == value["text"] and back["many"] == value["many"] and back["big"].shape == (1 << 20,)
    assert back["deep"] == deep


def test_limits_can_be_tightened_per_call():
    from grader.codec import DecodeLimits

    data = encode({"grads": np.zeros(1000)})
    assert decode(data)["grads"].shape == (1000,)
    with pytest.raises(CodecError, match="over the limit of 4000"):
        decode(data, DecodeLimits(total_bytes=4000))
    with pytest.raises(CodecError, match="more than 2 parts"):
        decode(encode([1, 2, 3]), DecodeLimits(nodes=2))
