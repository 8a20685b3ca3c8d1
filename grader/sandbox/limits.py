"""Resource limits and isolation steps applied inside a freshly forked child.

Everything here runs in the child after ``fork`` and before any student code, so it
uses only the standard library and never raises past :func:`confine` except for a
limit that could not be applied (the child then exits and the grader reports it).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import signal
from dataclasses import asdict, dataclass, field

__all__ = ["Limits", "Isolation", "confine"]

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38


@dataclass(frozen=True)
class Limits:
    """Per-child limits. Sizes in bytes, times in seconds."""

    memory_bytes: int = 4 << 30      # address space (RLIMIT_AS); torch alone maps ~0.7 GiB
    cpu_s: int = 600                 # CPU seconds over the child's whole life (RLIMIT_CPU)
    max_processes: int = 64          # RLIMIT_NPROC (counts the user's processes when run as root-dropped uid)
    max_open_files: int = 256        # RLIMIT_NOFILE
    max_file_bytes: int = 64 << 20   # largest file the child may write (RLIMIT_FSIZE)
    output_bytes: int = 1 << 20      # stdout+stderr kept by the grader; the rest is dropped with a note
    reply_bytes: int = 256 << 20     # largest reply frame accepted from the child

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Isolation:
    """What the child is asked to do to itself beyond rlimits (each is best effort
    unless ``required``; the grader reports which ones took effect)."""

    uid: int | None = None           # drop to this uid/gid (only when the grader runs as root)
    gid: int | None = None
    no_network: bool = True          # a new, empty network namespace
    required: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["required"] = list(self.required)
        return d


def readable_by_others(path: str) -> bool:
    """Whether a user with no special rights can reach and read ``path``
    (every parent folder searchable by others, the path itself readable)."""
    import stat

    parts = os.path.abspath(path).split(os.sep)
    for i in range(2, len(parts) + 1):
        p = os.sep.join(parts[:i]) or os.sep
        try:
            mode = os.stat(p).st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return bool(os.stat(path).st_mode & stat.S_IROTH)


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _set(resource_id: int, value: int) -> None:
    resource.setrlimit(resource_id, (value, value))


def confine(limits: dict, isolation: dict, workdir: str) -> list[str]:
    """Apply limits and isolation to the current process. Returns what took effect."""
    active: list[str] = []
    libc = _libc()
    # Die with the fork server instead of lingering as an orphan.
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # No setuid binary can give the child more rights than it has now.
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        active.append("no_new_privs")

    if isolation.get("no_network"):
        # As root a plain network namespace works; otherwise an unprivileged user
        # namespace may allow it (kernel setting), and if not we say so.
        flags = _CLONE_NEWNET if os.geteuid() == 0 else (_CLONE_NEWUSER | _CLONE_NEWNET)
        if libc.unshare(flags) == 0:
            active.append("network namespace (no network)")

    uid, gid = isolation.get("uid"), isolation.get("gid")
    os.chdir(workdir)
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(gid if gid is not None else uid)
        os.setuid(uid)
        active.append(f"unprivileged user (uid {uid})")

    # After the uid change: RLIMIT_NPROC is checked against the new uid.
    _set(resource.RLIMIT_AS, int(limits["memory_bytes"]))
    _set(resource.RLIMIT_CPU, int(limits["cpu_s"]))
    _set(resource.RLIMIT_NPROC, int(limits["max_processes"]))
    _set(resource.RLIMIT_NOFILE, int(limits["max_open_files"]))
    _set(resource.RLIMIT_FSIZE, int(limits["max_file_bytes"]))
    _set(resource.RLIMIT_CORE, 0)
    active.append(
        "rlimits (memory {:.1f} GiB, cpu {} s, {} processes, {} open files, files up to {} MiB)".format(
            limits["memory_bytes"] / 2**30, limits["cpu_s"], limits["max_processes"],
            limits["max_open_files"], limits["max_file_bytes"] >> 20,
        )
    )
    missing = [r for r in isolation.get("required", []) if not any(a.startswith(r) for a in active)]
    if missing:
        raise OSError(f"required isolation not available: {', '.join(missing)}")
    return active
