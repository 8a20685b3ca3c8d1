"""``reference_data/<assignment>/``: the inputs each check sends and the solution's outputs.

One file per check, ``<visibility>/<check>.safetensors``, written with
:mod:`grader.codec` (no pickle: loading it can never run code), plus
``manifest.json`` with each file's SHA-256. Generation runs every check's probe on
``solutions/<name>/`` in the same sandboxed child a student gets, on the CPU, with
float64 wherever a check has a dtype option, and fixed seeds: running it twice
gives identical bytes.

The public half is what ``release`` ships to students; the hidden half never
leaves the instructor's machine.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from grader.assignment import Assignment, CheckSpec
from grader.codec import decode, encode

log = logging.getLogger(__name__)

SUFFIX = ".safetensors"


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
            data = encode(record)
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
        }
        (tmp_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        shutil.rmtree(out_dir, ignore_errors=True)
        tmp_dir.rename(out_dir)
        written = sorted(out_dir.rglob(f"*{SUFFIX}")) + [out_dir / "manifest.json"]
        _read.cache_clear()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return written


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
