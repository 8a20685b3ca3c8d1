"""Reference data knows what made it: data from other checks, probes or solution is refused
with the command that fixes it, and regenerating keeps the bytes of values that agree."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import ROOT
from grader import api, reference
from grader.codec import decode, encode
from grader.registry import get_assignment

A = "toy_mlp"


@pytest.mark.parametrize("old, new, same", [
    (1.0, 1.0 + 1e-14, True),
    (1.0, 1.0 + 1e-9, False),
    (1e6, 1e6 * (1 + 1e-13), True),             # relative above 1
    (0.0, 1e-13, True),                         # absolute below 1
    (np.array([1.0, np.nan]), np.array([1.0 + 1e-15, np.nan]), True),
    (np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-6]), False),
    (np.array([1.0]), np.array([1.0], np.float32), False),    # dtype is part of the value
    (np.array([1.0]), np.array([[1.0]]), False),
    ({"a": [1, 2.0]}, {"a": [1, 2.0 + 1e-15]}, True),
    ({"a": 1}, {"b": 1}, False),
    (1, 1.0, False),
    ("x", "x", True),
])
def test_agrees(old, new, same):
    assert reference.agrees(old, new) is same


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course's toy_mlp whose reference data is regenerated over the committed
    one, after nudging one file by 1e-6 (must be rewritten) and another by 1e-14 (kept)."""
    root = tmp_path_factory.mktemp("course")
    for part in ("assignments", "solutions", "reference_data"):
        shutil.copytree(ROOT / part / A, root / part / A)
    files = sorted((root / "reference_data" / A).rglob("*.safetensors"))
    nudged = {}
    for path, by in zip(files, (1e-6, 1e-14)):
        record = decode(path.read_bytes())
        record["expected"] = _nudge(record["expected"], by)
        path.write_bytes(encode(record))
        nudged[path] = (by, path.read_bytes())
    api.make_reference(A, root=root)
    return root, nudged


def _nudge(value, by):
    if isinstance(value, dict):
        return {k: _nudge(v, by) for k, v in value.items()}
    if isinstance(value, list):
        return [_nudge(v, by) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value * (1 + by) + by
    if isinstance(value, float):
        return value * (1 + by) + by
    return value


def test_regenerating_rewrites_what_differs_and_keeps_what_agrees(course):
    root, nudged = course
    for path, (by, data) in nudged.items():
        committed = decode((ROOT / path.relative_to(root)).read_bytes())
        now = path.read_bytes()
        if by > reference.AGREE:
            assert now != data and reference.agrees(decode(now), committed)
        else:
            assert now == data


def test_fresh_data_is_ok(course):
    a = get_assignment(A, course[0])
    assert reference.verified(a) and reference.stale(a) == []
    assert {r["name"]: r["reference_data"] for r in api.list_assignments(course[0])} == {A: "ok"}


def test_grading_key_follows_the_data_not_the_machine(tmp_path):
    """The environment the manifest records (library versions) differs between machines that
    produce the same data: it must not regrade a class. The data files' hashes must."""
    root = tmp_path / "course"
    for part in ("assignments", "reference_data"):
        shutil.copytree(ROOT / part / A, root / part / A)
    a = get_assignment(A, root)
    key = api.grading_key(a, "cpu", {})
    path = root / "reference_data" / A / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "environment": {"numpy": "0.0"}}))
    assert api.grading_key(a, "cpu", {}) == key
    first = next(iter(manifest["files"]))
    path.write_text(json.dumps({**manifest, "files": {**manifest["files"], first: "0" * 64}}))
    assert api.grading_key(a, "cpu", {}) != key


@pytest.mark.parametrize("edit, reason", [
    (lambda r: _edit(r / "assignments" / A / "assignment.toml", "seed = ", "seed = 9"), "declaration changed"),
    (lambda r: _append(r / "assignments" / A / "probes.py", "\n# changed\n"), "probes.py changed"),
    (lambda r: _append(r / "solutions" / A / f"{A}.py", "\n# changed\n"), f"solution file {A}.py changed"),
])
def test_stale_data_is_refused_with_the_fix(course, tmp_path, edit, reason):
    root = tmp_path / "course"
    shutil.copytree(course[0], root)
    edit(root)
    a = get_assignment(A, root)
    assert any(reason in r for r in reference.stale(a))
    assert {r["name"]: r["reference_data"] for r in api.list_assignments(root)} == {A: "stale"}
    with pytest.raises(api.UsageError, match=f"stale: .*{reason}.*run `backprop-grader reference {A}`"):
        api.grade(root / "solutions" / A / f"{A}.py", A, root=root)


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _append(path, text):
    path.write_text(path.read_text() + text)
