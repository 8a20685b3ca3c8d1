"""Reference data is reproducible and code-free; the release bundle works with plain pytest
and carries nothing hidden."""
import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from grader import api
from grader.registry import get_assignment

A = "two_layer_net"
PUBLIC = [c for c in get_assignment(A, ROOT).checks if c.visibility == "public"]
RUNNABLE = sum(c.requires != "cuda" for c in PUBLIC)       # the others need a GPU: skipped here
SKIPPED = len(PUBLIC) - RUNNABLE


def _hashes(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_regenerating_keeps_the_bytes_of_values_that_agree(tmp_path):
    """Regenerated over the committed data (twice): every data file keeps its bytes, since its
    values agree with the new ones to 1e-12 on any CPU, so the grading key stays."""
    course = tmp_path / "course"
    for part in ("assignments", "solutions", "reference_data"):
        shutil.copytree(ROOT / part / A, course / part / A)
    committed = _hashes(ROOT / "reference_data" / A)
    committed.pop("manifest.json")  # it also records the environment and the sources' fingerprint
    for _ in range(2):
        api.make_reference(A, root=course)
        regenerated = _hashes(course / "reference_data" / A)
        regenerated.pop("manifest.json")
        assert regenerated == committed, "the committed reference_data is stale"
    assert not any(name.endswith((".pt", ".pkl", ".pickle", ".npy")) for name in committed)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    api.release(A, out, root=ROOT)
    return out


def test_bundle_has_only_public_material(bundle):
    names = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    a = get_assignment(A, ROOT)
    hidden = [c.name for c in a.checks if c.visibility == "hidden"]
    assert f"{A}.py" in names and "conftest.py" in names and "README.md" in names
    assert not any(h in n for h in hidden for n in names)
    text = (bundle / "grading" / "assignment.toml").read_text()
    assert not any(h in text for h in hidden)
    assert not any("solutions" in n or "mistakes" in n for n in names)


def _pytest(folder):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder,
                          capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def test_bundle_pytest_on_the_stub_says_not_implemented(bundle):
    run = _pytest(bundle)
    assert run.returncode == 1
    assert f"{RUNNABLE} failed, {SKIPPED} skipped" in run.stdout
    assert run.stdout.count("not implemented yet") >= RUNNABLE
    assert "Traceback" not in run.stdout


def test_bundle_pytest_on_the_solution_passes(bundle, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(bundle, work)
    shutil.copy(ROOT / "solutions" / A / f"{A}.py", work / f"{A}.py")
    run = _pytest(work)
    assert run.returncode == 0, run.stdout[:3000]
    assert f"{RUNNABLE} passed, {SKIPPED} skipped" in run.stdout
