"""Writers: render a :class:`Report` (never score it).

``write_report(report, folder)`` writes the per-student files of the grading
contract: ``report.json``, ``report.md``, ``report.html`` (self-contained) and
Gradescope's ``results.json``. :mod:`grader.report.gradebook` does the class files.

``report.json`` is the instructor's record (everything); the other three are
rendered from :meth:`Report.student_view`, which shows hidden checks only by status,
points and a fixed text.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, PackageLoader

from grader.report.model import Report
from grader.report.text import md_block, md_inline, md_link

__all__ = ["Report", "write_report", "render_markdown", "render_html", "gradescope_results", "Figure"]

ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏱", "skipped": "⏭"}
# Plain symbols for HTML: a browser without an emoji font draws emoji as boxes.
HTML_ICONS = {"passed": "✓", "failed": "✗", "error": "!", "timeout": "⧗", "skipped": "–"}


@dataclass(frozen=True)
class Figure:
    """A picture for the HTML report, already rendered to PNG and base64-encoded."""

    png_b64: str
    caption: str
    alt: str = ""


@lru_cache(maxsize=2)  # one per kind: templates compile once per process, not once per report
def _env(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("grader.report", "templates"),
        # Explicitly on for HTML: student text (messages, printed output) must never be markup.
        # (select_autoescape would look at the ".j2" extension and turn it off.)
        autoescape=autoescape,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.filters.update(md=md_inline, cell=lambda t: md_inline(t, cell=True), block=md_block,
                       code=lambda name: md_inline(f"`{name}`"), link=md_link)
    return env


def render_markdown(report: Report) -> str:
    return _env(False).get_template("report.md.j2").render(r=report, icon=ICONS)


def render_html(report: Report, figures: list[Figure] | None = None) -> str:
    import base64

    return _env(True).get_template("report.html.j2").render(
        r=report, icon=HTML_ICONS, figures=figures or [], b64=lambda b: base64.b64encode(b).decode("ascii"))


def gradescope_results(report: Report) -> dict:
    """Gradescope's autograder ``results.json``. Hidden checks show after grades are published."""
    tests = []
    # A skipped check (no GPU here) neither counts nor shows: Gradescope would call it failed.
    for i, c in enumerate((c for c in report.checks if c.status != "skipped"), 1):
        text = c.message + (f"\nLikely cause: {c.hint}" if c.hint else "")
        tests.append({
            "name": c.name,
            "number": str(i),
            "score": c.score,
            "max_score": c.max_score,
            "status": "passed" if c.status == "passed" else "failed",
            "output": text if c.status != "passed" else (c.description or "passed"),
            "visibility": "visible" if c.visibility == "public" else "after_published",
            "tags": [c.status],
            "execution_time": c.duration_s,
        })
    out = {
        "score": report.score,
        "execution_time": report.duration_s,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if report.problem:
        out["output"] = f"Your submission could not be graded: {report.problem}"
    return out


def write_report(report: Report, folder: Path, figures: list[Figure] | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    student = report.student_view()
    paths = {
        "report.json": json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n",
        "report.md": render_markdown(student),
        "report.html": render_html(student, figures),
        "results.json": json.dumps(gradescope_results(student), indent=2, ensure_ascii=False) + "\n",
    }
    written = []
    for name, text in paths.items():
        target = folder / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)  # a reader never sees half a report
        written.append(target)
    return written
