"""JUnit XML for CI: one ``<testcase>`` per check, so a pipeline's test view lists them.

Written with :mod:`xml.etree.ElementTree` (standard library): the format is a few
flat elements, and ElementTree escapes every text and attribute, which is what
matters with student-controlled messages. A failed check is a ``<failure>``, code
that raised or ran out of time an ``<error>``, a check that cannot run here a
``<skipped>``; the message attribute is the first line, the body holds the whole
message and the likely cause.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.report.model import Report

__all__ = ["junit_xml"]


def _body(message: str, hint: str | None) -> str:
    return message + (f"\nlikely cause: {hint}" if hint else "")


def junit_xml(report: Report) -> str:
    counted = [c for c in report.checks if c.status != "skipped"]
    suite = ET.Element("testsuite", {
        "name": report.assignment, "tests": str(len(report.checks)),
        "failures": str(sum(c.status == "failed" for c in report.checks)),
        "errors": str(sum(c.status in ("error", "timeout") for c in report.checks)),
        "skipped": str(sum(c.status == "skipped" for c in report.checks)),
        "time": f"{sum(c.duration_s for c in report.checks):.3f}",
    })
    props = ET.SubElement(suite, "properties")
    for name, value in (("student", report.student), ("score", f"{report.score:g}"),
                        ("max_score", f"{sum(c.max_score for c in counted):g}")):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for c in report.checks:
        case = ET.SubElement(suite, "testcase", {"classname": report.assignment, "name": c.name,
                                                 "time": f"{c.duration_s:.3f}"})
        first = (c.message.splitlines() or [""])[0]
        if c.status == "failed":
            ET.SubElement(case, "failure", {"message": first, "type": "wrong result"}).text = _body(c.message, c.hint)
        elif c.status in ("error", "timeout"):
            ET.SubElement(case, "error", {"message": first, "type": c.status}).text = _body(c.message, c.hint)
        elif c.status == "skipped":
            ET.SubElement(case, "skipped", {"message": first})
        ET.SubElement(case, "system-out").text = f"{c.score:g} / {c.max_score:g} points"
    root = ET.Element("testsuites", {"name": f"backprop-grader {report.assignment}"})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
