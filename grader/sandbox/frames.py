"""Length-prefixed frames over pipes, with deadlines and a size cap.

The grader reads what a student's process sends: a frame claiming more than
``max_bytes`` is refused before anything is allocated, and every read and write on
the grader's side honours a deadline so a child that stops reading or writing
cannot stall the batch.
"""
from __future__ import annotations

import os
import select
import struct
import time

_HEADER = struct.Struct("<Q")


class FrameError(Exception):
    """The peer broke the protocol (oversized or truncated frame)."""


class PeerClosed(Exception):
    """The other end closed the pipe (the process exited or died)."""


class Deadline(Exception):
    """The deadline passed before the frame was complete."""


def _wait(fd: int, writable: bool, deadline: float | None) -> None:
    while True:
        timeout = None if deadline is None else deadline - time.monotonic()
        if timeout is not None and timeout <= 0:
            raise Deadline()
        poller = select.poll()
        poller.register(fd, select.POLLOUT if writable else select.POLLIN)
        events = poller.poll(None if timeout is None else max(1, int(timeout * 1000)))
        if events:
            return


def write_frame(fd: int, payload: bytes, deadline: float | None = None) -> None:
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        _wait(fd, True, deadline)
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            continue
        except BrokenPipeError:
            raise PeerClosed() from None
        data = data[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, remaining = [], n
    while remaining:
        _wait(fd, False, deadline)
        try:
            chunk = os.read(fd, min(remaining, 1 << 20))
        except BlockingIOError:
            continue
        if not chunk:
            raise PeerClosed()
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, max_bytes: int, deadline: float | None = None) -> bytes:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    if size > max_bytes:
        raise FrameError(f"the reply is {size} bytes, over the limit of {max_bytes}")
    return _read_exact(fd, size, deadline)
