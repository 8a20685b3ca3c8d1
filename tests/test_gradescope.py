"""Gradescope's autograder: the zip, and run_autograder against a temporary root standing in
for /autograder, as root and as root without CAP_SYS_ADMIN (as in Gradescope's containers),
with a correct, a buggy and a hostile submission."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ROOT, hidden_values_shown, mutate, solution_source, stub_source
from grader import api
from grader.registry import get_assignment

A = "toy_mlp"
ASSIGNMENT = get_assignment(A, ROOT)
HIDDEN = {c.name for c in ASSIGNMENT.checks if c.visibility == "hidden"}
HIDDEN_FILE = "course/reference_data/toy_mlp/hidden/gd_hidden.safetensors"
TEST_FIELDS = {"name", "score", "max_score", "status", "output", "visibility", "execution_time"}


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    return api.gradescope(A, tmp_path_factory.mktemp("gs") / "autograder.zip", root=ROOT)


def test_zip_holds_what_gradescope_runs_and_never_the_solution(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "autograder.json", HIDDEN_FILE} <= names
    assert any(n.startswith("wheels/backprop_grader-") and n.endswith(".whl") for n in names)
    assert all(modes[n] & stat.S_IXUSR for n in ("setup.sh", "run_autograder"))
    assert "torch==2.13.0" in setup and "wheels/backprop_grader-" in setup
    assert not any("solutions" in n or "mistakes" in n for n in names)


def _hostile(root: Path) -> str:
    """The stub, plus an import that tries to fake its grade and to read the hidden data,
    now and from a process left behind."""
    results = root / "results" / "results.json"
    return stub_source(A) + f'''
import os as _os, json as _json
_fake = _json.dumps({{"score": 999, "tests": []}})
for _target in ({str(results)!r}, "/autograder/results/results.json"):
    try:
        _os.makedirs(_os.path.dirname(_target), exist_ok=True)
        open(_target, "w").write(_fake)
    except OSError:
        pass
try:
    _leak = open({str(root / "source" / HIDDEN_FILE)!r}, "rb").read()
    raise RuntimeError("LEAKED hidden data: %d bytes" % len(_leak))
except OSError:
    pass
if _os.fork() == 0:  # a straggler that outlives the grading, then writes
    import time as _t
    _t.sleep(3)
    try:
        open({str(results)!r}, "w").write(_fake)
    finally:
        _os._exit(0)
'''


SUBMISSIONS = {
    "correct": lambda root: solution_source(A),
    "buggy": lambda root: mutate(solution_source(A), "dz2 = (p - Y) / Y.numel()", "dz2 = p - Y"),
    "hostile": _hostile,
}


def _run_autograder(autograder_zip: Path, root: Path, source: str, drop_cap_sys_admin: bool) -> dict:
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "submission" / f"{A}.py").write_text(source)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"name": "Ada", "sid": "a1"}]}))
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = ["bash", str(root / "source" / "run_autograder")]
    if drop_cap_sys_admin:
        cmd = ["capsh", "--drop=cap_sys_admin", "--", "-c", " ".join(cmd)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


# Gradescope's containers have no CAP_SYS_ADMIN (no mount namespace): every kind there; as
# plain root (the mount namespace hides the folders too) the attack again.
CASES = [("correct", True), ("buggy", True), ("hostile", True), ("hostile", False)]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("capsh") is None, reason="needs root and capsh")
@pytest.mark.parametrize("kind, drop", CASES, ids=[f"{k}{'-no-cap-sys-admin' if d else ''}" for k, d in CASES])
def test_run_autograder_writes_the_grade_the_grader_judged(autograder_zip, kind, drop):
    # Like /autograder, searchable by the unprivileged uid the student's code runs as
    # (pytest's tmp_path is not).
    root = Path(tempfile.mkdtemp(prefix="autograder-"))
    os.chmod(root, 0o755)
    try:
        _check(autograder_zip, root, kind, drop)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _check(autograder_zip, root, kind, drop):
    results = _run_autograder(autograder_zip, root, SUBMISSIONS[kind](root), drop)
    if kind == "hostile":
        time.sleep(4)  # past the straggler's write, had it survived and reached the folder
        assert json.loads((root / "results" / "results.json").read_text()) == results
    tests = {t["name"]: t for t in results["tests"]}
    assert all(TEST_FIELDS <= set(t) for t in tests.values())
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests.values()))
    assert {n for n, t in tests.items() if t["visibility"] != "visible"} == HIDDEN
    assert all(t["visibility"] == "after_published" for n, t in tests.items() if n in HIDDEN)
    shown = SimpleNamespace(checks=[SimpleNamespace(name=n, visibility="hidden" if n in HIDDEN else "public",
                                                    status=t["status"], message=t["output"], hint=None)
                                    for n, t in tests.items()])
    assert hidden_values_shown(shown, ASSIGNMENT) == {}
    if kind == "correct":
        assert results["score"] == ASSIGNMENT.max_score and all(t["status"] == "passed" for t in tests.values())
    elif kind == "buggy":
        failed = {n for n, t in tests.items() if t["status"] == "failed"}
        assert {"manual_grads_batch", "manual_grads_random_batch"} <= failed
        assert 0 < results["score"] < ASSIGNMENT.max_score
    else:  # the stub's grade: its own file and the straggler's are gone, nothing leaked
        assert results["score"] == 0 and "999" not in json.dumps(results)
        assert "LEAKED" not in json.dumps(results)
        assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]
