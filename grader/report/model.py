"""A Report: one submission's graded checks, as plain data. Writers render it."""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass, field, replace

from grader import __version__
from grader.checks import CheckResult

SCHEMA_VERSION = 1

# What a student reads for a hidden check: one fixed text per outcome, nothing from
# the run (messages, hints, exception texts, printed output and the numbers in them
# come from the hidden inputs and expected values).
HIDDEN_TEXT = {
    "passed": "passed",
    "failed": "wrong result",
    "error": "raised an error",
    "timeout": "timed out",
    "skipped": "skipped",
}
# Hints the grader itself writes from other checks' outcomes: they name a check, no data.
ROOT_CAUSE_HINT = re.compile(r"^fix [\w.-]+ first: this check depends on it$")


def format_points(points: float) -> str:
    """Points as text, fractions kept (to the 4 decimals scores are rounded to): 2.5, 3.3333, 10."""
    return f"{round(float(points), 4):.4f}".rstrip("0").rstrip(".")


def _printable(text: str) -> str:
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Report:
    student: str
    assignment: str
    score: float
    max_score: float
    device: str
    checks: tuple[CheckResult, ...]
    status: str = "graded"              # "graded" or "error" (the submission could not be run at all)
    problem: str | None = None          # why, when status is "error"
    submission: str = ""
    submission_sha256: str = ""
    notes: tuple[str, ...] = ()
    protections: tuple[str, ...] = ()
    output: str = ""                    # what the student's code printed, the whole run (capped)
    output_at_import: str = ""          # the part printed while its module was imported
    integrity: tuple[dict, ...] = ()    # signs of tampering: {"kind", "evidence"}, for the instructor
    duration_s: float = 0.0
    graded_at: str = ""
    grader_version: str = __version__
    grader_errors: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)

    @classmethod
    def build(cls, *, student: str, assignment: str, device: str, checks: list[CheckResult],
              problem: str | None = None, **kw) -> "Report":
        counted = [c for c in checks if c.status != "skipped"]
        # File names that are not valid UTF-8 reach us as surrogate escapes: make
        # every text we will write printable.
        kw["notes"] = [_printable(n) for n in kw.get("notes", ())]
        problem = _printable(problem) if problem else problem
        kw["output"] = _printable(kw.get("output", ""))
        kw["output_at_import"] = _printable(kw.get("output_at_import", ""))
        kw["integrity"] = tuple(dict(f) for f in kw.get("integrity", ()))
        return cls(
            student=student, assignment=assignment, device=device, checks=tuple(checks),
            score=round(sum(c.score for c in counted), 4),
            max_score=round(sum(c.max_score for c in counted), 4),
            status="error" if problem else "graded", problem=problem,
            notes=tuple(kw.pop("notes", ())), protections=tuple(kw.pop("protections", ())),
            grader_errors=tuple(kw.pop("grader_errors", ())),
            duration_s=round(kw.pop("duration_s", 0.0), 3),
            graded_at=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **kw,
        )

    def student_view(self) -> "Report":
        """The report as the student may read it (report.md, report.html, results.json,
        feedback notebooks): a hidden check keeps its status and points and gets the
        fixed text of its outcome; printed output is what the module printed while it
        was imported plus what public checks printed; grader errors and integrity
        flags stay with the instructor (report.json, the store, gradebook, summary)."""
        checks = []
        for c in self.checks:
            if c.visibility == "hidden":
                hint = c.hint if c.hint and ROOT_CAUSE_HINT.match(c.hint) else None
                c = replace(c, message=HIDDEN_TEXT.get(c.status, c.status), hint=hint, output="", figures=())
            checks.append(c)
        output = self.output_at_import + "".join(c.output for c in checks if c.visibility == "public")
        return replace(self, checks=tuple(checks), output=output, grader_errors=(), integrity=())

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    def parts(self) -> list[tuple[str, float, float]]:
        """(part, score, max_score) in the order parts first appear; skipped checks left out."""
        totals: dict[str, list[float]] = {}
        for c in self.checks:
            if c.status != "skipped":
                t = totals.setdefault(c.part or "checks", [0.0, 0.0])
                t[0] += c.score
                t[1] += c.max_score
        return [(p, s, m) for p, (s, m) in totals.items()]

    def count(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["checks"] = [c.to_dict() for c in self.checks]
        for k in ("notes", "protections", "grader_errors", "integrity"):
            d[k] = list(d[k])
        # Contract fields first, in the documented order.
        head = ["schema_version", "student", "assignment", "score", "max_score", "device", "checks"]
        return {k: d[k] for k in head} | {k: v for k, v in d.items() if k not in head}

    @classmethod
    def from_dict(cls, d: dict) -> "Report":
        fields = CheckResult.__dataclass_fields__
        checks = tuple(CheckResult(**{k: v for k, v in c.items() if k in fields}) for c in d["checks"])
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "checks"}
        for k in ("notes", "protections", "grader_errors", "integrity"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(checks=checks, **kw)
