"""The child's side of the conversation: read a request frame, hand its bytes to the
handler, send back the bytes it returns. The handler (e.g. ``grader.harness:handle``)
decides what the bytes mean; this loop knows nothing about tensors or checks.
"""
from __future__ import annotations

from typing import Callable

from grader.sandbox.frames import PeerClosed, read_frame, write_frame

Handler = Callable[[bytes, dict], bytes]


def serve(req_fd: int, rep_fd: int, handler: Handler, context: dict) -> None:
    # The first frame announces that the child is up and what protections it got.
    import json

    write_frame(rep_fd, json.dumps(context).encode())
    while True:
        try:
            request = read_frame(req_fd, max_bytes=1 << 31)
        except PeerClosed:
            return
        write_frame(rep_fd, handler(request, context))
