"""Student mode's processes: the sandbox interface of :class:`grader.runner.ModuleSession`
with nothing but ``subprocess``, pipes and threads, so it runs the same on Linux,
macOS and Windows.

    processes = LocalProcesses(preload=["numpy", "torch", "grader.harness"])
    child = processes.spawn(workdir)          # python -m grader.student.child, ready
    reply = child.call(request, timeout_s=10) # a grader.sandbox.Reply
    child.close()

Each call waits for its reply on a queue filled by a reader thread, so a student
function that never returns costs exactly its time limit: the process (and, on
POSIX, its whole process group; on Windows, its process tree) is killed and the
reply says ``timeout``. The caller starts a new process for the next check.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import site
import subprocess
import sys
import threading
import time
from pathlib import Path

from grader.sandbox import Reply, SandboxError
from grader.sandbox import _OutputTap as OutputTap  # plain os.read on a pipe: portable
from grader.student.frames import FrameError, PeerClosed, read_frame, write_frame

__all__ = ["LocalProcesses", "LocalChild", "START_TIMEOUT_S"]

START_TIMEOUT_S = 180.0       # python plus torch's first import on a slow laptop (antivirus on Windows)
OUTPUT_BYTES = 1 << 20        # what the student's code prints, kept; the rest is counted
REPLY_BYTES = 256 << 20       # the largest reply accepted
HANDLER = "grader.harness:handle"


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "the process stopped answering"
    if returncode < 0:  # POSIX: ended by a signal
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        why = {"SIGKILL": " (killed: out of memory, or the process killed itself)",
               "SIGSEGV": " (crashed)"}.get(name, "")
        return f"the process was ended by {name}{why}"
    return f"the process exited with code {returncode} (sys.exit or os._exit in your code?)"


class LocalChild:
    """One student process. ``call`` for each request, ``close`` when done."""

    def __init__(self, proc: subprocess.Popen, reply_bytes: int = REPLY_BYTES):
        self._proc, self.pid = proc, proc.pid
        self.alive = True
        self.exit_detail = ""
        self.protections: list[str] = []
        self._replies: queue.Queue = queue.Queue()
        self._reply_bytes = reply_bytes
        # The tap reads and closes its own descriptor of the child's stderr.
        self._tap = OutputTap(os.dup(proc.stderr.fileno()), OUTPUT_BYTES)
        proc.stderr.close()
        self._tap.start()
        threading.Thread(target=self._read_replies, daemon=True).start()

    def _read_replies(self) -> None:
        while True:
            try:
                self._replies.put(("ok", read_frame(self._proc.stdout, self._reply_bytes)))
            except PeerClosed:
                self._replies.put(("died", b""))
                return
            except FrameError as exc:
                self._replies.put(("protocol", str(exc).encode()))
                return
            except (OSError, ValueError):  # the pipe was closed under us by kill()
                self._replies.put(("died", b""))
                return

    def _send(self, payload: bytes) -> None:
        try:
            write_frame(self._proc.stdin, payload)
        except (OSError, ValueError):
            pass  # the process is gone: the reader says so

    def _await(self, timeout_s: float) -> tuple[str, bytes] | None:
        try:
            return self._replies.get(timeout=max(timeout_s, 0.001))
        except queue.Empty:
            return None

    def await_ready(self, timeout_s: float) -> None:
        got = self._await(timeout_s)
        if got is None:
            self.kill()
            raise SandboxError(f"the student process did not start within {timeout_s:g} s")
        status, data = got
        if status != "ok":
            self.kill(grace_s=5)
            # The error's last line (e.g. "ModuleNotFoundError: No module named 'torch'"), not
            # a traceback that every check would repeat.
            last = next((line for line in reversed(self.output().splitlines()) if line.strip()), "")
            raise SandboxError(f"the student process could not start (exit status {self._proc.returncode}): "
                               f"{last[:500]}")
        self.protections = json.loads(data).get("protections", [])

    def call(self, payload: bytes, timeout_s: float) -> Reply:
        if not self.alive:
            return Reply("died", detail=self.exit_detail or "the process is no longer running")
        started = time.monotonic()
        # Written from a thread: a child stuck in student code stops reading, and a
        # large request would then block here past the deadline.
        threading.Thread(target=self._send, args=(payload,), daemon=True).start()
        try:
            got = self._await(timeout_s)
        except BaseException:   # Ctrl-C in a notebook: this reply must not reach the next call
            self.kill()
            raise
        took = time.monotonic() - started
        if got is None:
            self.kill()
            return Reply("timeout", detail=f"no answer within {timeout_s:g} s", duration_s=took)
        status, data = got
        if status == "ok":
            return Reply("ok", data, duration_s=took)
        self.kill(grace_s=2 if status == "died" else 0)   # it closed its end: it is exiting
        return Reply(status, detail=data.decode() if status == "protocol" else self.exit_detail, duration_s=took)

    def output(self) -> str:
        """What the process printed so far (capped)."""
        return self._tap.text()

    def kill(self, grace_s: float = 0.0) -> None:
        """End the process (and what it started); ``grace_s``: first wait that long for
        it to exit by itself, so that its own exit status is what gets reported."""
        if not self.alive:
            return
        self.alive = False
        if grace_s:
            try:
                self._proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        _kill_tree(self._proc)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.exit_detail = describe_exit(self._proc.returncode)
        self._tap.join(timeout=2)  # a grandchild still holding stderr must not stall us
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                stream.close()
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        self.kill()


def _kill_tree(proc: subprocess.Popen) -> None:
    """The process and what it started: its process group on POSIX (it leads one of its
    own), its process tree on Windows (``taskkill /T``)."""
    if os.name == "nt":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True)
    else:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.kill()
    except OSError:
        pass


class LocalProcesses:
    """Starts student processes: ``sys.executable -m grader.student.child``, in the
    scratch folder, with the environment of this process (one thread for BLAS)."""

    def __init__(self, preload: list[str], handler: str = HANDLER, start_timeout_s: float = START_TIMEOUT_S):
        self.preload, self.handler, self.start_timeout_s = list(preload), handler, start_timeout_s

    def allocate_uid(self) -> None:
        return None  # the student's own user: nothing to change on their machine

    def spawn(self, workdir: Path, *, lease=None) -> LocalChild:
        env = dict(os.environ)
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0", MPLBACKEND="Agg",
                   PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8")
        # The grader as this process imports it: found by site when it is installed, else
        # (a checkout on sys.path) named here; a site folder is never put before the stdlib.
        pkg_root = Path(__file__).resolve().parents[2]
        if pkg_root not in {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}:
            env["PYTHONPATH"] = os.pathsep.join([str(pkg_root)] + [p for p in [env.get("PYTHONPATH")] if p])
        kwargs: dict = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" \
            else {"start_new_session": True}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "grader.student.child", self.handler, json.dumps(self.preload)],
                cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                **kwargs)
        except OSError as exc:
            raise SandboxError(f"could not start {sys.executable}: {exc}") from None
        child = LocalChild(proc)
        child.await_ready(self.start_timeout_s)
        return child

    def close(self) -> None:
        pass  # no server to stop: each child is closed by its session

    def __enter__(self) -> "LocalProcesses":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
