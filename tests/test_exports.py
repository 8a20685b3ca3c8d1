"""Output formats for LMSs and CI, from hand-made reports (no grading): Canvas and Moodle
import files, the item analysis, JUnit XML, GitHub Actions annotations."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT
from grader.checks import CheckResult
from grader.registry import get_assignment
from grader.report import item_analysis, lms_export
from grader.report.github import annotations
from grader.report.junit import junit_xml
from grader.report.model import Report

A = get_assignment("toy_mlp", ROOT)
FIRST, SECOND, THIRD = (c.name for c in A.checks[:3])


def _report(student, statuses, lms=None, hint="you summed over the batch", problem=None):
    checks = []
    for spec, status in zip(A.checks, statuses):
        checks.append(CheckResult(spec.name, spec.visibility, status, spec.points if status == "passed" else 0.0,
                                  spec.points, "passed" if status == "passed" else "grads['W1'] differs, 5x",
                                  hint if status == "failed" else None, line=12 if status == "error" else None))
    extra = {"lms": lms} if lms else {}
    return Report.build(student=student, assignment=A.name, device="cpu", checks=checks, extra=extra,
                        problem=problem)


def _rows(text):
    return list(csv.reader(io.StringIO(text)))


CANVAS_ADA = {"source": "canvas", "name": "lovelaceada", "lms_id": "201"}
CANVAS_ADA2 = {"source": "canvas", "name": "lovelaceada", "lms_id": "202"}
MOODLE_JO = {"source": "moodle", "name": "Jo Smith", "lms_id": "301"}
CLASS = [
    _report("lovelaceada_201", ["passed", "passed", "failed"], CANVAS_ADA),
    _report("lovelaceada_202", ["failed", "error", "skipped"], CANVAS_ADA2),
    _report("Jo_Smith_301", ["passed", "failed", "failed"], MOODLE_JO),
    _report("plain", ["passed", "passed", "passed"]),
]


def test_canvas_import_has_canvas_columns_and_one_row_per_canvas_user():
    rows = _rows(lms_export.canvas_csv(CLASS, "Toy MLP (123)"))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Toy MLP (123)"]
    assert rows[1][0] == "Points Possible"
    scores = {r[1]: r[5] for r in rows[2:]}
    assert scores == {"201": f"{CLASS[0].score:g}", "202": f"{CLASS[1].score:g}"}  # namesakes: two rows
    assert lms_export.left_out(CLASS, "canvas") == ["Jo_Smith_301", "plain"]


def test_moodle_worksheet_identifies_participants():
    rows = _rows(lms_export.moodle_csv(CLASS))
    assert rows[0][:4] == ["Identifier", "Full name", "Grade", "Maximum Grade"]
    assert rows[1][:4] == ["Participant 301", "Jo Smith", f"{CLASS[2].score:g}", f"{CLASS[2].max_score:g}"]
    assert len(rows) == 2


def test_item_analysis_per_check():
    by = {r["check"]: r for r in item_analysis.rows(A, CLASS)}
    assert (by[FIRST]["graded"], by[FIRST]["passed"], by[FIRST]["pass_rate"]) == (4, 3, "0.750")
    assert by[SECOND]["errors"] == 1 and by[SECOND]["passed"] == 2
    assert (by[THIRD]["skipped"], by[THIRD]["graded"], by[THIRD]["pass_rate"]) == (1, 3, "0.333")
    assert by[THIRD]["most_common_hint"] == "you summed over the batch" and by[THIRD]["students_with_that_hint"] == 2
    points = A.check(FIRST).points
    assert float(by[FIRST]["mean_points"]) == pytest.approx(points * 3 / 4, abs=1e-3)
    header = item_analysis.csv_text(A, CLASS).splitlines()[0].split(",")
    assert header[:7] == ["check", "visibility", "max_points", "graded", "passed", "pass_rate", "mean_points"]


def test_junit_has_one_testcase_per_check_with_message_and_hint():
    report = _report("x", ["passed", "failed", "error", "skipped"])
    root = ET.fromstring(junit_xml(report))
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == [c.name for c in report.checks]
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("1", "1", "1")
    failure = cases[report.checks[1].name].find("failure")
    assert failure.get("message") == "grads['W1'] differs, 5x" and "likely cause: you summed" in failure.text
    assert cases[report.checks[2].name].find("error") is not None
    assert cases[report.checks[0].name].find("failure") is None


@pytest.mark.parametrize("text, escaped", [
    ("a\nb", "a%0Ab"), ("100% sure", "100%25 sure"), ("::error::x", "::error::x"),
])
def test_annotations_are_escaped_and_on_the_students_line(text, escaped):
    report = Report.build(student="x", assignment=A.name, device="cpu",
                          checks=[CheckResult("c,1", "public", "error", 0.0, 2.0, text, line=12)])
    (line,) = annotations(report, "dir/toy_mlp.py")
    assert line.startswith("::error file=dir/toy_mlp.py,line=12,title=c%2C1 (2 points)%3A error::")
    assert line.endswith("::" + escaped) and "\n" not in line


def test_unrunnable_submission_is_one_annotation():
    report = _report("x", ["error"] * 3, problem="toy_mlp.py has a syntax error at line 3")
    assert annotations(report, "toy_mlp.py") == [
        "::error file=toy_mlp.py,title=not graded::toy_mlp.py has a syntax error at line 3"]


def test_a_wrong_result_is_annotated_at_the_function_it_tests():
    report = Report.build(student="x", assignment=A.name, device="cpu",
                          checks=[CheckResult("grads", "public", "failed", 0.0, 2.0, "differs"),
                                  CheckResult("raises", "public", "error", 0.0, 2.0, "boom", line=30)])
    first, second = annotations(report, "toy_mlp.py", {"grads": 7, "raises": 9})
    assert first.startswith("::error file=toy_mlp.py,line=7,") and second.startswith("::error file=toy_mlp.py,line=30,")
