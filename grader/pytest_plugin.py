"""The public checks as pytest tests, for students.

A released bundle's ``conftest.py`` turns this plugin on. It collects
``grading/assignment.toml`` as one test per check and grades the student's module
in the bundle folder exactly as ``backprop-grader grade`` would (same sandbox,
same judges), but only the public checks, and shows a failure as the check's
message and hint: what was compared, where it differs most, the likely cause.
No grader traceback.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.assignment import Assignment
from grader.checks import CheckResult

_STATE_KEY = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE_KEY] = {}
    config.addinivalue_line("markers", "backprop_check: a public check of a backprop-grader assignment")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.name == "assignment.toml" and (file_path.parent / "probes.py").is_file() \
            and file_path.parent.name == "grading":
        return AssignmentFile.from_parent(parent, path=file_path)
    return None


class AssignmentFile(pytest.File):
    def collect(self):
        grading = self.path.parent
        assignment = Assignment.load(grading, solutions=grading / "_no_solutions",
                                     reference=grading / "reference_data")
        for spec in assignment.checks:
            if spec.visibility != "public":
                continue
            item = CheckItem.from_parent(self, name=spec.name, assignment=assignment)
            item.add_marker("backprop_check")
            yield item


class CheckFailed(Exception):
    def __init__(self, result: CheckResult):
        super().__init__(result.message)
        self.result = result


def failure_text(name: str, r: CheckResult) -> str:
    """What a student sees for a check that did not pass (pytest and the walkthrough notebook)."""
    head = {"failed": "wrong result", "error": "your code raised an error", "timeout": "timed out"}.get(
        r.status, r.status)
    text = f"{name} ({r.max_score:g} points): {head}\n  checks: {r.description}\n"
    text += "".join(f"  {line}\n" for line in r.message.splitlines())
    if r.hint:
        text += f"  likely cause: {r.hint}\n"
    return text


class CheckItem(pytest.Item):
    def __init__(self, *, assignment: Assignment, **kwargs):
        super().__init__(**kwargs)
        self.assignment = assignment

    def _results(self) -> dict[str, CheckResult]:
        """Grade every selected check of this assignment once, on first use."""
        state = self.config.stash[_STATE_KEY]
        key = str(self.assignment.root)
        if key not in state:
            from grader.runner import GradeOptions, grade, make_sandbox
            from grader.submission import load_submission

            selected = tuple(i.name for i in self.session.items
                             if isinstance(i, CheckItem) and str(i.assignment.root) == key)
            student_file = self.assignment.root.parent / f"{self.assignment.module}.py"
            submission = load_submission(student_file, self.assignment.module, student="you")
            with make_sandbox(self.assignment) as sandbox:
                report = grade(submission, self.assignment, sandbox,
                               GradeOptions(device="cpu", only=selected, visibility=("public",)))
            state[key] = {c.name: c for c in report.checks}
        return state[key]

    def runtest(self) -> None:
        result = self._results().get(self.name)
        if result is None:
            pytest.skip("not graded")
        if result.status == "skipped":
            pytest.skip(result.message)
        if result.status != "passed":
            raise CheckFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailed):
            return failure_text(self.name, excinfo.value.result)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.assignment.name}::{self.name}"
