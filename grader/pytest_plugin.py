"""The public checks as pytest tests, for students.

A released bundle's ``conftest.py`` turns this plugin on. It collects
``grading/assignment.toml`` as one test per public check; each test runs its own
check when pytest reaches it (``-x``, ``-k``, ``--lf`` work as usual), through
:class:`grader.student.BundleChecks`: the student's module is imported once, in a
separate process started with nothing but ``subprocess`` (Linux, macOS, Windows),
and each check's output is judged here with the same probes, judges and messages as
``backprop-grader grade``. A failure shows as the check's message and hint: what
was compared, where it differs most, the likely cause; no grader traceback. At the
end: the public points, and what the hidden checks are worth.

``--check-timeout SECONDS`` (or ``check_timeout`` in pytest.ini) is each check's time
limit here (default 10 s): an infinite loop fails its check instead of hanging.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.checks import CheckResult
from grader.student.bundle import DEFAULT_CHECK_TIMEOUT_S, GPU_SKIPPED, BundleChecks, SetupProblem

_STATE_KEY = pytest.StashKey[dict]()          # bundle folder -> its BundleChecks
_TIMEOUT_KEY = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("backprop-grader", "public checks of a backprop-grader assignment")
    group.addoption("--check-timeout", type=float, default=None, metavar="SECONDS",
                    help=f"time limit of each check (default: the check_timeout ini value, else "
                         f"{DEFAULT_CHECK_TIMEOUT_S:g} s)")
    parser.addini("check_timeout", f"time limit of each public check in seconds (default {DEFAULT_CHECK_TIMEOUT_S:g})",
                  default=str(DEFAULT_CHECK_TIMEOUT_S))


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE_KEY] = {}
    config.stash[_TIMEOUT_KEY] = _check_timeout(config)
    config.addinivalue_line("markers", "backprop_check: a public check of a backprop-grader assignment")


def pytest_unconfigure(config: pytest.Config) -> None:
    for checks in config.stash.get(_STATE_KEY, {}).values():
        checks.close()


def _check_timeout(config: pytest.Config) -> float:
    value = config.getoption("check_timeout")
    if value is None:
        try:
            value = float(config.getini("check_timeout"))
        except ValueError:
            raise pytest.UsageError(f"check_timeout in the ini file must be a number of seconds, "
                                    f"not {config.getini('check_timeout')!r}") from None
    if value <= 0:
        raise pytest.UsageError("--check-timeout must be more than 0 seconds")
    return value


def _bundle_checks(config: pytest.Config, folder: Path) -> BundleChecks:
    """One per bundle folder for the whole session: its student process stays up between tests."""
    state = config.stash[_STATE_KEY]
    if folder not in state:
        state[folder] = BundleChecks(folder, check_timeout_s=config.stash[_TIMEOUT_KEY])
    return state[folder]


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.name == "assignment.toml" and (file_path.parent / "probes.py").is_file() \
            and file_path.parent.name == "grading":
        return AssignmentFile.from_parent(parent, path=file_path)
    return None


class AssignmentFile(pytest.File):
    def collect(self):
        checks = _bundle_checks(self.config, self.path.parent.parent)
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for spec in checks.public():
            # Where the check is declared: pytest's reports point there (0-based).
            declared = re.compile(rf'\s*name\s*=\s*"{re.escape(spec.name)}"\s*')
            line = next((i for i, text in enumerate(lines) if declared.fullmatch(text)), 0)
            item = CheckItem.from_parent(self, name=spec.name, checks=checks, line=line)
            item.add_marker("backprop_check")
            if spec.part:
                item.extra_keyword_matches.add(spec.part)   # `pytest -k loss` selects a part
            if spec.requires == "cuda":   # skipped where the check is, not where the plugin raises
                item.add_marker(pytest.mark.skip(reason=GPU_SKIPPED))
            yield item


class CheckFailed(Exception):
    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


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
    def __init__(self, *, checks: BundleChecks, line: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.checks, self.line = checks, line

    def runtest(self) -> None:
        try:
            result = self.checks.result(self.name)
        except SetupProblem as exc:
            raise CheckFailed(str(exc)) from None
        if result.output:
            self.add_report_section("call", "stdout", result.output)   # what the student's code printed
        if result.status == "skipped":
            pytest.skip(result.message)
        if result.status != "passed":
            raise CheckFailed(failure_text(self.name, result))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailed):
            return excinfo.value.text
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, self.line, f"{self.checks.assignment.name}::{self.name}"


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    ran = [c for c in config.stash.get(_STATE_KEY, {}).values() if c.results]
    for checks in ran:
        prefix = f"{checks.assignment.name}: " if len(ran) > 1 else ""
        for line in checks.totals().lines():
            terminalreporter.write_line(prefix + line, bold=True)
