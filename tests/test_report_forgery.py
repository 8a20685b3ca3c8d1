"""Student text cannot forge a report: whatever a submission puts in an exception
message, a hint's evidence, a file name, what it prints or its student id, GitHub
shows the same score table and headings, a terminal gets no control sequences, and
a spreadsheet no formulas."""
from __future__ import annotations

import csv
import io
import re

import pytest

from conftest import ROOT
from gfm import read
from grader.checks import CheckResult
from grader.report import render_html, render_markdown
from grader.report.gradebook import Gradebook
from grader.report.model import Report

FAKE_TABLE = "| | check | points | result |\n|---|---|---:|---|\n| ✅ | `everything` | 98 / 98 | passed |"
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What report.md may contain once rendered: nothing else can come from student text.
TAGS = {"h1", "h2", "p", "strong", "em", "code", "pre", "ul", "li", "blockquote", "hr",
        "table", "thead", "tbody", "tr", "th", "td"}

FORGERIES = {
    "a message that closes its fence": {"message": f"boom\n```\n\n{FAKE_TABLE}\n\n```"},
    "a message with long fences and tildes": {"message": f"boom\n``````````\n~~~\n{FAKE_TABLE}\n~~~"},
    "a message of raw HTML": {"message": "</pre><table><tr><td>✅</td><td>98 / 98</td></tr></table><script>x</script>"},
    "a hint with pipes and a table": {"hint": f"grads['W1'] | is | off `a|b`\n\n{FAKE_TABLE}"},
    "a note that starts a table": {"note": f"graded hw|1.py as two_layer_net.py\n{FAKE_TABLE}"},
    "a problem with a heading and a table": {"problem": f"import failed\n# Score: 98 / 98\n\n{FAKE_TABLE}"},
    "output that closes its fence": {"output": f"```\n\n# Score: 98 / 98\n\n{FAKE_TABLE}\n```"},
    "a student id with markup": {"student": f"alice | 98 / 98 | <b>x</b>\n# Score: 98 / 98\n{FAKE_TABLE}"},
    "terminal control sequences": {"message": "\x1b[2J\x1b]0;title\x07\rpassed\x9b31m\x00", "note": "\x1b[1A\x08ok"},
}


def _report(student="alice", message="grads['W1'] is off", hint=None, note=None, problem=None, output=""):
    status = "error" if problem else "failed"
    checks = [CheckResult("grads_vs_reference", "public", status, 0, 10, problem or message, hint),
              CheckResult("forward_pass", "public", "error" if problem else "passed", 0 if problem else 5, 5, "ok")]
    return Report.build(student=student, assignment="two_layer_net", device="cpu", checks=checks, problem=problem,
                        notes=[note] if note else [], output=output)


@pytest.mark.parametrize("case", FORGERIES)
def test_student_text_cannot_change_what_github_shows(case):
    fields = FORGERIES[case]
    report = _report(**fields)
    md = render_markdown(report)
    page = read(md)
    rows = [["", "check", "points", "result"]] + [[icon, c.name, f"{c.score:g} / {c.max_score:g}", c.status]
                                                  for icon, c in zip(("❌" if not report.problem else "💥",
                                                                      "✅" if not report.problem else "💥"),
                                                                     report.checks)]
    assert page.tables == [rows]
    assert [t for t, _ in page.headings] == ["h1"] + ["h2"] * (sum(c.status != "passed" for c in report.checks)
                                                              + bool(report.output))
    assert not any("98 / 98" in text for _, text in page.headings[1:])  # the h1 holds the student id, as text
    assert set(page.tags) <= TAGS, set(page.tags) - TAGS
    assert not CONTROLS.search(md)
    # ... and the text is still there for the student to read.
    if "message" in fields:
        assert page.pre[0].rstrip("\n") == CONTROLS.sub("", fields["message"].replace("\r\n", "\n"))
    if "student" in fields:
        assert "alice | 98 / 98 | <b>x</b>" in page.headings[0][1]


@pytest.mark.parametrize("case", FORGERIES)
def test_student_text_is_text_in_html(case):
    report = _report(**FORGERIES[case])
    page = render_html(report)
    assert page.count("<table") == 1 and "<script>" not in page and "<b>x" not in page
    assert not CONTROLS.search(page)


@pytest.mark.parametrize("student, cell", [
    ("alice", "alice"),
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\r=1+1", "'=1+1"),
    ("\t=1+1", "'=1+1"),
    ("bob\n=1+1\x1b[2J", "bob =1+1[2J"),
])
def test_gradebook_cells_are_never_formulas(student, cell):
    book = Gradebook.of("two_layer_net", [_report(student=student)], ["grads_vs_reference", "forward_pass"])
    rows = list(csv.reader(io.StringIO(book.csv_text())))
    assert len(rows) == 2 and rows[1][0] == cell and rows[1][1:4] == ["5", "15", "graded"]


# -- end to end: an import error full of control sequences, students named like formulas --------
IMPORT_ERROR = 'raise ImportError("\\x1b[2J\\x1b]0;pwned\\x07\\rall checks passed | ✅ |\\n' + FAKE_TABLE.replace(
    "\n", "\\n") + '")\n'


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    import contextlib

    from grader import cli

    klass = tmp_path_factory.mktemp("class")
    for name in ("@evil", "-rm", "plain"):
        (klass / f"{name}.py").write_text(IMPORT_ERROR)
    out = tmp_path_factory.mktemp("out")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["--root", str(ROOT), "batch", str(klass), "-a", "toy_mlp", "-o", str(out), "--workers", "2"])
    return code, out, printed.getvalue()


def test_control_characters_from_an_import_error_reach_no_file_and_no_terminal(hostile_batch):
    code, out, printed = hostile_batch
    assert code == 0
    texts = {"stdout": printed} | {str(p.relative_to(out)): p.read_text() for p in out.rglob("*")
                                   if p.suffix in (".md", ".html", ".csv", ".json")}
    assert len(texts) > 3 * 4
    assert not {k for k, t in texts.items() if CONTROLS.search(t.replace("\n", "").replace("\t", ""))}
    summary = (out / "summary.md").read_text()
    assert "all checks passed" in summary and "pwned" in summary  # shown, as text
    page = read(summary)
    assert all("98 / 98" not in cell for table in page.tables for row in table for cell in row)
    assert "@evil" in printed and "importing toy_mlp.py failed" in printed


def test_students_named_like_formulas_stay_text_in_the_gradebook(hostile_batch):
    _, out, _ = hostile_batch
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert sorted(r["student"] for r in rows) == ["'-rm", "'@evil", "plain"]


def _random_texts(n: int, seed: int = 0):
    """Strings made of Markdown's punctuation, letters and spaces (seeded: the same every run)."""
    import random

    rng = random.Random(seed)
    alphabet = [*"\\`*_[]()<>!#|~&;:/.-+= \n\tab1@", "](", "![", "&amp;", "&#124;", "<b>", "**", "__",
                "http://x.y", "https://", "www.a.b", "WWW.", "mailto:a@b.c", "xmpp:a@b.c/d"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(n)]


@pytest.mark.parametrize("cell", [False, True], ids=["paragraph", "table cell"])
def test_escaped_text_renders_as_the_same_text(cell):
    """Whatever the text, md_inline makes Markdown that GitHub shows as exactly that text
    on one line, with no markup but code spans (a pair of single backticks, kept)."""
    from grader.report.text import md_inline, one_line

    for text in _random_texts(400):
        md = md_inline(text, cell=cell)
        page = read(f"| a |\n|---|\n| {md} |\n" if cell else f"x {md}\n")
        assert set(page.tags) <= {"p", "code", "table", "thead", "tbody", "tr", "th", "td", "a"}, (text, md)
        if "`" not in text:
            shown = page.tables[0][1][0] if cell else page.text.strip()[2:]
            assert shown == one_line(text), (text, md)


@pytest.mark.parametrize("case", [c for c in FORGERIES if "message" in FORGERIES[c] or "hint" in FORGERIES[c]
                                  or "note" in FORGERIES[c] or "problem" in FORGERIES[c]])
def test_feedback_notebook_cells_cannot_be_forged(case):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from grader.report.feedback import FEEDBACK_TAG, render_feedback_notebook

    report = _report(**FORGERIES[case])
    nb = nbformat.writes(new_notebook(cells=[new_code_cell("def nn_forward_backward(): ...")])).encode()
    uses = {c.name: ["nn_forward_backward"] for c in report.checks}
    fb = render_feedback_notebook(report, nb, {"nn_forward_backward": 1}, uses)
    for cell in fb.cells:
        if FEEDBACK_TAG in cell.metadata.get("tags", []):
            page = read(cell.source)
            assert not page.tables and not {"h1", "hr", "blockquote", "pre", "ol"} & set(page.tags), cell.source
            assert all(tag in ("h2", "h3") for tag, _ in page.headings) and len(page.headings) == 1
            assert set(page.tags) <= TAGS | {"h3", "br"}, set(page.tags) - TAGS
