"""What the commands do, as functions (the CLI only parses arguments and prints).

    from grader import api
    report = api.grade("alice.py", "two_layer_net", out=Path("out/alice"))
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from grader import __version__
from grader import reference as reference_store
from grader.assignment import Assignment
from grader.registry import UnknownAssignment, all_assignments, course_root, get_assignment
from grader.report import write_report
from grader.report.feedback import write_notebook_feedback
from grader.report.gradebook import Gradebook
from grader.report.model import Report
from grader.executors import EXECUTORS, Executor, probe_environment as _probe_environment
from grader.report.plots import score_histogram_png
from grader.notebook import NOTEBOOK_TIMEOUT_S
from grader.runner import GradeOptions, grade as grade_submission, make_sandbox
from grader.sandbox import Limits, Sandbox
from grader.store import GradeStore
from grader.lms import class_entries
from grader.submission import SubmissionNotFound, load_named_files, load_submission, read_zip

log = logging.getLogger(__name__)

__all__ = ["UsageError", "grade", "batch", "make_reference", "release", "list_assignments", "BatchResult"]


class UsageError(Exception):
    """The command was asked something it cannot do (exit status 2)."""


def _limits(memory_bytes: int | None) -> Limits:
    return Limits(memory_bytes=memory_bytes) if memory_bytes else Limits()


def _check_out(out: Path | None) -> None:
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")


def _assignment(name: str, root: str | Path | None) -> Assignment:
    try:
        assignment = get_assignment(name, course_root(root))
    except UnknownAssignment as exc:
        raise UsageError(str(exc)) from None
    return assignment


def _require_reference(assignment: Assignment) -> None:
    missing = reference_store.missing(assignment)
    if missing:
        raise UsageError(f"reference data for {assignment.name} is missing ({len(missing)} checks, e.g. "
                         f"{missing[0]}): run `backprop-grader reference {assignment.name}` first")


def resolve_device(requested: str, env: dict) -> tuple[str, bool]:
    """-> (device to grade on, whether CUDA is available)."""
    cuda = bool(env.get("cuda"))
    if requested == "cuda" and not cuda:
        raise UsageError("--device cuda: no CUDA GPU is available here (use --device auto to fall back to the CPU)")
    if requested == "auto":
        return ("cuda" if cuda else "cpu"), cuda
    if requested not in ("cpu", "cuda"):
        raise UsageError(f"--device must be cpu, cuda or auto, not {requested!r}")
    return requested, cuda


def grading_key(assignment: Assignment, device: str, overrides: dict) -> str:
    """What, besides the submission, decides a grade: a change here regrades everyone."""
    manifest = assignment.reference_dir / "manifest.json"
    h = hashlib.sha256()
    h.update(__version__.encode())
    h.update(manifest.read_bytes() if manifest.is_file() else b"")
    for f in (assignment.root / "assignment.toml", assignment.judges_file, assignment.probes_file):
        h.update(f.read_bytes())
    h.update(device.encode() + json.dumps(overrides, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _data_dirs(mnist_dir: str | None) -> list[Path]:
    """Data folders the children must read (read-only, in their mount namespace)."""
    return [Path(mnist_dir).resolve()] if mnist_dir and Path(mnist_dir).is_dir() else []


def _options(assignment: Assignment, mnist_dir: str | None) -> dict:
    if mnist_dir is None:
        return {}
    if not Path(mnist_dir).is_dir():
        raise UsageError(f"--mnist {mnist_dir}: no such folder")
    return {"mnist_dir": str(Path(mnist_dir).resolve())}


def grade(path: str | Path, assignment: str, out: Path | None = None, *, device: str = "cpu",
          student: str | None = None, root: str | Path | None = None, mnist_dir: str | None = None,
          sandbox: Sandbox | None = None, submission_timeout_s: float = 600.0,
          max_check_timeout_s: float | None = None, memory_bytes: int | None = None,
          execute_notebook: bool = False, notebook_timeout_s: float = NOTEBOOK_TIMEOUT_S) -> Report:
    """Grade one submission; write its reports into ``out`` when given. A notebook
    is graded by its definitions, or run top to bottom first with ``execute_notebook``."""
    _check_out(out)
    a = _assignment(assignment, root)
    _require_reference(a)
    try:
        submission = load_submission(path, a.module, student, execute_notebook=execute_notebook)
    except SubmissionNotFound as exc:
        raise UsageError(str(exc)) from None
    own = sandbox is None
    sandbox = sandbox or make_sandbox(a, limits=_limits(memory_bytes), hide=[Path(out).resolve()] if out else [],
                                      expose=_data_dirs(mnist_dir)).start()
    try:
        dev, cuda = resolve_device(device, _probe_environment(sandbox, a))
        options = GradeOptions(device=dev, cuda_available=cuda, option_overrides=_options(a, mnist_dir),
                               notebook_timeout_s=notebook_timeout_s,
                               submission_timeout_s=submission_timeout_s, max_check_timeout_s=max_check_timeout_s)
        report = grade_submission(submission, a, sandbox, options)
    finally:
        if own:
            sandbox.close()
    if out is not None:
        write_report(report, Path(out))
        write_notebook_feedback(report, submission, a, Path(out))
    return report


# -- batch ----------------------------------------------------------------------------------
@dataclass
class BatchResult:
    reports: list[Report]
    graded: list[str] = field(default_factory=list)     # graded in this run
    reused: list[str] = field(default_factory=list)     # unchanged since the last run
    out: Path = Path(".")


def _unpack_class_zip(path: Path, into: Path) -> Path:
    files, notes, problem = read_zip(path.read_bytes())
    if problem:
        raise UsageError(f"{path}: {problem}")
    for rel, data in files.items():
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return into


def batch(submissions: str | Path, assignment: str, out: Path, *, device: str = "cpu", force: bool = False,
          root: str | Path | None = None, mnist_dir: str | None = None, workers: int | None = None,
          submission_timeout_s: float = 600.0, max_check_timeout_s: float | None = None,
          memory_bytes: int | None = None,
          execute_notebook: bool = False, notebook_timeout_s: float = NOTEBOOK_TIMEOUT_S,
          progress: Callable[[str, int, int], None] | None = None,
          executor: str = "local", scheduler: str | None = None) -> BatchResult:
    """Grade a class, storing each student as soon as they are done. ``executor``:
    ``local`` (threads over one fork server here) or ``dask`` (the cluster at
    ``scheduler``, or a LocalCluster of ``workers`` processes when it is None)."""
    _check_out(out)
    a = _assignment(assignment, root)
    _require_reference(a)
    src = Path(submissions)
    if not src.exists():
        raise UsageError(f"{src}: no such file or folder")
    tmp = None
    if src.is_file():
        if src.suffix.lower() != ".zip":
            raise UsageError(f"{src}: batch takes a folder with one entry per student, or a .zip of one")
        tmp = Path(tempfile.mkdtemp(prefix="bpg-class-"))
        src = _unpack_class_zip(src, tmp)
        inner = [p for p in src.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        if len(inner) == 1 and inner[0].is_dir():
            src = inner[0]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = class_entries(src)
    if not entries:
        raise UsageError(f"{src}: no submissions in it")
    overrides = _options(a, mnist_dir)
    workers = max(1, workers or os.cpu_count() or 1)
    result = BatchResult(reports=[], out=out)
    pool = _executor(executor, scheduler, a, workers, _limits(memory_bytes), out, src, _data_dirs(mnist_dir))
    try:
        dev, cuda = resolve_device(device, pool.environment())
        key = grading_key(a, dev, overrides | ({"execute_notebook": notebook_timeout_s} if execute_notebook else {}))
        options = GradeOptions(device=dev, cuda_available=cuda, option_overrides=overrides,
                               notebook_timeout_s=notebook_timeout_s,
                               submission_timeout_s=submission_timeout_s, max_check_timeout_s=max_check_timeout_s)
        with GradeStore(out / "grades.sqlite") as store:
            todo = []
            for entry in entries:
                submission = load_named_files(entry.paths, entry.names, a.module, entry.student,
                                              execute_notebook=execute_notebook)
                if entry.problem:
                    submission = replace(submission, problem=entry.problem)
                if not force and store.is_current(entry.student, submission.sha256, key) \
                        and (out / entry.student / "report.json").is_file():
                    result.reused.append(entry.student)
                else:
                    todo.append(submission)
            done = len(result.reused)
            if progress:
                progress("", done, len(entries))
            # Reports are written here, as each student comes back from the executor: one
            # writer for the store, and the store always holds every finished student.
            for submission, report in pool.grade(todo, options):
                write_notebook_feedback(report, submission, a, out / submission.student)
                write_report(report, out / submission.student)
                store.save(report, key)
                result.graded.append(submission.student)
                done += 1
                if progress:
                    progress(submission.student, done, len(entries))
            students = {e.student for e in entries}
            result.reports = [r for r in store.reports() if r.student in students]
        book = Gradebook.of(a.name, result.reports, [c.name for c in a.checks])
        book.write(out, score_histogram_png([r.percent for r in book.reports], f"{a.name}: scores"))
    finally:
        pool.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _executor(kind: str, scheduler: str | None, a: Assignment, workers: int, limits: Limits, out: Path,
              src: Path, data_dirs: list[Path]) -> Executor:
    if kind not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, not {kind!r}")
    if scheduler and kind != "dask":
        raise UsageError("--scheduler needs --executor dask")
    if kind == "dask":
        from grader.executors.dask import DaskExecutor  # distributed is imported only when asked for

        try:
            return DaskExecutor(a, scheduler=scheduler, workers=workers, limits=limits, expose=data_dirs)
        except OSError as exc:  # no scheduler there: the command was asked something it cannot do
            if not scheduler:
                raise
            raise UsageError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") from None
    from grader.executors.local import LocalExecutor

    # Children see neither the class folder (other students) nor the outputs.
    return LocalExecutor(a, workers=workers, limits=limits, hide=[out.resolve(), src.resolve()], expose=data_dirs)


# -- reference, release, list --------------------------------------------------------------
def make_reference(assignment: str, root: str | Path | None = None,
                   progress: Callable[[str], None] | None = None) -> list[Path]:
    a = _assignment(assignment, root)
    with make_sandbox(a) as sandbox:
        return reference_store.generate(a, sandbox, progress)


def demo_assignments(root: str | Path | None = None) -> list[str]:
    """Assignments that bundle a demo class (assignments/<name>/demo_class/)."""
    base = course_root(root)
    return [a.name for a in all_assignments(base) if (a.root / "demo_class").is_dir()]


def demo_folder(name: str, root: str | Path | None = None) -> Path:
    return _assignment(name, root).root / "demo_class"


def list_assignments(root: str | Path | None = None) -> list[dict]:
    try:
        assignments = all_assignments(course_root(root))
    except UnknownAssignment as exc:
        raise UsageError(str(exc)) from None
    out = []
    for a in assignments:
        out.append({
            "name": a.name, "title": a.title, "checks": len(a.checks),
            "public": sum(c.visibility == "public" for c in a.checks),
            "hidden": sum(c.visibility == "hidden" for c in a.checks),
            "points": a.max_score, "reference_data": not reference_store.missing(a),
        })
    return out


def release(assignment: str, out: Path, root: str | Path | None = None) -> list[Path]:
    from grader.release import write_bundle

    a = _assignment(assignment, root)
    _require_reference(a)
    return write_bundle(a, Path(out))
