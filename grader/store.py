"""What a batch has graded so far, in ``<out>/grades.sqlite``.

Each finished student is committed at once (one transaction: the submission row,
one row per check and one row in ``runs``), so a batch killed at any moment loses
nothing and a re-run grades only what is missing or changed. A submission is
"unchanged" when its content hash and the grading key (assignment, reference data,
grader version, device) are the same as last time.

Only a finished grade is ever saved: the batch decides what finished (a grading cut
short by Ctrl-C or a broken sandbox is not), this module just keeps it.
``submissions`` holds each student's latest grade; ``runs`` keeps every grade ever
stored, for ``backprop-grader history``.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from grader.report.model import Report

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    student TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    grading_key TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    duration_s REAL NOT NULL,
    graded_at TEXT NOT NULL,
    report_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checks (
    student TEXT NOT NULL REFERENCES submissions(student) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    duration_s REAL NOT NULL,
    PRIMARY KEY (student, name)
);
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    grading_key TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    duration_s REAL NOT NULL,
    graded_at TEXT NOT NULL,
    report_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_student ON runs (student, run);
"""


@dataclass(frozen=True)
class Run:
    """One stored grading of one student's submission."""

    run: int
    student: str
    sha256: str
    grading_key: str
    score: float
    max_score: float
    status: str
    duration_s: float
    graded_at: str
    report: Report


class GradeStore:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Batch workers are threads; the batch serialises their writes with a lock.
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "GradeStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def is_current(self, student: str, sha256: str, grading_key: str) -> bool:
        row = self._db.execute("SELECT sha256, grading_key FROM submissions WHERE student = ?", (student,)).fetchone()
        return row is not None and row == (sha256, grading_key)

    def save(self, report: Report, grading_key: str) -> None:
        row = (report.student, report.submission_sha256, grading_key, report.score, report.max_score,
               report.status, report.duration_s, report.graded_at, json.dumps(report.to_dict()))
        with self._db:  # one transaction per student
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM checks WHERE student = ?", (report.student,))
            self._db.execute("INSERT OR REPLACE INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            self._db.execute("INSERT INTO runs (student, sha256, grading_key, score, max_score, status, duration_s, "
                             "graded_at, report_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            self._db.executemany(
                "INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?)",
                [(report.student, c.name, c.status, c.score, c.max_score, c.duration_s) for c in report.checks],
            )

    def report(self, student: str) -> Report | None:
        row = self._db.execute("SELECT report_json FROM submissions WHERE student = ?", (student,)).fetchone()
        return Report.from_dict(json.loads(row[0])) if row else None

    def reports(self) -> list[Report]:
        rows = self._db.execute("SELECT report_json FROM submissions ORDER BY student").fetchall()
        return [Report.from_dict(json.loads(r[0])) for r in rows]

    def students(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT student FROM submissions ORDER BY student")]

    def history(self, student: str) -> list[Run]:
        """Every stored grading of ``student``, oldest first."""
        rows = self._db.execute("SELECT run, student, sha256, grading_key, score, max_score, status, duration_s, "
                                "graded_at, report_json FROM runs WHERE student = ? ORDER BY run", (student,))
        return [Run(*r[:9], Report.from_dict(json.loads(r[9]))) for r in rows]
