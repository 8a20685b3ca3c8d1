"""Shared fixtures: one fork server per assignment for the whole run (it costs ~2 s to
start), and small helpers to grade a source string through the public API."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from grader import api
from grader.registry import get_assignment
from grader.runner import make_sandbox

ROOT = Path(__file__).resolve().parents[1]
_counter = itertools.count()


def mutate(source: str, old: str, new: str) -> str:
    """A one-line mutant: ``old`` must occur exactly once in ``source``."""
    assert source.count(old) == 1, f"expected exactly one occurrence of {old!r}"
    return source.replace(old, new)


def solution_source(name: str) -> str:
    return (ROOT / "solutions" / name / f"{name}.py").read_text()


def stub_source(name: str) -> str:
    return (ROOT / "assignments" / name / f"{name}.py").read_text()


@pytest.fixture(scope="session")
def sandboxes():
    opened = {}

    def get(name: str):
        if name not in opened:
            opened[name] = make_sandbox(get_assignment(name, ROOT)).start()
        return opened[name]

    yield get
    for sb in opened.values():
        sb.close()


@pytest.fixture
def grade_source(sandboxes, tmp_path):
    """grade_source(assignment, source, filename=None) -> Report, via grader.api.grade."""

    def grade(assignment: str, source: str | bytes, filename: str | None = None, **kw):
        path = tmp_path / f"sub{next(_counter)}" / (filename or f"{assignment}.py")
        path.parent.mkdir(parents=True)
        if isinstance(source, bytes):
            path.write_bytes(source)
        else:
            path.write_text(source)
        return api.grade(path, assignment, root=ROOT, sandbox=sandboxes(assignment), **kw)

    return grade


def failing(report) -> dict[str, str]:
    """check name -> status, for the checks that did not pass (skips left out)."""
    return {c.name: c.status for c in report.checks if c.status not in ("passed", "skipped")}


def _numbers(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers(v)
    elif not isinstance(value, str):
        try:
            yield from np.asarray(value, dtype=np.float64).ravel().tolist()
        except (TypeError, ValueError):
            return


def hidden_values_shown(report, assignment) -> dict[str, list[str]]:
    """check -> hidden expected values (6 significant digits, the longer ones) that a
    failed hidden check's message or hint shows to the student (report.student_view(),
    what report.md/html and results.json are made of; a report read back from a
    student-facing file is that view already). Should be empty."""
    from grader import reference

    leaks = {}
    shown_to_student = report.student_view() if hasattr(report, "student_view") else report
    for c in shown_to_student.checks:
        if c.visibility != "hidden" or c.status == "passed":
            continue
        expected = {f"{v:.6g}" for v in _numbers(reference.load(assignment, assignment.check(c.name))["expected"])}
        text = f"{c.message}\n{c.hint or ''}"
        shown = sorted(s for s in expected if len(s) >= 5 and s in text)
        if shown:
            leaks[c.name] = shown[:5]
    return leaks


@pytest.fixture(scope="module")
def graded(sandboxes, tmp_path_factory):
    """graded(assignment, key, source) -> Report: each submission graded once per test module,
    all through one fork server."""
    cache = {}

    def grade(assignment: str, key: str, source: str):
        if (assignment, key) not in cache:
            path = tmp_path_factory.mktemp(key) / f"{assignment}.py"
            path.write_text(source)
            cache[assignment, key] = api.grade(path, assignment, root=ROOT, sandbox=sandboxes(assignment))
        return cache[assignment, key]

    return grade


def outcomes(report) -> dict[str, tuple]:
    """check name -> (status, points earned, hint), for every check that did not pass (skips left out):
    what a mutant's row in a test table states."""
    return {c.name: (c.status, round(c.score, 2), c.hint) for c in report.checks
            if c.status not in ("passed", "skipped")}


def assert_outcomes(report, expected: dict, assignment, full: float) -> None:
    """A test table's row: the report's failing checks are exactly ``expected`` (see
    :func:`outcomes`), its score follows from them, and no hidden value shows to the student."""
    assert outcomes(report) == expected
    points = {c.name: c.points for c in assignment.checks}
    lost = sum(points[name] - earned for name, (_, earned, _) in expected.items())
    assert report.score == pytest.approx(full - lost, abs=0.02)
    assert not hidden_values_shown(report, assignment)
