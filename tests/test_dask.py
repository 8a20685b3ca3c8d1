"""Batch grading on a Dask cluster (a LocalCluster of 2 worker processes here): the
same grades as the local pool, student by student; nothing lost or counted twice
when a worker or the client dies; hidden data on workers out of children's reach."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import pytest
from distributed import Client, LocalCluster

from conftest import ROOT, mutate, solution_source, stub_source
from grader import api

A = "two_layer_net"
DEMO = ROOT / "assignments" / A / "demo_class"
FULL = 98.0  # the CUDA check is skipped here and does not count
SLEEP_S = 3  # a slow submission: long enough to be caught mid-task

# Prepended to a correct solution: looks for the course's reference data and Dask's
# scratch space where they are on the worker, and prints what it could read.
SNOOP = '''
import glob as _g, os as _o
_found = []
for _p in _g.glob("/tmp/bpg-reference-*/**", recursive=True) + _g.glob("/tmp/**/dask-scratch-space*/**", recursive=True):
    try:
        if _o.path.isfile(_p) and open(_p, "rb").read(1):   # (Dask's empty lock files say nothing)
            _found.append(_p)
    except OSError:
        pass
print("SNOOP read:", _found)
'''


def _class(folder: Path, students: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, src in students.items():
        (folder / f"{name}.py").write_text(src)
    return folder


def _mixed_class() -> dict[str, str]:
    """Correct, buggy, untouched, broken and a snoop: 8 students."""
    sol = solution_source(A)
    return {
        "alice": (DEMO / "alice.py").read_text(),
        "carol": (DEMO / "carol.py").read_text(),
        "heidi": (DEMO / "heidi.py").read_text(),                 # syntax error
        "stub": stub_source(A),
        "no_mean": mutate(sol, "dscores /= N", "dscores /= 1"),
        "no_mask": mutate(sol, "dhidden = dscores.mm(W2.t()) * (hidden > 0)", "dhidden = dscores.mm(W2.t())"),
        "import_error": "import torch\nraise ImportError('no module named eecs598')\n",
        "snoop": SNOOP + sol,
    }


def _sleepy() -> str:
    return f"import time\ntime.sleep({SLEEP_S})\n" + solution_source(A)


@pytest.fixture(scope="module")
def cluster():
    # One retry: the second death of a task's worker gives the submission up.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,
                          "distributed.scheduler.worker-saturation": 1.0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    yield cluster
    cluster.close()


def _dask_batch(klass, out, cluster, **kw):
    return api.batch(klass, A, out, root=ROOT, executor="dask", scheduler=cluster.scheduler_address, **kw)


def _pictures(out: Path, student: str) -> int:
    return (out / student / "report.html").read_text().count('src="data:image/png;base64,')


def _checks(report):
    return [(c.name, c.status, c.score) for c in report.checks]


def test_dask_grades_each_student_as_the_local_pool(tmp_path, cluster):
    klass = _class(tmp_path / "class", _mixed_class())
    local = {r.student: r for r in api.batch(klass, A, tmp_path / "local", root=ROOT, workers=2).reports}
    remote = _dask_batch(klass, tmp_path / "dask", cluster)
    assert sorted(remote.graded) == sorted(local)
    by = {r.student: r for r in remote.reports}
    for student, alone in local.items():
        r = by[student]
        assert (r.score, r.status, r.problem) == (alone.score, alone.status, alone.problem), student
        assert _checks(r) == _checks(alone), student
        assert _pictures(tmp_path / "dask", student) == _pictures(tmp_path / "local", student), student
        # the same sandbox on the worker: the same protections took effect
        assert [p.split(" (uid")[0] for p in r.protections] == [p.split(" (uid")[0] for p in alone.protections]
    assert by["alice"].score == FULL and by["stub"].score == 0 and 0 < by["carol"].score < FULL
    for name in ("report.json", "report.md", "report.html", "results.json"):
        assert (tmp_path / "dask" / "carol" / name).is_file()
    assert _pictures(tmp_path / "dask", "carol") > 0, "a failed gradient check's heat maps come back from the worker"
    assert (tmp_path / "dask" / "gradebook.csv").read_text().count("\n") == 9
    # Hidden reference data and Dask's scratch space on the worker: out of the child's reach.
    assert by["snoop"].score == FULL and "SNOOP read: []" in by["snoop"].output, by["snoop"].output


async def _die() -> None:
    os._exit(1)  # a coroutine: what client.run(wait=False) takes


def _executing(dask_worker) -> list[str]:
    """The students whose grading task this worker is running."""
    return [ts.key[1] for ts in dask_worker.state.executing if isinstance(ts.key, tuple)]


def _kill_worker_grading(client: Client, student: str, timeout_s: float = 120) -> str:
    """Wait until a worker is grading ``student``, kill that worker's process (as the OOM
    killer or a preempted node would), and wait until the scheduler has noticed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = client.run(_executing)
        victim = next((w for w, students in busy.items() if student in students), None)
        if victim:
            client.run(_die, workers=[victim], wait=False)
            while victim in client.scheduler_info()["workers"]:
                time.sleep(0.1)
            return victim
        time.sleep(0.1)
    raise AssertionError(f"no worker started grading {student}")


def test_killed_workers_lose_nothing_and_count_nothing_twice(tmp_path, cluster):
    # More tasks than twice the threads: the scheduler queues them and gives each worker
    # only the one it runs, so a death costs no other student a try.
    students = {"a_retried": _sleepy(), "b_lost": _sleepy(),
                **{f"s{i}": (solution_source(A) if i % 2 else stub_source(A)) for i in range(4)}}
    klass = _class(tmp_path / "class", students)
    out = tmp_path / "out"
    done = {}
    batch = threading.Thread(target=lambda: done.update(result=_dask_batch(klass, out, cluster)))
    with Client(cluster.scheduler_address) as client:
        batch.start()
        _kill_worker_grading(client, "a_retried")   # retried on another worker
        _kill_worker_grading(client, "b_lost")      # retried ...
        _kill_worker_grading(client, "b_lost")      # ... and given up: 2 deaths, 1 retry allowed
        batch.join(timeout=300)
        assert not batch.is_alive()
    result = done["result"]
    assert sorted(result.graded) == sorted(students)            # every student once
    by = {r.student: r for r in result.reports}
    assert by["a_retried"].score == FULL and by["a_retried"].status == "graded"
    assert by["b_lost"].status == "error" and "died 2 times" in by["b_lost"].problem
    assert {s: by[s].score for s in students if s.startswith("s")} == {"s0": 0, "s1": FULL, "s2": 0, "s3": FULL}
    rows = sqlite3.connect(out / "grades.sqlite").execute("SELECT student, COUNT(*) FROM checks GROUP BY student")
    assert {s: n for s, n in rows} == {s: len(by[s].checks) for s in students}
    # The next run grades the given-up submission again, and only that one.
    again = _dask_batch(klass, out, cluster)
    assert again.graded == ["b_lost"] and sorted(again.reused) == sorted(set(students) - {"b_lost"})
    assert {r.student: r.score for r in again.reports}["b_lost"] == FULL


def _stored(out: Path) -> set[str]:
    """The students the store holds (nothing while the client has not made it yet)."""
    if not (out / "grades.sqlite").is_file():
        return set()
    try:
        with sqlite3.connect(out / "grades.sqlite") as db:
            return {s for (s,) in db.execute("SELECT student FROM submissions")}
    except sqlite3.Error:
        return set()


def test_client_killed_mid_batch_then_restarted_grades_only_what_is_missing(tmp_path, cluster):
    students = {"a_slow": _sleepy(), **{f"s{i}": (solution_source(A) if i % 2 else stub_source(A)) for i in range(4)}}
    klass = _class(tmp_path / "class", students)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "grader", "batch", str(klass), "-a", A, "-o", str(out), "-q",
           "--executor", "dask", "--scheduler", cluster.scheduler_address]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not _stored(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)   # the instructor's machine goes down mid-batch
    proc.wait()
    stored = _stored(out)
    assert stored and "a_slow" not in stored, "the kill should land mid-batch"
    resumed = _dask_batch(klass, out, cluster)
    assert sorted(resumed.reused) == sorted(stored)
    assert sorted(resumed.graded) == sorted(set(students) - stored)
    assert {r.student: r.score for r in resumed.reports} == {
        "a_slow": FULL, **{f"s{i}": (FULL if i % 2 else 0.0) for i in range(4)}}


@pytest.mark.parametrize("kw, message", [
    ({"scheduler": "tcp://127.0.0.1:1"}, "--scheduler needs --executor dask"),
    ({"executor": "spark"}, "--executor must be one of local, dask"),
])
def test_executor_usage_errors(tmp_path, kw, message):
    with pytest.raises(api.UsageError, match=message):
        api.batch(DEMO, A, tmp_path / "out", root=ROOT, **kw)
