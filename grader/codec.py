"""Plain data to bytes and back, in a format that cannot carry code.

Used for everything that crosses a trust boundary or sits on disk: requests to and
replies from a student's child process, and the files under ``reference_data/``.

A value is plain data: ``None``, ``bool``, ``int``, ``float``, ``str``, lists, dicts
with ``str`` keys, and NumPy arrays of numeric or bool dtype. The structure travels
as JSON; the arrays as safetensors tensors (a format built so that loading never
executes anything). Decoding checks the structure against that grammar and fails
with :class:`CodecError` on anything else; it never calls pickle.

Encoding is deterministic (sorted JSON keys, arrays named by position), so the same
value always gives the same bytes: ``reference`` relies on that.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

__all__ = ["CodecError", "encode", "decode", "ALLOWED_DTYPES"]

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


def decode(data: bytes) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError("expected bytes")
    try:
        arrays = _st_load(bytes(data))
        header = json.loads(_metadata(bytes(data))["structure"])
    except CodecError:
        raise
    except Exception as exc:  # safetensors raises its own error types
        raise CodecError(f"not an encoded value: {exc}") from None
    used: set[str] = set()

    def walk(v: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise CodecError("value nested too deeply")
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [walk(x, depth + 1) for x in v]
        if isinstance(v, dict):
            if set(v) == {_ARRAY}:
                key = v[_ARRAY]
                if key not in arrays or key in used:
                    raise CodecError(f"bad array reference {key!r}")
                used.add(key)
                arr = arrays[key]
                if arr.dtype not in ALLOWED_DTYPES:
                    raise CodecError(f"arrays of dtype {arr.dtype} are not accepted")
                return arr
            if set(v) == {_FLOAT}:
                if v[_FLOAT] not in ("inf", "-inf", "nan"):
                    raise CodecError("bad float")
                return float(v[_FLOAT])
            return {str(k): walk(x, depth + 1) for k, x in v.items()}
        raise CodecError("bad structure")

    return walk(header, 0)


def _metadata(data: bytes) -> dict[str, str]:
    # safetensors layout: u64 little-endian header length, then a JSON header whose
    # "__metadata__" entry holds our string metadata.
    if len(data) < 8:
        raise CodecError("truncated")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise CodecError("truncated header")
    meta = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
    if "structure" not in meta:
        raise CodecError("no structure in header")
    return meta
