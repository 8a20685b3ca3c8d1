"""The public checks from inside a notebook: what the release's walkthrough calls.

    from grader.notebook_checks import Checks, attempt
    check = Checks()               # the student bundle: the folder this notebook runs in
    check("forward_pass_toy")      # prints a pass, or the same message as `pytest`
    check.summary()

    with attempt("training on the toy data"):
        stats = two_layer_net.nn_train(...)   # NotImplementedError or a bug: a message, not a crash

Each call grades that one check through the same student runner as ``pytest``
(:class:`grader.student.BundleChecks`: one separate process that imports
``<module>.py`` once, a time limit per check, the judges in this process), so it
works on Linux, macOS and Windows alike. A check is graded again only after
``<module>.py`` changed; ``summary()`` grades the ones not run yet. Nothing raises:
a notebook run top to bottom on the stub shows "not implemented yet" for each check
instead of stopping at the first cell.
"""
from __future__ import annotations

import contextlib
import traceback
from pathlib import Path
from typing import Iterator

from grader.checks import CheckResult
from grader.student.bundle import DEFAULT_CHECK_TIMEOUT_S, BundleChecks, SetupProblem

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

    def __init__(self, folder: str | Path = ".", check_timeout_s: float = DEFAULT_CHECK_TIMEOUT_S):
        self.bundle = BundleChecks(folder, check_timeout_s=check_timeout_s,
                                   timeout_setting="Checks(check_timeout_s=SECONDS)")

    @property
    def folder(self) -> Path:
        return self.bundle.folder

    def result(self, name: str) -> CheckResult | None:
        """The check's result, or None when it cannot run (printed by ``__call__``)."""
        try:
            return self.bundle.result(name)
        except (SetupProblem, KeyError):
            return None

    def __call__(self, name: str) -> None:
        problem = self.bundle.problem()
        if problem:
            print(f"{ICONS['error']} {problem}")
            return
        known = [c.name for c in self.bundle.public()]
        if name not in known:
            print(f"{ICONS['error']} there is no public check named {name!r} (known: {', '.join(known)})")
            return
        print(result_text(name, self.bundle.result(name)))

    def summary(self) -> None:
        problem = self.bundle.problem()
        if problem:
            print(f"{ICONS['error']} {problem}")
            return
        results = [self.bundle.result(c.name) for c in self.bundle.public()]
        counted = [r for r in results if r.status != "skipped"]
        passed = [r for r in counted if r.status == "passed"]
        print(f"public checks: {len(passed)} of {len(counted)} passed")
        for line in self.bundle.totals().lines():
            print(line)
        for r in counted:
            if r.status != "passed":
                print(f"  {ICONS.get(r.status, '')} {r.name}: {r.message.splitlines()[0] if r.message else r.status}")
        if len(passed) == len(counted):
            print("all public checks pass; hidden checks test the same functions on other inputs when you submit")

    def close(self) -> None:
        """Stop the process that runs your module (it also ends with the notebook's kernel)."""
        self.bundle.close()


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
