"""The public checks from inside a notebook: what the release's walkthrough calls.

    from grader.notebook_checks import Checks, attempt
    check = Checks()               # the student bundle: the folder this notebook runs in
    check("forward_pass_toy")      # prints a pass, or the same message as `pytest`
    check.summary()

    with attempt("training on the toy data"):
        stats = two_layer_net.nn_train(...)   # NotImplementedError or a bug: a message, not a crash

The first call grades every public check at once through the pytest plugin's path
(:func:`grader.submission.load_submission`, then :func:`grader.runner.grade` in the
sandbox with the bundle's public checks and reference data, judged in this
process); later calls print from that result until ``<module>.py`` changes, and then
everything is graded again. Nothing raises: a notebook run top to bottom on the stub
shows "not implemented yet" for each check instead of stopping at the first cell.
"""
from __future__ import annotations

import contextlib
import hashlib
import traceback
from pathlib import Path
from typing import Iterator

from grader.checks import CheckResult

__all__ = ["Checks", "attempt"]

ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏱", "skipped": "⏭"}


def result_text(name: str, r: CheckResult) -> str:
    """One check's outcome as the notebook prints it; a failure reads as in `pytest`."""
    from grader.pytest_plugin import failure_text

    if r.status == "passed":
        return f"{ICONS['passed']} {name} ({r.max_score:g} points): passed\n  checks: {r.description}\n  {r.message}"
    if r.status == "skipped":
        return f"{ICONS['skipped']} {name}: skipped ({r.message})"
    return f"{ICONS.get(r.status, '')} {failure_text(name, r)}".rstrip("\n")


class Checks:
    """The public checks of the bundle in ``folder`` (a ``grading/`` folder beside the
    student's module), graded on demand. Call it with a check's name to print it."""

    def __init__(self, folder: str | Path = "."):
        self.folder = Path(folder).resolve()
        self._assignment = None
        self._results: dict[str, CheckResult] = {}
        self._graded_sha: str | None = None
        self._problem: str | None = None

    @property
    def assignment(self):
        if self._assignment is None:
            from grader.assignment import Assignment

            grading = self.folder / "grading"
            self._assignment = Assignment.load(grading, solutions=grading / "_no_solutions",
                                               reference=grading / "reference_data")
        return self._assignment

    def _setup_problem(self) -> str | None:
        if not (self.folder / "grading" / "assignment.toml").is_file():
            return (f"no grading/assignment.toml in {self.folder}: open this notebook from the folder "
                    f"`backprop-grader release` wrote (it holds grading/)")
        if not (self.folder / f"{self.assignment.module}.py").is_file():
            return f"no {self.assignment.module}.py next to this notebook: that is the file the checks grade"
        return None

    def results(self) -> dict[str, CheckResult]:
        """check name -> result, graded again whenever the student's module changed."""
        self._problem = self._setup_problem()
        if self._problem:
            return {}
        student_file = self.folder / f"{self.assignment.module}.py"
        sha = hashlib.sha256(student_file.read_bytes()).hexdigest()
        if sha != self._graded_sha:
            from grader.runner import GradeOptions, grade, make_sandbox
            from grader.submission import load_submission

            submission = load_submission(student_file, self.assignment.module, student="you")
            with make_sandbox(self.assignment) as sandbox:
                report = grade(submission, self.assignment, sandbox,
                               GradeOptions(device="cpu", visibility=("public",)))
            self._results = {c.name: c for c in report.checks}
            self._graded_sha = sha
        return self._results

    def result(self, name: str) -> CheckResult | None:
        return self.results().get(name)

    def __call__(self, name: str) -> None:
        results = self.results()
        if self._problem:
            print(f"{ICONS['error']} {self._problem}")
        elif name not in results:
            known = ", ".join(sorted(results)) or "none"
            print(f"{ICONS['error']} there is no public check named {name!r} (known: {known})")
        else:
            print(result_text(name, results[name]))

    def summary(self) -> None:
        results = self.results()
        if self._problem:
            print(f"{ICONS['error']} {self._problem}")
            return
        counted = [r for r in results.values() if r.status != "skipped"]
        passed = [r for r in counted if r.status == "passed"]
        score, total = sum(r.score for r in counted), sum(r.max_score for r in counted)
        print(f"public checks: {len(passed)} of {len(counted)} passed, {score:g} / {total:g} points")
        for r in counted:
            if r.status != "passed":
                print(f"  {ICONS.get(r.status, '')} {r.name}: {r.message.splitlines()[0] if r.message else r.status}")
        if len(passed) == len(counted):
            print("all public checks pass; hidden checks test the same functions on other inputs when you submit")


@contextlib.contextmanager
def attempt(what: str, folder: str | Path = ".") -> Iterator[None]:
    """Run one step of a walkthrough: ``NotImplementedError`` prints "not implemented
    yet", any other error prints its type, message and the lines of the files in
    ``folder`` (the student's module, the helpers) it went through. Either way the
    notebook goes on to the next cell."""
    try:
        yield
    except NotImplementedError as exc:
        print(f"⏳ {what}: not implemented yet: {exc}")
    except Exception as exc:
        print(f"{ICONS['error']} {what}: {type(exc).__name__}: {exc}")
        base = Path(folder).resolve()
        for fs in traceback.extract_tb(exc.__traceback__):
            path = Path(fs.filename)
            if path.is_file() and base in path.resolve().parents:
                print(f"  {path.name}, line {fs.lineno}, in {fs.name}: {(fs.line or '').strip()}")
