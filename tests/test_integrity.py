"""Forgery does not pay: fifteen ways of still using autograd in two_layer_net's
nn_forward_backward (tests/laundering.py), graded in one sandbox. Each one either
fails `no_autograd` or is flagged; most are both. Right code is never flagged."""
from __future__ import annotations

import dataclasses

import pytest

from conftest import ROOT, solution_source
from grader.integrity import scan_source
from grader.registry import all_assignments, get_assignment
from grader.runner import GradeOptions, grade
from grader.submission import load_submission
from laundering import LAUNDERING, laundering_source

A = "two_layer_net"
ONLY = ("grads_vs_reference", "no_autograd", "float32_preserved")

# name -> the kinds of flag it must raise (at least these); the check always fails.
EXPECTED_FLAGS = {
    "plain_backward": set(),
    "alias_at_import": {"autograd"},
    "functional_backward": {"autograd"},
    "engine_direct": {"native"},
    "replace_watch": {"grader-internals", "patch"},
    "wrap_probe": {"introspection", "grader-internals", "patch"},
    "forked_helper": {"concurrency", "fd"},
    "thread_patches_later": {"concurrency", "thread"},
    "state_between_checks": set(),
    "patch_harness": {"grader-internals", "patch"},
    "patch_numpy_torch": {"patch"},
    "fake_reply_frame": {"introspection", "reply"},
    "sys_modules_trick": {"introspection", "modules"},
    "own_saved_tensor_hooks": {"autograd"},
    "backward_in_thread": {"concurrency"},
}


@pytest.fixture(scope="module")
def laundered(sandboxes, tmp_path_factory):
    """name -> Report, for every laundering submission, through one fork server.
    The lab declares that `no_autograd` measures autograd use in the child."""
    a = get_assignment(A, ROOT)
    a = dataclasses.replace(a, checks=tuple(dataclasses.replace(c, measures=("autograd",))
                                            if c.name == "no_autograd" else c for c in a.checks))
    folder = tmp_path_factory.mktemp("laundering")
    reports = {}
    for name in LAUNDERING:
        path = folder / name / f"{A}.py"
        path.parent.mkdir()
        path.write_text(laundering_source(solution_source(A), name))
        reports[name] = grade(load_submission(path, a.module, name), a, sandboxes(A), GradeOptions(only=ONLY))
    return reports


def test_the_table_covers_every_submission():
    assert set(EXPECTED_FLAGS) == set(LAUNDERING) and len(LAUNDERING) >= 12


@pytest.mark.parametrize("name", sorted(LAUNDERING))
def test_laundering_does_not_pay(laundered, name):
    report = laundered[name]
    checks = {c.name: c for c in report.checks}
    assert checks["grads_vs_reference"].status == "passed"   # the values are right: only the method is wrong
    assert checks["no_autograd"].status == "failed" and checks["no_autograd"].score == 0
    kinds = {f["kind"] for f in report.integrity}
    assert EXPECTED_FLAGS[name] <= kinds, kinds
    assert all(f["evidence"] for f in report.integrity)


def test_flags_reach_the_instructor_only(laundered):
    from grader.report.gradebook import Gradebook

    report = laundered["patch_harness"]
    assert report.to_dict()["integrity"] and report.student_view().integrity == ()
    summary = Gradebook.of(A, [report, laundered["plain_backward"]], list(ONLY)).summary_markdown()
    assert "## Integrity flags" in summary and "**patch_harness**: grader-internals: line" in summary
    assert "**plain_backward**:" not in summary


@pytest.mark.parametrize("assignment", [a.name for a in all_assignments(ROOT)])
def test_right_code_is_not_flagged(assignment):
    a = get_assignment(assignment, ROOT)
    files = [a.solution_dir / f"{a.module}.py", *sorted((a.root / "demo_class").glob("*.py"))]
    for f in files:
        flags = [x for x in scan_source(f.read_text()) if x.kind != "autograd-use"]
        assert flags == [], (f.name, flags)


@pytest.mark.parametrize("source, kind", [
    ("import sys\nif 'google.colab' in sys.modules:\n    pass\n", None),   # asking is not tampering
    ("import torch\ntorch.backends.cudnn.deterministic = True\n", None),
    ("import torch as T\nE = T.autograd.Variable\ndef f(l):\n    E._execution_engine.run_backward(l)\n", "native"),
    ("import builtins\nbuiltins.print = None\n", "patch"),
    ("import gc\ndef f():\n    return gc.get_objects()\n", "introspection"),
    ("import sys\ndef f():\n    sys.settrace(lambda *a: None)\n", "trace"),
    ("import os\ndef f():\n    os.write(5, b'x')\n", "fd"),
    ("from torch import _C\n", "native"),
    ("import numpy as np\nsetattr(np, 'array', list)\n", "patch"),
])
def test_static_read(source, kind):
    kinds = {f.kind for f in scan_source(source)} - {"autograd-use"}
    assert (kind in kinds) if kind else not kinds, kinds


@pytest.mark.parametrize("name", ["patch_harness", "forked_helper", "wrap_probe"])
def test_a_watched_check_is_not_credited_under_tampering_even_undeclared(sandboxes, tmp_path, name):
    """The probe used ctx.watch_autograd(): that alone marks the check as measuring in
    the child, so tampering flags void it without `measures` in the toml."""
    a = get_assignment(A, ROOT)
    path = tmp_path / f"{A}.py"
    path.write_text(laundering_source(solution_source(A), name))
    report = grade(load_submission(path, a.module, name), a, sandboxes(A), GradeOptions(only=("no_autograd",)))
    (check,) = report.checks
    assert check.status == "failed" and check.message.startswith("not credited: the submission shows signs")
