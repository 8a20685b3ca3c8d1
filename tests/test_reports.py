"""Reports as a student sees them: self-contained HTML with pictures that render,
Markdown and JSON that say the same, nothing hidden leaking."""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from conftest import ROOT
from gfm import read
from grader.report import ICONS, render_html, render_markdown

A = "two_layer_net"
CAROL = (ROOT / "assignments" / A / "demo_class" / "carol.py").read_text()  # gradients N times too large


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.hrefs = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "src" in a:
            self.srcs.append(a["src"])
        if tag in ("link", "a") and "href" in a:
            self.hrefs.append(a["href"])


@pytest.fixture(scope="module")
def carol_report(sandboxes, tmp_path_factory):
    from grader import api

    path = tmp_path_factory.mktemp("carol") / "carol.py"
    path.write_text(CAROL)
    out = tmp_path_factory.mktemp("carol_out")
    report = api.grade(path, A, out, root=ROOT, sandbox=sandboxes(A))
    return report, out


def test_html_is_self_contained_with_decodable_pictures(carol_report):
    import matplotlib.image as mpimg

    _, out = carol_report
    page = (out / "report.html").read_text()
    links = _Links()
    links.feed(page)
    assert links.srcs and all(s.startswith("data:image/png;base64,") for s in links.srcs)
    assert not [h for h in links.hrefs if not h.startswith("#")]
    for src in links.srcs:
        img = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert img.shape[0] > 50 and img.shape[1] > 50


def test_failures_show_heat_maps_and_loss_curves(carol_report):
    report, _ = carol_report
    by = {c.name: c for c in report.checks}
    assert by["grads_vs_reference"].figures, "a failed gradient check carries its heat maps"
    assert "summed over the batch" in by["grads_vs_reference"].hint
    assert by["toy_training_loss"].status == "failed" and by["toy_training_loss"].figures, \
        "a failed training check shows the loss curves"
    assert not by["loss_and_grads_random"].figures, "hidden checks show no pictures"


def test_markdown_and_json_agree(carol_report):
    report, out = carol_report
    page = read((out / "report.md").read_text())
    assert f"Score: {report.score:g} / {report.max_score:g}" in page.text
    assert "Likely cause: grads['b1'] is 5x the reference everywhere and N = 5" in page.text
    assert page.tables[0][1:] == [[ICONS[c.status], c.name + (" (hidden)" if c.visibility == "hidden" else ""),
                                   f"{c.score:g} / {c.max_score:g}", c.status] for c in report.checks]


@pytest.mark.parametrize("fields", [
    {},
    {"notes": ("graded hw|1.py as two_layer_net.py", "2 files from the export combined")},
    {"problem": "importing two_layer_net.py failed: SyntaxError | at line 3", "notes": ("a | note",)},
    {"student": "o'brien | `x|y` <b>"},
], ids=["as graded", "notes", "problem and note", "student text"])
def test_every_table_in_report_md_renders_on_github(carol_report, fields):
    """GitHub needs a blank line between a list (the notes) and a table, and a pipe
    in a cell ends the cell, even in a code span."""
    report, _ = carol_report
    checks = tuple(replace(c, hint="a | b `c|d`") if c.status != "passed" else c for c in report.checks)
    shown = replace(report, checks=checks, **fields)
    md = render_markdown(shown)
    page = read(md)
    table_lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len(page.tables) == 1 and len(page.tables[0]) == len(table_lines) - 1  # the |---| line is no row
    assert all(len(row) == 4 for row in page.tables[0])
    assert [row[1] for row in page.tables[0][1:]] == [
        c.name + (" (hidden)" if c.visibility == "hidden" else "") for c in report.checks]
    if shown.notes:
        assert all(f"Note: {n}" in page.text for n in shown.notes)
    assert "a | b c|d" in page.text.replace("`", "")


def test_grading_a_folder_as_dot_names_the_student(tmp_path, sandboxes, monkeypatch):
    from grader import api

    folder = tmp_path / "dana"
    folder.mkdir()
    (folder / "two_layer_net.py").write_text(CAROL)
    monkeypatch.chdir(folder)
    from grader.submission import load_submission

    report = api.grade(".", A, tmp_path / "out", root=ROOT, sandbox=sandboxes(A))
    assert report.student == "dana" and load_submission(".", A, student="d.smith").student == "d.smith"
    assert read((tmp_path / "out" / "report.md").read_text()).headings[0][1] == f"{A}: dana"


@pytest.mark.skipif(not shutil.which("chromium"), reason="headless Chromium is not installed")
def test_page_renders_its_images_in_a_browser(carol_report, tmp_path):
    """Load report.html in headless Chromium and read back, from the rendered DOM, that
    every image decoded (naturalWidth > 0)."""
    report, out = carol_report
    page = (out / "report.html").read_text()
    pictures = sum(len(c.figures) for c in report.checks)
    probe = ("<script>window.addEventListener('load',()=>{const ok=[...document.images]"
             ".map(i=>i.complete&&i.naturalWidth>0);document.body.setAttribute('data-images',"
             "ok.length+':'+ok.filter(Boolean).length)})</script></body>")
    (tmp_path / "r.html").write_text(page.replace("</body>", probe))
    run = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000",
                          "--dump-dom", (tmp_path / "r.html").as_uri()], capture_output=True, text=True, timeout=90)
    m = re.search(r'data-images="(\d+):(\d+)"', run.stdout)
    assert m, run.stderr[-500:]
    total, loaded = int(m.group(1)), int(m.group(2))
    assert pictures >= 2 and total == pictures and loaded == total


def test_student_output_is_escaped_in_html():
    from grader.checks import CheckResult
    from grader.report.model import Report

    r = Report.build(student="<b>x</b>", assignment=A, device="cpu", output="<script>alert(1)</script>",
                     checks=[CheckResult("c", "public", "failed", 0, 1, "<img src=x onerror=alert(1)>")])
    html = render_html(r)
    assert "<script>alert(1)" not in html and "<img src=x" not in html
