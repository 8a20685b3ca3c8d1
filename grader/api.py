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
import signal
import tempfile
import threading
from contextlib import closing, contextmanager
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
from grader.lms import ClassEntry, class_entries, collisions as lms_collisions, namesakes as lms_namesakes
from grader.report import item_analysis, lms_export
from grader.submission import Submission, SubmissionNotFound, load_named_files, load_submission, read_zip

log = logging.getLogger(__name__)

__all__ = ["UsageError", "grade", "batch", "make_reference", "release", "list_assignments", "BatchResult",
           "BatchInterrupted", "history"]


class UsageError(Exception):
    """The command was asked something it cannot do (exit status 2)."""


def _limits(memory_bytes: int | None) -> Limits:
    return Limits(memory_bytes=memory_bytes) if memory_bytes else Limits()


def _check_out(out: Path | None) -> None:
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")


def _assignment(name: str, root: str | Path | None, submission: str | Path | None = None) -> Assignment:
    try:
        assignment = get_assignment(name, course_root(root))
    except UnknownAssignment as exc:
        bundle = _bundle_assignment(name, submission) if root is None else None
        if bundle is None:
            raise UsageError(str(exc)) from None
        return bundle
    return assignment


def _bundle_assignment(name: str, submission: str | Path | None) -> Assignment | None:
    """In a student repository (a release bundle, e.g. in its CI) there is no course:
    the bundle's ``grading/`` folder is the assignment, public checks only."""
    if submission is None:
        return None
    folder = Path(submission)
    grading = (folder if folder.is_dir() else folder.parent) / "grading"
    if not (grading / "assignment.toml").is_file():
        return None
    a = Assignment.load(grading, solutions=grading / "_no_solutions", reference=grading / "reference_data")
    return a if a.name == name else None


def _require_reference(assignment: Assignment) -> None:
    """Refuse to grade against reference data that is missing or was made from
    other checks, probes, input makers or solution than the assignment's now."""
    fix = f"run `backprop-grader reference {assignment.name}`"
    missing = reference_store.missing(assignment)
    if missing:
        raise UsageError(f"reference data for {assignment.name} is missing ({len(missing)} checks, e.g. "
                         f"{missing[0]}): {fix} first")
    stale = reference_store.stale(assignment)
    if stale:
        shown = "; ".join(stale[:3]) + (f"; and {len(stale) - 3} more" if len(stale) > 3 else "")
        raise UsageError(f"reference data for {assignment.name} is stale: {shown} since it was generated. "
                         f"Grading against it would judge students by the old checks: {fix} first")
    if reference_store.manifest(assignment) is not None and not reference_store.verified(assignment):
        # Not a warning on every command: `list` shows it as "unverified".
        log.info("reference data for %s records no fingerprint of what made it, so it cannot be checked for "
                    "staleness: %s once to record one (only manifest.json changes)", assignment.name, fix)


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
    # The data files' hashes, not the rest of the manifest (the environment, the
    # fingerprint of the sources): regenerating elsewhere, or after a comment in
    # the solution, to the same values regrades no one.
    manifest = reference_store.manifest(assignment) or {}
    h = hashlib.sha256()
    h.update(__version__.encode())
    h.update(json.dumps(manifest.get("files"), sort_keys=True).encode())
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
    a = _assignment(assignment, root, path)
    _require_reference(a)
    try:
        submission = load_submission(path, a.module, student, execute_notebook=execute_notebook)
    except SubmissionNotFound as exc:
        raise UsageError(str(exc)) from None
    own = sandbox is None
    if own:
        with _fork_server_ignores_signals():
            sandbox = make_sandbox(a, limits=_limits(memory_bytes), hide=[Path(out).resolve()] if out else [],
                                   expose=_data_dirs(mnist_dir), device=device).start()
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
    not_stored: dict[str, str] = field(default_factory=dict)  # student -> why no grade was stored (grader's fault)
    collisions: list[str] = field(default_factory=list)  # export entries that wanted one student id
    namesakes: list[str] = field(default_factory=list)   # different LMS users with one name
    exports: list[Path] = field(default_factory=list)    # item analysis, LMS import files


class BatchInterrupted(Exception):
    """Ctrl-C or SIGTERM ended a batch: what was stored is right, the rest is not graded yet."""

    def __init__(self, graded: int, stored: int, total: int, signal_name: str):
        self.graded, self.stored, self.total, self.signal_name = graded, stored, total, signal_name
        super().__init__(f"{signal_name}: graded {graded} in this run ({stored} of {total} stored); "
                         f"the same command again grades the remaining {total - stored}")


class _Stopped(Exception):
    """Raised in a worker between two checks once the batch is told to stop."""


class _StopFlag(threading.Event):
    """Set by Ctrl-C or SIGTERM; ``reason`` says which, for the one line the CLI prints."""

    reason = "interrupted"


# What ModuleSession says when it could not start a child: the grading machinery
# failed (a fork server killed by Ctrl-C, out of uids), not the student's code.
_SANDBOX_FAILED = "the sandbox could not start"


def _machinery_failure(report: Report) -> str | None:
    texts = [report.problem or ""] + [c.message for c in report.checks if c.status == "error"]
    return next((t for t in texts if t.startswith(_SANDBOX_FAILED)), None)


@contextmanager
def _fork_server_ignores_signals():
    """Start the fork server with SIGINT and SIGTERM ignored (an ignored signal stays
    ignored across exec): Ctrl-C in the terminal, or a SIGTERM to the process group,
    reaches the fork server too, and one killed by it would break the students being
    graded, before the grader itself has marked the batch as stopping. The grader
    kills it with SIGKILL when done. (Student children reset both and run in their
    own session.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _stop_on_signals(stop: _StopFlag):
    """Ctrl-C and SIGTERM set ``stop`` (workers end at their next check) and raise
    KeyboardInterrupt in the main thread. Only the main thread can set handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "terminated (SIGTERM)"}

    def handler(signum, frame):
        if not stop.is_set():
            stop.reason = names.get(signum, stop.reason)
        stop.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in names}
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def _unpack_class_zip(path: Path, into: Path) -> Path:
    files, notes, problem = read_zip(path.read_bytes())
    if problem:
        raise UsageError(f"{path}: {problem}")
    for rel, data in files.items():
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return into


def _with_lms(report: Report, entry: ClassEntry) -> Report:
    """The report as the class sees it: who it is (LMS id, name, lateness, time) and
    the export's notes about them."""
    notes = tuple(dict.fromkeys((*report.notes, *entry.notes)))
    return replace(report, student=entry.student, notes=notes, extra={**report.extra, "lms": entry.lms_info()})


def batch(submissions: str | Path, assignment: str, out: Path, *, device: str = "cpu", force: bool = False,
          only: list[str] | None = None,
          root: str | Path | None = None, mnist_dir: str | None = None, workers: int | None = None,
          submission_timeout_s: float = 600.0, max_check_timeout_s: float | None = None,
          memory_bytes: int | None = None,
          execute_notebook: bool = False, notebook_timeout_s: float = NOTEBOOK_TIMEOUT_S,
          progress: Callable[[str, int, int], None] | None = None,
          canvas_column: str | None = None, executor: str = "local", scheduler: str | None = None) -> BatchResult:
    """Grade a class, storing each student as soon as they are done. ``executor``:
    ``local`` (threads over one fork server here) or ``dask`` (the cluster at
    ``scheduler``, or a LocalCluster of ``workers`` processes when it is None).

    ``only``: regrade these students (changed or not) and leave the others as stored.
    Only finished gradings are stored: one cut short by Ctrl-C/SIGTERM (raised here as
    :class:`BatchInterrupted`) or by a sandbox that could not start is graded again
    on the next run."""
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
    entries = class_entries(src)
    if not entries:
        raise UsageError(f"{src}: no submissions in it")
    if only:
        unknown = sorted(set(only) - {e.student for e in entries})
        if unknown:
            raise UsageError(f"--only: no student {', '.join(unknown)} in {src} (students: "
                             f"{', '.join(e.student for e in entries[:10])}{' ...' if len(entries) > 10 else ''})")
    out.mkdir(parents=True, exist_ok=True)
    overrides = _options(a, mnist_dir)
    workers = max(1, workers or os.cpu_count() or 1)
    result = BatchResult(reports=[], out=out, collisions=lms_collisions(entries), namesakes=lms_namesakes(entries))
    stop = _StopFlag()
    with _fork_server_ignores_signals():
        pool = _executor(executor, scheduler, a, workers, _limits(memory_bytes), out, src, _data_dirs(mnist_dir),
                         device)
    try:
        dev, cuda = resolve_device(device, pool.environment())
        key = grading_key(a, dev, overrides | ({"execute_notebook": notebook_timeout_s} if execute_notebook else {}))

        def between_checks(check: str) -> None:
            if stop.is_set():
                raise _Stopped(check)

        # Workers in this process end a submission at its next check once told to stop;
        # a Dask worker's are in another process (the client simply stops listening).
        options = GradeOptions(device=dev, cuda_available=cuda, option_overrides=overrides,
                               notebook_timeout_s=notebook_timeout_s,
                               progress=between_checks if executor == "local" else None,
                               submission_timeout_s=submission_timeout_s, max_check_timeout_s=max_check_timeout_s)
        with GradeStore(out / "grades.sqlite") as store:
            todo = []
            # A group submission is graded once, under its first member; every member is credited.
            credited: dict[str, list[ClassEntry]] = {}
            graded_as: dict[tuple, str] = {}   # the export's paths -> who they are graded under
            for entry in entries:
                submission = load_named_files(entry.paths, entry.names, a.module, entry.student,
                                              execute_notebook=execute_notebook)
                if entry.problem:
                    submission = replace(submission, problem=entry.problem)
                wanted = force or (only is not None and entry.student in only)
                if not wanted and (only or (store.is_current(entry.student, submission.sha256, key)
                                            and (out / entry.student / "report.json").is_file())):
                    result.reused.append(entry.student)
                    continue
                paths = tuple(entry.paths)
                if paths in graded_as:
                    credited[graded_as[paths]].append(entry)
                else:
                    graded_as[paths] = submission.student
                    credited[submission.student] = [entry]
                    todo.append(submission)
            done = len(result.reused)
            if progress:
                progress("", done, len(entries))
            by_student = {s.student: s for s in todo}
            try:
                # Closed however the loop ends: what has not started never will.
                with _stop_on_signals(stop), closing(pool.grade(todo, options)) as finished:
                    # Reports are written here, as each student comes back from the executor:
                    # one writer for the store, which always holds every finished student.
                    for submission, report in finished:
                        if stop.is_set():
                            raise _Stopped(submission.student)  # whatever the interruption did to it, it is not a grade
                        _record(report, by_student[submission.student], credited[submission.student], a, out,
                                store, key, result)
                        done += len(credited[submission.student])
                        if progress:
                            progress(submission.student, done, len(entries))
            except (KeyboardInterrupt, _Stopped):
                stop.set()
                students = {e.student for e in entries}
                stored = sum(s in students for s in store.students())
                raise BatchInterrupted(len(result.graded), stored, len(entries), stop.reason) from None
            students = {e.student for e in entries}
            result.reports = [r for r in store.reports() if r.student in students]
        book = Gradebook.of(a.name, result.reports, [c.name for c in a.checks])
        book.write(out, score_histogram_png([r.percent for r in book.reports], f"{a.name}: scores"))
        result.exports = _write_exports(a, result.reports, out, canvas_column)
    finally:
        pool.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _record(report: Report, submission: Submission, entries: list[ClassEntry], a: Assignment, out: Path,
            store: GradeStore, key: str, result: BatchResult) -> None:
    """One finished grading, for every student it credits (a group's members): reports on
    disk, then the store. A grading the machinery spoiled (no sandbox) is written but not
    stored, so the next run grades it again."""
    failure = _machinery_failure(report)
    for entry in entries:
        own = _with_lms(report, entry)
        write_notebook_feedback(own, submission, a, out / entry.student)
        write_report(own, out / entry.student)
        if failure:
            result.not_stored[entry.student] = failure
        else:
            store.save(own, key)
            result.graded.append(entry.student)


def _executor(kind: str, scheduler: str | None, a: Assignment, workers: int, limits: Limits, out: Path,
              src: Path, data_dirs: list[Path], device: str) -> Executor:
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
    return LocalExecutor(a, workers=workers, limits=limits, hide=[out.resolve(), src.resolve()], expose=data_dirs,
                         device=device)


def _write_exports(a: Assignment, reports: list[Report], out: Path, canvas_column: str | None) -> list[Path]:
    """Per-check item analysis always; an LMS's import file when students came from its export."""
    files = {"item_analysis.csv": item_analysis.csv_text(a, reports)}
    sources = {(r.extra.get("lms") or {}).get("source") for r in reports}
    if "canvas" in sources:
        files["canvas_import.csv"] = lms_export.canvas_csv(reports, canvas_column or a.title)
    if "moodle" in sources:
        files["moodle_grades.csv"] = lms_export.moodle_csv(reports)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return [out / name for name in files]


def history(out: Path, student: str) -> list:
    """Every stored grading of one student (row id, or LMS id) in a batch folder
    (``out/grades.sqlite``), oldest first."""
    db = Path(out) / "grades.sqlite"
    if not db.is_file():
        raise UsageError(f"{db}: no grade store here (run `backprop-grader batch ... --out {out}` first)")
    with GradeStore(db) as store:
        runs = store.history(student)
        if not runs:  # an LMS id (Canvas user id, Moodle participant id, SID) names the student too
            rows = [r.student for r in store.reports() if (r.extra.get("lms") or {}).get("lms_id") == student]
            runs = [run for row in rows for run in store.history(row)]
        if not runs:
            known = store.students()
            raise UsageError(f"no stored grade for {student!r} in {db} (students: {', '.join(known[:10])}"
                             f"{' ...' if len(known) > 10 else ''})")
        return runs


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
            "points": a.max_score, "reference_data": _reference_state(a),
        })
    return out


def _reference_state(a: Assignment) -> str:
    """ "ok", "missing", "stale" or "unverified" (made before fingerprints were recorded)."""
    if reference_store.missing(a):
        return "missing"
    if reference_store.stale(a):
        return "stale"
    return "ok" if reference_store.verified(a) else "unverified"


def release(assignment: str, out: Path, root: str | Path | None = None, repo: bool = False) -> list[Path]:
    """The student bundle; with ``repo``, a GitHub Classroom repository (bundle and workflow)."""
    from grader.release import write_bundle

    a = _assignment(assignment, root)
    _require_reference(a)
    if repo:
        from grader.integrations.classroom import write_repo

        return write_repo(a, Path(out))
    return write_bundle(a, Path(out))


def gradescope(assignment: str, out: Path, root: str | Path | None = None) -> Path:
    """Gradescope's autograder zip (see :mod:`grader.integrations.gradescope`)."""
    from grader.integrations.gradescope import write_autograder_zip
    from grader.integrations.wheel import WheelError

    a = _assignment(assignment, root)
    _require_reference(a)
    if Path(out).is_dir():
        raise UsageError(f"--out {out}: is a folder; give the zip's file name (e.g. autograder.zip)")
    try:
        return write_autograder_zip(a, Path(out))
    except WheelError as exc:
        raise UsageError(str(exc)) from None


def write_ci_outputs(report: Report, submission: str | Path, junit: Path | None = None,
                     step_summary: str | None = None, root: str | Path | None = None) -> list[str]:
    """JUnit XML to ``junit``, the Markdown job summary appended to ``step_summary``
    (``$GITHUB_STEP_SUMMARY``); returns the workflow annotations to print, placed on
    the student module as a path relative to here (the repository root in CI)."""
    from grader.report.github import annotations, job_summary
    from grader.report.junit import junit_xml

    path = Path(submission)
    a = _assignment(report.assignment, root, path)
    if path.is_dir():
        path = path / f"{a.module}.py" if (path / f"{a.module}.py").is_file() else path
    module_file = os.path.relpath(path) if path.exists() else report.submission
    lines = {}
    if path.is_file() and path.suffix == ".py":
        defs = _definition_lines(path)
        lines = {c.name: defs[c.uses[0]] for c in a.checks if c.uses and c.uses[0] in defs}

    if junit is not None:
        Path(junit).parent.mkdir(parents=True, exist_ok=True)
        Path(junit).write_text(junit_xml(report), encoding="utf-8")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(job_summary(report) + "\n")
    return annotations(report, module_file, lines)


def _definition_lines(path: Path) -> dict[str, int]:
    """Top-level function and class names -> their ``def`` line (the file is only parsed)."""
    import ast

    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):
        return {}
    return {n.name: n.lineno for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
