"""The feedback notebook: the student's own notebook with the grade written into it.

    write_notebook_feedback(report, submission, assignment, folder)
    # -> folder/feedback.ipynb and folder/feedback.html (nbconvert's HTMLExporter)

A summary cell goes first (score, a problem that stopped grading, the notes, the
checks on functions the notebook does not define); after the cell that defines
each graded function (its last definition, the one that was graded) comes a short
markdown cell with that function's checks: status, points, the message and the
hint. A check belongs to the first function in its ``uses`` that the notebook
defines. Everything shown comes from the :class:`Report`, so a hidden check shows
only its redacted message, as in report.json; no inputs or expected values.

Student text (error messages) is HTML-escaped, and the HTML render sanitizes the
student's own markdown and outputs, so returning the file cannot run their script
in the instructor's browser. Only submissions graded from a notebook get one.
"""
from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Mapping, Sequence

from grader.report.model import Report, format_points

__all__ = ["render_feedback_notebook", "write_notebook_feedback", "FEEDBACK_TAG"]

log = logging.getLogger(__name__)

FEEDBACK_TAG = "backprop-grader-feedback"
ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏱", "skipped": "⏭"}
MAX_MESSAGE_CHARS = 800


def _md(text: str) -> str:
    """Student and grader text made safe for a markdown cell: outside `code spans`,
    HTML and markdown's own characters escaped (code spans show text as it is);
    line breaks kept."""
    text = text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + " [...] (see report.html)"

    def plain(t: str) -> str:
        t = html.escape(t, quote=False)
        for ch in "\\*_[]#|":
            t = t.replace(ch, "\\" + ch)
        return t

    parts = text.split("`")
    if len(parts) % 2 == 0:            # an unmatched backtick: no code spans at all
        return "\\`".join(plain(p) for p in parts).replace("\n", "  \n")
    parts = [plain(p) if i % 2 == 0 else p for i, p in enumerate(parts)]
    return "`".join(parts).replace("\n", "  \n")


def _points(score: float, max_score: float) -> str:
    return f"{format_points(score)} / {format_points(max_score)}"


def _check_lines(report: Report, names: Sequence[str]) -> list[str]:
    by_name = {c.name: c for c in report.checks}
    lines = []
    for name in names:
        c = by_name[name]
        hidden = ", hidden check" if c.visibility == "hidden" else ""
        lines.append(f"- {ICONS.get(c.status, '')} **{c.status}** `{c.name}` ({_points(c.score, c.max_score)}"
                     f"{hidden}): {_md(c.message)}")
        if c.hint and c.status != "passed":
            lines[-1] += "  "  # a line break, not a new paragraph
            lines.append(f"  *Likely cause:* {_md(c.hint)}")
    return lines


def render_feedback_notebook(report: Report, notebook: bytes, defined_in: Mapping[str, int],
                             uses: Mapping[str, Sequence[str]], source_name: str = "") -> "object":
    """The student's notebook (bytes of a v4 .ipynb) with feedback cells: an nbformat
    NotebookNode. ``defined_in``: function -> cell number (1-based, all cells counted);
    ``uses``: check name -> the student functions it calls, main one first."""
    import nbformat
    from nbformat.v4 import new_markdown_cell

    nb = nbformat.reader.reads(notebook.decode("utf-8-sig"))
    nb = nbformat.v4.upgrade(nb)  # 4.x -> 4.5: cells get the ids the inserted cells carry
    cells = list(nb.cells)

    owner: dict[str, str | None] = {}
    for c in report.checks:
        owner[c.name] = next((f for f in uses.get(c.name, ()) if f in defined_in), None)
    by_function: dict[str, list[str]] = {}
    for check, function in owner.items():
        if function is not None:
            by_function.setdefault(function, []).append(check)
    orphans = [check for check, function in owner.items() if function is None]

    def cell(text: str):
        return new_markdown_cell(text, metadata={"tags": [FEEDBACK_TAG], "editable": False, "deletable": False})

    after: dict[int, list] = {}
    for function, checks in sorted(by_function.items(), key=lambda kv: defined_in[kv[0]]) if not report.problem else ():
        results = [c for c in report.checks if c.name in checks]
        counted = [c for c in results if c.status != "skipped"]
        head = (f"### Feedback on `{function}` (cell {defined_in[function]}): "
                f"{_points(sum(c.score for c in counted), sum(c.max_score for c in counted))} points")
        after.setdefault(defined_in[function], []).append(cell("\n".join([head, ""] + _check_lines(report, checks))))

    summary = [f"## Feedback: {report.assignment}, {_points(report.score, report.max_score)} points",
               "",
               f"{report.count('passed')} of {len(report.checks)} checks passed"
               + (f" (graded {report.graded_at[:10]})" if report.graded_at else "")
               + ". Each graded function has a feedback cell right after the cell that defines it; cell numbers "
               "count the cells of the notebook you submitted, from the top, feedback cells left out."]
    if report.problem:
        summary += ["", f"**Your notebook could not be graded:** {_md(report.problem)}"]
    if report.notes:
        summary += ["", "Notes:"] + [f"- {_md(n)}" for n in report.notes]
    if orphans and not report.problem:
        summary += ["", "Checks on functions this notebook does not define:"]
        summary += _check_lines(report, orphans)

    out = [cell("\n".join(summary))]
    for number, original in enumerate(cells, 1):
        out.append(original)
        out.extend(after.get(number, []))
    nb.cells = out
    nb.metadata.setdefault("backprop_grader", {}).update(
        {"student": report.student, "assignment": report.assignment, "score": report.score,
         "max_score": report.max_score, "submission": source_name or report.submission})
    return nb


_SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul"})


def _clean_html(element) -> str:
    """nbconvert's ``clean_html`` with the tags markdown produces allowed (its own list
    escapes headings and paragraphs); scripts, styles, forms, frames and event
    attributes still go."""
    import bleach

    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(text, tags=_SAFE_TAGS, protocols={"http", "https", "mailto", "data"},
                        attributes={"*": ["class", "id", "title", "align"], "a": ["href"],
                                    "img": ["src", "alt", "width", "height"]})


def write_notebook_feedback(report: Report, submission, assignment, folder: Path) -> list[Path]:
    """feedback.ipynb and feedback.html in ``folder`` when ``submission`` was a notebook
    nbformat could read; nothing otherwise (report.html says why)."""
    nbm = getattr(submission, "notebook", None)
    if nbm is None or nbm.name not in submission.files:
        return []
    import nbformat
    from nbconvert import HTMLExporter

    uses = {c.name: c.uses for c in assignment.checks}
    report = report.student_view()  # the notebook goes back to the student
    try:
        nb = render_feedback_notebook(report, submission.files[nbm.name], dict(nbm.defined_in), uses, nbm.name)
    except Exception as exc:  # not JSON, not a notebook...: report.html says why
        log.info("no feedback notebook for %s: %s", report.student, exc)
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    text = nbformat.writes(nb)
    body, _ = HTMLExporter(sanitize_html=True, filters={"clean_html": _clean_html}).from_notebook_node(nb)
    for name, data in (("feedback.ipynb", text), ("feedback.html", body)):
        target = folder / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(data, encoding="utf-8")
        tmp.replace(target)
        written.append(target)
    return written
