"""Length-prefixed frames on a pipe's file object, with nothing but the standard library.

The same framing as :mod:`grader.sandbox.frames` (an 8-byte little-endian length,
then the payload) over blocking reads and writes, which work on every OS's pipes:
deadlines are kept by the caller's threads (:mod:`grader.student.processes`), not
by ``select.poll``, which Windows lacks for pipes.
"""
from __future__ import annotations

import struct
from typing import BinaryIO

HEADER = struct.Struct("<Q")


class FrameError(Exception):
    """The peer broke the protocol (an oversized or truncated frame)."""


class PeerClosed(Exception):
    """The other end closed the pipe (the process exited or died)."""


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            raise PeerClosed() if left == n else FrameError(f"truncated frame: {n - left} of {n} bytes")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_frame(stream: BinaryIO, max_bytes: int) -> bytes:
    """One frame; a length over ``max_bytes`` is refused before anything is read."""
    (size,) = HEADER.unpack(_read_exactly(stream, HEADER.size))
    if size > max_bytes:
        raise FrameError(f"a reply of {size} bytes is over the limit of {max_bytes}")
    return _read_exactly(stream, size) if size else b""
