"""The grader survives any reply: a child's replies are built by student code, which
can send any bytes. A submission whose every reply is an attack costs the grader's
process a few MiB, gets no points, and its reports stay small and readable."""
from __future__ import annotations

import pytest

from conftest import ROOT, solution_source, stub_source
from grader import api
from grader.registry import get_assignment

A = "toy_mlp"  # few checks: each one below gets the next attack

# Appended to the solution, so the module loads; then every reply after the import's
# is replaced by an attack, the one at the position of the check being run (nothing
# the child writes survives the restart after each attack, so it cannot count them).
ATTACK = r'''

import os as _os
import grader.harness as _harness
from safetensors.numpy import save as _save

_encode = _harness.encode
_ERROR = {"type": "ValueError", "frames": [], "not_implemented": False, "probe_error": False}


def _raw(structure):
    return _save({}, metadata={"structure": structure})


_ATTACKS = [
    *[lambda: _encode({"ok": False, "error": {**_ERROR, "message": "x" * 20_000_000}})] * 4,
    lambda: _raw("[" + ",".join(["[]"] * 8_000_000) + "]"),
    lambda: _raw('{"ok":true,"value":' + "[" * 5000 + "]" * 5000 + "}"),
    lambda: _encode({"ok": True, "value": {"k" * 900_000: 1}}),
    lambda: _encode({"ok": True, "value": {str(i) * 9000: 1 for i in range(100)}}),
    lambda: _encode({"ok": False, "error": {**_ERROR, "message": "m" * 9_000_000}}),
    lambda: _encode({"ok": False, "error": {**_ERROR, "type": "T" * 9000, "message": "e" * 9000}}),
    lambda: (print("p" * 50_000_000, flush=True), _encode({"ok": False, "error": {**_ERROR, "message": "x"}}))[1],
]


_decode = _harness.decode
_request = {}


def _remember(data):
    value = _decode(data)
    if isinstance(value, dict):
        _request.clear()
        _request.update(value)
    return value


def _hostile_encode(value):
    if isinstance(value, dict) and "defined" in value:
        return _encode(value)  # the import's own reply
    n = _CHECKS.index(_request["check"]) if _request.get("check") in _CHECKS else 0
    return _ATTACKS[n % len(_ATTACKS)]()


_harness.decode = _remember
_harness.encode = _hostile_encode
'''


def grade_hostile(sandbox, tmp_path, name: str, source: str | None = None):
    path = tmp_path / name / f"{A}.py"
    path.parent.mkdir()
    checks = [c.name for c in get_assignment(A, ROOT).checks]
    path.write_text(solution_source(A) + ATTACK + f"\n_CHECKS = {checks!r}\n" if source is None else source)
    return api.grade(path, A, tmp_path / f"{name}_out", root=ROOT, sandbox=sandbox), tmp_path / f"{name}_out"


@pytest.fixture(scope="module")
def graded(sandboxes, tmp_path_factory):
    from memwatch import peak_growth_mib

    tmp = tmp_path_factory.mktemp("hostile")
    # Reference data, templates and the report path loaded once, cheaply: the stub
    # errs in every check, as the attacker does.
    grade_hostile(sandboxes(A), tmp, "warm_up", stub_source(A))
    with peak_growth_mib() as grew:
        report, out = grade_hostile(sandboxes(A), tmp, "attacker")
    return report, out, grew()


def test_every_attack_costs_the_attacker_its_check_and_nothing_more(graded):
    report, _, _ = graded
    assert report.score == 0 and report.status == "graded"
    assert all(c.status == "error" for c in report.checks), {c.name: c.status for c in report.checks}
    messages = " ".join(c.message for c in report.checks)
    assert "over the limit" in messages and "nested more than" in messages and "key of 900000" in messages


def test_the_grader_grows_by_a_few_mib(graded):
    # Before replies were bounded: 42 MiB -> 862 MiB for four 20 MB messages, and
    # 1.8 GiB for the 8 million lists. Replies under the frame cap are read whole
    # (9 MB here) before the codec refuses them: that is most of what remains.
    _, _, grew = graded
    assert grew < 64, f"grading the attacker grew the grader by {grew:.0f} MiB"


def test_reports_stay_small_and_student_text_is_cut(graded):
    report, out, _ = graded
    sizes = {p.name: p.stat().st_size for p in out.iterdir()}
    assert sizes and all(size < 256 << 10 for size in sizes.values()), sizes  # 320 MiB before
    assert max(len(c.message) for c in report.checks) < 2100
    assert "characters dropped" in report.output and len(report.output) < 21_000
