"""The local worker pool: threads on this machine over one fork server.

Threads are enough: each one mostly waits on its student's child process, and the
fork server (torch imported once) is shared, one ``spawn`` at a time.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Iterable, Iterator

from grader.assignment import Assignment
from grader.executors import Executor, grade_one, start_sandbox
from grader.report.model import Report
from grader.runner import GradeOptions, make_sandbox
from grader.sandbox import Limits
from grader.submission import Submission


class LocalExecutor(Executor):
    def __init__(self, assignment: Assignment, *, workers: int, limits: Limits | None = None,
                 hide: list[Path] | None = None, expose: list[Path] | None = None, device: str = "cpu"):
        self.assignment, self.workers = assignment, max(1, workers)
        self.sandbox, self._environment = start_sandbox(
            make_sandbox(assignment, limits=limits, hide=hide, expose=expose, device=device), assignment)

    def environment(self) -> dict:
        return self._environment

    def grade(self, submissions: Iterable[Submission], options: GradeOptions) -> Iterator[tuple[Submission, Report]]:
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="grade")
        try:
            futures = {pool.submit(grade_one, s, self.assignment, self.sandbox, options): s for s in submissions}
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            # Stopped early (an error, Ctrl-C): the running students finish, the rest never start.
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self.sandbox.close()
