"""Run untrusted code in confined child processes: bytes in, bytes out.

    with Sandbox(preload=["numpy", "torch"], handler="grader.harness:handle") as sandbox:
        child = sandbox.spawn(workdir)
        reply = child.call(b"...", timeout_s=10)
        if reply.ok: ...
        child.close()

Each ``spawn`` forks a fresh process from a fork server (the zygote) that already
imported the heavy modules. The child confines itself before the handler or any
student code runs: a private root holding only Python, the grader, the assignment
and a fresh scratch tmpfs; PID, network, IPC namespaces; its own uid when we run as
root; no capabilities, no_new_privs, Landlock, a seccomp filter, rlimits, and a
cgroup for its whole process tree where one can be made. At ``start`` a probe child
tries to break each of these; the strongest combination that starts is used, and a
child's ``protections`` list only what the probe could not break. The grader's side
of every exchange has a deadline; on a timeout the child's whole tree is killed.

This package knows nothing about tensors, checks or reports.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox import cgroup as cgroups, landlock, seccomp
from grader.sandbox.exposure import exposure, python_paths
from grader.sandbox.frames import Deadline, FrameError, PeerClosed, read_frame, write_frame
from grader.sandbox.limits import Isolation, Limits, readable_by_others

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
                 limits: Limits, lease: UidLease | None = None, cgroup: "cgroups.Cgroup | None" = None):
        self._sandbox, self.pid, self._lease, self._cgroup = sandbox, pid, lease, cgroup
        self.uid = lease.uid if lease is not None else None
        self._req_w, self._rep_r, self._tap = req_w, rep_r, tap
        self._limits = limits
        self.alive = True
        self.exit_detail = ""
        self.protections: list[str] = []
        self.hello: dict = {}

    def _await_ready(self, timeout_s: float) -> Reply:
        started = time.monotonic()
        try:
            hello = read_frame(self._rep_r, 1 << 16, started + timeout_s)
            self.hello = json.loads(hello)
            self.protections = self._sandbox._verified_protections(self.hello, self._cgroup is not None)
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
            self.kill(exited=True)
            return Reply("died", detail=self.exit_detail, duration_s=time.monotonic() - started)
        except FrameError as exc:
            self.kill()
            return Reply("protocol", detail=str(exc), duration_s=time.monotonic() - started)

    def output(self) -> str:
        """What the child printed so far (capped)."""
        return self._tap.text()

    def kill(self, exited: bool = False) -> None:
        """End the child and everything it started. ``exited``: it closed its pipe,
        so first give it a moment to end by itself (its exit status says how)."""
        if not self.alive:
            return
        self.alive = False
        status = self._sandbox._wait(self.pid, 1.0) if exited else None
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the child's whole process group
        except (ProcessLookupError, PermissionError):
            pass
        if self._lease is not None and not (self._sandbox.plan or {}).get("pidns"):
            # Whatever escaped the group with setsid(). (In a PID namespace the kernel
            # has already killed it with the namespace's PID 1.)
            kill_uid(self._lease.uid)
        if self._cgroup is not None:
            self._cgroup.kill()  # and whatever is left of its tree
        if status is None:
            status = self._sandbox._wait(self.pid)
        if self._cgroup is not None:
            self._cgroup.remove()
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
        self.plan: dict | None = None           # what children get, chosen by the start-up probe
        self.verified: set[str] = set()         # protection keys the probe could not break
        self.protections: list[str] = []        # the probe child's verified protections, in words
        self._cgroups: cgroups.Cgroups | None = None
        self._read: list[str] = []
        self._devices: list[str] = []

    @property
    def private_scratch(self) -> bool:
        """Whether each child gets a fresh scratch tmpfs of its own (then the grader
        never needs to hand the workdir to the child's uid)."""
        return bool(self.plan and self.plan.get("mountns"))

    def allocate_uid(self) -> "UidLease | None":
        """A uid for the next child, leased machine-wide: no other child, of this
        grader or of another one running beside it, has it while the lease is held.
        None when we cannot change uids."""
        if self.isolation.uid is None or (self.plan is not None and not self.plan.get("uid_change")):
            return None
        with self._lock:
            self._next_uid += 1
            start = (os.getpid() * 7919 + self._next_uid) % UID_POOL
        return UidLease.take(self.isolation.uid, start)

    # -- fork server lifecycle -------------------------------------------------
    def start(self) -> "Sandbox":
        """Start the fork server and probe which confinement holds here (once per
        sandbox: every child then gets the chosen plan)."""
        self._start_server()
        self._read, self._devices = self._exposed()
        self._cgroups = cgroups.open_cgroups(f"{os.getpid()}-{self._proc.pid}")
        self._choose_plan()
        return self

    def _start_server(self) -> None:
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

    def _exposed(self) -> tuple[list[str], list[str]]:
        """(read-only paths, device nodes) of every child: Python, the grader package,
        ``isolation.expose`` and the handler's ``sys_path``, less anything inside a
        ``hide`` folder."""
        grader_pkg = str(Path(__file__).resolve().parents[1])
        extra = [grader_pkg, *self.isolation.expose, *self.sys_path]
        hidden = [os.path.normpath(h) for h in self.isolation.hide]
        python = set(python_paths())

        def inside_hidden(p: str) -> bool:
            return p not in python and any(p == h or p.startswith(h.rstrip("/") + "/") for h in hidden)

        read, devices = exposure(self.isolation.device, extra)
        return [p for p in read if not inside_hidden(os.path.normpath(p))], devices

    def candidate_plans(self) -> list[dict]:
        """Combinations to try, strongest first. A plan names the layers a child
        gets; the first one whose probe child starts and imports Python is used."""
        iso = self.isolation
        root = os.geteuid() == 0
        base = {"landlock": landlock.abi(), "seccomp": seccomp.available()}
        # Real root makes the namespaces directly; anyone else (root without
        # CAP_SYS_ADMIN included) through a user namespace the fork server maps.
        ns = {**base, "userns": not (root and _has_cap(21)), "mountns": iso.private_mounts, "pidns": True,
              "netns": iso.no_network}
        flat = {**base, "userns": False, "mountns": False, "pidns": False, "netns": False}
        plans = []
        if root and iso.uid is not None:
            plans.append({**ns, "uid_change": True})
        plans.append({**ns, "uid_change": False})
        # Without a private root, another uid can only run Python if it can read it where it is.
        if root and iso.uid is not None and all(readable_by_others(p) for p in python_paths()):
            plans.append({**flat, "uid_change": True})
        plans.append({**flat, "uid_change": False})
        plans.append({"landlock": 0, "seccomp": False, "userns": False, "mountns": False, "pidns": False,
                      "netns": False, "uid_change": False})
        return plans

    def _choose_plan(self) -> None:
        """Start a probe child under each candidate plan until one starts; keep what
        its attempts to break out could not break."""
        failures = []
        tmp = Path(tempfile.mkdtemp(prefix="bpg-probe-"))
        listener = socket.socket()
        try:
            tmp.chmod(0o755)
            canary = tmp / "outside" / "canary"
            canary.parent.mkdir(mode=0o755)
            canary.write_text("outside the allowed paths")
            canary.chmod(0o644)
            secret = tmp / "secret"
            secret.write_text("the grader's own")
            secret.chmod(0o600)
            listener.bind(("127.0.0.1", 0))
            listener.listen(4)
            listener.setblocking(False)
            probe = {"canary": str(canary), "secret": str(secret), "port": listener.getsockname()[1],
                     "grader_pid": os.getpid(), "zygote_pid": self._proc.pid, "grader_uid": os.getuid()}
            for plan in self.candidate_plans():
                self.plan = plan
                scratch = tmp / f"scratch-{len(failures)}"
                scratch.mkdir(mode=0o755)
                lease = self.allocate_uid()
                if lease is not None and not plan["mountns"]:
                    os.chown(scratch, lease.uid, lease.uid)  # a folder we just made: nothing to follow
                try:
                    child = self.spawn(scratch, lease=lease, _probe=probe)
                except SandboxError as exc:
                    failures.append(f"{_describe_plan(plan)}: {exc}")
                    continue
                held = child.hello.get("probe") or {}
                in_cgroup = child._cgroup is not None and child.pid in child._cgroup.pids()
                child.close()
                try:
                    listener.accept()[0].close()
                    held["netns"] = False   # a connection got through
                except BlockingIOError:
                    pass
                held["cgroup"] = in_cgroup
                self.verified = {k for k, ok in held.items() if ok}
                self.protections = self._verified_protections(child.hello, in_cgroup)
                if failures:
                    log.warning("sandbox: weaker confinement (%s); stronger ones failed: %s",
                                _describe_plan(plan), "; ".join(failures))
                return
        finally:
            listener.close()
            shutil.rmtree(tmp, ignore_errors=True)
        self.plan = None
        raise SandboxError("no confined child could start: " + "; ".join(failures))

    def _verified_protections(self, hello: dict, in_cgroup: bool) -> list[str]:
        """A child's protections in words, only those the probe verified."""
        keys, texts = hello.get("keys", []), hello.get("protections", [])
        out = [t for k, t in zip(keys, texts) if k in self.verified or (k == "caps" and "caps" in self.verified)]
        if in_cgroup and "cgroup" in self.verified and self._cgroups is not None:
            out.append(self._cgroups.describe(self.limits.memory_bytes, self.limits.max_processes))
        elif self._cgroups is None:
            out.append("no cgroup could be made: memory and process limits count per process")
        return out

    def close(self) -> None:
        self._stop_server()
        if self._cgroups is not None:
            self._cgroups.close()
            self._cgroups = None

    def _stop_server(self) -> None:
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
                log.warning("fork server gone; restarting it (same confinement plan)")
                self._stop_server()
                self._start_server()
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

    def _wait(self, pid: int, timeout_s: float = 5.0) -> dict | None:
        try:
            return self._request({"op": "wait", "pid": pid, "timeout": timeout_s}).get("status")
        except SandboxError:
            return None

    # -- children ----------------------------------------------------------------
    def spawn(self, workdir: Path, start_timeout_s: float = 30.0, env: dict[str, str] | None = None,
              lease: UidLease | None = None, _probe: dict | None = None) -> Child:
        """Fork a confined child working in ``workdir`` and wait until it is ready.

        With a private root (``private_scratch``) the child works in a fresh tmpfs at
        the same path, holding a copy of ``workdir``'s files; ``workdir`` itself is
        only read."""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        child_env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "TMPDIR": str(workdir),
                     "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
        child_env.update(self.env)
        child_env.update(env or {})
        isolation = self.isolation.to_dict()
        uid = lease.uid if lease is not None else None
        isolation.update(uid=uid, gid=uid)  # no lease, no uid change
        cgroup = None
        workdir = Path(os.path.abspath(workdir))
        config = {
            "op": "spawn", "workdir": str(workdir), "handler": self.handler,
            "limits": self.limits.to_dict(), "isolation": isolation, "plan": self.plan or {},
            "read": self._read, "devices": self._devices,
            "env": child_env, "sys_path": [str(workdir)] + self.sys_path, "probe": _probe,
        }
        try:
            if self._cgroups is not None:
                try:
                    cgroup = self._cgroups.create(self.limits.memory_bytes, self.limits.max_processes)
                    config["cgroup_procs"] = cgroup.procs_files
                except OSError as exc:  # this child goes without; its header will not claim one
                    log.warning("no cgroup for this child: %s", exc)
            pid = self._request(config, [req_r, rep_w, out_w])["pid"]
            if pid <= 0:
                raise SandboxError("the fork server could not make the child (see its error output)")
        except BaseException:
            if lease is not None:
                lease.release()
            if cgroup is not None:
                cgroup.remove()
            for fd in (req_w, rep_r, out_r):
                os.close(fd)
            raise
        finally:
            for fd in (req_r, rep_w, out_w):
                os.close(fd)
        tap = _OutputTap(out_r, self.limits.output_bytes)
        tap.start()
        child = Child(self, pid, req_w, rep_r, tap, self.limits, lease, cgroup)
        ready = child._await_ready(start_timeout_s)
        if not ready.ok:
            raise SandboxError(ready.detail)
        return child


def _has_cap(number: int) -> bool:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> number & 1)
    except OSError:
        pass
    return False


def _describe_plan(plan: dict) -> str:
    layers = [k for k in ("userns", "mountns", "pidns", "netns", "uid_change", "seccomp") if plan.get(k)]
    if plan.get("landlock"):
        layers.append(f"landlock{plan['landlock']}")
    return "+".join(layers) or "rlimits only"
