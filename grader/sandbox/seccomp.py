"""A seccomp filter through libseccomp (the Debian ``libseccomp2`` library, present
on any systemd machine), loaded with ctypes: the child can no longer call what would
let it undo its confinement or reach the kernel's larger attack surfaces.

Refused with EPERM: mounting and unmounting, pivot_root/chroot, entering or making
namespaces (clone/unshare with a CLONE_NEW* flag, setns), ptrace and reading other
processes' memory, bpf, perf_event_open, the kernel keyring, userfaultfd, io_uring,
loading kernels or modules, and every socket but AF_UNIX (``unix_sockets=False``:
none at all; socketpair stays). Everything else is allowed, so torch can start its
threads (clone without namespace flags). clone3 answers ENOSYS: its flags sit in
memory a filter cannot read, and glibc then falls back to clone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
_CMP_NE, _CMP_MASKED_EQ = 1, 7
_AF_UNIX = 1

DENIED = (
    "mount", "umount", "umount2", "pivot_root", "chroot", "setns", "ptrace", "process_vm_readv",
    "process_vm_writev", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "open_tree", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "swapon", "swapoff", "reboot", "acct", "syslog", "quotactl",
    "name_to_handle_at", "open_by_handle_at", "iopl", "ioperm", "lookup_dcookie", "uselib", "vhangup",
    "settimeofday", "clock_settime", "adjtimex", "sethostname", "setdomainname",
    "landlock_create_ruleset",  # nothing to gain, and no reason to let it probe
)
NAMESPACE_FLAGS = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000)  # NEWTIME NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET


class _Arg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


def _lib():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_Arg)]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def available() -> bool:
    try:
        _lib()
        return True
    except OSError:
        return False


_COMPILED: dict[bool, bytes] = {}
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2


def precompile() -> None:
    """Build both filters now (the fork server does, once): a child then only hands
    the finished BPF program to the kernel, instead of spending ~10 ms in libseccomp."""
    for unix in (True, False):
        _COMPILED[unix] = _build(unix, export=True)


def install(unix_sockets: bool = True) -> None:
    """Load the filter into this process (inherited by all it starts; cannot be
    removed). Needs no_new_privs."""
    program = _COMPILED.get(unix_sockets)
    if program is None:
        _build(unix_sockets, export=False)
        return
    filters = ctypes.create_string_buffer(program, len(program))

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Prog(len(program) // 8, ctypes.addressof(filters))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def _build(unix_sockets: bool, export: bool) -> bytes:
    """The filter: exported as a BPF program (``export``), or loaded into this process."""
    lib = _lib()
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise OSError("seccomp_init failed")
    try:
        def rule(name: str, action: int, *args: tuple[int, int, int, int]) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # not a system call on this architecture
            arr = (_Arg * max(len(args), 1))(*[_Arg(*a) for a in args])
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(args), arr)
            if rc < 0:
                raise OSError(-rc, f"seccomp rule for {name}")

        eperm = _ACT_ERRNO | errno.EPERM
        for name in DENIED:
            rule(name, eperm)
        for flag in NAMESPACE_FLAGS:
            for name in ("clone", "unshare"):
                # clone's flags are its first argument on every architecture libseccomp knows
                rule(name, eperm, (0, _CMP_MASKED_EQ, flag, flag))
        rule("clone3", _ACT_ERRNO | errno.ENOSYS)
        if unix_sockets:
            rule("socket", eperm, (0, _CMP_NE, _AF_UNIX, 0))
        else:
            rule("socket", eperm)
        if export:
            r, w = os.pipe()
            try:
                rc = lib.seccomp_export_bpf(ctx, w)
                if rc < 0:
                    raise OSError(-rc, "seccomp_export_bpf")
                os.close(w)
                w = -1
                chunks = []
                while chunk := os.read(r, 1 << 16):
                    chunks.append(chunk)
                return b"".join(chunks)
            finally:
                os.close(r)
                if w >= 0:
                    os.close(w)
        rc = lib.seccomp_load(ctx)
        if rc < 0:
            raise OSError(-rc, "seccomp_load")
        return b""
    finally:
        lib.seccomp_release(ctx)
