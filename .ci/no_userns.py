"""Run a command where user namespaces cannot be made, as under Docker's default
seccomp profile: `python3 .ci/no_userns.py CMD ARGS...`. With CAP_SYS_ADMIN dropped
too, the sandbox has no namespaces at all and must fall back to Landlock, seccomp,
rlimits and (where it can make one) a cgroup. Uses libseccomp through ctypes, as
grader/sandbox/seccomp.py does."""
import ctypes
import ctypes.util
import errno
import os
import sys

CLONE_NEWUSER, MASKED_EQ, ALLOW, ERRNO = 0x10000000, 7, 0x7FFF0000, 0x00050000
lib = ctypes.CDLL(ctypes.util.find_library("seccomp"))
lib.seccomp_init.restype = ctypes.c_void_p


class Arg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("a", ctypes.c_uint64), ("b", ctypes.c_uint64)]


lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                       ctypes.POINTER(Arg)]
ctx = lib.seccomp_init(ALLOW)
for name in (b"unshare", b"clone"):
    nr = lib.seccomp_syscall_resolve_name(name)
    arr = (Arg * 1)(Arg(0, MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    assert lib.seccomp_rule_add_array(ctypes.c_void_p(ctx), ERRNO | errno.EPERM, nr, 1, arr) == 0
nr = lib.seccomp_syscall_resolve_name(b"clone3")
# clone3's flags sit in memory a filter cannot read: refuse it, glibc falls back to clone
assert lib.seccomp_rule_add_array(ctypes.c_void_p(ctx), ERRNO | errno.ENOSYS, nr, 0, (Arg * 1)()) == 0
assert lib.seccomp_load(ctypes.c_void_p(ctx)) == 0
os.execvp(sys.argv[1], sys.argv[1:])
