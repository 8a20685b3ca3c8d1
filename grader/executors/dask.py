"""Batch grading on a Dask cluster (``distributed``).

The client (the instructor's machine) keeps the store and writes the reports; the
workers only grade. Per batch:

1. the course goes to every worker once, as bytes inside a worker plugin
   (:class:`CoursePlugin`): the assignment folder, its reference data (hidden
   checks included) and the data folders children read (``--mnist``). No shared
   file system is needed;
2. each worker unpacks it and starts one fork server (torch imported once per
   worker, not per task). The reference data goes into a folder only the worker's
   user can read (mode 700), which the sandbox hides from children like
   ``reference_data/`` on one machine: student code on a worker sees what it sees
   on the instructor's machine;
3. each submission is one task carrying its files as bytes; the task grades it
   with :func:`grader.executors.grade_one` through that worker's sandbox (student
   code runs in the sandbox's children, never in the worker's own process) and
   returns the report (plain data: strings, numbers, PNG bytes).

A worker that dies mid-task (killed, out of memory, preempted) has its tasks
rerun elsewhere by the scheduler; after ``distributed.scheduler.allowed-failures``
deaths (this executor's LocalCluster: ``max_failures``) the submission gets an
``error`` report that says so, and the next run of the batch grades it again.
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import shutil
import tempfile
import uuid
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator

import dask
from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker
from distributed.scheduler import KilledWorker

from grader.assignment import Assignment
from grader.executors import Executor, grade_one, start_sandbox
from grader.report.model import Report
from grader.runner import GradeOptions, grade as grade_submission, make_sandbox
from grader.sandbox import Limits
from grader.submission import Submission

log = logging.getLogger(__name__)

MAX_FAILURES = 2   # worker deaths a submission may cause before it is reported as not graded
_SKIP = {"demo_class", "__pycache__"}   # in an assignment folder: not needed to grade


def _files(folder: Path, skip: set[str] = frozenset()) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not (set(rel.parts) & skip):
            yield rel.as_posix(), path


def course_bundle(assignment: Assignment, data_dirs: list[Path]) -> bytes:
    """The assignment folder, its reference data and the children's data folders, zipped:
    ``public/<name>/``, ``public/data/<i>/`` (children read them) and ``private/<name>/``
    (reference data: the grader on the worker only)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for rel, path in _files(assignment.root, _SKIP):
            z.write(path, f"public/{assignment.name}/{rel}")
        for rel, path in _files(assignment.reference_dir):
            z.write(path, f"private/{assignment.name}/{rel}")
        for i, folder in enumerate(data_dirs):
            for rel, path in _files(folder):
                z.write(path, f"public/data/{i}/{rel}")
    return buf.getvalue()


def _unpack(z: zipfile.ZipFile, prefix: str, into: Path, file_mode: int, dir_mode: int) -> None:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        target = into.joinpath(*info.filename[len(prefix):].split("/"))
        target.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
        target.write_bytes(z.read(info))
        target.chmod(file_mode)
    for d in [into, *(p for p in into.rglob("*") if p.is_dir())]:
        d.chmod(dir_mode)  # whatever the worker's umask


class CoursePlugin(WorkerPlugin):
    """On each worker: the course unpacked and one fork server for this batch."""

    def __init__(self, name: str, bundle: bytes, assignment: str, limits: Limits, data_dirs: list[str]):
        self.name = name                      # Dask keys plugins by name: one per course version
        self.bundle, self.assignment_name = bundle, assignment
        self.limits, self.data_dirs = limits, list(data_dirs)

    async def setup(self, worker=None) -> None:
        # Off the worker's event loop: starting a fork server (importing torch) takes seconds.
        await asyncio.to_thread(self._setup, worker)

    def _setup(self, worker) -> None:
        # Two folders: what children may read (mode 755, like the assignment folder on the
        # instructor's machine) and the reference data (mode 700, hidden from children).
        self.public = Path(tempfile.mkdtemp(prefix="bpg-course-"))
        self.private = Path(tempfile.mkdtemp(prefix="bpg-reference-"))
        with zipfile.ZipFile(io.BytesIO(self.bundle)) as z:
            _unpack(z, "public/", self.public, 0o644, 0o755)
            _unpack(z, "private/", self.private, 0o600, 0o700)
        self.bundle = b""
        self.assignment = Assignment.load(self.public / self.assignment_name,
                                          solutions=self.private / "solutions" / self.assignment_name,
                                          reference=self.private / self.assignment_name)
        shipped = [self.public / "data" / str(i) for i in range(len(self.data_dirs))]
        self.paths = {client: str(here) for client, here in zip(self.data_dirs, shipped)}
        # Dask's scratch space may hold other students' submissions (spilled): hidden from
        # children, and closed to other users where namespaces are not available.
        scratch = [Path(worker.local_directory)] if worker is not None and worker.local_directory else []
        for folder in scratch:
            folder.chmod(0o700)
        self.sandbox, self.environment = start_sandbox(
            make_sandbox(self.assignment, limits=self.limits, hide=[self.private, *scratch],
                         expose=[p for p in shipped if p.is_dir()]), self.assignment)

    def teardown(self, worker=None) -> None:
        sandbox = getattr(self, "sandbox", None)
        if sandbox is not None:
            sandbox.close()
        for folder in (getattr(self, "public", None), getattr(self, "private", None)):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)

    def options_here(self, options: GradeOptions) -> GradeOptions:
        """The client's data-folder paths in the options, as unpacked on this worker."""
        overrides = {k: self.paths.get(v, v) if isinstance(v, str) else v
                     for k, v in options.option_overrides.items()}
        return replace(options, option_overrides=overrides)


def _plugin(name: str) -> CoursePlugin:
    return get_worker().plugins[name]


def _grade_task(plugin_name: str, submission: Submission, options: GradeOptions) -> Report:
    plugin = _plugin(plugin_name)
    return grade_one(submission, plugin.assignment, plugin.sandbox, plugin.options_here(options))


def _environment_task(plugin_name: str) -> dict:
    return _plugin(plugin_name).environment


class DaskExecutor(Executor):
    """Grades on the Dask cluster at ``scheduler``, or on a LocalCluster of ``workers``
    single-threaded worker processes started here when ``scheduler`` is None."""

    def __init__(self, assignment: Assignment, *, scheduler: str | None = None, workers: int = 2,
                 limits: Limits | None = None, expose: list[Path] | None = None, max_failures: int = MAX_FAILURES):
        self.assignment = assignment
        self.cluster = None
        if not logging.getLogger().isEnabledFor(logging.INFO):
            logging.getLogger("distributed").setLevel(logging.WARNING)  # its own default is INFO, chatty
        if scheduler:
            self.client = Client(scheduler)
        else:
            # The scheduler runs in this process and reads its config when it starts. Saturation
            # 1.0: a worker holds only the task it runs, so its death costs no queued one a retry
            # (Dask queues a group of tasks on the scheduler when it outnumbers twice the threads).
            # No statistical profiler in the workers: it samples every thread's stack each 10 ms.
            with dask.config.set({"distributed.scheduler.allowed-failures": max_failures,
                                  "distributed.scheduler.worker-saturation": 1.0,
                                  "distributed.worker.profile.enabled": False}):
                self.cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                            dashboard_address=None)
            self.client = Client(self.cluster)
        try:
            self.max_failures = self.client.run_on_scheduler(_allowed_failures)
            data_dirs = list(expose or [])
            bundle = course_bundle(assignment, data_dirs)
            digest = hashlib.sha256(bundle + repr(limits).encode()).hexdigest()[:12]
            self.plugin = CoursePlugin(f"backprop-grader-{assignment.name}-{digest}", bundle, assignment.name,
                                       limits or Limits(), [str(d) for d in data_dirs])
            self.client.register_plugin(self.plugin)
        except BaseException:
            self.close()
            raise

    def environment(self) -> dict:
        return self.client.submit(_environment_task, self.plugin.name, pure=False).result()

    def grade(self, submissions: Iterable[Submission], options: GradeOptions) -> Iterator[tuple[Submission, Report]]:
        batch = uuid.uuid4().hex[:8]
        # Keys ("grade", student, batch, i): one task group, so the scheduler queues them and
        # hands a worker only what it can run (see worker-saturation above).
        futures = {self.client.submit(_grade_task, self.plugin.name, s, options, pure=False,
                                      key=("grade", s.student, batch, i)): s for i, s in enumerate(submissions)}
        try:
            for future in as_completed(futures):
                submission = futures.pop(future)
                try:
                    report = future.result()
                except KilledWorker as exc:
                    report = self._lost(submission, options, exc)
                future.release()
                yield submission, report
        finally:
            if futures:  # stopped early: the rest never start
                self.client.cancel(list(futures))

    def _lost(self, submission: Submission, options: GradeOptions, exc: Exception) -> Report:
        """An error report for a submission whose workers kept dying. Its problem is part of
        the stored hash, so the next run of the batch tries it again."""
        problem = (f"not graded: the Dask workers it was given to died {self.max_failures + 1} times "
                   f"({type(exc).__name__}); run the batch again to retry")
        log.warning("%s: %s", submission.student, problem)
        return grade_submission(replace(submission, problem=problem), self.assignment, None, options)

    def close(self) -> None:
        plugin = getattr(self, "plugin", None)
        try:
            if plugin is not None and self.cluster is None:
                # A shared cluster outlives the batch: take the course (and its hidden data) off it.
                try:
                    self.client.unregister_worker_plugin(plugin.name)
                except (OSError, TimeoutError) as exc:  # the cluster went away: nothing left to take off
                    log.warning("could not remove the course from the Dask workers: %s", exc)
        finally:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def _allowed_failures(dask_scheduler=None) -> int:
    return int(dask_scheduler.allowed_failures)
