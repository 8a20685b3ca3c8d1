"""Resource limits for a child's whole process tree: a cgroup of its own.

rlimits count per process (four forked helpers each get the full memory limit);
a cgroup counts the student's processes together. We use cgroup v2 where the
grader's own cgroup can delegate ``memory`` and ``pids`` to a child cgroup, else the
v1 ``memory``/``pids`` (and ``cpu``) hierarchies when they are mounted and writable
(root, typically). Where neither works, :func:`open_cgroups` returns None and the
report header says there is no cgroup; the per-process rlimits stay.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> dict[str, str]:
    """controller -> our cgroup path in it (``""`` for the v2 hierarchy)."""
    out = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                out[c] = path
    except OSError:
        pass
    return out


def _v2_mount() -> Path | None:
    for cand in (ROOT, ROOT / "unified"):
        if (cand / "cgroup.controllers").exists():
            return cand
    return None


class Cgroup:
    """One child's cgroup (one folder per hierarchy)."""

    def __init__(self, dirs: list[Path]):
        self.dirs = dirs

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        found = set()
        for d in self.dirs:
            try:
                found |= {int(x) for x in (d / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def kill(self) -> None:
        """SIGKILL everything in it, repeating until it is empty (a fork bomb cannot
        outrun this: its new processes are born into the cgroup)."""
        for d in self.dirs:
            if (d / "cgroup.kill").exists():
                try:
                    (d / "cgroup.kill").write_text("1")
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        while (left := self.pids()) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.002)

    def remove(self) -> None:
        self.kill()
        for d in self.dirs:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.002)  # the last processes are still exiting


class Cgroups:
    """Makes per-child cgroups under one parent folder per hierarchy."""

    def __init__(self, kind: str, parents: dict[str, Path]):
        self.kind, self.parents = kind, parents   # kind: "v2" or "v1"
        self._n = 0

    def describe(self, memory_bytes: int, max_pids: int) -> str:
        return (f"cgroup {self.kind}: memory {memory_bytes / 2**30:.1f} GiB and {max_pids} processes "
                f"for the child's whole process tree, one CPU")

    def create(self, memory_bytes: int, max_pids: int) -> Cgroup:
        self._n += 1
        name = f"child-{self._n}"
        dirs = []
        try:
            for ctrl, parent in self.parents.items():
                d = parent / name
                d.mkdir()
                dirs.append(d)
                if self.kind == "v2":
                    (d / "memory.max").write_text(str(memory_bytes))
                    if (d / "memory.swap.max").exists():
                        (d / "memory.swap.max").write_text("0")
                    (d / "pids.max").write_text(str(max_pids))
                    if (d / "cpu.max").exists():
                        (d / "cpu.max").write_text("100000 100000")
                elif ctrl == "memory":
                    (d / "memory.limit_in_bytes").write_text(str(memory_bytes))
                    if (d / "memory.memsw.limit_in_bytes").exists():
                        (d / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                elif ctrl == "pids":
                    (d / "pids.max").write_text(str(max_pids))
                elif ctrl == "cpu":
                    (d / "cpu.cfs_period_us").write_text("100000")
                    (d / "cpu.cfs_quota_us").write_text("100000")
        except OSError:
            Cgroup(dirs).remove()
            raise
        return Cgroup(dirs)

    def close(self) -> None:
        for parent in self.parents.values():
            for d in parent.glob("child-*"):
                Cgroup([d]).remove()
            try:
                parent.rmdir()
            except OSError:
                pass


def _sweep_stale(folder: Path) -> None:
    """Remove the ``bpg-<pid>-...`` folders of graders that died without cleaning up
    (their children died with them: the folders are empty)."""
    for stale in folder.glob("bpg-*"):
        try:
            os.kill(int(stale.name.split("-")[1]), 0)
            continue          # that grader is still running
        except ProcessLookupError:
            pass
        except (ValueError, IndexError, PermissionError):
            continue
        Cgroups("", {"": stale}).close()


def open_cgroups(tag: str) -> Cgroups | None:
    """Our own sub-hierarchy (``bpg-<tag>``) for children, or None where the grader
    cannot make one. Tries v2 delegation first, then v1."""
    own = _own_paths()
    v2 = _v2_mount()
    if v2 is not None and "" in own:
        base = v2 / own[""].lstrip("/")
        try:
            # Controllers can be delegated only from a cgroup with no processes of its
            # own, so children go under a folder of ours beside the grader's.
            have = set((base / "cgroup.controllers").read_text().split())
            if {"memory", "pids"} <= have:
                (base / "cgroup.subtree_control").write_text("+memory +pids" + (" +cpu" if "cpu" in have else ""))
                _sweep_stale(base)
                parent = base / f"bpg-{tag}"
                parent.mkdir(exist_ok=True)
                (parent / "cgroup.subtree_control").write_text("+memory +pids" + (" +cpu" if "cpu" in have else ""))
                return Cgroups("v2", {"": parent})
        except OSError:
            pass
    parents: dict[str, Path] = {}
    try:
        for ctrl in ("memory", "pids", "cpu"):
            mnt = ROOT / ctrl
            if ctrl not in own or not (mnt / "cgroup.procs").exists():
                if ctrl == "cpu":
                    continue
                raise OSError(f"no v1 {ctrl} hierarchy")
            _sweep_stale(mnt / own[ctrl].lstrip("/"))
            parent = mnt / own[ctrl].lstrip("/") / f"bpg-{tag}"
            parent.mkdir(exist_ok=True)
            parents[ctrl] = parent
        cg = Cgroups("v1", parents)
        cg.create(1 << 30, 8).remove()   # writable limits, not just a folder
        return cg
    except OSError:
        for p in parents.values():
            try:
                p.rmdir()
            except OSError:
                pass
        return None
