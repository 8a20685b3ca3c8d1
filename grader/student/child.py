"""The student's process in student mode: ``python -m grader.student.child HANDLER PRELOAD``.

Started by :class:`grader.student.processes.LocalProcesses` with three pipes. Requests
come in on stdin and replies go out on stdout, as frames; before any student code
runs, file descriptors 0 and 1 are moved aside so that what the student's code prints
(or reads) cannot mix with the protocol: fd 1 then goes to stderr, which the grader
keeps as the process's output, and fd 0 reads nothing.

A thread reads the requests, so that the process ends by itself when the grader's
end of the pipe closes (no PDEATHSIG outside Linux). The first frame says the
process is ready (after the preloaded modules, torch included, are imported) and
which protections it has. No confinement: this is the student's own code on the
student's own machine; what protects them from an infinite loop is the grader's
time limit on each call.
"""
from __future__ import annotations

import importlib
import json
import os
import queue
import sys
import threading

from grader.student.frames import read_frame, write_frame

PROTECTIONS = ["a separate process (student mode: no confinement)", "a time limit on each call"]


def _protocol_streams():
    """(requests, replies): the original stdin and stdout, moved to new descriptors."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout.flush()
    os.dup2(2, 1)  # the student's prints go where stderr goes: the grader's output tap
    return requests, replies


def main(argv: list[str]) -> int:
    handler_spec, preload = argv[0], json.loads(argv[1])
    requests, replies = _protocol_streams()
    for name in preload:
        importlib.import_module(name)
    module_name, func_name = handler_spec.split(":")
    handler = getattr(importlib.import_module(module_name), func_name)
    context: dict = {"protections": list(PROTECTIONS)}
    write_frame(replies, json.dumps(context).encode())
    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=_read_requests, args=(requests, inbox), daemon=True).start()
    while True:
        write_frame(replies, handler(inbox.get(), context))


def _read_requests(requests, inbox: queue.Queue) -> None:
    """Requests, read beside the student's code rather than between calls: when the
    grader is gone (it closed the pipe, or died without killing us) this process
    ends at once, even in the middle of an infinite loop, on every OS."""
    while True:
        try:
            inbox.put(read_frame(requests, max_bytes=1 << 31))
        except Exception:  # end of input, or a broken frame: nobody to answer
            os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
