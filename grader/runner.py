"""Grading one submission: drive a sandboxed child through the checks, judge here
(the loop over checks is :class:`grader.grading.GradingRun`).

The flow for each submission:

1. write its files and the assignment's provided files into a fresh scratch folder;
2. fork a confined child there and ask it to import the student's module;
3. for each check: send the inputs, wait (with the check's timeout) for the raw
   outputs, and hand them to the check's judge in this process;
4. a timeout or a dead child fails only the check it happened in: the child is
   replaced and the next check goes on.

The same :class:`ModuleSession` runs the reference solution when
``reference_data/`` is generated, so student and solution go through one path.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from grader.assignment import Assignment, CheckSpec
from grader.codec import CodecError, decode, encode
from grader.report.model import Report
from grader.sandbox import Isolation, Limits, Reply, Sandbox, SandboxError
from grader.harness import read_running
from grader.notebook import NOTEBOOK_TIMEOUT_S, NotebookModule, place
from grader.sandbox.mounts import renew_folder
from grader.report.text import clip_output
from grader.submission import Submission

log = logging.getLogger(__name__)

HANDLER = "grader.harness:handle"
IMPORT_TIMEOUT_S = 30.0
UID_BASE = 3_000_000  # children run as UID_BASE + n: no such user exists, so they own nothing but their scratch folder


def can_drop_privileges() -> bool:
    """Whether children may run under uids of their own: we are root, and a child can
    still read Python, through its private root (Python under /root, mode 700, is
    reachable there) or because others can read it where it is. The sandbox's
    start-up probe verifies it and falls back to the grader's uid where not."""
    import sysconfig

    from grader.sandbox.limits import readable_by_others

    if os.geteuid() != 0:
        return False
    paths = sysconfig.get_paths()
    return _mount_namespaces_work() or all(readable_by_others(paths[k]) for k in ("stdlib", "purelib"))


def _mount_namespaces_work() -> bool:
    """Whether this process can make a mount namespace: with CAP_SYS_ADMIN, or
    through a user namespace (root without CAP_SYS_ADMIN, as in a container, too)."""
    if not os.path.exists("/proc/self/ns/mnt"):
        return False
    try:
        cap_eff = next(int(line.split()[1], 16) for line in open("/proc/self/status") if line.startswith("CapEff:"))
        if cap_eff >> 21 & 1:  # CAP_SYS_ADMIN
            return True
        return int(Path("/proc/sys/user/max_user_namespaces").read_text()) > 0
    except (OSError, StopIteration, ValueError):
        return False


def make_sandbox(assignment: Assignment, limits: Limits | None = None, hide: list[Path] | None = None,
                 expose: list[Path] | None = None, device: str = "cpu") -> Sandbox:
    """A fork server preloaded for this assignment.

    Children see an allow-list: Python (the sandbox adds it), the grader package, the
    assignment's own files (what students are given anyway) and ``expose`` read-only,
    their scratch folder read-write; with ``device="cuda"`` also the GPU's device
    nodes and driver libraries. Nothing else exists for them. ``hide`` (outputs, the
    class folder) and the course's answers are never exposed; inside an exposed
    folder they are covered (where the child has a private root). As root, each
    child runs under a uid of its own.
    """
    # The course-wide folders when the layout is the usual one (no lab's answers are
    # readable while another lab is graded), else just this assignment's.
    answers = [d.parent if d.parent.name in ("solutions", "reference_data") else d
               for d in (assignment.solution_dir, assignment.reference_dir)]
    hidden = [*answers, *(hide or [])]
    readable = [Path(__file__).resolve().parent, assignment.root, *(expose or [])]
    isolation = Isolation(
        uid=UID_BASE if can_drop_privileges() else None,
        hide=tuple(sorted({str(p.resolve()) for p in hidden})),
        expose=tuple(sorted({str(p.resolve()) for p in readable if p.exists()})),
        # "auto" may end up on the GPU: expose it whenever the machine has one.
        device="cuda" if device == "cuda" or (device == "auto" and Path("/dev/nvidiactl").exists()) else "cpu",
    )
    preload = ["numpy", *assignment.preload, "grader.harness"]
    return Sandbox(preload=list(dict.fromkeys(preload)), handler=HANDLER, limits=limits, isolation=isolation)


class SandboxChild(Protocol):
    """What :class:`ModuleSession` needs of a child process (``grader.sandbox.Child`` is one)."""

    protections: list[str]   # what confines it, in words (shown in reports)
    alive: bool

    def call(self, payload: bytes, timeout_s: float) -> Reply:
        """Send one request, wait at most ``timeout_s`` for the reply (a timeout or a
        crash kills the child and says so in ``Reply.status``)."""

    def output(self) -> str:
        """Everything the child printed so far (capped)."""

    def kill(self) -> None: ...

    def close(self) -> None: ...


class SandboxLike(Protocol):
    """What :class:`ModuleSession` needs of a sandbox: ``grader.sandbox.Sandbox`` (Linux
    confinement), or a portable one for students' own machines. ``spawn`` raises
    ``grader.sandbox.SandboxError`` when no child can be started."""

    def allocate_uid(self) -> Any:
        """A lease whose ``uid`` the child runs as, or None."""

    def spawn(self, workdir: Path, *, lease: Any = None) -> SandboxChild: ...


@dataclass
class Outcome:
    """What came back from running one probe: ``status`` is ok/error/timeout/died."""

    status: str
    value: Any = None
    error: dict | None = None
    detail: str = ""
    duration_s: float = 0.0
    printed: str = ""         # what the student's code printed during this probe
    time_limit: bool = False  # died of a CPU time limit: as good as a timeout
    running: list[str] = field(default_factory=list)  # student functions executing when it stopped
    forged_previous: bool = False  # this reply belonged to the previous request: that one was forged
    measured: list[str] = field(default_factory=list)  # what the probe observed in the child (its watches)


def _where(error: dict, line_map: tuple = ()) -> str:
    frames = error.get("frames") or []
    if not frames:
        return ""
    f = frames[-1]
    code = f" (`{f['code']}`)" if f.get("code") else ""
    func = "at module level" if f["function"] == "<module>" else f"in {f['function']}"
    return f" {func}, {place(f['line'], line_map)}{code}"


def describe_error(error: dict, module_file: str, line_map: tuple = ()) -> str:
    """One line for a student's exception: what, where in their file (a notebook's
    cell and line when ``line_map`` is given), why."""
    if error.get("not_implemented"):
        frames = error.get("frames") or []
        where = f" ({frames[-1]['function']}, {place(frames[-1]['line'], line_map)})" if frames else ""
        msg = error.get("message") or ""
        return f"not implemented yet{where}" + (f": {msg}" if msg else "")
    if error.get("probe_error"):
        return error.get("message", "")
    line = f"{error.get('type', 'Error')}{_where(error, line_map)} of {module_file}: {error.get('message', '')}".rstrip(": ")
    return line + _missing_module_fix(error, module_file)


_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_FROM_IMPORT = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+\(?([\w\s,]+)")


def _missing_module_fix(error: dict, module_file: str) -> str:
    """For an import the submission does not satisfy (a course's helper file, such as
    `from linear_classifier import sample_batch`): the two ways to fix it."""
    m = _NO_MODULE.search(error.get("message") or "")
    if error.get("type") not in ("ModuleNotFoundError", "ImportError") or not m:
        return ""
    top = m.group(1).split(".")[0]
    frames = error.get("frames") or []
    f = _FROM_IMPORT.match(frames[-1].get("code", "")) if frames else None
    names = [n.strip() for n in f.group(2).split(",") if n.strip()] if f and f.group(1).split(".")[0] == top else []
    what = f"define {', '.join(names)} in {module_file}" if names else f"remove the import from {module_file}"
    return (f". {top} is neither part of your submission nor installed on the grader: {what}, or hand in "
            f"{top}.py beside {module_file} (a folder or a zip holding both)")


class ModuleSession:
    """One module (a student's or the solution) loaded in a sandboxed child.

    Restarts the child after a timeout or a crash so later checks still run.
    """

    def __init__(self, sandbox: SandboxLike, assignment: Assignment, workdir: Path, module_path: Path,
                 notebook: NotebookModule | None = None, import_timeout_s: float = IMPORT_TIMEOUT_S):
        self.sandbox, self.assignment = sandbox, assignment
        self.notebook, self.import_timeout_s = notebook, import_timeout_s   # module made from a .ipynb
        self.workdir, self.module_path = workdir, module_path
        self.child = None
        self.load_info: dict = {}
        self.load_error: str | None = None
        self.protections: list[str] = []
        self.output_parts: list[str] = []
        self.integrity: list[dict] = []   # tampering the child noticed: {"kind", "evidence"}
        self.seq = 0                      # numbers run requests; the harness echoes it in the reply

    def _load_request(self) -> bytes:
        helpers = self.workdir / "helpers.py"
        return encode({
            "op": "load", "module": self.assignment.module, "path": str(self.module_path),
            "probes": str(self.assignment.probes_file),
            "helpers": str(helpers) if helpers.is_file() else None, "helpers_module": "helpers",
            "names": list(self.assignment.names),
        })

    def start(self) -> bool:
        """(Re)start the child and import the module. False if the import failed."""
        self.close()
        lease = self.sandbox.allocate_uid()
        try:
            # A private scratch is a fresh tmpfs copy in the child's namespace: the
            # workdir stays the grader's. Otherwise the child works in it, renewed.
            private = getattr(self.sandbox, "private_scratch", False)
            give_to_child(self.workdir, lease.uid if lease and not private else None)
            self.child = self.sandbox.spawn(self.workdir, lease=lease)
        except SandboxError as exc:
            self.load_error = f"the sandbox could not start: {exc}"
            return False
        self.protections = self.child.protections
        reply = self.child.call(self._load_request(), self.import_timeout_s)
        name = self.notebook.name if self.notebook else f"{self.assignment.module}.py"
        action = self.notebook.action if self.notebook else f"importing {name}"
        if reply.status == "timeout" and self.notebook:
            self.load_error = self.notebook.timeout_message(self.import_timeout_s)
            return False
        if reply.status == "timeout":
            self.load_error = (f"importing {name} did not finish within {IMPORT_TIMEOUT_S:g} s: is there "
                               f"an infinite loop or a training run at module level? Put it under "
                               f"`if __name__ == '__main__':`")
            return False
        if not reply.ok:
            self.load_error = f"{action} ended the process: {reply.detail}"
            return False
        try:
            info = decode(reply.payload)
        except CodecError as exc:
            self.load_error = f"{action} produced an unreadable reply ({exc})"
            return False
        if not info.get("ok"):
            err = info.get("error") or {}
            self.load_error = f"{action} failed: " + describe_error(
                err, name, self.notebook.line_map if self.notebook else ())
            return False
        self.load_info = info
        self.load_error = None
        self.integrity += [f for f in info.get("integrity") or [] if isinstance(f, dict)]
        return True

    def run(self, spec: CheckSpec, inputs: Any, device: str, options: dict | None = None,
            timeout_s: float | None = None) -> Outcome:
        if self.child is None or not self.child.alive:
            if not self.start():
                return Outcome("died", detail=self.load_error or "")
        self.seq += 1
        request: dict = {"op": "run", "probe": spec.probe, "device": device, "seed": spec.seed, "seq": self.seq,
                         "check": spec.name, "options": dict(spec.options if options is None else options)}
        if spec.live_inputs and spec.inputs:
            request.update(make_inputs=spec.inputs, inputs_args=spec.inputs_args)
        else:
            request["inputs"] = inputs
        reply = self.child.call(encode(request), timeout_s or spec.timeout_s)
        if reply.status == "timeout" or not reply.ok:
            self._collect_output()
            status = "timeout" if reply.status == "timeout" else "died"
            return Outcome(status, detail=reply.detail, duration_s=reply.duration_s,
                           time_limit="SIGXCPU" in reply.detail, running=read_running(self.workdir))
        try:
            answer = decode(reply.payload)
        except CodecError as exc:
            return Outcome("error", error={"type": "ProtocolError", "message": f"unreadable reply: {exc}",
                                           "frames": [], "probe_error": True}, duration_s=reply.duration_s)
        if not isinstance(answer, dict) or "ok" not in answer:
            return Outcome("error", error={"type": "ProtocolError", "message": "malformed reply",
                                           "frames": [], "probe_error": True}, duration_s=reply.duration_s)
        if answer.get("seq") != self.seq:
            # Two replies to one request: student code wrote a frame of its own. The
            # one read for the previous check may have been the forged one.
            self.integrity.append({"kind": "reply", "evidence": f"a reply out of turn came back (for request "
                                   f"{answer.get('seq')!r}, expected {self.seq}): frames written by student code"})
            self.child.kill()
            return Outcome("error", error={"type": "ProtocolError", "message": "the reply did not answer this check "
                                           "(did your code write to the grader's pipe?)", "frames": [],
                                           "probe_error": True}, duration_s=reply.duration_s, forged_previous=True)
        printed = answer.get("printed") if isinstance(answer.get("printed"), str) else ""
        self.integrity += [f for f in answer.get("integrity") or [] if isinstance(f, dict)]
        if answer["ok"]:
            measured = [m for m in answer.get("measured") or [] if isinstance(m, str)]
            return Outcome("ok", value=answer.get("value"), duration_s=reply.duration_s, printed=printed,
                           measured=measured)
        return Outcome("error", error=answer.get("error") or {}, duration_s=reply.duration_s, printed=printed)

    def make_inputs(self, fn: str, args: dict, seed: int) -> Any:
        reply = self.child.call(encode({"op": "make_inputs", "fn": fn, "args": args, "seed": seed}), 120)
        answer = decode(reply.payload) if reply.ok else {"ok": False, "error": {"message": reply.detail}}
        if not answer.get("ok"):
            raise RuntimeError(f"making inputs with {fn}: {answer.get('error')}")
        return answer["value"]

    def environment(self) -> dict:
        reply = self.child.call(encode({"op": "env"}), 60)
        return decode(reply.payload).get("value", {}) if reply.ok else {}

    def _collect_output(self) -> None:
        if self.child is not None:
            # Bounded per child: a submission that crashes its child at every check
            # would otherwise pile up the sandbox's whole output cap each time.
            self.output_parts.append(clip_output(self.child.output()))

    def output(self) -> str:
        parts = list(self.output_parts)
        if self.child is not None:
            parts.append(clip_output(self.child.output()))
        return "".join(parts)

    def close(self) -> None:
        if self.child is not None:
            self.child.close()
            self._collect_output()
            self.child = None


@dataclass
class GradeOptions:
    device: str = "cpu"                 # "cpu" or "cuda" (resolved before grading)
    cuda_available: bool = False
    only: tuple[str, ...] = ()          # check names to run (empty: all)
    visibility: tuple[str, ...] = ("public", "hidden")
    option_overrides: dict = field(default_factory=dict)  # e.g. {"mnist_dir": "..."} for probes
    submission_timeout_s: float = 600.0  # all checks of one submission together
    max_check_timeout_s: float | None = None  # caps every check's own timeout
    notebook_timeout_s: float = NOTEBOOK_TIMEOUT_S  # a notebook run top to bottom (execute mode) at import
    progress: Callable[[str], None] | None = None


def prepare_workdir(submission: Submission, assignment: Assignment) -> tuple[Path, Path]:
    workdir = Path(tempfile.mkdtemp(prefix="bpg-"))
    module_path = submission.write_to(workdir)
    for name in assignment.provided:
        shutil.copyfile(assignment.root / name, workdir / name)
    return workdir, module_path


def give_to_child(folder: Path, uid: int | None) -> None:
    """A child running under its own uid in ``folder`` itself (no private scratch)
    must own it: the folder is made anew from a copy of what is in it, links and
    special files left out, and only the new files are chowned. Nothing a previous
    child planted there (a link to /etc/shadow...) is followed."""
    if uid is not None:
        renew_folder(folder, uid)


def grade(submission: Submission, assignment: Assignment, sandbox: SandboxLike, options: GradeOptions) -> Report:
    """Every selected check of one submission, in order (see :class:`grader.grading.GradingRun`
    to grade check by check)."""
    from grader.grading import GradingRun, grade_all  # it builds on this module

    with GradingRun(submission, assignment, sandbox, options) as run:
        return grade_all(run)
