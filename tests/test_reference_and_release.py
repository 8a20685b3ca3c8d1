"""Reference data is reproducible and code-free; the release bundle carries the grader as a
wheel and nothing hidden (tests/test_student_checks.py runs pytest in it,
tests/test_student_install.py installs it in a fresh venv)."""
import base64
import hashlib
import shutil
import tomllib
import zipfile

import pytest

from conftest import ROOT
from grader import api
from grader.registry import get_assignment

A = "two_layer_net"


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


def test_bundle_carries_the_grader_as_a_wheel(bundle, tmp_path):
    """requirements.txt names a wheel in the bundle holding this grader (the student
    runner included) with its dependencies; released twice, the same bytes."""
    lines = [l for l in (bundle / "requirements.txt").read_text().splitlines() if l and not l.startswith("#")]
    assert len(lines) == 1 and lines[0].startswith("./wheels/backprop_grader-") and lines[0].endswith("-py3-none-any.whl")
    wheel = bundle / lines[0]
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = whl.read(f"{info}/METADATA").decode()
        record = whl.read(f"{info}/RECORD").decode().splitlines()
        for row in record[:-1]:     # every file's hash is right, as pip checks on install
            name, digest, size = row.rsplit(",", 2)
            data = whl.read(name)
            assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert int(size) == len(data)
    assert {"grader/student/child.py", "grader/pytest_plugin.py", "grader/harness.py",
            "grader/release_templates/conftest.py.tmpl"} <= names
    assert not any("__pycache__" in n or n.startswith(("tests/", "solutions/", "reference_data/")) for n in names)
    assert "Requires-Dist: torch==2.13.0" in metadata and f"Version: {wheel.name.split('-')[1]}" in metadata
    assert "backprop-grader = grader.cli:main" in whl_entry_points(wheel)
    again = tmp_path / "again"
    api.release(A, again, root=ROOT)
    assert (again / lines[0]).read_bytes() == wheel.read_bytes()


def whl_entry_points(wheel) -> str:
    with zipfile.ZipFile(wheel) as whl:
        return whl.read(next(n for n in whl.namelist() if n.endswith("entry_points.txt"))).decode()


def test_bundle_readme_install_and_manifest_totals(bundle):
    readme = (bundle / "README.md").read_text()
    assert "python3 -m venv .venv && .venv/bin/python -m pip install torch==2.13.0 && " \
           ".venv/bin/python -m pip install -r requirements.txt" in readme
    assert ".venv\\Scripts\\python -m pip install -r requirements.txt" in readme     # Windows
    assert ".venv/bin/python -m pytest" in readme and "pip install backprop-grader" not in readme
    manifest = tomllib.loads((bundle / "grading" / "assignment.toml").read_text())
    a = get_assignment(A, ROOT)
    hidden = [c for c in a.checks if c.visibility == "hidden"]
    assert (manifest["hidden_checks"], manifest["hidden_points"]) == (len(hidden), sum(c.points for c in hidden))
    assert "check_timeout = 10" in (bundle / "pytest.ini").read_text()
