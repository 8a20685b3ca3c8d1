"""The start-up self-test: a confined child tries to break each protection, so that
the report header lists only what held on this machine, in this mode.

:func:`run` runs inside the probe child, after :func:`limits.confine`; it answers
protection key -> did the attempt to break it fail (True: the protection held).
The grader side (``Sandbox.start``) provides a canary file outside the allowed
paths, a grader-only secret, a TCP listener, and its own and the fork server's pids.
"""
from __future__ import annotations

import ctypes
import errno
import importlib
import os
import resource
import socket

_CLONE_NEWUSER, _CLONE_NEWNS = 0x10000000, 0x00020000
_MNT_DETACH = 2


def _fails(fn) -> bool:
    try:
        fn()
    except OSError:
        return True
    return False


def run(cfg: dict, workdir: str, limits: dict) -> dict:
    libc = ctypes.CDLL(None, use_errno=True)
    held: dict[str, bool] = {}
    # Python itself must be importable (the "No module named 'secrets'" failure).
    for name in ("secrets", "colorsys"):
        importlib.import_module(name)

    canary, secret = cfg["canary"], cfg["secret"]
    hidden = _fails(lambda: open(canary, "rb").read()) and _fails(lambda: os.listdir(os.path.dirname(canary)))
    held["private_root"] = hidden and not os.path.exists(canary) and not os.path.exists("/etc/passwd") \
        and not os.path.exists(os.path.dirname(canary))
    held["landlock"] = hidden and _fails(lambda: os.listdir("/")) and \
        _fails(lambda: open(os.path.join("/", "bpg-landlock-probe"), "w"))
    held["uid"] = os.getuid() != cfg["grader_uid"] and _fails(lambda: open(secret, "rb").read())
    held["scratch"] = _scratch_bounded(workdir, int(limits["scratch_bytes"]))

    # Undo the confinement: unmount, mount, new namespaces.
    umount = libc.umount2(workdir.encode(), _MNT_DETACH)
    mount = libc.mount(b"tmpfs", b"/tmp", b"tmpfs", ctypes.c_ulong(0), None)
    unshare = libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS)
    locked = umount != 0 and mount != 0 and unshare != 0
    held["private_root"] = held["private_root"] and locked
    held["scratch"] = held["scratch"] and locked
    held["caps"] = _capabilities_left() == 0
    held["seccomp"] = unshare != 0 and ctypes.get_errno() == errno.EPERM and _process_vm_read_refused(libc)

    # Processes: pid 1 of our own namespace; the grader and the fork server out of reach.
    others = [cfg["grader_pid"], cfg["zygote_pid"]]
    unreachable = all(_fails(lambda p=p: os.kill(p, 0)) for p in others)
    held["pidns"] = os.getpid() == 1 and unreachable
    held["signals"] = unreachable
    held["netns"] = _fails(lambda: socket.create_connection(("127.0.0.1", cfg["port"]), timeout=1).close())
    held["no_new_privs"] = libc.prctl(39, 0, 0, 0, 0) == 1   # PR_GET_NO_NEW_PRIVS
    held["rlimits"] = resource.getrlimit(resource.RLIMIT_AS)[0] == int(limits["memory_bytes"])
    return held


def _scratch_bounded(workdir: str, limit: int) -> bool:
    st = os.statvfs(workdir)
    return st.f_blocks * st.f_frsize <= limit + (1 << 20)


def _capabilities_left() -> int:
    from grader.sandbox.limits import capabilities_left

    return capabilities_left()


def _process_vm_read_refused(libc) -> bool:
    """process_vm_readv on our own memory: allowed by the kernel, refused by the filter."""
    class IoVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    src, dst = ctypes.create_string_buffer(8), ctypes.create_string_buffer(8)
    local, remote = IoVec(ctypes.addressof(dst), 8), IoVec(ctypes.addressof(src), 8)
    libc.process_vm_readv.restype = ctypes.c_ssize_t
    n = libc.process_vm_readv(os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    return n < 0 and ctypes.get_errno() == errno.EPERM
