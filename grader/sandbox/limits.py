"""Resource limits and isolation steps applied inside a freshly forked child.

Everything here runs in the child after ``fork`` and before any student code, so it
uses only the standard library and never raises past :func:`confine` except for a
limit that could not be applied (the child then exits and the grader reports it).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
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
    private_mounts: bool = True      # a mount namespace: private /tmp, hidden folders
    hide: tuple[str, ...] = ()       # folders the child must not read (emptied in its namespace)
    expose: tuple[str, ...] = ()     # folders inside hidden ones that must stay readable (Python itself)
    required: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("required", "hide", "expose"):
            d[k] = list(d[k])
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
    import resource

    resource.setrlimit(resource_id, (value, value))


_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda v: None if v is None else v.encode()  # noqa: E731
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _private_mounts(libc, workdir: str, hide: list[str], expose: list[str]) -> None:
    """In a new mount namespace: empty tmpfs over ``hide`` and over /tmp and /dev/shm,
    then bind back (read-only) the ``expose`` folders and (read-write) the workdir.

    Bind sources are opened before anything is hidden and mounted through
    /proc/self/fd, so hiding a parent does not lose them.
    """
    if libc.unshare(_CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    keep = {p: os.open(p, os.O_PATH | os.O_DIRECTORY) for p in [workdir, *expose] if os.path.isdir(p)}
    # Deepest first: a folder inside another hidden one must be covered before its
    # parent disappears under a tmpfs. A folder both hidden and exposed stays visible:
    # the recursive bind below would bring its own tmpfs back on top of it.
    for folder in sorted({*hide, "/tmp", "/dev/shm"} - set(expose), key=lambda p: -p.count(os.sep)):
        if os.path.isdir(folder):
            mode = "1777" if folder in ("/tmp", "/dev/shm") else "755"
            _mount(libc, "tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size=64m,mode={mode}")
    for path, fd in keep.items():
        os.makedirs(path, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
        if path != workdir:
            _mount(libc, None, path, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID)
        os.close(fd)


def _user_namespace(libc) -> bool:
    """Without root: a user namespace mapping our uid to itself gives the rights to
    make the network and mount namespaces, if the kernel allows it."""
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(_CLONE_NEWUSER) != 0:
        return False
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"{gid} {gid} 1")
    except OSError:
        return False
    return True


def confine(limits: dict, isolation: dict, workdir: str) -> list[str]:
    """Apply limits and isolation to the current process. Returns what took effect."""
    active: list[str] = []
    libc = _libc()
    # Die with the fork server instead of lingering as an orphan.
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # No setuid binary can give the child more rights than it has now.
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        active.append("no_new_privs")

    # As root we may make namespaces; otherwise an unprivileged user namespace may
    # give us the right (a kernel setting), and if not we go without and say so.
    privileged = os.geteuid() == 0 or _user_namespace(libc)
    if privileged and isolation.get("no_network") and libc.unshare(_CLONE_NEWNET) == 0:
        active.append("network namespace (no network)")
    if privileged and isolation.get("private_mounts"):
        try:
            _private_mounts(libc, workdir, list(isolation.get("hide", [])), list(isolation.get("expose", [])))
            active.append("mount namespace (private /tmp; course data, outputs and other submissions hidden)")
        except OSError:
            pass

    uid, gid = isolation.get("uid"), isolation.get("gid")
    os.chdir(workdir)
    if uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(gid if gid is not None else uid)
        os.setuid(uid)
        active.append(f"unprivileged user (uid {uid})")

    import resource  # here, not at the top: the package must import on macOS and Windows (students' Reply)

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
