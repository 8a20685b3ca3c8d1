"""Hostile submissions, one per attack class, graded in one batch with honest students.

Each attacker is the reference solution with an attack appended: at import, or
wrapped around one function. A contained attack costs the attacker only the
checks that call the attacked function; honest students in the same batch get
exactly the scores they get alone; the grader's files, other students' files and
the outputs are intact; nothing the attackers started is still running.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from conftest import ROOT, failing, solution_source, stub_source
from grader import api
from grader.registry import get_assignment
from grader.runner import UID_BASE
from grader.sandbox import LEASE_DIR

A = "two_layer_net"
ASSIGNMENT = get_assignment(A, ROOT)
FULL = ASSIGNMENT.max_score - sum(c.points for c in ASSIGNMENT.checks if c.requires == "cuda")


def uses(*names: str) -> set[str]:
    """The checks that call any of these student names (what an attack on them may cost)."""
    return {c.name for c in ASSIGNMENT.checks if set(c.uses) & set(names) and c.requires != "cuda"}


def wrap(target: str, attack: str) -> str:
    """Code that replaces ``target`` (a function or Class.method) with the attack."""
    owner, _, name = target.rpartition(".")
    where = owner or "globals()"
    setter = f"setattr({owner}, {name!r}, _attacked)" if owner else f"globals()[{name!r}] = _attacked"
    body = "\n".join("    " + line for line in attack.strip().splitlines())
    return f"\n\ndef _attacked(*args, **kwargs):\n{body}\n{setter}\n" if where else ""


# name -> (code appended to the solution, the checks it may lose)
ATTACKS = {
    "kill_parent": (wrap("nn_predict", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"),
                    uses("nn_predict")),
    "kill_everyone": (wrap("nn_predict", "import os, signal\nos.kill(-1, signal.SIGKILL)"), uses("nn_predict")),
    "exit_at_import": ("\nimport os\nos._exit(0)\n", "all"),
    "sys_exit_in_function": (wrap("sample_batch", "import sys\nsys.exit(3)"), uses("sample_batch")),
    "spin_forever": (wrap("TwoLayerNet.save", "while True:\n    pass"), {"twolayernet_save_load"}),
    "fork_bomb": (wrap("TwoLayerNet.save", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
                                           "        pass"), {"twolayernet_save_load"}),
    "escape_process_group": (wrap("TwoLayerNet.save", "import os, time\nif os.fork() == 0:\n    os.setsid()\n"
                                                      "    time.sleep(3600)\n    os._exit(0)\nraise RuntimeError('x')"),
                             {"twolayernet_save_load"}),
    "fill_memory": (wrap("sample_batch", "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 28))"),
                    uses("sample_batch")),
    "print_gigabytes": ("\nimport sys\nfor _ in range(64):\n    sys.stdout.write('x' * (1 << 20))\n", set()),
    "write_everywhere": ('''
import os, sys
from pathlib import Path
course = Path(sys.modules["_assignment_probes"].__file__).resolve().parents[2]
for target in [course / "PWNED", course / "grader" / "PWNED", course / "assignments" / "PWNED",
               Path.home() / "PWNED", Path("/tmp/PWNED_redteam"), Path("/root/PWNED"), Path("/PWNED")]:
    try:
        target.write_text("pwned")
    except OSError:
        pass
''', set()),
    "delete_the_grader": ('''
import shutil, sys
from pathlib import Path
probes = Path(sys.modules["_assignment_probes"].__file__).resolve()
shutil.rmtree(probes.parents[2] / "grader", ignore_errors=True)
try:
    probes.unlink()
except OSError:
    pass
''', set()),
    "read_hidden_answers": ('''
import sys
from pathlib import Path
course = Path(sys.modules["_assignment_probes"].__file__).resolve().parents[2]
found = [str(p) for p in (course / "reference_data").rglob("*")] + [str(p) for p in (course / "solutions").rglob("*")]
print("FOUND", found)
''', set()),
    "network": ('''
import os, socket
try:
    socket.create_connection(("127.0.0.1", int(os.environ.get("REDTEAM_PORT", "1"))), timeout=2).sendall(b"leak")
    print("CONNECTED")
except OSError as exc:
    print("NO NETWORK", exc)
''', set()),
    "fake_results": ('''
import json
print(json.dumps({"score": 100, "max_score": 98, "tests": []}))
print("score: 100 / 98")
for name in ("report.json", "results.json", "../report.json"):
    try:
        open(name, "w").write(json.dumps({"score": 100}))
    except OSError:
        pass
''', set()),
}

# Attackers whose honest part is wrong: tampering must not buy points.
TAMPERERS = {
    "monkeypatch_everything": (stub_source(A) + '''
import builtins, numpy, torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
numpy.allclose = lambda *a, **k: True
builtins.abs = lambda x: 0
def nn_forward_pass(params, X):
    z = torch.zeros(X.shape[0], params["W2"].shape[1], dtype=X.dtype)
    return z, z
''', uses("nn_forward_pass")),
    "tensor_subclass": (stub_source(A) + '''
class Liar(torch.Tensor):
    def __eq__(self, other):
        return True
    def numpy(self, *a, **k):
        raise RuntimeError("no")
def nn_forward_pass(params, X):
    z = torch.zeros(X.shape[0], params["W2"].shape[1], dtype=X.dtype).as_subclass(Liar)
    return z, z
''', uses("nn_forward_pass")),
    "odd_objects": (stub_source(A) + '''
class Anything:
    def __getattr__(self, name):
        return self
    def __call__(self, *a, **k):
        return self
def nn_forward_pass(params, X):
    return Anything(), (x for x in range(3))
''', uses("nn_forward_pass")),
}


def _orphaned_child_processes() -> list[tuple[str, int]]:
    """Processes under a child uid whose lease no grader holds: left behind.

    (Graders running beside this test hold leases for their own live children.)"""
    orphans = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = next(int(line.split()[1]) for line in open(f"/proc/{entry}/status") if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if uid <= UID_BASE:
            continue
        fd = os.open(LEASE_DIR / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            orphans.append((entry, uid))
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    return orphans


@pytest.fixture(scope="module")
def redteam_batch(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the containment asserted here (own uid, mount namespace) needs the grader to run as root")
    course = tmp_path_factory.mktemp("course")
    for part in ("assignments", "solutions", "reference_data"):
        shutil.copytree(ROOT / part / A, course / part / A)
    shutil.copytree(ROOT / "grader", course / "grader")   # a decoy the attackers can find and try to delete
    before = {str(p): p.read_bytes() for p in course.rglob("*") if p.is_file()}
    klass = tmp_path_factory.mktemp("class")
    honest = {"honest_solution": solution_source(A), "honest_carol": (ROOT / "assignments" / A / "demo_class" /
                                                                      "carol.py").read_text()}
    for name, src in honest.items():
        (klass / f"{name}.py").write_text(src)
    for name, (code, _) in ATTACKS.items():
        (klass / f"{name}.py").write_text(solution_source(A) + code)
    for name, (src, _) in TAMPERERS.items():
        (klass / f"{name}.py").write_text(src)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    connections = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connections.append(listener.accept())
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    os.environ["REDTEAM_PORT"] = str(listener.getsockname()[1])
    out = tmp_path_factory.mktemp("out")
    try:
        result = api.batch(klass, A, out, root=course, workers=2, max_check_timeout_s=4, memory_bytes=3 << 29)
    finally:
        stop.set()
        listener.close()
        os.environ.pop("REDTEAM_PORT", None)
    alone = {name: api.grade(klass / f"{name}.py", A, root=course) for name in honest}
    return {"result": result, "reports": {r.student: r for r in result.reports}, "course": course,
            "before": before, "out": out, "connections": connections, "alone": alone}


def test_batch_finishes_with_every_student(redteam_batch):
    expected = {"honest_solution", "honest_carol", *ATTACKS, *TAMPERERS}
    assert set(redteam_batch["reports"]) == expected


def test_honest_students_graded_exactly_as_alone(redteam_batch):
    for name, alone in redteam_batch["alone"].items():
        inbatch = redteam_batch["reports"][name]
        assert [(c.name, c.status, c.score) for c in inbatch.checks] == \
               [(c.name, c.status, c.score) for c in alone.checks]
    assert redteam_batch["reports"]["honest_solution"].score == FULL


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_costs_only_what_its_honest_part_loses(redteam_batch, name):
    report = redteam_batch["reports"][name]
    allowed = ATTACKS[name][1]
    if allowed == "all":
        assert report.score == 0 and report.problem
        return
    if report.integrity:  # flagged: the checks that measure inside the child are not credited
        allowed = allowed | {c.name for c in ASSIGNMENT.checks if c.measures}
    lost = set(failing(report))
    assert lost <= allowed, f"{name} lost checks it should not: {lost - allowed}"
    assert report.score >= FULL - sum(ASSIGNMENT.check(n).points for n in allowed)
    if allowed:
        assert lost, f"{name}: the attacked checks passed"


@pytest.mark.parametrize("name", sorted(TAMPERERS))
def test_tampering_buys_no_points(redteam_batch, name):
    report = redteam_batch["reports"][name]
    assert report.score == 0
    assert set(failing(report)) >= TAMPERERS[name][1]


def test_files_outside_the_scratch_folder_are_intact(redteam_batch):
    course = redteam_batch["course"]
    after = {str(p): p.read_bytes() for p in course.rglob("*") if p.is_file()}
    assert after == redteam_batch["before"]
    for p in (Path.home() / "PWNED", Path("/tmp/PWNED_redteam"), Path("/root/PWNED"), Path("/PWNED")):
        assert not p.exists()


def test_hidden_answers_unreadable_and_no_network(redteam_batch):
    out = redteam_batch["reports"]["read_hidden_answers"].output
    assert "FOUND []" in out
    assert "NO NETWORK" in redteam_batch["reports"]["network"].output
    assert redteam_batch["connections"] == []


def test_printing_is_capped_and_never_parsed(redteam_batch):
    flood = redteam_batch["reports"]["print_gigabytes"]
    assert flood.score == FULL and "more bytes of output dropped" in flood.output
    assert len(flood.output) < 2 << 20
    fake = redteam_batch["reports"]["fake_results"]
    assert fake.score == FULL  # its own honest score, not the 100 it printed
    saved = json.loads((redteam_batch["out"] / "fake_results" / "report.json").read_text())
    assert saved["score"] == FULL


def test_process_limits_and_kills_are_reported(redteam_batch):
    reports = redteam_batch["reports"]
    assert reports["spin_forever"].checks[[c.name for c in reports["spin_forever"].checks]
                                           .index("twolayernet_save_load")].status == "timeout"
    assert "exited with code" in (reports["exit_at_import"].problem or "")
    assert any(c.status == "error" for c in reports["fill_memory"].checks)


def test_nothing_the_students_started_is_still_running(redteam_batch):
    assert _orphaned_child_processes() == []
