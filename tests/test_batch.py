"""Batch grading: the class view, resuming after a crash, LMS exports, unsafe archives."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, solution_source, stub_source
from grader import api

A = "two_layer_net"
DEMO = ROOT / "assignments" / A / "demo_class"


def _class(folder: Path, students: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, src in students.items():
        (folder / f"{name}.py").write_text(src)
    return folder


def test_batch_gives_each_student_what_grade_gives_alone(tmp_path, grade_source):
    klass = tmp_path / "class"
    klass.mkdir()
    for f in ("alice.py", "carol.py", "frank.py", "heidi.py"):
        (klass / f).write_bytes((DEMO / f).read_bytes())
    result = api.batch(klass, A, tmp_path / "out", root=ROOT, workers=2)
    for r in result.reports:
        alone = grade_source(A, (klass / f"{r.student}.py").read_text())
        assert [(c.name, c.status, c.score) for c in r.checks] == [(c.name, c.status, c.score) for c in alone.checks]


def test_gradebook_and_summary(tmp_path):
    klass = _class(tmp_path / "class", {"sol": solution_source(A), "stub": stub_source(A)})
    out = tmp_path / "out"
    api.batch(klass, A, out, root=ROOT)
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [r["student"] for r in rows] == ["sol", "stub"]
    assert list(rows[0])[:4] == ["student", "score", "max_score", "status"]
    assert rows[0]["score"] == rows[0]["max_score"] == "98" and rows[1]["score"] == "0"
    assert rows[0]["forward_pass_toy"] == "5" and rows[0]["cuda_device_preserved"] == ""  # skipped: no GPU
    summary = (out / "summary.md").read_text()
    assert "2 submissions" in summary and "| `forward_pass_toy` | 50% | 1/2 | 1 |" in summary
    html = (out / "summary.html").read_text()
    assert 'src="data:image/png;base64,' in html  # the histogram, inline
    for student in ("sol", "stub"):
        for name in ("report.json", "report.md", "report.html", "results.json"):
            assert (out / student / name).is_file()


def test_rerun_grades_only_what_changed(tmp_path):
    klass = _class(tmp_path / "class", {"a": solution_source(A), "b": stub_source(A)})
    out = tmp_path / "out"
    first = api.batch(klass, A, out, root=ROOT)
    assert sorted(first.graded) == ["a", "b"]
    again = api.batch(klass, A, out, root=ROOT)
    assert again.graded == [] and sorted(again.reused) == ["a", "b"]
    (klass / "b.py").write_text(solution_source(A))  # b resubmits
    changed = api.batch(klass, A, out, root=ROOT)
    assert changed.graded == ["b"] and changed.reused == ["a"]
    assert {r.student: r.score for r in changed.reports} == {"a": 98.0, "b": 98.0}
    forced = api.batch(klass, A, out, root=ROOT, force=True)
    assert sorted(forced.graded) == ["a", "b"]
    only = api.batch(klass, A, out, root=ROOT, only=["b"])
    assert only.graded == ["b"] and only.reused == ["a"]
    assert [r.score for r in api.history(out, "b")] == [0.0, 98.0, 98.0, 98.0]  # every stored run, oldest first
    with pytest.raises(api.UsageError, match="no student zed"):
        api.batch(klass, A, out, root=ROOT, only=["zed"])
    run = subprocess.run([sys.executable, "-m", "grader", "history", "a", "-o", str(out)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.count("98 / 98") == 2, run.stderr


def _wait_until_stored(db: Path, n: int) -> None:
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and done < n:
        time.sleep(0.05)
        if db.exists():
            try:
                done = sqlite3.connect(db).execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
            except sqlite3.Error:
                pass


def test_kill_minus_9_then_resume_loses_nothing(tmp_path):
    students = {f"s{i:02d}": (solution_source(A) if i % 2 else stub_source(A)) for i in range(10)}
    klass = _class(tmp_path / "class", students)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "grader", "batch", str(klass), "-a", A, "-o", str(out), "--workers", "1", "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    db = out / "grades.sqlite"
    _wait_until_stored(db, 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = sqlite3.connect(db).execute("SELECT student FROM submissions").fetchall()
    assert 2 <= len(stored) < 10, "the kill should land mid-batch"
    resumed = api.batch(klass, A, out, root=ROOT)
    assert sorted(resumed.reused) == sorted(s for (s,) in stored)
    assert sorted(resumed.graded + resumed.reused) == sorted(students)
    scores = {r.student: r.score for r in resumed.reports}
    assert scores == {s: (98.0 if int(s[1:]) % 2 else 0.0) for s in students}


def _by_student(result):
    return {r.student: r for r in result.reports}


def test_lms_exports_key_students_by_their_lms_id(tmp_path):
    """Namesakes stay apart, hyphenated names parse, late flags and times reach the gradebook."""
    klass = tmp_path / "export"
    klass.mkdir()
    sol, stub = solution_source(A), stub_source(A)
    files = {
        "smithjohn_201_678901_two_layer_net.py": sol,           # two Canvas users called smithjohn
        "smithjohn_202_678902_two_layer_net.py": stub,
        "garcia-lopezana_LATE_203_678903_two_layer_net-1.py": sol,
        "doejane_late_204_678904_helpers_extra.py": "X = 1\n",  # a second file of one Canvas user ...
        "doejane_late_204_678905_two_layer_net.py": sol,        # ... combined with the first
    }
    for name, src in files.items():
        (klass / name).write_text(src)
    for folder, src in (("John Smith_301_assignsubmission_file_", sol), ("John Smith_302_assignsubmission_file_", stub),
                        ("alice", stub)):
        (klass / folder).mkdir()
        (klass / folder / "two_layer_net.py").write_text(src)
    (klass / "alice.py").write_text(sol)  # the same id as the folder alice/: a collision
    result = api.batch(klass, A, tmp_path / "out", root=ROOT)
    assert {s: r.score for s, r in _by_student(result).items()} == {
        "smithjohn_201": 98.0, "smithjohn_202": 0.0, "garcia-lopezana_203": 98.0, "doejane_204": 98.0,
        "John_Smith_301": 98.0, "John_Smith_302": 0.0, "alice": 0.0, "alice__2": 98.0}
    assert len(result.collisions) == 1 and "never merged" in result.collisions[0]
    assert all(any("never merged" in n for n in _by_student(result)[s].notes) for s in ("alice", "alice__2"))
    assert any("smithjohn" in n and "different students" in n for n in result.namesakes)
    assert any("John Smith" in n for n in result.namesakes)
    assert [r.student for r in api.history(tmp_path / "out", "202")] == ["smithjohn_202"]  # by Canvas user id
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "out" / "gradebook.csv").open())}
    assert (rows["smithjohn_201"]["name"], rows["smithjohn_201"]["lms_id"], rows["smithjohn_201"]["late"]) == \
        ("smithjohn", "201", "on time")
    assert rows["garcia-lopezana_203"]["late"] == rows["doejane_204"]["late"] == "late"
    assert rows["John_Smith_301"]["name"] == "John Smith" and rows["John_Smith_301"]["lms"] == "moodle"
    assert all(rows[s]["submitted_at"] for s in rows)   # no time in Canvas names: the files' mtime


def test_gradescope_export_credits_every_group_member(tmp_path):
    klass = tmp_path / "gs"
    for sub, src in (("submission_111", solution_source(A)), ("submission_222", stub_source(A))):
        (klass / sub).mkdir(parents=True)
        (klass / sub / "two_layer_net.py").write_text(src)
    (klass / "submission_metadata.yml").write_text("""\
submission_111:
  :submitters:
  - :name: Ada Lovelace
    :sid: 'a123'
    :email: ada@x.org
  - :name: Charles Babbage
    :sid: b456
    :email: cb@x.org
  :created_at: 2024-03-01 12:34:56.123456000 -0800
  :score: 0.0
submission_222:
  :submitters:
  - :name: "O'Brien: Pat"
    :email: pat@x.org
  :created_at: 2024-03-02 08:00:00.000000000 -0800
""")
    result = api.batch(klass, A, tmp_path / "out", root=ROOT)
    by = _by_student(result)
    assert {s: r.score for s, r in by.items()} == {"a123": 98.0, "b456": 98.0, "pat@x.org": 0.0}
    assert by["a123"].extra["lms"]["submitted_at"] == "2024-03-01T12:34:56-08:00"
    assert by["b456"].extra["lms"]["group"] == ["a123"] and by["b456"].extra["lms"]["name"] == "Charles Babbage"
    assert sorted(result.graded) == ["a123", "b456", "pat@x.org"]


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_batch_stores_only_finished_students(tmp_path, how):
    """Ctrl-C (or a SIGTERM to the group, as a service manager sends it) reaches the fork
    server too: one line, exit 130, and the next run (no --force) grades exactly the rest."""
    students = {f"s{i:02d}": (solution_source(A) if i % 2 else stub_source(A)) for i in range(6)}
    klass = _class(tmp_path / "class", students)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "grader", "batch", str(klass), "-a", A, "-o", str(out), "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    db = out / "grades.sqlite"
    _wait_until_stored(db, 2)
    os.killpg(proc.pid, signal.SIGINT if how == "ctrl-c" else signal.SIGTERM)  # the whole group, fork server too
    _, err = proc.communicate(timeout=120)
    stored = dict(sqlite3.connect(db).execute("SELECT student, score FROM submissions").fetchall())
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "of 6 stored" in err and "the same command again" in err
    assert 2 <= len(stored) < 6, "the signal should land mid-batch"
    assert stored == {s: (98.0 if int(s[1:]) % 2 else 0.0) for s in stored}
    resumed = api.batch(klass, A, out, root=ROOT)
    assert sorted(resumed.reused) == sorted(stored)
    assert {r.student: r.score for r in resumed.reports} == {s: (98.0 if int(s[1:]) % 2 else 0.0) for s in students}
    assert not any("sandbox" in (r.problem or "") for r in resumed.reports)


def _zip(entries: dict[str, bytes], symlinks: dict[str, str] = {}) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in symlinks.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, target)
    return buf.getvalue()


@pytest.mark.parametrize("name, data, reason", [
    ("slip", _zip({"../../evil.py": b"x = 1"}), "leaves its folder"),
    ("absolute", _zip({"/etc/evil.py": b"x = 1"}), "leaves its folder"),
    ("link", _zip({"two_layer_net.py": b"x = 1"}, {"helpers.py": "/etc/passwd"}), "symbolic link"),
    ("bomb", _zip({"two_layer_net.py": b"# " + b"0" * (1_900_000)}), "zip bomb"),
    ("broken", b"PK\x03\x04 not really a zip", "damaged"),
])
def test_unsafe_zip_submissions_are_refused_with_a_reason(tmp_path, grade_source, name, data, reason):
    report = grade_source(A, data, filename=f"{name}.zip")
    assert report.score == 0 and reason in (report.problem or "")
    assert not (tmp_path / "evil.py").exists()


def test_class_zip_and_folder_entries(tmp_path):
    sol = solution_source(A).encode()
    inner = _zip({"bob/two_layer_net.py": sol})  # a student's own zip, with a folder inside
    class_zip = tmp_path / "class.zip"
    class_zip.write_bytes(_zip({"class/alice.py": sol, "class/bob.zip": inner,
                                "class/carol/two_layer_net.py": sol, "class/carol/notes.txt": b"hi"}))
    result = api.batch(class_zip, A, tmp_path / "out", root=ROOT)
    assert {r.student: r.score for r in result.reports} == {"alice": 98.0, "bob": 98.0, "carol": 98.0}


def test_non_utf8_file_name_is_graded_zero_with_the_reason(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    (klass / "ok.py").write_text(solution_source(A))
    bad = os.fsencode(str(klass)) + b"/caf\xe9.py"
    with open(bad, "wb") as fh:
        fh.write(solution_source(A).encode())
    result = api.batch(klass, A, tmp_path / "out", root=ROOT)
    by = {r.student: r for r in result.reports}
    assert by["ok"].score == 98.0
    (other,) = [r for s, r in by.items() if s != "ok"]
    assert other.score == 0 and "not valid UTF-8" in other.problem


def test_cli_batch_prints_a_table_and_exit_codes(tmp_path):
    klass = _class(tmp_path / "class", {"good": solution_source(A), "bad": stub_source(A)})
    run = subprocess.run([sys.executable, "-m", "grader", "batch", str(klass), "-a", A, "-o", str(tmp_path / "o"),
                          "--fail-under", "50"], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "CI": "true"})
    assert run.returncode == 3, run.stderr  # bad is under 50
    assert "good" in run.stdout and "98 / 98" in run.stdout and "0 / 98" in run.stdout
    assert "Traceback" not in run.stderr
    report = json.loads((tmp_path / "o" / "good" / "report.json").read_text())
    assert report["score"] == 98.0
