"""The public checks as students run them: plain pytest in the bundle `release` writes,
on a Python without Linux's extras (tests/not_linux/sitecustomize.py, as on macOS or
Windows), giving the same results and messages as the instructor's sandboxed grading;
each check when pytest reaches it (-x, -k, --lf), the module imported once, an infinite
loop costing one time limit, and the points at the end."""
import ast
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, solution_source, stub_source
from grader import api
from grader.registry import get_assignment

A = "two_layer_net"
ASSIGNMENT = get_assignment(A, ROOT)
PUBLIC = [c for c in ASSIGNMENT.checks if c.visibility == "public"]
RUNNABLE = [c for c in PUBLIC if c.requires != "cuda"]      # the others need a GPU: skipped here
POINTS = sum(c.points for c in RUNNABLE)
HIDDEN_POINTS = sum(c.points for c in ASSIGNMENT.checks if c.visibility == "hidden")
NOT_LINUX = ROOT / "tests" / "not_linux"


def spliced(into: str, source: str, names: list[str]) -> str:
    """``into`` with its top-level functions ``names`` replaced by ``source``'s."""
    def spans(text):
        return {n.name: (n.lineno - 1 - len(n.decorator_list), n.end_lineno)
                for n in ast.parse(text).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}

    lines, donor = into.splitlines(), source.splitlines()
    # From the bottom up, so the spans above stay where they are.
    for name in sorted(names, key=lambda n: spans("\n".join(lines))[n][0], reverse=True):
        a, b = spans("\n".join(lines))[name]
        c, d = spans(source)[name]
        lines[a:b] = donor[c:d]
    return "\n".join(lines) + "\n"


HALF_DONE = spliced(solution_source(A), stub_source(A), ["nn_train", "nn_predict", "TwoLayerNet"])   # the rest to do
LOOPS = solution_source(A).replace("    N = X.shape[0]\n", "    while True:\n        pass\n    N = X.shape[0]\n", 1)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    api.release(A, out, root=ROOT)
    return out


def student_pytest(bundle, tmp_path, source: str | None, *args: str, folder: str = "work", env=None):
    """Plain pytest in a copy of the bundle with ``source`` as the student's module, as on a
    laptop without Linux's extras; -> (exit status, output)."""
    work = tmp_path / folder
    if not work.exists():
        shutil.copytree(bundle, work)
    if source is not None:
        (work / f"{A}.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": str(NOT_LINUX), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    run = subprocess.run([sys.executable, "-m", "pytest", "-v", *args], cwd=work, capture_output=True,
                         text=True, env=env, timeout=600)
    return run.returncode, run.stdout + run.stderr


def statuses(output: str) -> dict[str, str]:
    return dict(re.findall(r"::(\w+) (PASSED|FAILED|SKIPPED)", output))


def test_stub_says_not_implemented_with_no_traceback(bundle, tmp_path):
    code, out = student_pytest(bundle, tmp_path, None)
    assert code == 1
    assert f"{len(RUNNABLE)} failed, {len(PUBLIC) - len(RUNNABLE)} skipped" in out
    assert out.count("not implemented yet") >= len(RUNNABLE) and "Traceback" not in out
    assert f"public checks: 0 / {POINTS:g} points\n" in out
    assert f"plus {HIDDEN_POINTS:g} points of hidden checks, graded by your instructor" in out


def test_solution_passes_and_imports_once(bundle, tmp_path):
    log = tmp_path / "imports.log"
    counted = solution_source(A) + ("\nimport os as _os\nwith open(_os.environ['IMPORT_LOG'], 'a') as _f:\n"
                                    "    _f.write(f'imported, fork: {hasattr(_os, \"fork\")}\\n')\n")
    code, out = student_pytest(bundle, tmp_path, counted, env={"IMPORT_LOG": str(log)})
    assert code == 0, out[-3000:]
    assert f"{len(RUNNABLE)} passed, {len(PUBLIC) - len(RUNNABLE)} skipped" in out
    assert f"public checks: {POINTS:g} / {POINTS:g} points\n" in out
    assert log.read_text() == "imported, fork: False\n"   # once for all checks, in a process without os.fork


def test_half_done_matches_the_sandboxed_grade_and_lf_reruns_the_failures(bundle, tmp_path, sandboxes):
    # A project above the bundle turning pytest's cache off (as this repo does) changes
    # nothing: the bundle's own pytest.ini is the configuration.
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = "-p no:cacheprovider"\n')
    code, out = student_pytest(bundle, tmp_path, HALF_DONE)
    graded = tmp_path / f"{A}.py"
    graded.write_text(HALF_DONE)
    report = api.grade(graded, A, root=ROOT, sandbox=sandboxes(A))
    instructor = {c.name: c for c in report.checks if c.visibility == "public"}
    expected = {n: {"passed": "PASSED", "skipped": "SKIPPED"}.get(c.status, "FAILED") for n, c in instructor.items()}
    assert statuses(out) == expected
    assert 0 < list(expected.values()).count("PASSED") < len(RUNNABLE)
    for c in instructor.values():
        if c.status not in ("passed", "skipped"):
            assert c.message.splitlines()[0] in out, c.name       # the same messages
    score = sum(c.score for c in instructor.values())
    assert f"public checks: {score:g} / {POINTS:g} points\n" in out

    code, again = student_pytest(bundle, tmp_path, None, "--lf")   # pytest's cache, on in the bundle
    failed = sorted(n for n, s in expected.items() if s == "FAILED")
    assert sorted(statuses(again)) == failed and set(statuses(again).values()) == {"FAILED"}
    assert f"from the {len(failed)} checks run (of {len(RUNNABLE)}" in again


def test_k_selects_checks_by_name_or_part(bundle, tmp_path):
    code, out = student_pytest(bundle, tmp_path, solution_source(A), "-k", "loss and not training")
    selected = [c for c in RUNNABLE if ("loss" in c.name or c.part == "loss") and "training" not in c.name]
    assert code == 0 and sorted(statuses(out)) == sorted(c.name for c in selected)
    assert f"public checks: {sum(c.points for c in selected):g} / {sum(c.points for c in selected):g} points " \
           f"from the {len(selected)} checks run" in out


def test_an_infinite_loop_costs_one_time_limit(bundle, tmp_path):
    # 15 s: what the slowest check the loop spares takes, with a fresh child importing torch
    # after the kill, stays far below it even with the suite's other process beside it.
    code, out = student_pytest(bundle, tmp_path, LOOPS, "--check-timeout", "15", "-p", "no:cacheprovider")
    assert code == 1
    # Counted in the failure reports only: with CI set, pytest's short summary repeats whole messages.
    reports = out.split("short test summary info")[0]
    assert reports.count("timed out: no answer within 15 s") == 1      # the first check that calls it
    first = re.search(r"::(\w+) FAILED", out).group(1)
    assert reports.count(f"not run: nn_forward_backward did not return in check {first}") >= 5
    assert "pytest --check-timeout SECONDS changes it" in out

    code, out = student_pytest(bundle, tmp_path, None, "-x", "--check-timeout", "15", "-p", "no:cacheprovider")
    assert code == 1 and list(statuses(out).values()).count("FAILED") == 1
    assert "stopping after 1 failures" in out


def test_a_pytest_without_the_grader_says_so_in_one_line(bundle, tmp_path):
    hide = tmp_path / "no_grader"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['grader'] = None\n")
    code, out = student_pytest(bundle, tmp_path, None, env={"PYTHONPATH": str(hide)})
    assert code == 4 and "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: the grader cannot be imported by ")
    assert "python -m pytest" in lines[0]
