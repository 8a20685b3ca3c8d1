"""Grade files an LMS imports, one row per student keyed by the LMS's own id.

* Canvas (Grades > Import): ``Student,ID,SIS User ID,SIS Login ID,Section,<assignment>``,
  the columns of Canvas's own gradebook export, with its ``Points Possible`` row.
  Canvas matches rows on ``ID``, the Canvas user id from the submission file names.
* Moodle (assignment > "Upload grading worksheet", offline grading worksheets on):
  ``Identifier,Full name,Grade,Maximum Grade,Feedback comments``, where the
  identifier is ``Participant <id>``, the id in Moodle's submission folder names.

Students that did not come from that LMS's export have no id it knows: they are
left out (a row it cannot match would be a wrong grade or an import error), and
``left_out`` says who.
"""
from __future__ import annotations

import csv
import io

from grader.report.model import Report

__all__ = ["canvas_csv", "moodle_csv", "left_out"]


def _lms(report: Report) -> dict:
    return report.extra.get("lms") or {}


def _from(reports: list[Report], source: str) -> list[Report]:
    return sorted((r for r in reports if _lms(r).get("source") == source and _lms(r).get("lms_id")),
                  key=lambda r: (_lms(r).get("name") or r.student, r.student))


def left_out(reports: list[Report], source: str) -> list[str]:
    return sorted(r.student for r in reports if not (_lms(r).get("source") == source and _lms(r).get("lms_id")))


def _points(x: float) -> str:
    return f"{x:g}"


def canvas_csv(reports: list[Report], column: str) -> str:
    """``column``: the assignment's column as Canvas names it (e.g. "Two-layer net (123456)")."""
    rows = _from(reports, "canvas")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
    if rows:
        w.writerow(["Points Possible", "", "", "", "", _points(max(r.max_score for r in rows))])
    for r in rows:
        w.writerow([_lms(r).get("name") or r.student, _lms(r)["lms_id"], "", "", "", _points(r.score)])
    return buf.getvalue()


def moodle_csv(reports: list[Report]) -> str:
    rows = _from(reports, "moodle")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"])
    for r in rows:
        passed = r.count("passed")
        counted = sum(c.status != "skipped" for c in r.checks)
        feedback = f"Could not be graded: {r.problem}" if r.problem else f"{passed} of {counted} checks passed"
        w.writerow([f"Participant {_lms(r)['lms_id']}", _lms(r).get("name") or r.student, _points(r.score),
                    _points(r.max_score), feedback])
    return buf.getvalue()
