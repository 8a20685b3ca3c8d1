"""``item_analysis.csv``: how the class did on each check, for the instructor.

One row per check: how many were graded on it, the pass rate, the mean points,
errors and timeouts, and the most common hint (the likely cause the grader named)
with how many students got it. Skipped checks (no GPU here) count as skipped,
never as failed.
"""
from __future__ import annotations

import csv
import io
from collections import Counter

from grader.assignment import Assignment
from grader.report.model import Report

__all__ = ["rows", "csv_text", "COLUMNS"]

COLUMNS = ["check", "visibility", "max_points", "graded", "passed", "pass_rate", "mean_points", "failed",
           "errors", "timeouts", "skipped", "most_common_hint", "students_with_that_hint"]


def rows(assignment: Assignment, reports: list[Report]) -> list[dict]:
    out = []
    for spec in assignment.checks:
        results = [c for r in reports for c in r.checks if c.name == spec.name]
        graded = [c for c in results if c.status != "skipped"]
        status = Counter(c.status for c in results)
        hints = Counter(c.hint for c in graded if c.hint)
        hint, times = hints.most_common(1)[0] if hints else ("", 0)
        out.append({
            "check": spec.name, "visibility": spec.visibility, "max_points": f"{spec.points:g}",
            "graded": len(graded), "passed": status["passed"],
            "pass_rate": f"{status['passed'] / len(graded):.3f}" if graded else "",
            "mean_points": f"{sum(c.score for c in graded) / len(graded):.3f}" if graded else "",
            "failed": status["failed"], "errors": status["error"], "timeouts": status["timeout"],
            "skipped": status["skipped"], "most_common_hint": hint, "students_with_that_hint": times,
        })
    return out


def csv_text(assignment: Assignment, reports: list[Report]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows(assignment, reports))
    return buf.getvalue()
