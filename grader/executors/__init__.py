"""Where a batch's submissions are graded: one small interface, two engines.

    with LocalExecutor(assignment, limits=..., hide=[...], workers=2) as executor:
        env = executor.environment()              # what the grading machines offer (CUDA?)
        for submission, report in executor.grade(todo, options):
            ...                                   # report: a Report (plain data, pictures included)

* :class:`grader.executors.local.LocalExecutor`: threads over one fork server on
  this machine (the default);
* :class:`grader.executors.dask.DaskExecutor`: tasks on a Dask cluster, one fork
  server per Dask worker, the course shipped to the workers once per batch.

Both grade a submission with :func:`grade_one`, through the same sandbox, and hand
back the same plain data (a :class:`Report`: strings, numbers, PNG bytes); storing and writing reports is the caller's business
(``api.batch``), on the machine that holds the store.
"""
from __future__ import annotations

import abc
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterable, Iterator

from grader import reference as reference_store
from grader.assignment import Assignment
from grader.report.model import Report
from grader.runner import GradeOptions, ModuleSession, grade as grade_submission
from grader.sandbox import Sandbox
from grader.submission import Submission

__all__ = ["Executor", "grade_one", "probe_environment", "start_sandbox", "EXECUTORS"]

EXECUTORS = ("local", "dask")


def grade_one(submission: Submission, assignment: Assignment, sandbox: Sandbox, options: GradeOptions) -> Report:
    """Grade one submission in ``sandbox``: the one grading step of every executor. The
    Report is plain data, pictures included (``to_dict`` leaves those out): it crosses machines."""
    return grade_submission(submission, assignment, sandbox, options)


def probe_environment(sandbox: Sandbox, assignment: Assignment) -> dict:
    """What a child of ``sandbox`` finds (torch version, CUDA): one empty module loaded."""
    workdir = Path(tempfile.mkdtemp(prefix="bpg-env-"))
    try:
        stub = workdir / f"{assignment.module}.py"
        stub.write_text("")
        session = ModuleSession(sandbox, assignment, workdir, stub)
        if not session.start():
            return {}
        try:
            return session.environment()
        finally:
            session.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def warm_up(assignment: Assignment) -> None:
    """What the first students would otherwise pay for in the grader's process: the
    judges module, every check's decoded reference data (kept, see
    ``reference.load``) and the picture libraries."""
    assignment.judges()
    for spec in assignment.checks:
        reference_store.load(assignment, spec)
    try:
        import matplotlib.figure  # noqa: F401  (the class histogram, loss curves)
        import PIL.Image  # noqa: F401  (heat maps)
    except ImportError:
        pass


def start_sandbox(sandbox: Sandbox, assignment: Assignment) -> tuple[Sandbox, dict]:
    """Start ``sandbox``'s fork server and probe what its children find (CUDA?), warming
    this process up meanwhile: the fork server spends its seconds importing torch in a
    process of its own. -> (the started sandbox, its environment)."""
    started: dict = {}

    def start() -> None:
        try:
            started["environment"] = probe_environment(sandbox.start(), assignment)
        except BaseException as exc:  # re-raised below, in the caller's thread
            started["error"] = exc

    starting = threading.Thread(target=start, name="fork-server-start")
    starting.start()
    try:
        warm_up(assignment)
    finally:
        starting.join()
    if "error" in started:
        sandbox.close()
        raise started["error"]
    return sandbox, started["environment"]


class Executor(abc.ABC):
    """Grades submissions somewhere; each one is yielded exactly once."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abc.abstractmethod
    def environment(self) -> dict:
        """What the machines that run student code offer (``{"cuda": bool, ...}``)."""

    @abc.abstractmethod
    def grade(self, submissions: Iterable[Submission], options: GradeOptions) -> Iterator[tuple[Submission, Report]]:
        """(submission, its report) for each submission, as each finishes.
        Closing the iterator early drops what has not started."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the fork servers (and whatever cluster this executor started)."""
