"""Landlock: an allow-list of paths the process may read or write, set by the process
itself, inherited by everything it starts, and impossible to widen afterwards.

It needs no privileges and no namespaces, so it is the baseline layer everywhere the
kernel has it (5.13+). ABI 4 adds TCP bind/connect rights (we allow none), ABI 6
scopes signals and abstract unix sockets to the process's own domain: a child cannot
signal the fork server, the grader or a classmate, even under the same uid.
"""
from __future__ import annotations

import ctypes
import os
import struct

_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446  # the same number on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_ABI1_ALL = (1 << 13) - 1          # execute .. make_sym
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the rights a rule on a non-folder may carry
_NET_ALL = 0b11                     # bind_tcp, connect_tcp
_SCOPE_ALL = 0b11                   # abstract unix sockets, signals

READ = EXECUTE | READ_FILE | READ_DIR


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    v = libc.syscall(ctypes.c_long(_SYS_CREATE), None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(v), 0)


def handled_fs(version: int) -> int:
    mask = _ABI1_ALL
    if version >= 2:
        mask |= REFER
    if version >= 3:
        mask |= TRUNCATE
    if version >= 5:
        mask |= IOCTL_DEV
    return mask


def restrict(read: list[str], write: list[str], devices: list[str], version: int) -> list[str]:
    """Allow reading ``read``, everything inside ``write`` and reading/writing the
    ``devices`` files, nothing else, for this process and all it starts. TCP bind and
    connect are refused (ABI 4+); signals and abstract sockets stay inside (ABI 6+).
    Paths that do not exist are skipped. Returns what is enforced, in words."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    fs = handled_fs(version)
    net = _NET_ALL if version >= 4 else 0
    scoped = _SCOPE_ALL if version >= 6 else 0
    attr = struct.pack("QQQ", fs, net, scoped)
    size = 8 if version < 4 else (16 if version < 6 else 24)
    buf = ctypes.create_string_buffer(attr, len(attr))
    rs = libc.syscall(ctypes.c_long(_SYS_CREATE), buf, ctypes.c_size_t(size), ctypes.c_uint32(0))
    if rs < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        rules = [(p, READ) for p in read] + [(p, fs) for p in write] + \
                [(p, READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV) for p in devices]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(f"/proc/self/fd/{fd}") and not os.path.isdir(path):
                    access &= _FILE_ONLY
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access & fs, fd), 12)
                if libc.syscall(ctypes.c_long(_SYS_ADD_RULE), ctypes.c_int(rs), ctypes.c_int(_RULE_PATH_BENEATH),
                                rule, ctypes.c_uint32(0)) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "no_new_privs")
        if libc.syscall(ctypes.c_long(_SYS_RESTRICT), ctypes.c_int(rs), ctypes.c_uint32(0)) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(rs)
    what = ["files: read only Python, the grader, the assignment; write only the scratch folder"]
    if net:
        what.append("no TCP connect/bind")
    if scoped:
        what.append("signals and abstract sockets only within the child")
    return what
