"""A minimal root for the child, built in its own mount namespace (as bubblewrap does):
an empty tmpfs holding read-only bind mounts of exactly the folders the child may
read, a few device nodes, a /proc of its own PID namespace, and a fresh size-limited
tmpfs as its scratch folder, filled with a copy of the submission's files; then
pivot_root into it and detach the old root. Nothing else on the machine exists for
the child, wherever other copies of the course live.

The scratch tmpfs is new at every child start and dies with the namespace, so the
grader never chowns or walks a folder a child has written in. Runs in the child
before it drops its privileges; uses the standard library only.
"""
from __future__ import annotations

import ctypes
import os
import platform
import stat

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_REC, MS_PRIVATE, MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 16384, 1 << 18, 1024, 2048, 1 << 21
MNT_DETACH = 2
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}
NEWROOT = "/tmp"  # where the new root is assembled (in our namespace only) before pivoting into it


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda v: None if v is None else v.encode()  # noqa: E731
    if _libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source or ''} on {target}: {os.strerror(err)}")


def _locked_flags(path: str) -> int:
    """The flags a remount must keep: in a user namespace, nosuid/nodev/noexec/atime
    flags inherited from the outer mount are locked and dropping them is EPERM."""
    f = os.statvfs(path).f_flag
    out = 0
    for st_bit, ms_bit in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                           (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME),
                           (getattr(os, "ST_RELATIME", 4096), MS_RELATIME)):
        if f & st_bit:
            out |= ms_bit
    return out


def outermost(paths: list[str]) -> list[str]:
    """``paths`` without those inside another one (binding the parent brings them)."""
    out: list[str] = []
    for p in sorted({os.path.normpath(p) for p in paths}):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def _mkpath(path: str, is_dir: bool) -> None:
    os.makedirs(path if is_dir else os.path.dirname(path), mode=0o755, exist_ok=True)
    if not is_dir and not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def copy_tree(src_fd: int, dst: str, uid: int, gid: int) -> None:
    """Copy the regular files and folders under ``src_fd`` into ``dst`` (never
    following a link), owned by the child's uid."""
    for root, dirs, files, rfd in os.fwalk(".", dir_fd=src_fd, follow_symlinks=False):
        target = os.path.normpath(os.path.join(dst, root))
        for d in dirs:
            st = os.stat(d, dir_fd=rfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(os.path.join(target, d), 0o755)
                os.chown(os.path.join(target, d), uid, gid)
        for name in files:
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=rfd)
            except OSError:
                continue  # a link or a special file: not part of a submission
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                out = os.open(os.path.join(target, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                try:
                    while chunk := os.read(fd, 1 << 20):
                        os.write(out, chunk)
                    os.fchown(out, uid, gid)
                finally:
                    os.close(out)
            finally:
                os.close(fd)


def renew_folder(folder, uid: int) -> None:
    """Without a private scratch: replace ``folder`` by a fresh copy of its regular
    files and folders, owned by ``uid``. Only files we just made are chowned, so a
    link a previous child left there is never followed. Call it only when nothing of
    ``uid`` runs any more (the grader sweeps a child's uid before reusing it)."""
    import shutil
    import tempfile

    folder = os.path.abspath(folder)
    fresh = tempfile.mkdtemp(prefix=".renew-", dir=os.path.dirname(folder))
    src = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        copy_tree(src, fresh, uid, uid)
    finally:
        os.close(src)
    os.chown(fresh, uid, uid, follow_symlinks=False)
    old = fresh + ".old"
    os.rename(folder, old)
    os.rename(fresh, folder)
    shutil.rmtree(old, ignore_errors=True)  # fd-based: does not follow links either


def private_root(workdir: str, read: list[str], devices: list[str], scratch_bytes: int, uid: int, gid: int,
                 hide: tuple[str, ...] = (), extra_rw: tuple[str, ...] = ("/tmp", "/dev/shm")) -> dict:
    """Replace this mount namespace's root by the minimal one: the scratch tmpfs holds
    ``scratch_bytes``, /tmp and /dev/shm a quarter of that each. A ``hide`` folder
    inside a read-only one (a class folder kept inside the assignment's) is covered
    by an empty read-only tmpfs. Returns
    ``{"proc": bool}``: whether a /proc of our PID namespace could be mounted."""
    side_bytes = max(scratch_bytes // 4, 1 << 20)
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    sources = {}
    for p in outermost([p for p in read if os.path.exists(p)]):
        sources[p] = os.open(p, os.O_PATH | os.O_CLOEXEC)
    devs = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in devices if os.path.exists(p)}
    src_dir = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        # First the writable tmpfs folders, so that a bind source inside e.g. /tmp is
        # mounted on top of them instead of being covered.
        for path in extra_rw:
            os.makedirs(NEWROOT + path, mode=0o755, exist_ok=True)
            mount("tmpfs", NEWROOT + path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={side_bytes},mode=1777")
        for path, fd in [*sources.items(), *devs.items()]:
            target = NEWROOT + path
            is_dir = os.path.isdir(f"/proc/self/fd/{fd}")
            _mkpath(target, is_dir)
            mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
            if path in sources:
                mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | _locked_flags(target))
        for path in hide:
            if os.path.isdir(NEWROOT + path) and path != workdir:
                mount("tmpfs", NEWROOT + path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=755")
        os.makedirs(NEWROOT + workdir, mode=0o755, exist_ok=True)
        mount("tmpfs", NEWROOT + workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={scratch_bytes},mode=700")
        os.chown(NEWROOT + workdir, uid, gid)
        copy_tree(src_dir, NEWROOT + workdir, uid, gid)
    finally:
        for fd in [*sources.values(), *devs.values(), src_dir]:
            os.close(fd)
    os.makedirs(NEWROOT + "/proc", mode=0o555, exist_ok=True)
    try:
        mount("proc", NEWROOT + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        proc = True
    except OSError:  # a container that masks parts of /proc refuses a fresh one in a user namespace
        proc = False
    os.chdir(NEWROOT)
    nr = _PIVOT_ROOT.get(platform.machine())
    libc = _libc()
    if nr is None or libc.syscall(ctypes.c_long(nr), b".", b".") != 0:
        raise OSError(ctypes.get_errno(), "pivot_root")
    if libc.umount2(b".", MNT_DETACH) != 0:
        raise OSError(ctypes.get_errno(), "umount old root")
    os.chdir("/")
    # The root itself: read-only, so nothing can be created beside the bind mounts.
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return {"proc": proc}
