"""A GitHub Classroom repository: its workflow parses as GitHub reads it, and its commands,
run as the runner would (bash, in the repository, CI=true, GITHUB_ACTIONS=true) in a fresh venv
with the repository's own grader wheel, pass the solution and fail the stub, check by check,
with a JUnit file, a job summary and annotations at the student's line.

The fresh venv borrows torch and the other dependencies from the test's venv (a .pth line)
instead of downloading them, and installs the wheel with --no-deps: installing torch into
it would take minutes. The workflow's install step is therefore not run; its text is checked.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, solution_source
from grader import api
from grader.registry import get_assignment

A = "toy_mlp"
PUBLIC = [c for c in get_assignment(A, ROOT).checks if c.visibility == "public" and c.requires != "cuda"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    out = tmp_path_factory.mktemp("repo") / "student"
    api.release(A, out, root=ROOT, repo=True)
    return out


@pytest.fixture(scope="module")
def workflow(repo):
    return yaml.safe_load((repo / ".github" / "workflows" / "classroom.yml").read_text())


@pytest.fixture(scope="module")
def venv(repo, tmp_path_factory):
    """A fresh venv with the repository's grader wheel (and the test venv's torch)."""
    path = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    site = Path(subprocess.run([str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (wheel,) = repo.rglob("backprop_grader-*.whl")
    # The test venv's pip installs into the fresh one (which has none of its own).
    subprocess.run([sys.executable, "-m", "pip", "--python", str(path / "bin" / "python"), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True)
    return path


def test_workflow_uses_classroom_actions_with_each_public_checks_points(workflow, repo):
    assert "push" in workflow["on"]
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if s.get("uses") == "education/autograding-command-grader@v1"]
    assert [(s["with"]["test-name"], s["with"]["max-score"]) for s in graders] == [(c.name, c.points) for c in PUBLIC]
    reporter = steps[-1]
    assert reporter["uses"] == "education/autograding-grading-reporter@v1"
    ids = reporter["with"]["runners"].split(",")
    assert ids == [s["id"] for s in graders]
    assert reporter["env"] == {f"{i.upper()}_RESULTS": "${{ steps.%s.outputs.result }}" % i for i in ids}
    install = next(s["run"] for s in steps if s.get("name") == "Install the grader")
    assert "torch==2.13.0" in install and all(
        (repo / w).is_file() for w in install.split() if w.endswith(".whl"))
    hidden = [c.name for c in get_assignment(A, ROOT).checks if c.visibility == "hidden"]
    assert not any(h in yaml.safe_dump(workflow) for h in hidden)


def _run_workflow(workflow, repo: Path, venv: Path, work: Path, source: str) -> tuple[dict, subprocess.CompletedProcess]:
    shutil.copytree(repo, work, ignore=shutil.ignore_patterns(".autograding"))
    (work / f"{A}.py").write_text(source)
    summary = work.parent / f"{work.name}-summary.md"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "CI": "true", "GITHUB_ACTIONS": "true", "HOME": str(work),
           "GITHUB_STEP_SUMMARY": str(summary), "LANG": "C.UTF-8"}
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    grade = next(s for s in steps if s.get("id") == "grade")
    graded = subprocess.run(["bash", "-e", "-c", grade["run"]], cwd=work, env=env, capture_output=True, text=True,
                            timeout=300)
    verdicts = {}
    for s in steps:
        if s.get("uses") == "education/autograding-command-grader@v1":
            run = subprocess.run(["bash", "-c", s["with"]["command"]], cwd=work, env=env, capture_output=True,
                                 text=True, timeout=60)
            verdicts[s["with"]["test-name"]] = (run.returncode, run.stdout)
    return verdicts, graded


def test_the_solution_passes_every_step(workflow, repo, venv, tmp_path):
    verdicts, graded = _run_workflow(workflow, repo, venv, tmp_path / "sol", solution_source(A))
    assert graded.returncode == 0, graded.stderr[-2000:]
    assert {n: code for n, (code, _) in verdicts.items()} == {c.name: 0 for c in PUBLIC}
    assert "::error" not in graded.stdout
    suite = ET.parse(tmp_path / "sol" / ".autograding" / "junit.xml").getroot().find("testsuite")
    assert [c.get("name") for c in suite.findall("testcase")] == [c.name for c in PUBLIC]
    assert suite.get("failures") == suite.get("errors") == "0"


def test_the_stub_fails_every_step_with_annotations_at_its_lines(workflow, repo, venv, tmp_path):
    verdicts, graded = _run_workflow(workflow, repo, venv, tmp_path / "stub", (repo / f"{A}.py").read_text())
    assert graded.returncode == 0, graded.stderr[-2000:]  # the grading step never fails the job itself
    assert {n: code for n, (code, _) in verdicts.items()} == {c.name: 1 for c in PUBLIC}
    assert all("not implemented yet" in out for _, out in verdicts.values())
    stub_lines = (repo / f"{A}.py").read_text().splitlines()
    annotations = [line for line in graded.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == len(PUBLIC)
    for line in annotations:
        props = dict(p.split("=", 1) for p in line[len("::error "):].split("::", 1)[0].split(","))
        assert props["file"] == f"{A}.py"
        assert "NotImplementedError" in stub_lines[int(props["line"]) - 1]   # the student's own raise
    summary = (tmp_path / "stub-summary.md").read_text()
    assert A in summary and PUBLIC[0].name in summary
    suite = ET.parse(tmp_path / "stub" / ".autograding" / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("errors")) + int(suite.get("failures")) == len(PUBLIC)
    assert "\x1b[" not in graded.stdout   # plain output under CI=true
