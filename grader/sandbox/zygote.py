"""The fork server: a process that imports the heavy libraries once and forks a
fresh, confined child for each submission.

Importing torch costs ~2 s; forking a process that already has it costs
milliseconds, and every student still gets a process of their own that nothing
else has run in. The zygote never sees reference data or results: it only imports
the modules it is told to preload and forks.

Protocol, over a SOCK_SEQPACKET socket from the grader (one JSON message each way):

* ``{"op": "spawn", ...config}`` with three file descriptors attached (request
  pipe read end, reply pipe write end, output pipe write end) -> ``{"pid": N}``
* ``{"op": "wait", "pid": N, "timeout": s}`` -> ``{"pid": N, "status": ...}``
  where status is ``{"exit": code}``, ``{"signal": n}`` or ``null`` (still running).

Run as ``python -m grader.sandbox.zygote FD PRELOAD_JSON``.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
import time
import traceback


def _describe(status: int) -> dict:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit": os.WEXITSTATUS(status)}


def _become_child(cfg: dict, fds: list[int], ctl: socket.socket) -> None:
    """Runs in the forked child; never returns."""
    code = 70
    try:
        req_fd, rep_fd, out_fd = fds
        ctl.close()
        os.setsid()  # own process group: the grader kills the whole group on timeout
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        keep = {0, 1, 2, req_fd, rep_fd}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False, errors="replace")
        sys.stderr = open(2, "w", buffering=1, closefd=False, errors="replace")

        from grader.sandbox import child, limits

        os.environ.clear()
        os.environ.update(cfg.get("env", {}))
        active = limits.confine(cfg["limits"], cfg["isolation"], cfg["workdir"])
        sys.path[:0] = cfg.get("sys_path", [])
        module_name, func_name = cfg["handler"].split(":")
        handler = getattr(importlib.import_module(module_name), func_name)
        child.serve(req_fd, rep_fd, handler, {"protections": active})
        code = 0
    except BaseException:  # report why the child could not start, then die
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
    finally:
        os._exit(code)


def main() -> None:
    ctl = socket.socket(fileno=int(sys.argv[1]))
    for name in json.loads(sys.argv[2]):
        importlib.import_module(name)
    finished: dict[int, dict] = {}

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            finished[pid] = _describe(status)

    ctl.sendmsg([json.dumps({"ready": os.getpid()}).encode()])
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctl, 1 << 16, 3)
        except (ConnectionError, OSError):
            break
        if not msg:
            break
        cfg = json.loads(msg)
        if cfg["op"] == "spawn":
            pid = os.fork()
            if pid == 0:
                _become_child(cfg, fds, ctl)
            for fd in fds:
                os.close(fd)
            ctl.sendmsg([json.dumps({"pid": pid}).encode()])
        elif cfg["op"] == "wait":
            pid, deadline = cfg["pid"], time.monotonic() + float(cfg.get("timeout", 5))
            while True:
                reap()
                if pid in finished or time.monotonic() > deadline:
                    break
                time.sleep(0.005)
            ctl.sendmsg([json.dumps({"pid": pid, "status": finished.pop(pid, None)}).encode()])
        reap()
    # The grader went away. Children were forked with PDEATHSIG=SIGKILL, so they
    # end with us.


if __name__ == "__main__":
    main()
