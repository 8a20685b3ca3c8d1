"""Plain data to bytes and back, in a format that cannot carry code.

Used for everything that crosses a trust boundary or sits on disk: requests to and
replies from a student's child process, and the files under ``reference_data/``.

A value is plain data: ``None``, ``bool``, ``int``, ``float``, ``str``, lists, dicts
with ``str`` keys, and NumPy arrays of numeric or bool dtype. The structure travels
as JSON; the arrays as safetensors tensors (a format built so that loading never
executes anything). Decoding checks the structure against that grammar and fails
with :class:`CodecError` on anything else; it never calls pickle. It also bounds
what it accepts (:class:`DecodeLimits`: total size, size of the structure, number
of parts, nesting depth, string length), each checked before the part it bounds is
parsed: a student's child builds the replies, so a reply may be anything, and the
grader's process must survive it at the cost of a few MiB and milliseconds.

Encoding is deterministic (sorted JSON keys, arrays named by position), so the same
value always gives the same bytes: ``reference`` relies on that.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

__all__ = ["CodecError", "encode", "decode", "DecodeLimits", "DECODE_LIMITS", "ALLOWED_DTYPES"]

ALLOWED_DTYPES = frozenset(
    np.dtype(t)
    for t in ("bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
              "float16", "float32", "float64")
)
_ARRAY = "__array__"
_FLOAT = "__float__"  # non-finite floats, which JSON cannot hold
_MAX_DEPTH = 64


class CodecError(ValueError):
    """Bytes that are not an encoded plain value, or a value that is not plain data."""


@dataclass(frozen=True)
class DecodeLimits:
    """The most :func:`decode` accepts. The defaults leave room for labs far larger
    than today's (whose largest value, reference data included, is 89 KB in all, a
    55 KB structure of 3 200 parts, strings of 105 characters, 6 deep) while keeping
    what a hostile value can cost the grader's process to a few MiB."""

    total_bytes: int = 16 << 20       # the whole value, arrays included
    structure_bytes: int = 1 << 20    # the JSON header: the structure and the array table
    nodes: int = 100_000              # parts: every list, dict, key, scalar and array (bounds list lengths too)
    depth: int = _MAX_DEPTH
    string_chars: int = 10_000        # any one string or dict key (the child cuts messages to 2 000)


DECODE_LIMITS = DecodeLimits()


def encode(value: Any) -> bytes:
    arrays: dict[str, np.ndarray] = {}

    def walk(v: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise CodecError("value nested too deeply")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, np.integer)) and not isinstance(v, np.bool_):
            return int(v)
        if isinstance(v, (float, np.floating)):
            f = float(v)
            return f if math.isfinite(f) else {_FLOAT: repr(f)}
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, np.ndarray):
            if v.dtype not in ALLOWED_DTYPES:
                raise CodecError(f"arrays of dtype {v.dtype} cannot be sent")
            key = f"a{len(arrays)}"
            arrays[key] = v if v.flags.c_contiguous else v.copy(order="C")  # ascontiguousarray would turn 0-d into 1-d
            return {_ARRAY: key}
        if isinstance(v, (list, tuple)):
            return [walk(x, depth + 1) for x in v]
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if not isinstance(k, str):
                    raise CodecError(f"dict keys must be str, not {type(k).__name__}")
                if k in (_ARRAY, _FLOAT):
                    raise CodecError(f"the key {k!r} is reserved")
                out[k] = walk(x, depth + 1)
            return out
        raise CodecError(f"values of type {type(v).__name__} cannot be sent")

    structure = walk(value, 0)
    header = json.dumps(structure, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return _st_save(arrays, metadata={"structure": header})


def decode(data: bytes, limits: DecodeLimits = DECODE_LIMITS) -> Any:
    """The value ``data`` encodes, or :class:`CodecError`. Every bound in ``limits``
    is checked before the part it bounds is parsed: a hostile reply costs at most
    about ``limits.structure_bytes`` of parsing and ``limits.total_bytes`` of arrays."""
    if not isinstance(data, bytes):
        if not isinstance(data, (bytearray, memoryview)):
            raise CodecError("expected bytes")
        if len(data) > limits.total_bytes:  # before copying it
            raise CodecError(f"the value is {len(data)} bytes, over the limit of {limits.total_bytes}")
        data = bytes(data)
    header = _header(data, limits)
    try:
        meta = json.loads(header).get("__metadata__") or {}
        structure = json.loads(meta["structure"])
    except RecursionError:  # json's C parser stops at the interpreter's recursion limit
        raise CodecError(f"the value is nested more than {limits.depth} deep") from None
    except Exception:
        raise CodecError("not an encoded value: no structure in its header") from None
    try:
        arrays = _st_load(data)
    except Exception as exc:  # safetensors raises its own error types
        raise CodecError(f"not an encoded value: {exc}") from None
    used: set[str] = set()
    nodes = 0

    # Containers are filled in place: a copy would double what a large reply costs.
    def walk(v: Any, depth: int) -> Any:
        nonlocal nodes
        nodes += 1
        if depth > limits.depth:
            raise CodecError(f"the value is nested more than {limits.depth} deep")
        if nodes > limits.nodes:
            raise CodecError(f"the value has more than {limits.nodes} parts")
        if isinstance(v, str):
            if len(v) > limits.string_chars:
                raise CodecError(f"a string of {len(v)} characters, over the limit of {limits.string_chars}")
            return v
        if v is None or isinstance(v, (bool, int, float)):
            return v
        if isinstance(v, list):
            for i, x in enumerate(v):
                v[i] = walk(x, depth + 1)
            return v
        if isinstance(v, dict):
            if set(v) == {_ARRAY}:
                key = v[_ARRAY]
                if not isinstance(key, str) or key not in arrays or key in used:
                    raise CodecError(f"bad array reference {key!r:.40}")
                used.add(key)
                arr = arrays[key]
                if arr.dtype not in ALLOWED_DTYPES:
                    raise CodecError(f"arrays of dtype {arr.dtype} are not accepted")
                return arr
            if set(v) == {_FLOAT}:
                if v[_FLOAT] not in ("inf", "-inf", "nan"):
                    raise CodecError("bad float")
                return float(v[_FLOAT])
            for k, x in v.items():
                if len(k) > limits.string_chars:
                    raise CodecError(f"a key of {len(k)} characters, over the limit of {limits.string_chars}")
                v[k] = walk(x, depth + 1)
            return v
        raise CodecError("bad structure")

    value = walk(structure, 0)
    if len(used) != len(arrays):
        raise CodecError(f"{len(arrays) - len(used)} arrays that no part of the value refers to")
    return value


def _header(data: bytes, limits: DecodeLimits) -> bytes:
    """The safetensors header (u64 little-endian length, then JSON holding the array
    table and our structure as metadata), checked against ``limits`` without parsing it."""
    if len(data) > limits.total_bytes:
        raise CodecError(f"the value is {len(data)} bytes, over the limit of {limits.total_bytes}")
    if len(data) < 8:
        raise CodecError("truncated")
    n = int.from_bytes(data[:8], "little")
    if n > limits.structure_bytes:
        raise CodecError(f"the structure is {n} bytes, over the limit of {limits.structure_bytes}")
    if n > len(data) - 8:
        raise CodecError("truncated header")
    header = data[8 : 8 + n]
    # Every value but the first follows a ',' or ':' or opens with '[' or '{', so this
    # count bounds the number of values from above (characters inside strings count
    # too: it errs on the safe side), in C, before anything is allocated per value.
    # The array table counts too (about 7 parts per array).
    if 1 + sum(header.count(c) for c in (b",", b":", b"[", b"{")) > limits.nodes:
        raise CodecError(f"the value has more than {limits.nodes} parts")
    return header
