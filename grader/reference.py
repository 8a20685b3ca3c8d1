"""``reference_data/<assignment>/``: the inputs each check sends and the solution's outputs.

One file per check, ``<visibility>/<check>.safetensors``, written with
:mod:`grader.codec` (no pickle: loading it can never run code), plus
``manifest.json`` with each file's SHA-256. Generation runs every check's probe on
``solutions/<name>/`` in the same sandboxed child a student gets, on the CPU, with
float64 wherever a check has a dtype option, and fixed seeds.

Regenerating keeps a file's bytes when every value in it agrees with the new one
to 1e-12 (relative, or absolute near zero): another CPU's last-bit rounding then
changes nothing, not the files, not their hashes in the manifest, and so not the
grading key that decides who is regraded. Running it twice gives identical bytes.

The manifest also holds a fingerprint of what the data was made from: each
check's declaration (seed, inputs, options, probe), ``probes.py``, the provided
files and the solution's files. :func:`stale` compares it with the assignment as
it is now; grading refuses data made from something else.

The public half is what ``release`` ships to students; the hidden half never
leaves the instructor's machine.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import math
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from grader.assignment import Assignment, CheckSpec
from grader.codec import decode, encode

log = logging.getLogger(__name__)

SUFFIX = ".safetensors"
AGREE = 1e-12   # values this close to the new ones keep the old bytes
# What a check's declaration holds that cannot change its reference data.
_PRESENTATION = ("points", "description", "part", "timeout_s", "judge", "uses", "visibility")


class ReferenceDataError(RuntimeError):
    pass


def path_for(assignment: Assignment, spec: CheckSpec) -> Path:
    return assignment.reference_dir / spec.visibility / f"{spec.name}{SUFFIX}"


@lru_cache(maxsize=512)
def _read(path: Path, mtime: float) -> dict:
    return decode(path.read_bytes())


def load(assignment: Assignment, spec: CheckSpec) -> dict:
    """``{"inputs": ..., "expected": ...}`` for one check: a copy of its own for each
    caller. Batch workers are threads, and a judge that computed in place on the
    inputs or the expected arrays would otherwise change them for every student
    graded after it (and, under load, for one graded at the same time)."""
    path = path_for(assignment, spec)
    if not path.is_file():
        raise ReferenceDataError(
            f"no reference data for check {spec.name} ({path}): run `backprop-grader reference {assignment.name}`"
        )
    return copy.deepcopy(_read(path, path.stat().st_mtime))


def missing(assignment: Assignment) -> list[str]:
    return [c.name for c in assignment.checks if not path_for(assignment, c).is_file()]


def reference_options(spec: CheckSpec) -> dict:
    """The solution runs in float64 even where the check tests another dtype:
    the student's float32 result is judged against the exact-as-possible value."""
    opts = dict(spec.options)
    if "dtype" in opts:
        opts["dtype"] = "float64"
    return opts


def generate(assignment: Assignment, sandbox, progress: Callable[[str], None] | None = None) -> list[Path]:
    """Run the solution through every check and write ``reference_data/<name>/``."""
    # Imported here: runner imports this module.
    from grader.runner import ModuleSession

    solution = assignment.solution_dir / f"{assignment.module}.py"
    if not solution.is_file():
        raise ReferenceDataError(f"no solution at {solution}")
    workdir = Path(tempfile.mkdtemp(prefix="bpg-ref-"))
    written: list[Path] = []
    files: dict[str, str] = {}
    try:
        for item in assignment.solution_dir.iterdir():
            if item.is_file() and item.suffix == ".py":
                shutil.copyfile(item, workdir / item.name)
        for name in assignment.provided:
            shutil.copyfile(assignment.root / name, workdir / name)
        session = ModuleSession(sandbox, assignment, workdir, workdir / f"{assignment.module}.py")
        if not session.start():
            raise ReferenceDataError(f"the solution does not import: {session.load_error}")
        mistakes = _known_mistakes(assignment)
        out_dir = assignment.reference_dir
        tmp_dir = out_dir.with_name(out_dir.name + ".tmp")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        for spec in assignment.checks:
            if progress:
                progress(spec.name)
            inputs: Any = None
            if spec.inputs and not spec.live_inputs:
                inputs = session.make_inputs(spec.inputs, spec.inputs_args, spec.seed)
            # Always the CPU: one set of reference outputs serves every device.
            outcome = session.run(spec, inputs, "cpu", reference_options(spec))
            if outcome.status != "ok":
                raise ReferenceDataError(f"the solution fails check {spec.name}: {outcome.status} "
                                      f"{outcome.detail} {outcome.error}")
            record = {"check": spec.name, "inputs": inputs, "expected": outcome.value}
            if mistakes is not None:
                known = mistakes(spec.name, spec.probe, inputs, reference_options(spec))
                if known:
                    record["mistakes"] = known
            data = _kept_or_new(out_dir / spec.visibility / f"{spec.name}{SUFFIX}", record)
            target = tmp_dir / spec.visibility / f"{spec.name}{SUFFIX}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files[f"{spec.visibility}/{spec.name}{SUFFIX}"] = hashlib.sha256(data).hexdigest()
        environment = {k: v for k, v in session.environment().items() if k != "cuda"}
        session.close()
        manifest = {
            "assignment": assignment.name,
            "solution_sha256": hashlib.sha256(solution.read_bytes()).hexdigest(),
            "environment": environment,
            "files": dict(sorted(files.items())),
            "fingerprint": fingerprint(assignment),
        }
        (tmp_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp_dir.rename(out_dir)
        written = sorted(out_dir.rglob(f"*{SUFFIX}")) + [out_dir / "manifest.json"]
        _read.cache_clear()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return written


def _kept_or_new(old: Path, record: dict) -> bytes:
    """The old file's bytes when its values agree with ``record`` to :data:`AGREE`, else new bytes."""
    if old.is_file():
        data = old.read_bytes()
        try:
            if agrees(decode(data), record):
                return data
        except Exception:  # an unreadable old file is simply replaced
            log.warning("replacing unreadable %s", old)
    return encode(record)


def agrees(old: Any, new: Any, tol: float = AGREE) -> bool:
    """Same structure, same types, equal non-numbers, numbers within ``tol``
    (relative to the larger magnitude, absolute below 1)."""
    import numpy as np

    if isinstance(new, dict):
        return isinstance(old, dict) and old.keys() == new.keys() and all(agrees(old[k], new[k], tol) for k in new)
    if isinstance(new, (list, tuple)):
        return isinstance(old, (list, tuple)) and len(old) == len(new) and all(
            agrees(a, b, tol) for a, b in zip(old, new))
    if isinstance(new, np.ndarray) or isinstance(old, np.ndarray):
        if not (isinstance(new, np.ndarray) and isinstance(old, np.ndarray)) or old.dtype != new.dtype \
                or old.shape != new.shape:
            return False
        if new.dtype.kind != "f":
            return bool(np.array_equal(old, new))
        a, b = old.astype(np.float64), new.astype(np.float64)
        scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
        with np.errstate(invalid="ignore"):
            close = (np.abs(a - b) <= tol * scale) | (a == b) | (np.isnan(a) & np.isnan(b))
        return bool(close.all())
    if isinstance(new, float) and not isinstance(new, bool):
        if not isinstance(old, float):
            return False
        return old == new or (math.isnan(old) and math.isnan(new)) or \
            abs(old - new) <= tol * max(1.0, abs(old), abs(new))
    return type(old) is type(new) and old == new


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(assignment: Assignment) -> dict:
    """What the reference data is made from, as hashes (see the module docstring)."""
    checks = {}
    for spec in assignment.checks:
        made_of = {k: v for k, v in dataclasses.asdict(spec).items() if k not in _PRESENTATION}
        checks[spec.name] = _sha(json.dumps(made_of, sort_keys=True, default=str).encode())
    sources = {"probes.py": _sha(assignment.probes_file.read_bytes())}
    for name in assignment.provided:
        sources[f"provided/{name}"] = _sha((assignment.root / name).read_bytes())
    if assignment.solution_dir.is_dir():
        for f in sorted(assignment.solution_dir.glob("*.py")):
            sources[f"solution/{f.name}"] = _sha(f.read_bytes())
    return {"checks": checks, "sources": sources}


def manifest(assignment: Assignment) -> dict | None:
    path = assignment.reference_dir / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def stale(assignment: Assignment) -> list[str]:
    """Why the reference data no longer matches the assignment (empty: it matches).

    Where the solution is not here (a Gradescope autograder, a TA's copy) its files
    are not compared; data from before fingerprints existed is not judged (see
    :func:`verified`)."""
    recorded = (manifest(assignment) or {}).get("fingerprint")
    if not recorded:
        return []
    now = fingerprint(assignment)
    reasons = []
    for name, sha in now["checks"].items():
        if name not in recorded.get("checks", {}):
            reasons.append(f"check {name} is new")
        elif recorded["checks"][name] != sha:
            reasons.append(f"check {name}'s declaration changed (seed, inputs, options or probe)")
    was = recorded.get("sources", {})
    here_solution = assignment.solution_dir.is_dir()
    for name in sorted(set(was) | set(now["sources"])):
        if name.startswith("solution/") and not here_solution:
            continue
        if was.get(name) != now["sources"].get(name):
            what = "is new" if name not in was else "is gone" if name not in now["sources"] else "changed"
            reasons.append(f"{name.replace('solution/', 'the solution file ').replace('provided/', 'the provided file ')} {what}")
    return reasons


def verified(assignment: Assignment) -> bool:
    """Whether the manifest records what the data was made from (data from before that cannot be checked)."""
    return bool((manifest(assignment) or {}).get("fingerprint"))


def _known_mistakes(assignment: Assignment):
    """``solutions/<name>/mistakes.py:known_mistakes``, if the assignment has one (trusted code)."""
    path = assignment.solution_dir / "mistakes.py"
    if not path.is_file():
        return None
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_mistakes_{assignment.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.known_mistakes
