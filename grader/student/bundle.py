"""The public checks of a student bundle, check by check: what ``pytest`` and the
walkthrough notebook both use.

    checks = BundleChecks("two_layer_net/")     # the folder `backprop-grader release` wrote
    result = checks.result("forward_pass_toy")  # a CheckResult, graded now
    print(checks.totals().line())               # public checks: 57 / 83 points
    checks.close()

The student's module is imported once, in one student process
(:mod:`grader.student.processes`), when the first check needs it, and each check
then runs its probe there and is judged here by :class:`grader.grading.GradingRun`:
the same probes, judges and messages as ``backprop-grader grade``. A check that
runs past the student-side time limit fails as timed out, the process is replaced,
and later checks that would call the same hung function fail at once. When
``<module>.py`` changes, the next check starts over with the new code.
"""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from grader.assignment import Assignment, CheckSpec
from grader.checks import CheckResult

__all__ = ["BundleChecks", "Totals", "DEFAULT_CHECK_TIMEOUT_S", "GPU_SKIPPED", "SetupProblem"]

DEFAULT_CHECK_TIMEOUT_S = 10.0   # a check's time here: a laptop runs the slowest public check in ~1 s
GPU_SKIPPED = "needs a CUDA GPU; the checks here run on the CPU, so it is skipped and counts for nothing"


class SetupProblem(Exception):
    """The folder is not a bundle the checks can run in (a message for the student)."""


@dataclass(frozen=True)
class Totals:
    score: float            # points of the public checks run
    max_score: float        # what they were worth (skipped checks count for nothing)
    ran: int                # public checks run (skipped ones not counted)
    public: int             # public checks in the bundle that run here (not the GPU ones)
    public_points: float
    hidden: int             # hidden checks: graded by the instructor only
    hidden_points: float

    def lines(self) -> list[str]:
        if self.ran == self.public:
            head = f"public checks: {self.score:g} / {self.max_score:g} points"
        else:
            checks = "check" if self.ran == 1 else "checks"
            head = (f"public checks: {self.score:g} / {self.max_score:g} points from the {self.ran} {checks} run "
                    f"(of {self.public}, {self.public_points:g} points; run them all to see your total)")
        out = [head]
        if self.hidden:
            out.append(f"plus {self.hidden_points:g} points of hidden checks, graded by your instructor")
        return out


class BundleChecks:
    """The public checks in ``folder/grading`` of ``folder/<module>.py``."""

    def __init__(self, folder: str | Path = ".", check_timeout_s: float = DEFAULT_CHECK_TIMEOUT_S,
                 timeout_setting: str = "pytest --check-timeout SECONDS"):
        self.folder = Path(folder).resolve()
        self.timeout_setting = timeout_setting   # how the student changes the limit, for timeout messages
        self.grading = self.folder / "grading"
        self.check_timeout_s = float(check_timeout_s)
        self._assignment: Assignment | None = None
        self._run = None
        self._sha: str | None = None
        self.results: dict[str, CheckResult] = {}

    # -- the bundle ------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Why no check can run in this folder, or None."""
        if not (self.grading / "assignment.toml").is_file():
            return (f"no grading/assignment.toml in {self.folder}: work in the folder `backprop-grader release` "
                    f"wrote (it holds grading/)")
        if not self.student_file.is_file():
            return f"no {self.student_file.name} in {self.folder}: that is the file the checks grade"
        return None

    @property
    def assignment(self) -> Assignment:
        if self._assignment is None:
            if not (self.grading / "assignment.toml").is_file():
                raise SetupProblem(self.problem())
            self._assignment = Assignment.load(self.grading, solutions=self.grading / "_no_solutions",
                                               reference=self.grading / "reference_data")
        return self._assignment

    @property
    def student_file(self) -> Path:
        module = self._assignment.module if self._assignment else self._manifest().get("module")
        return self.folder / f"{module or self.folder.name}.py"

    def _manifest(self) -> dict:
        try:
            return tomllib.loads((self.grading / "assignment.toml").read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return {}

    def public(self) -> list[CheckSpec]:
        return [c for c in self.assignment.checks if c.visibility == "public"]

    # -- grading -----------------------------------------------------------------------------
    def result(self, name: str) -> CheckResult:
        """One public check's result: graded now, or kept from earlier while the module is unchanged."""
        problem = self.problem()
        if problem:
            raise SetupProblem(problem)
        spec = self.assignment.check(name)   # KeyError: no such check
        sha = hashlib.sha256(self.student_file.read_bytes()).hexdigest()
        if sha != self._sha:
            self.close()
            self.results, self._sha = {}, sha
        if name not in self.results:
            r = self._explain_timeout(self._grading_run().check(spec))
            if r.status == "skipped" and spec.requires == "cuda":   # whether or not this machine has one
                r = replace(r, message=GPU_SKIPPED)
            self.results[name] = r
        return self.results[name]

    def _grading_run(self):
        if self._run is None:
            from grader.grading import GradingRun
            from grader.runner import GradeOptions
            from grader.student.processes import LocalProcesses
            from grader.submission import load_submission

            a = self.assignment
            submission = load_submission(self.student_file, a.module, student="you")
            processes = LocalProcesses(preload=list(dict.fromkeys(["numpy", *a.preload, "grader.harness"])))
            self._run = GradingRun(submission, a, processes,
                                   GradeOptions(device="cpu", visibility=("public",),
                                                max_check_timeout_s=self.check_timeout_s))
        return self._run

    def _explain_timeout(self, r: CheckResult) -> CheckResult:
        if r.status != "timeout" or not r.message.startswith("timed out"):
            return r   # "not run: ... did not return" already names the check that timed out
        return replace(r, message=f"{r.message}\n(the time limit here is {self.check_timeout_s:g} s per check: "
                                  f"{self.timeout_setting} changes it)")

    def totals(self) -> Totals:
        counted = [r for r in self.results.values() if r.status != "skipped"]
        runnable = [c for c in self.public() if c.requires != "cuda"]   # student mode grades on the CPU
        manifest = self._manifest()
        return Totals(score=sum(r.score for r in counted), max_score=sum(r.max_score for r in counted),
                      ran=len(counted), public=len(runnable), public_points=sum(c.points for c in runnable),
                      hidden=int(manifest.get("hidden_checks", 0)),
                      hidden_points=float(manifest.get("hidden_points", 0)))

    def close(self) -> None:
        """Stop the student process (the results stay)."""
        if self._run is not None:
            self._run.close()
            self._run = None
