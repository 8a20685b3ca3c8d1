"""Run untrusted code in confined child processes: bytes in, bytes out.

    with Sandbox(preload=["numpy", "torch"], handler="grader.harness:handle") as sandbox:
        child = sandbox.spawn(workdir)
        reply = child.call(b"...", timeout_s=10)
        if reply.ok: ...
        child.close()

Each ``spawn`` forks a fresh process from a fork server (the zygote) that already
imported the heavy modules. The child confines itself (rlimits, own process group,
no network where possible, an unprivileged uid when we run as root) before the
handler or any student code runs. The grader's side of every exchange has a
deadline; on a timeout the child's whole process group is killed.

This package knows nothing about tensors, checks or reports.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.frames import Deadline, FrameError, PeerClosed, read_frame, write_frame
from grader.sandbox.limits import Isolation, Limits

__all__ = ["Sandbox", "Child", "Reply", "Limits", "Isolation", "SandboxError"]

log = logging.getLogger(__name__)

UID_POOL = 65536  # children get uids isolation.uid + 1 .. + UID_POOL, each leased while its child lives
LEASE_DIR = Path(tempfile.gettempdir()) / ".backprop-grader-uids"


class UidLease:
    """An exclusive hold on one uid, by an flock the kernel drops if we die."""

    def __init__(self, uid: int, fd: int):
        self.uid, self._fd = uid, fd

    @classmethod
    def take(cls, base: int, start: int) -> "UidLease":
        import fcntl  # here, not at the top: the package must import on macOS and Windows (students' Reply)

        LEASE_DIR.mkdir(mode=0o700, exist_ok=True)
        for i in range(UID_POOL):
            uid = base + 1 + (start + i) % UID_POOL
            fd = os.open(LEASE_DIR / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            kill_uid(uid)  # whatever a grader that died without cleaning up left under it
            return cls(uid, fd)
        raise SandboxError("no free uid for a child: every uid of the pool is in use")

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the student's code)."""


@dataclass(frozen=True)
class Reply:
    """The outcome of one call. ``status`` is ``ok``, ``timeout``, ``died`` or ``protocol``."""

    status: str
    payload: bytes = b""
    detail: str = ""          # for died/protocol/timeout: what happened, in words
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def describe_exit(status: dict | None) -> str:
    if status is None:
        return "the process stopped answering"
    if "signal" in status:
        sig = status["signal"]
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        why = {
            "SIGKILL": " (killed: memory or process limit, or the process killed itself)",
            "SIGXCPU": " (CPU time limit reached)",
            "SIGXFSZ": " (wrote a file larger than the limit)",
            "SIGSEGV": " (crashed)",
        }.get(name, "")
        return f"the process was ended by {name}{why}"
    code = status.get("exit")
    return f"the process exited with code {code} (sys.exit or os._exit in student code?)"


def kill_uid(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (each child has a uid of its own).

    A helper process takes that uid and calls kill(-1, SIGKILL): the kernel signals
    all of the uid's processes at once, so a fork bomb cannot outrun a sweep.
    """
    pid = os.fork()
    if pid == 0:  # only async-signal-safe calls until _exit: we may have threads
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


class _OutputTap(threading.Thread):
    """Drains a child's stdout/stderr, keeping the first ``limit`` bytes."""

    def __init__(self, fd: int, limit: int):
        super().__init__(daemon=True)
        self.fd, self.limit = fd, limit
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 1 << 16)
                if not chunk:
                    break
                room = self.limit - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
                self.dropped += max(0, len(chunk) - max(room, 0))
        except OSError:
            pass
        finally:
            os.close(self.fd)

    def text(self) -> str:
        out = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            out += f"\n[... {self.dropped} more bytes of output dropped: the limit is {self.limit} bytes]\n"
        return out


class Child:
    """One confined process. Use ``call`` for each request, ``close`` when done."""

    def __init__(self, sandbox: "Sandbox", pid: int, req_w: int, rep_r: int, tap: _OutputTap,
                 limits: Limits, lease: UidLease | None = None):
        self._sandbox, self.pid, self._lease = sandbox, pid, lease
        self.uid = lease.uid if lease is not None else None
        self._req_w, self._rep_r, self._tap = req_w, rep_r, tap
        self._limits = limits
        self.alive = True
        self.exit_detail = ""
        self.protections: list[str] = []

    def _await_ready(self, timeout_s: float) -> Reply:
        started = time.monotonic()
        try:
            hello = read_frame(self._rep_r, 1 << 16, started + timeout_s)
            self.protections = json.loads(hello).get("protections", [])
            return Reply("ok", hello, duration_s=time.monotonic() - started)
        except Deadline:
            self.kill()
            return Reply("timeout", detail="the sandbox did not start in time")
        except (PeerClosed, FrameError, ValueError):
            self.kill()
            return Reply("died", detail=f"the sandbox could not start: {self.output()[-2000:]}")

    def call(self, payload: bytes, timeout_s: float) -> Reply:
        if not self.alive:
            return Reply("died", detail=self.exit_detail or "the process is no longer running")
        started = time.monotonic()
        deadline = started + timeout_s
        try:
            write_frame(self._req_w, payload, deadline)
            data = read_frame(self._rep_r, self._limits.reply_bytes, deadline)
            return Reply("ok", data, duration_s=time.monotonic() - started)
        except Deadline:
            self.kill()
            return Reply("timeout", detail=f"no answer within {timeout_s:g} s",
                         duration_s=time.monotonic() - started)
        except PeerClosed:
            self.kill()
            return Reply("died", detail=self.exit_detail, duration_s=time.monotonic() - started)
        except FrameError as exc:
            self.kill()
            return Reply("protocol", detail=str(exc), duration_s=time.monotonic() - started)

    def output(self) -> str:
        """What the child printed so far (capped)."""
        return self._tap.text()

    def kill(self) -> None:
        if not self.alive:
            return
        self.alive = False
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the child's whole process group
        except (ProcessLookupError, PermissionError):
            pass
        if self._lease is not None:
            kill_uid(self._lease.uid)  # and whatever escaped the group with setsid()
        status = self._sandbox._wait(self.pid)
        self.exit_detail = describe_exit(status)
        for fd in (self._req_w, self._rep_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._tap.join(timeout=2)
        if self._lease is not None:
            self._lease.release()  # only now: nothing of this uid is left running

    def close(self) -> None:
        self.kill()


class Sandbox:
    """Owns the fork server. Thread-compatible: one ``spawn`` at a time is serialised."""

    def __init__(self, preload: list[str], handler: str, limits: Limits | None = None,
                 isolation: Isolation | None = None, env: dict[str, str] | None = None,
                 sys_path: list[str] | None = None):
        self.preload, self.handler = list(preload), handler
        self.limits = limits or Limits()
        self.isolation = isolation or Isolation()
        self.env = dict(env or {})
        self.sys_path = list(sys_path or [])
        self._ctl: socket.socket | None = None
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._next_uid = 0

    def allocate_uid(self) -> "UidLease | None":
        """A uid for the next child, leased machine-wide: no other child, of this
        grader or of another one running beside it, has it while the lease is held.
        None when we cannot change uids."""
        if self.isolation.uid is None:
            return None
        with self._lock:
            self._next_uid += 1
            start = (os.getpid() * 7919 + self._next_uid) % UID_POOL
        return UidLease.take(self.isolation.uid, start)

    # -- fork server lifecycle -------------------------------------------------
    def start(self) -> "Sandbox":
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        # One thread per child: workers run side by side, and results must not
        # depend on how many cores the grading machine has.
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
        pkg_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in [env.get("PYTHONPATH")] if p])
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox.zygote", str(child.fileno()), json.dumps(self.preload)],
            pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL,
        )
        child.close()
        self._ctl = parent
        parent.settimeout(120)
        try:
            hello = parent.recv(1 << 16)
        except socket.timeout:
            raise SandboxError("the fork server did not start within 120 s") from None
        if not hello:
            raise SandboxError(f"the fork server failed to start (exit {self._proc.wait()})")
        parent.settimeout(30)
        return self

    def close(self) -> None:
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        if self._proc is not None:
            # The fork server holds no state worth a clean exit (tearing down torch takes
            # ~0.6 s), and its children die with it (PDEATHSIG).
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def __enter__(self) -> "Sandbox":
        return self.start() if self._ctl is None else self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, message: dict, fds: list[int] | None = None) -> dict:
        with self._lock:
            if self._ctl is None or (self._proc is not None and self._proc.poll() is not None):
                log.warning("fork server gone; restarting it")
                self.close()
                self.start()
            try:
                if fds:
                    socket.send_fds(self._ctl, [json.dumps(message).encode()], fds)
                else:
                    self._ctl.sendmsg([json.dumps(message).encode()])
                answer = self._ctl.recv(1 << 16)
            except OSError as exc:
                raise SandboxError(f"fork server: {exc}") from None
            if not answer:
                raise SandboxError("the fork server exited")
            return json.loads(answer)

    def _wait(self, pid: int) -> dict | None:
        try:
            return self._request({"op": "wait", "pid": pid, "timeout": 5}).get("status")
        except SandboxError:
            return None

    # -- children ----------------------------------------------------------------
    def spawn(self, workdir: Path, start_timeout_s: float = 30.0, env: dict[str, str] | None = None,
              lease: UidLease | None = None) -> Child:
        """Fork a confined child working in ``workdir`` and wait until it is ready."""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        child_env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir),
                     "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        child_env.update(self.env)
        child_env.update(env or {})
        isolation = self.isolation.to_dict()
        isolation["expose"] = sorted({*isolation["expose"], *self.sys_path})  # the handler must stay importable
        uid = lease.uid if lease is not None else None
        if uid is not None:
            isolation.update(uid=uid, gid=uid)
        config = {
            "op": "spawn", "workdir": str(workdir), "handler": self.handler,
            "limits": self.limits.to_dict(), "isolation": isolation,
            "env": child_env, "sys_path": [str(workdir)] + self.sys_path,
        }
        try:
            pid = self._request(config, [req_r, rep_w, out_w])["pid"]
        except BaseException:
            if lease is not None:
                lease.release()
            raise
        finally:
            for fd in (req_r, rep_w, out_w):
                os.close(fd)
        tap = _OutputTap(out_r, self.limits.output_bytes)
        tap.start()
        child = Child(self, pid, req_w, rep_r, tap, self.limits, lease)
        ready = child._await_ready(start_timeout_s)
        if not ready.ok:
            raise SandboxError(ready.detail)
        return child
