"""Resource limits and confinement steps applied inside a freshly forked child.

Everything here runs in the child after ``fork`` and before any student code, so it
uses only the standard library (ctypes for the system calls Python lacks) and never
raises past :func:`confine` except for a step that could not be applied (the child
then exits and the grader reports it).

The order matters: the privileged steps (the private root, the scratch tmpfs, the
capability bounding set) come first; then the child drops to its own uid (or, with
no uid to drop to, drops every capability); then rlimits, no_new_privs, Landlock
and the seccomp filter, each of which can only narrow what the process may do.
"""
from __future__ import annotations

import ctypes
import os
import signal
import stat
from dataclasses import asdict, dataclass, field

__all__ = ["Limits", "Isolation", "confine", "readable_by_others"]

_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT = 1, 24, 38, 47
_CAP_VERSION_3 = 0x20080522


@dataclass(frozen=True)
class Limits:
    """Per-child limits. Sizes in bytes, times in seconds."""

    memory_bytes: int = 4 << 30      # address space per process (RLIMIT_AS) and, with a cgroup, the whole tree's memory
    cpu_s: int = 600                 # CPU seconds over the child's whole life (RLIMIT_CPU)
    max_processes: int = 64          # RLIMIT_NPROC, and pids.max of the child's cgroup
    max_open_files: int = 256        # RLIMIT_NOFILE
    max_file_bytes: int = 64 << 20   # largest file the child may write (RLIMIT_FSIZE)
    scratch_bytes: int = 256 << 20   # size of the child's scratch tmpfs (/tmp and /dev/shm get a quarter each)
    output_bytes: int = 1 << 20      # stdout+stderr kept by the grader; the rest is dropped with a note
    reply_bytes: int = 16 << 20      # largest reply frame accepted from the child (grader.codec refuses more anyway)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Isolation:
    """What the child is asked to do to itself beyond rlimits. The sandbox probes at
    start-up which of these the machine allows and reports only what held."""

    uid: int | None = None           # children run as uid+1.. (leased) when the grader runs as root
    gid: int | None = None
    no_network: bool = True          # a new, empty network namespace
    private_mounts: bool = True      # a private root holding only the allowed paths
    hide: tuple[str, ...] = ()       # never exposed, even when inside an ``expose`` folder's list
    expose: tuple[str, ...] = ()     # readable besides Python itself (the grader package, the assignment...)
    device: str = "cpu"              # "cuda": the GPU's device nodes and driver libraries are exposed too
    required: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("required", "hide", "expose"):
            d[k] = list(d[k])
        return d


def readable_by_others(path: str) -> bool:
    """Whether a user with no special rights can reach and read ``path``
    (every parent folder searchable by others, the path itself readable)."""
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
    return ctypes.CDLL(None, use_errno=True)


def _set(resource_id: int, value: int) -> None:
    import resource

    resource.setrlimit(resource_id, (value, value))


def drop_capabilities(libc) -> None:
    """No capability left in any set, the bounding set emptied (nothing can bring
    one back, even a file capability)."""
    for cap in range(64):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def capabilities_left() -> int:
    libc = _libc()
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capget(header, data) != 0:
        return -1
    return data[0] | data[1] | data[3] | data[4]


def _die_with_parent(libc) -> None:
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 0 and os.getpid() != 1:
        os._exit(70)


def confine(limits: dict, isolation: dict, workdir: str, plan: dict, read: list[str],
            devices: list[str]) -> list[tuple[str, str]]:
    """Apply ``plan`` (what the sandbox found this machine allows) to the current
    process. Returns (key, what, in words) for each step that took effect."""
    from grader.sandbox import landlock, mounts, seccomp

    active: list[tuple[str, str]] = []
    libc = _libc()
    _die_with_parent(libc)
    uid = isolation.get("uid") if plan.get("uid_change") else None
    target_uid = os.geteuid() if uid is None else uid
    target_gid = os.getegid() if uid is None else (isolation.get("gid") or uid)

    if plan.get("mountns"):
        got = mounts.private_root(workdir, read, devices, int(limits["scratch_bytes"]), target_uid, target_gid,
                                  tuple(isolation.get("hide", ())))
        active.append(("private_root", "private root: only Python, the grader, the assignment and the scratch "
                                       "folder exist" + ("" if got["proc"] else " (no /proc)")))
        active.append(("scratch", f"scratch: a fresh {limits['scratch_bytes'] >> 20} MiB tmpfs at every start"))
    if plan.get("pidns"):
        active.append(("pidns", "PID namespace: the child sees only its own processes, all of which end with it"))
    if plan.get("netns"):
        active.append(("netns", "network namespace (no network)"))

    os.chdir(workdir)
    if uid is not None:
        for cap in range(64):  # needs CAP_SETPCAP, which setuid is about to take away
            libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
        os.setgroups([])
        os.setgid(target_gid)
        os.setuid(uid)
        active.append(("uid", f"unprivileged user (uid {uid})"))
    drop_capabilities(libc)  # a no-op after setuid; in a user namespace it is what takes the mounts out of reach
    same_root = uid is None and os.geteuid() == 0
    active.append(("caps", "no capabilities" + (" (but uid 0, the grader's own: no uid of its own could be used)"
                                                 if same_root else "")))
    _die_with_parent(libc)  # a uid change clears the parent-death signal

    import resource  # here, not at the top: the package must import on macOS and Windows (students' Reply)

    # After the uid change: RLIMIT_NPROC is checked against the new uid.
    _set(resource.RLIMIT_AS, int(limits["memory_bytes"]))
    _set(resource.RLIMIT_CPU, int(limits["cpu_s"]))
    _set(resource.RLIMIT_NPROC, int(limits["max_processes"]))
    _set(resource.RLIMIT_NOFILE, int(limits["max_open_files"]))
    _set(resource.RLIMIT_FSIZE, int(limits["max_file_bytes"]))
    _set(resource.RLIMIT_CORE, 0)
    active.append(("rlimits", "rlimits per process (memory {:.1f} GiB, cpu {} s, {} processes, {} open files, "
                              "files up to {} MiB)".format(limits["memory_bytes"] / 2**30, limits["cpu_s"],
                                                           limits["max_processes"], limits["max_open_files"],
                                                           limits["max_file_bytes"] >> 20)))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        active.append(("no_new_privs", "no_new_privs"))
    if plan.get("landlock"):
        private = plan.get("mountns")
        proc = ["/proc"] if private else [f"/proc/{os.getpid()}"]
        write = [workdir, "/tmp", "/dev/shm"] if private else [workdir]
        what = landlock.restrict([*read, *proc], write, devices, int(plan["landlock"]))
        active.append(("landlock", f"Landlock ABI {plan['landlock']}: " + "; ".join(what)))
    if plan.get("seccomp"):
        seccomp.install(unix_sockets=bool(plan.get("mountns")))
        active.append(("seccomp", "seccomp: no mount, namespaces, ptrace, bpf, keyring, io_uring or internet "
                                  "sockets"))
    missing = [r for r in isolation.get("required", []) if not any(k == r for k, _ in active)]
    if missing:
        raise OSError(f"required isolation not available: {', '.join(missing)}")
    return active


def warm_up() -> None:
    """Import what :func:`confine` needs, in the fork server: each child then has it
    already instead of reading it from disk after the fork."""
    from grader.sandbox import landlock, mounts, probe, seccomp  # noqa: F401
