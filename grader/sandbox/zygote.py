"""The fork server: a process that imports the heavy libraries once and forks a
fresh, confined child for each submission.

Importing torch costs ~2 s; forking a process that already has it costs
milliseconds, and every student still gets a process of their own that nothing
else has run in. The zygote never sees reference data or results: it only imports
the modules it is told to preload and forks.

Protocol, over a SOCK_SEQPACKET socket from the grader (one JSON message each way):

* ``{"op": "spawn", ...config}`` with three file descriptors attached (request
  pipe read end, reply pipe write end, output pipe write end) -> ``{"pid": N}``
* ``{"op": "wait", "pid": N, "timeout": s}`` -> ``{"pid": N, "status": ...}``
  where status is ``{"exit": code}``, ``{"signal": n}`` or ``null`` (still running).

Each child runs as PID 1 of a PID namespace of its own: when it ends, the kernel
kills everything else in its namespace, however it forked or setsid'd. As root the
fork server makes that namespace itself (``unshare(CLONE_NEWPID)`` before the fork,
``setns`` back after it), so a child is one fork. Without CAP_SYS_ADMIN it cannot
return to its own PID namespace, so a child is two processes: an outer one (the pid
the grader knows) that enters a new user namespace and the others with ``unshare``
and, once the fork server has written its uid map, forks the inner one, PID 1,
where the student's code runs; the outer one then exits with PID 1's status. Either
way the child waits until the fork server has put it in its cgroup.

Run as ``python -m grader.sandbox.zygote FD PRELOAD_JSON``.
"""
from __future__ import annotations

import ctypes
import importlib
import json
import os
import signal
import socket
import sys
import time
import traceback


def _describe(status: int) -> dict:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit": os.WEXITSTATUS(status)}


CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000


def namespace_flags(plan: dict) -> int:
    flags = 0
    if plan.get("userns"):
        flags |= CLONE_NEWUSER
    if plan.get("mountns"):
        flags |= CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC
    if plan.get("pidns"):
        flags |= CLONE_NEWPID
    if plan.get("netns"):
        flags |= CLONE_NEWNET
    return flags


def _pid_namespace_here(plan: dict) -> bool:
    """Whether the fork server makes the child's PID namespace itself (one fork)."""
    return bool(plan.get("pidns")) and not plan.get("userns")


def _outer(cfg: dict, fds: list[int], ctl: socket.socket, sync: tuple[int, int]) -> None:
    """The outer process of a child: enter the namespaces, wait for the fork server
    to set us up, fork PID 1 (unless we already are it), mirror its end. Never returns."""
    code = 71
    try:
        ctl.close()
        os.setsid()  # own process group: the grader kills the whole group on timeout
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the fork server
        ready_w, go_r = sync
        flags = namespace_flags(cfg["plan"])
        if _pid_namespace_here(cfg["plan"]):
            flags &= ~CLONE_NEWPID   # we are its PID 1 already
        if flags and libc.unshare(flags) != 0:
            os.write(ready_w, b"e" + str(ctypes.get_errno()).encode())
            os._exit(code)
        os.write(ready_w, b"k")
        if os.read(go_r, 1) != b"k":
            os._exit(code)
        os.close(ready_w)
        os.close(go_r)
        if _pid_namespace_here(cfg["plan"]) or not cfg["plan"].get("pidns"):
            _become_child(cfg, fds)
        pid = os.fork()
        if pid == 0:
            _become_child(cfg, fds)
        for fd in fds:
            os.close(fd)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
            code = 128 + sig
        else:
            code = os.WEXITSTATUS(status)
    except BaseException:
        pass
    finally:
        os._exit(code)


def _user_maps(pid: int, cfg: dict) -> None:
    """Map the child's user namespace: our own uid to itself and, when we are root,
    uid 0 and the child's leased uid, so that it can drop to it inside."""
    uid, gid = os.geteuid(), os.getegid()
    lease = cfg["isolation"].get("uid") if cfg["plan"].get("uid_change") else None
    if uid == 0:
        umap = "0 0 1" + (f"\n{lease} {lease} 1" if lease else "")
        gmap = "0 0 1" + (f"\n{lease} {lease} 1" if lease else "")
    else:
        umap, gmap = f"{uid} {uid} 1", f"{gid} {gid} 1"
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny")
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(umap)
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(gmap)


def _spawn(cfg: dict, fds: list[int], ctl: socket.socket) -> int:
    """Fork a child's outer process and set it up; returns its pid (0 if it failed)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    here = _pid_namespace_here(cfg["plan"])
    libc = ctypes.CDLL(None, use_errno=True)
    if here and libc.unshare(CLONE_NEWPID) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWPID)")
    try:
        pid = os.fork()
    finally:
        if here:  # our next children must not land in that namespace too
            own = os.open("/proc/self/ns/pid", os.O_RDONLY)
            try:
                if libc.setns(own, CLONE_NEWPID) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to our PID namespace")
            finally:
                os.close(own)
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        _outer(cfg, fds, ctl, (ready_w, go_r))
    os.close(ready_w)
    os.close(go_r)
    try:
        answer = os.read(ready_r, 64)
        if answer != b"k":
            raise OSError(f"entering the namespaces failed ({answer[1:].decode() or 'no answer'})")
        for procs in cfg.get("cgroup_procs", []):
            with open(procs, "w") as f:
                f.write(str(pid))
        if cfg["plan"].get("userns"):
            _user_maps(pid, cfg)
        os.write(go_w, b"k")
    except OSError as exc:
        print(f"fork server: the child could not be set up: {exc}", file=sys.stderr, flush=True)
        os.kill(pid, signal.SIGKILL)
    finally:
        os.close(ready_r)
        os.close(go_w)
    return pid


def _become_child(cfg: dict, fds: list[int]) -> None:
    """Runs in the forked child (PID 1 of its namespace when there is one); never returns."""
    code = 70
    try:
        req_fd, rep_fd, out_fd = fds
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        keep = {0, 1, 2, req_fd, rep_fd}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", buffering=1, closefd=False, errors="replace")
        sys.stderr = open(2, "w", buffering=1, closefd=False, errors="replace")

        from grader.sandbox import child, limits

        os.environ.clear()
        os.environ.update(cfg.get("env", {}))
        active = limits.confine(cfg["limits"], cfg["isolation"], cfg["workdir"], cfg["plan"], cfg["read"],
                                cfg["devices"])
        sys.path[:0] = cfg.get("sys_path", [])
        module_name, func_name = cfg["handler"].split(":")
        handler = getattr(importlib.import_module(module_name), func_name)
        hello = {"protections": [text for _, text in active], "keys": [key for key, _ in active]}
        if cfg.get("probe"):
            from grader.sandbox import probe

            hello["probe"] = probe.run(cfg["probe"], cfg["workdir"], cfg["limits"])
        child.serve(req_fd, rep_fd, handler, hello)
        code = 0
    except BaseException:  # report why the child could not start, then die
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
    finally:
        os._exit(code)


def _kill_escapees(children: set[int]) -> None:
    """SIGKILL our live children that we did not fork: processes that left a child's
    process tree (double fork, setsid) and were reparented to us, the subreaper."""
    me = str(os.getpid())
    for _ in range(100):   # until none is left: one may fork while we look
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in children:
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[1].decode() == me and fields[0] not in (b"Z", b"X"):
                found.append(int(entry))
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.001)


def main() -> None:
    ctl = socket.socket(fileno=int(sys.argv[1]))
    for name in json.loads(sys.argv[2]):
        importlib.import_module(name)
    from grader.sandbox import limits, seccomp

    try:
        seccomp.precompile()
    except OSError:
        pass  # no libseccomp: the probe finds the filter missing and the header says so
    limits.warm_up()
    # Without a PID namespace, whatever a child double-forks away from it is
    # reparented to us (not to init) and ended when a child is waited for.
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    finished: dict[int, dict] = {}
    children: set[int] = set()
    escapes = False  # whether any child runs without a PID namespace (only then can one escape to us)

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in children:  # (not the escapees we killed)
                finished[pid] = _describe(status)
                children.discard(pid)

    ctl.sendmsg([json.dumps({"ready": os.getpid()}).encode()])
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctl, 1 << 16, 3)
        except (ConnectionError, OSError):
            break
        if not msg:
            break
        cfg = json.loads(msg)
        if cfg["op"] == "spawn":
            try:
                pid = _spawn(cfg, fds, ctl)
            except OSError as exc:
                print(f"fork server: cannot make a child: {exc}", file=sys.stderr, flush=True)
                pid = 0
            for fd in fds:
                os.close(fd)
            if pid > 0:
                children.add(pid)
                escapes = escapes or not cfg["plan"].get("pidns")
            ctl.sendmsg([json.dumps({"pid": pid}).encode()])
        elif cfg["op"] == "wait":
            pid, deadline = cfg["pid"], time.monotonic() + float(cfg.get("timeout", 5))
            while True:
                reap()
                if pid in finished or time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            if escapes:
                _kill_escapees(children)
            ctl.sendmsg([json.dumps({"pid": pid, "status": finished.pop(pid, None)}).encode()])
        reap()
    # The grader went away. Children were forked with PDEATHSIG=SIGKILL, so they
    # end with us.


if __name__ == "__main__":
    main()
