"""The class view: ``gradebook.csv`` and a summary an instructor works from
(``summary.md`` and a self-contained, sortable ``summary.html``).

The summary lists every student with score, status and a link to their report;
per check the pass rate and the most common causes across the class (the hints,
grouped with their numbers left out, so that "5x ... N = 5" and "8x ... N = 8" are
one misconception); checks that could not run here are shown as skipped.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from grader.report.model import Report, format_points
from grader.report.text import csv_cell, one_line

__all__ = ["Gradebook", "CheckSummary", "Cause"]

# A number in a hint (an integer, a decimal, a ratio such as 5x, an exponent): the
# part that differs from student to student while the mistake is the same.
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?|…")
CAUSES_PER_CHECK = 3
CAUSES_IN_ALL = 10


def cause_of(hint: str) -> str:
    """A hint with its numbers replaced by "…": what the students who got it share."""
    return _NUMBER.sub("…", one_line(hint))


@dataclass(frozen=True)
class Cause:
    """One likely cause, as many students got it."""

    text: str                      # the hint itself when every student got the same words, else cause_of(hint)
    students: tuple[str, ...]
    checks: tuple[str, ...]        # where it was given, in the assignment's order

    @property
    def label(self) -> str:
        n = len(self.students)
        return f"{n} student{'s' if n != 1 else ''}: {self.text}"


@dataclass(frozen=True)
class CheckSummary:
    name: str
    graded: int                    # students for whom the check ran (not skipped)
    passed: int
    broken: int                    # errors and timeouts
    skipped: int
    skip_reason: str
    causes: tuple[Cause, ...]      # most common first

    @property
    def pass_rate(self) -> float | None:
        """None when the check ran for nobody (skipped everywhere)."""
        return self.passed / self.graded if self.graded else None


def _group(found: list[tuple[str, str, str]], order: list[str]) -> list[Cause]:
    """(student, check, hint) -> causes, most students first."""
    groups: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for student, check, hint in found:
        groups[cause_of(hint)].append((student, check, hint))
    causes = []
    for key, members in groups.items():
        words = {one_line(h) for _, _, h in members}
        checks = {c for _, c, _ in members}
        causes.append(Cause(text=words.pop() if len(words) == 1 else key,
                            students=tuple(sorted({s for s, _, _ in members})),
                            checks=tuple(sorted(checks, key=lambda c: order.index(c) if c in order else len(order)))))
    return sorted(causes, key=lambda c: (-len(c.students), c.text))


@dataclass(frozen=True)
class Gradebook:
    assignment: str
    reports: tuple[Report, ...]
    check_names: tuple[str, ...]   # in the assignment's order

    @classmethod
    def of(cls, assignment: str, reports: list[Report], check_names: list[str]) -> "Gradebook":
        return cls(assignment, tuple(sorted(reports, key=lambda r: r.student)), tuple(check_names))

    # -- gradebook.csv ---------------------------------------------------------------
    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        # After the checks: who the LMS export says the student is, and when they submitted.
        lms_columns = ["name", "lms", "lms_id", "late", "submitted_at"]
        w.writerow(["student", "score", "max_score", "status", *self.check_names, *lms_columns])
        for r in self.reports:
            by_name = {c.name: c for c in r.checks}
            lms = r.extra.get("lms") or {}
            # Text cells go through csv_cell: a student id like "@SUM(A1)" or "-1+2"
            # must not become a formula in the spreadsheet the gradebook is opened in.
            w.writerow([csv_cell(r.student), format_points(r.score), format_points(r.max_score), csv_cell(r.status),
                        *[format_points(by_name[n].score) if n in by_name and by_name[n].status != "skipped" else ""
                          for n in self.check_names],
                        *[csv_cell(str(v)) for v in (
                            lms.get("name") or "", lms.get("source") or "", lms.get("lms_id") or "",
                            {True: "late", False: "on time"}.get(lms.get("late"), ""), lms.get("submitted_at") or "")]])
        return buf.getvalue()

    # -- what the summary shows --------------------------------------------------------
    def checks(self) -> list[CheckSummary]:
        out = []
        for n in self.check_names:
            results = [(r.student, c) for r in self.reports for c in r.checks if c.name == n]
            ran = [(s, c) for s, c in results if c.status != "skipped"]
            skipped = [c for _, c in results if c.status == "skipped"]
            out.append(CheckSummary(
                name=n, graded=len(ran), passed=sum(c.status == "passed" for _, c in ran),
                broken=sum(c.status in ("error", "timeout") for _, c in ran), skipped=len(skipped),
                skip_reason=one_line(skipped[0].message) if skipped else "",
                causes=tuple(_group([(s, n, c.hint) for s, c in ran if c.hint and c.status != "passed"],
                                    list(self.check_names))[:CAUSES_PER_CHECK])))
        return out

    def pass_rates(self) -> list[tuple[str, float, int, int, int]]:
        """(check, pass rate, passed, errors+timeouts, graded) per check (0.0 where skipped)."""
        return [(s.name, s.pass_rate or 0.0, s.passed, s.broken, s.graded) for s in self.checks()]

    def common_causes(self, limit: int = CAUSES_IN_ALL) -> list[Cause]:
        """The likely causes across all checks, by how many students got them: what a
        lecture could address."""
        found = [(r.student, c.name, c.hint) for r in self.reports for c in r.checks
                 if c.hint and c.status not in ("passed", "skipped")]
        return _group(found, list(self.check_names))[:limit]

    def histogram(self, bins: int = 10) -> list[tuple[str, int]]:
        counts = [0] * bins
        for r in self.reports:
            i = min(bins - 1, int(r.percent / (100 / bins)))
            counts[i] += 1
        return [(f"{i * 100 // bins}-{(i + 1) * 100 // bins}%", c) for i, c in enumerate(counts)]

    def stats(self) -> dict:
        scores = sorted(r.percent for r in self.reports)
        n = len(scores)
        if not n:
            return {"n": 0}
        median = scores[n // 2] if n % 2 else (scores[n // 2 - 1] + scores[n // 2]) / 2
        return {"n": n, "mean": sum(scores) / n, "median": median,
                "errors": sum(r.status == "error" for r in self.reports)}

    @staticmethod
    def report_link(student: str) -> str:
        """The student's report, relative to the summary (which sits beside their folders)."""
        return f"{quote(student, safe='')}/report.html"

    # -- rendering ---------------------------------------------------------------------
    def _render(self, template: str, **extra) -> str:
        from grader.report import _env

        return _env(template.endswith(".html.j2")).get_template(template).render(
            book=self, stats=self.stats(), checks=self.checks(), causes=self.common_causes(),
            slowest=sorted(self.reports, key=lambda r: -r.duration_s)[:5], flagged=self.integrity_flags(), **extra)

    def integrity_flags(self) -> list[tuple[str, str]]:
        """(student, what was seen) for each submission with signs of tampering: for the
        instructor to look at (the first five flags; report.json has them all)."""
        flagged = []
        for r in self.reports:
            if r.integrity:
                seen = "; ".join(f"{f.get('kind')}: {f.get('evidence')}" for f in r.integrity[:5])
                more = f" (and {len(r.integrity) - 5} more in report.json)" if len(r.integrity) > 5 else ""
                flagged.append((r.student, seen + more))
        return flagged

    def summary_markdown(self) -> str:
        return self._render("summary.md.j2")

    def summary_html(self, histogram_png_b64: str | None = None) -> str:
        return self._render("summary.html.j2", histogram=histogram_png_b64)

    def write(self, folder: Path, histogram_png_b64: str | None = None) -> list[Path]:
        files = {
            "gradebook.csv": self.csv_text(),
            "summary.md": self.summary_markdown(),
            "summary.html": self.summary_html(histogram_png_b64),
        }
        out = []
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
            out.append(folder / name)
        return out
