"""Grading one submission check by check: :class:`GradingRun`.

    with GradingRun(submission, assignment, sandbox, options) as run:
        for spec in run.selected():
            run.check(spec)          # -> CheckResult, through the one open session
        report = run.report()

The run owns the scratch folder and the :class:`~grader.runner.ModuleSession` (the
child is started on the first check that needs it, and again after a crash). What
one check learns is carried to the later ones:

* a student function that did not return (the check timed out) is *hung*: later
  checks that use it fail at once instead of waiting out their own timeouts;
* a check declared ``after = ["x"]`` whose prerequisite failed says "fix x first"
  instead of guessing a cause in its own function (root cause first).

:func:`grader.runner.grade` is the loop over every selected check.
"""
from __future__ import annotations

import difflib
import logging
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from grader import reference as reference_store
from grader.assignment import Assignment, CheckSpec
from grader.checks import CheckResult, JudgeContext, MalformedReply, Verdict
from grader.checks.values import unlike
from grader.checks.diagnose import hint_for_error
from grader.integrity import autograd_reached, parse, reached, scan_submission, voiding
from grader.notebook import EXECUTE
from grader.report.model import Report
from grader.runner import (IMPORT_TIMEOUT_S, GradeOptions, ModuleSession, SandboxLike, describe_error,
                           prepare_workdir)
from grader.submission import Submission

log = logging.getLogger(__name__)

FAILED = ("failed", "error", "timeout")


@dataclass(frozen=True)
class Hang:
    """A student function that was running when a check ran out of time."""

    check: str
    timeout_s: float
    cause: str          # the innermost graded function that did not return


def graded_calls(source: str, names: tuple[str, ...]) -> dict[str, set[str]]:
    """For each graded top-level function of ``source``, the graded names its body
    mentions: a function that calls a hung one would hang too. Classes are left out:
    a check of a class calls some of its methods, and which ones is not known here
    (a check of ``__init__`` need not wait on a hung training loop)."""
    import ast

    tree = parse(source)
    if tree is None:
        return {}
    wanted = set(names)
    out: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in wanted:
            out[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in wanted} - {node.name}
    return out


CANNOT_USE = "your function returned something this check cannot use: "


def judge_reply(spec: CheckSpec, assignment: Assignment, got: Any, ref: dict, device: str,
                options: dict | None = None) -> tuple[Verdict, str | None]:
    """(verdict, grader error or None) for one probe's output.

    The line between the student's fault and the grader's: a judge that raises
    ``MalformedReply``, or raises on a reply whose form differs from the reference's
    (:func:`grader.checks.values.unlike`), gives a failed verdict saying what could
    not be used; a judge that raises on a reply of the reference's form has a bug:
    the check errors and the instructor is told."""
    judge = getattr(assignment.judges(), spec.judge)
    # The run's options (e.g. mnist_dir): a judge may need the same data as the probe.
    ctx = JudgeContext(inputs=ref.get("inputs"), options=dict(spec.options if options is None else options),
                       device=device, check=spec.name,
                       mistakes=ref.get("mistakes"))
    try:
        verdict = judge(got, ref.get("expected"), ctx)
    except MalformedReply as exc:
        return Verdict(False, CANNOT_USE + str(exc)), None
    except Exception as exc:
        why = unlike(got, ref.get("expected"))
        if why:
            log.warning("judge %s raised %s on a reply unlike the reference's (%s)", spec.judge,
                        type(exc).__name__, why)
            return Verdict(False, CANNOT_USE + why), None
        log.exception("judge %s failed", spec.judge)
        return Verdict(False, ""), f"{spec.name}: {type(exc).__name__}: {exc}"
    if not isinstance(verdict, Verdict):
        return Verdict(False, ""), f"{spec.name}: judge {spec.judge} returned {type(verdict).__name__}, not a Verdict"
    return verdict, None


class GradingRun:
    """One submission's grading session: open once, grade any checks, report."""

    def __init__(self, submission: Submission, assignment: Assignment, sandbox: SandboxLike,
                 options: GradeOptions | None = None):
        self.submission, self.assignment, self.sandbox = submission, assignment, sandbox
        self.options = options or GradeOptions()
        self.started = time.monotonic()
        self.results: list[CheckResult] = []
        self.problem: str | None = submission.problem
        self.grader_errors: list[str] = []
        self.hung: dict[str, Hang] = {}
        self.session: ModuleSession | None = None
        self.protections: list[str] = []
        self.integrity: list[dict] = scan_submission(submission, assignment)   # static; the child's are added
        self._workdir: Path | None = None
        self._calls: dict[str, set[str]] | None = None   # graded function -> graded names it calls
        self._measured: dict[str, set[str]] = {}         # check -> what its probe observed in the child
        self._opened = False
        self._output = ""
        nb = submission.notebook
        self.module_file = nb.name if nb else f"{assignment.module}.py"
        self.line_map = nb.line_map if nb else ()

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> "GradingRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def selected(self) -> list[CheckSpec]:
        """The checks ``options`` selects, in the toml's order."""
        o = self.options
        return [c for c in self.assignment.checks if c.visibility in o.visibility and (not o.only or c.name in o.only)]

    def open(self) -> bool:
        """Write the scratch folder and import the module in a child (once). False when
        the submission cannot be run at all (``problem`` says why)."""
        if self._opened:
            return self.problem is None
        self._opened = True
        if self.problem is not None:
            return False
        self._workdir, module_path = prepare_workdir(self.submission, self.assignment)
        nb = self.submission.notebook
        executes = nb is not None and nb.mode == EXECUTE
        self.session = ModuleSession(self.sandbox, self.assignment, self._workdir, module_path, notebook=nb,
                                     import_timeout_s=self.options.notebook_timeout_s if executes
                                     else IMPORT_TIMEOUT_S)
        if not self.session.start():
            self.problem = self.session.load_error
        self.protections = self.session.protections
        return self.problem is None

    def close(self) -> None:
        if self.session is not None:
            self._output = self.session.output()
            self.integrity += self.session.integrity
            self.session.close()
            self.session = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # -- one check ---------------------------------------------------------------------
    def _result(self, spec: CheckSpec, status: str, message: str, hint: str | None = None, fraction: float = 0.0,
                duration: float = 0.0, figures: tuple = (), output: str = "", line: int | None = None) -> CheckResult:
        return CheckResult(name=spec.name, visibility=spec.visibility, status=status,  # type: ignore[arg-type]
                           score=round(spec.points * fraction, 4), max_score=spec.points, message=message,
                           hint=hint, duration_s=round(duration, 4), description=spec.description, part=spec.part,
                           figures=figures if spec.visibility == "public" else (), output=output, line=line)

    def check(self, spec: CheckSpec) -> CheckResult:
        """Run and judge one check; the result is also kept for :meth:`report`."""
        result = self._root_cause_first(spec, self._not_forged(spec, self._check(spec)))
        self.results.append(result)
        return result

    def _check(self, spec: CheckSpec) -> CheckResult:
        o = self.options
        # Skipped before anything else: a check that cannot run here does not count
        # towards max_score, whatever the submission.
        if spec.requires == "cuda" and not o.cuda_available:
            return self._result(spec, "skipped", "needs a CUDA GPU; none is present on the grading machine")
        if not self.open():
            return self._result(spec, "error", self.problem or "")
        session = self.session
        assert session is not None
        if o.progress:
            o.progress(spec.name)
        missing = set(session.load_info.get("missing", []))
        absent = [n for n in spec.uses if n in missing]
        if absent:
            defined = session.load_info.get("defined", [])
            msgs = []
            for n in absent:
                close = difflib.get_close_matches(n, defined, n=1, cutoff=0.6)
                msgs.append(f"{self.module_file} defines no {n}" + (f" (found {close[0]}: renamed?)" if close else ""))
            return self._result(spec, "error", "; ".join(msgs))
        blocked = self._hung_in(spec)
        if blocked:
            # Calling it again would only wait out another timeout.
            h, used = blocked
            through = f"; {used} calls it" if used != h.cause else ""
            return self._result(spec, "timeout", f"not run: {h.cause} did not return in check {h.check} "
                                f"(timed out after {h.timeout_s:g} s){through}")
        left = o.submission_timeout_s - (time.monotonic() - self.started)
        if left <= 0:
            return self._result(spec, "timeout", f"not run: the submission used up its total time limit "
                                f"({o.submission_timeout_s:g} s) before this check")
        device = "cuda" if spec.requires == "cuda" else o.device
        ref = reference_store.load(self.assignment, spec)
        run_options = {**spec.options, **o.option_overrides}
        timeout_s = min(spec.timeout_s, left, o.max_check_timeout_s or left)
        outcome = session.run(spec, ref.get("inputs"), device, run_options, timeout_s=timeout_s)
        printed = outcome.printed
        if outcome.forged_previous and self.results and self.results[-1].status in ("passed", "failed"):
            # The reply read for the previous check was one the student's code wrote.
            last = self.results[-1]
            self.results[-1] = replace(last, status="failed", score=0.0, hint=None,
                                       message="not credited: two replies came back for this check; one was "
                                               "written by your code, not by the grader's harness")
        if outcome.status == "timeout" or (outcome.status == "died" and outcome.time_limit):
            self._mark_hung(spec, outcome.running, timeout_s)
            return self._result(spec, "timeout", f"timed out: {outcome.detail} (an infinite loop, or far "
                                f"too slow?)", duration=outcome.duration_s, output=printed)
        if outcome.status == "died":
            return self._result(spec, "error", f"{outcome.detail}", duration=outcome.duration_s, output=printed)
        if outcome.status == "error":
            error = outcome.error or {}
            frames = error.get("frames") or []
            # The line in the student's .py file, for CI annotations (a notebook's lines are cells').
            line = frames[-1].get("line") if frames and isinstance(frames[-1], dict) and not self.line_map else None
            return self._result(spec, "error", describe_error(error, self.module_file, self.line_map),
                                hint_for_error(error.get("type", ""), error.get("message", "")),
                                duration=outcome.duration_s, output=printed,
                                line=line if isinstance(line, int) else None)
        self._measured[spec.name] = set(outcome.measured)
        verdict, grader_error = judge_reply(spec, self.assignment, outcome.value, ref, device, run_options)
        if grader_error:  # a bug in a judge: the grader failed, not the student
            self.grader_errors.append(grader_error)
            return self._result(spec, "error", "the grader failed on this check; your instructor has been told",
                                duration=outcome.duration_s, output=printed)
        status = "passed" if verdict.passed else "failed"
        return self._result(spec, status, verdict.message, None if verdict.passed else verdict.hint,
                            verdict.score_fraction, outcome.duration_s, verdict.figures, output=printed)

    def _flags(self) -> list[dict]:
        return _unique(self.integrity + (self.session.integrity if self.session is not None else []))

    def _not_forged(self, spec: CheckSpec, result: CheckResult) -> CheckResult:
        """A check that credits something observed inside the child (``measures`` in
        the toml, or a watch its probe used: ``ctx.watch_autograd()``...) is not
        credited when the submission shows signs of tampering with such
        observations, or (``measures = ["autograd"]``, declared) when autograd is
        reachable from the functions it checks. Values compared with the reference
        need no such rule: faking them takes computing them."""
        measures = set(spec.measures) | self._measured.get(spec.name, set())
        if not measures or result.score <= 0:
            return result
        evidence = [f["evidence"] for f in voiding(self._flags(), reached(self.submission, spec.uses))]
        why = "the submission shows signs of tampering with the grader"
        if not evidence and "autograd" in spec.measures:
            evidence = autograd_reached(self.submission, spec.uses)
            why = "autograd is used in the code this check is about"
        if not evidence:
            return result
        more = f" (and {len(evidence) - 3} more)" if len(evidence) > 3 else ""
        return replace(result, status="failed", score=0.0,
                       message=f"not credited: {why}: " + "; ".join(evidence[:3]) + more,
                       hint="this check measures what your code does while it runs; code that reaches into the "
                            "grader, the autograd engine or torch's internals makes that measurement worthless."
                       if why.startswith("the submission") else
                       "compute every gradient by hand with tensor operations: no .backward(), torch.autograd or "
                       "requires_grad, in this function or in anything it calls.")

    def _mark_hung(self, spec: CheckSpec, running: list[str], timeout_s: float) -> None:
        """The student functions that were executing when time ran out: the harness's
        record (the innermost first) when it left one, else the check's functions."""
        known = set(self.assignment.names) | set(spec.uses)
        if self._calls is None:
            self._calls = graded_calls(self.submission.source, self.assignment.names)
        # Without a record, only the check's plain functions: a class is more than the
        # method that hung (a check of its other methods may still pass).
        names = [n for n in reversed(running) if n in known] or [n for n in spec.uses if n in self._calls]
        for n in names:
            self.hung.setdefault(n, Hang(spec.name, timeout_s, names[0]))

    def _hung_in(self, spec: CheckSpec) -> tuple[Hang, str] | None:
        """(the hang, the used function that reaches it) for a check that would
        call a hung function, directly or through the submission's own calls."""
        if not self.hung:
            return None
        if self._calls is None:
            self._calls = graded_calls(self.submission.source, self.assignment.names)
        for used in spec.uses:
            seen, todo = set(), [used]
            while todo:
                n = todo.pop()
                if n in self.hung:
                    return self.hung[n], used
                if n not in seen:
                    seen.add(n)
                    todo += sorted(self._calls.get(n, ()))
        return None

    def _root_cause_first(self, spec: CheckSpec, result: CheckResult) -> CheckResult:
        """A failed check whose prerequisite failed in this run names the prerequisite,
        not a cause in its own function: that evidence is not established."""
        if result.status not in FAILED or not spec.after:
            return result
        done = {r.name: r for r in self.results}
        first = next((n for n in spec.after if n in done and done[n].status in FAILED), None)
        if first is None:
            return result
        return replace(result, hint=f"fix {first} first: this check depends on it",
                       message=f"{result.message}\n(this check depends on {first}, which did not pass)")

    # -- the report --------------------------------------------------------------------
    def report(self) -> Report:
        """The checks run so far (the run may go on). Tampering seen in a later check
        (a thread started in one check patching in another) counts for every check."""
        output = self.session.output() if self.session is not None else self._output
        integrity = self._flags()
        by_name = {c.name: c for c in self.assignment.checks}
        checks = [self._not_forged(by_name[r.name], r) if r.name in by_name else r for r in self.results]
        s = self.submission
        load = self.session.load_info if self.session is not None else {}
        return Report.build(
            student=s.student, assignment=self.assignment.name, device=self.options.device,
            checks=checks, submission_sha256=s.sha256, submission=s.display_name,
            problem=self.problem, notes=list(s.notes), protections=self.protections,
            output=output, duration_s=time.monotonic() - self.started, grader_errors=list(self.grader_errors),
            integrity=integrity, output_at_import=load.get("printed", "") if self.problem is None else "",
        )


def _unique(flags: list[dict]) -> list[dict]:
    seen, out = set(), []
    for f in flags:
        key = (f.get("kind"), f.get("evidence"))
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def grade_all(run: GradingRun) -> Report:
    """Every selected check, in order; the session is opened first so that a
    submission that cannot be imported reports its problem even with no check run."""
    run.open()
    for spec in run.selected():
        run.check(spec)
    run.close()
    return run.report()
