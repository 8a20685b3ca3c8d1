"""The class summary an instructor works from: every student with score, status and
a link to their report; per check the pass rate and the most common causes across
the class; skipped checks shown as skipped; the HTML sortable and self-contained."""
from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from gfm import read
from grader.checks import CheckResult
from grader.report.gradebook import Gradebook
from grader.report.model import Report

CHECKS = ["loss", "grads", "grads_hidden", "train", "cuda_device"]
GPU = "needs a CUDA GPU; none is present on the grading machine"


def summed(n: int) -> str:
    return f"grads['b1'] is {n}x the reference everywhere and N = {n}: the loss was summed over the batch, not averaged"


def student(name: str, *, grads: str | None = None, train: str = "passed", problem: str | None = None) -> Report:
    """A report: ``grads`` is the hint of a failed gradient check (None: it passed)."""
    def c(check, status, points, hint=None, message="ok"):
        return CheckResult(check, "hidden" if check.endswith("hidden") else "public", status,
                           points if status == "passed" else 0, points, message, hint)

    if problem:
        checks = [c(n, "error", 10, message=problem) for n in CHECKS[:-1]]
    else:
        checks = [c("loss", "passed", 10),
                  c("grads", "failed" if grads else "passed", 10, grads),
                  c("grads_hidden", "failed" if grads else "passed", 10, grads and re.sub(r"\d\d+", "…", grads)),
                  c("train", train, 10, "lr too large: the loss diverged" if train == "failed" else None)]
    checks.append(c("cuda_device", "skipped", 5, message=GPU))
    return Report.build(student=name, assignment="two_layer_net", device="cpu", checks=checks, problem=problem)


CLASS = [
    student("alice"),
    student("bob", grads=summed(5)),
    student("carol", grads=summed(8), train="failed"),
    student("dave", grads=summed(50)),
    student("erin", train="failed"),
    student("frank", problem="importing two_layer_net.py failed: SyntaxError at line 3"),
    student("o'brien & co"),
    student("a[b]c](d) [e"),
]


@pytest.fixture(scope="module")
def book():
    return Gradebook.of("two_layer_net", CLASS, CHECKS)


@pytest.fixture(scope="module")
def summary(book):
    return read(book.summary_markdown())


def table(page, first_header: str) -> list[list[str]]:
    return next(t for t in page.tables if t[0][0] == first_header)


def test_every_student_has_score_status_and_a_link_to_their_report(summary):
    rows = table(summary, "student")
    assert rows[0] == ["student", "score", "%", "passed", "status"]
    by = {r[0]: r for r in rows[1:]}
    assert set(by) == {r.student for r in CLASS}
    assert by["alice"][1:4] == ["40 / 40", "100%", "4"] and by["alice"][4] == "graded"
    assert by["a[b]c](d) [e"][1] == "40 / 40"  # brackets in an id keep it one link
    assert by["bob"][1:3] == ["20 / 40", "50%"]
    assert by["frank"][4].startswith("error: importing two_layer_net.py failed")
    assert dict(summary.links) == {r.student: Gradebook.report_link(r.student) for r in CLASS}
    assert Gradebook.report_link("o'brien & co") == "o%27brien%20%26%20co/report.html"


def test_per_check_pass_rate_and_the_most_common_causes(summary):
    rows = {r[0]: r for r in table(summary, "check")[1:]}
    assert rows["loss"][1:4] == ["88%", "7/8", "1"]  # frank could not be run: an error, not skipped
    assert rows["grads"][1:3] == ["50%", "4/8"]
    # Three students, three different numbers, one misconception.
    assert rows["grads"][4] == ("3 students: grads['b1'] is …x the reference everywhere and N = …: "
                                "the loss was summed over the batch, not averaged")
    assert rows["train"][4] == "2 students: lr too large: the loss diverged"
    assert rows["loss"][4] == "–"


def test_a_check_skipped_for_everyone_shows_as_skipped(summary, book):
    row = {r[0]: r for r in table(summary, "check")[1:]}["cuda_device"]
    assert row[1:4] == ["skipped", "–", "–"] and row[4] == f"skipped for all 8: {GPU}"
    assert "0/0" not in book.summary_markdown() and "0/0" not in book.summary_html()


def test_the_class_wide_causes_count_students_once_across_checks(book, summary):
    causes = book.common_causes()
    assert [(len(c.students), c.checks) for c in causes] == [(3, ("grads", "grads_hidden")), (2, ("train",))]
    assert causes[0].students == ("bob", "carol", "dave")
    assert "3 students: grads['b1'] is …x the reference everywhere" in summary.text


def test_a_cause_everyone_got_in_the_same_words_keeps_its_numbers():
    same = [student(n, grads=summed(5)) for n in ("a", "b")]
    assert Gradebook.of("x", same, CHECKS).common_causes()[0].text == summed(5)


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs, self.hrefs, self.scripts, self.sortable = [], [], 0, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.srcs += [a["src"]] if "src" in a else []
        self.hrefs += [a["href"]] if "href" in a else []
        self.scripts += tag == "script"
        self.sortable += tag == "table" and "sortable" in (a.get("class") or "")


def test_html_is_self_contained_with_links_to_each_report(book):
    page = _Page()
    page.feed(book.summary_html("iVBORw0KGgo="))
    assert page.srcs == ["data:image/png;base64,iVBORw0KGgo="]  # no script or style from elsewhere
    assert set(page.hrefs) == {Gradebook.report_link(r.student) for r in CLASS}
    assert page.scripts == 1 and page.sortable == 2


@pytest.mark.skipif(not shutil.which("chromium"), reason="headless Chromium is not installed")
def test_clicking_a_heading_sorts_the_students(book, tmp_path):
    """In headless Chromium: click "%" once (ascending), then again (descending)."""
    probe = ("<script>const th=document.querySelectorAll('#students th')[2];const order=()=>[...document"
             ".querySelectorAll('#students tbody tr')].map(r=>r.cells[0].textContent).join(',');th.click();"
             "const up=order();th.click();document.body.setAttribute('data-order',up+'|'+order())</script></body>")
    (tmp_path / "s.html").write_text(book.summary_html().replace("</body>", probe))
    run = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", (tmp_path / "s.html").as_uri()],
                         capture_output=True, text=True, timeout=90)
    m = re.search(r'data-order="([^"|]*)\|([^"]*)"', run.stdout)
    assert m, run.stderr[-500:]
    up, down = m.group(1).split(","), m.group(2).split(",")
    percent = {r.student: r.percent for r in CLASS}
    assert [percent[s.replace("&amp;", "&")] for s in up] == sorted(percent.values())
    assert [percent[s.replace("&amp;", "&")] for s in down] == sorted(percent.values(), reverse=True)
