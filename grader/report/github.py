"""What a GitHub Actions run shows a student: annotations and the job summary.

* ``::error file=...,line=...,title=...::message`` workflow commands put a check's
  failure on the student's own line in the pushed file: where their code raised
  (from the error's frames), else the ``def`` of the function the check tests. Properties and message are
  escaped as the runner expects, so a student's text cannot end the command early
  or start another.
* The job summary (appended to ``$GITHUB_STEP_SUMMARY``) is the Markdown report,
  the one ``report.md`` holds.
"""
from __future__ import annotations

from grader.report import render_markdown
from grader.report.model import Report

__all__ = ["annotations", "job_summary", "escape_data", "escape_property"]


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(report: Report, file: str, lines: dict[str, int] | None = None) -> list[str]:
    """One ``::error``/``::warning`` line per check that did not pass. ``file``: the
    student module's path relative to the repository root; ``lines``: where to put a
    check that has no error line of its own (the function it tests), by check name."""
    if report.problem:  # every check failed for this one reason: say it once
        return [f"::error file={escape_property(file)},title=not graded::{escape_data(report.problem)}"]
    out = []
    for c in report.checks:
        if c.status in ("passed", "skipped"):
            continue
        level = "warning" if c.status == "timeout" else "error"
        props = [f"file={escape_property(file)}"]
        line = c.line or (lines or {}).get(c.name)
        if line:
            props.append(f"line={int(line)}")
        props.append(f"title={escape_property(f'{c.name} ({c.max_score:g} points): {c.status}')}")
        text = c.message + (f"\nlikely cause: {c.hint}" if c.hint else "")
        out.append(f"::{level} {','.join(props)}::{escape_data(text)}")
    return out


def job_summary(report: Report) -> str:
    return render_markdown(report)
