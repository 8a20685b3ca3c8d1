"""An assignment: a folder of data plus two small modules.

    assignments/<name>/
        assignment.toml     what is graded: the checks with points, visibility, options
        <module>.py         the stub students start from
        helpers.py          code the assignment provides (optional, listed in `provided`)
        probes.py           runs in the sandbox: makes inputs, calls the student's code
        judges.py           runs in the grader: decides whether an output is right
        README.md           (optional) what students read first

The split between probes and judges is the trust boundary: probes run next to the
student's code and may be tampered with; judges see only the plain data that came
back and the reference outputs the student never sees.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Assignment", "CheckSpec", "AssignmentError"]

_VISIBILITIES = ("public", "hidden")
_IMPORT_LOCK = threading.Lock()


class AssignmentError(ValueError):
    """An assignment folder that cannot be used as it is (a problem for its author)."""


@dataclass(frozen=True)
class CheckSpec:
    """One check as the instructor declared it."""

    name: str
    points: float
    visibility: str
    description: str
    probe: str                     # function in probes.py
    judge: str                     # function in judges.py
    uses: tuple[str, ...] = ()     # student names the check calls (to report missing ones)
    inputs: str | None = None      # function in probes.py that makes the inputs
    inputs_args: dict = field(default_factory=dict)
    live_inputs: bool = False      # make inputs in the sandbox at grading time (large data sets)
    options: dict = field(default_factory=dict)
    timeout_s: float = 20.0
    requires: str | None = None    # "cuda": skipped with a reason when no GPU is present
    seed: int = 0
    part: str = ""                 # for grouping in reports
    after: tuple[str, ...] = ()    # earlier checks this one depends on: if they fail, "fix them first"
    measures: tuple[str, ...] = ()  # what it credits that is observed inside the child ("autograd", "inputs"...)


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    root: Path
    module: str                    # the student's module name (file `<module>.py`)
    names: tuple[str, ...]         # what the student module must define
    provided: tuple[str, ...]      # files copied next to the student's module
    preload: tuple[str, ...]       # modules the fork server imports once
    checks: tuple[CheckSpec, ...]
    solution_dir: Path
    reference_dir: Path
    uses_torch: bool = True

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.checks))

    @property
    def stub(self) -> Path:
        return self.root / f"{self.module}.py"

    @property
    def probes_file(self) -> Path:
        return self.root / "probes.py"

    @property
    def judges_file(self) -> Path:
        return self.root / "judges.py"

    @property
    def helpers_file(self) -> Path | None:
        path = self.root / "helpers.py"
        return path if path.is_file() else None

    def check(self, name: str) -> CheckSpec:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def judges(self) -> types.ModuleType:
        """The judges module, imported once per process under a private name.

        Batch workers are threads: the lock keeps a second one from seeing a module
        that the first is still executing."""
        key = f"_backprop_grader_judges_{self.name}_{abs(hash(str(self.root)))}"
        with _IMPORT_LOCK:
            if key not in sys.modules:
                spec = importlib.util.spec_from_file_location(key, self.judges_file)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[key] = module
            return sys.modules[key]

    @classmethod
    def load(cls, root: Path, solutions: Path | None = None, reference: Path | None = None) -> "Assignment":
        root = Path(root).resolve()
        toml_path = root / "assignment.toml"
        try:
            data = tomllib.loads(toml_path.read_text())
        except FileNotFoundError:
            raise AssignmentError(f"{root}: no assignment.toml") from None
        except tomllib.TOMLDecodeError as exc:
            raise AssignmentError(f"{toml_path}: {exc}") from None
        name = data.get("name", root.name)
        checks = []
        for raw in data.get("check", []):
            checks.append(_check_spec(toml_path, raw))
        names = [c.name for c in checks]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise AssignmentError(f"{toml_path}: check names used twice: {sorted(dupes)}")
        if not checks:
            raise AssignmentError(f"{toml_path}: no [[check]] entries")
        for i, c in enumerate(checks):
            # Earlier only: the runner judges in toml order, so a prerequisite listed
            # later would not have a result yet when this check needs it.
            late = [n for n in c.after if n not in names[:i]]
            if late:
                where = ["is not a check" if n not in names else "comes later in the file" for n in late]
                raise AssignmentError(f"{toml_path}: check {c.name}: after = {late}: "
                                      + "; ".join(f"{n} {w}" for n, w in zip(late, where)))
        repo = root.parent.parent
        return cls(
            name=name,
            title=data.get("title", name),
            root=root,
            module=data.get("module", name),
            names=tuple(data.get("names", [])),
            provided=tuple(data.get("provided", [])),
            preload=tuple(data.get("preload", ["numpy"])),
            checks=tuple(checks),
            solution_dir=(solutions or repo / "solutions" / name),
            reference_dir=(reference or repo / "reference_data" / name),
            uses_torch=bool(data.get("uses_torch", True)),
        )


def _check_spec(where: Path, raw: dict[str, Any]) -> CheckSpec:
    try:
        name = raw["name"]
        spec = CheckSpec(
            name=name,
            points=float(raw["points"]),
            visibility=raw.get("visibility", "public"),
            description=raw.get("description", ""),
            probe=raw["probe"],
            judge=raw.get("judge", "match_reference"),
            uses=tuple(raw.get("uses", [])),
            inputs=raw.get("inputs"),
            inputs_args=dict(raw.get("inputs_args", {})),
            live_inputs=bool(raw.get("live_inputs", False)),
            options=dict(raw.get("options", {})),
            timeout_s=float(raw.get("timeout_s", 20.0)),
            requires=raw.get("requires"),
            seed=int(raw.get("seed", 0)),
            part=raw.get("part", ""),
            after=tuple(raw.get("after", [])),
            measures=tuple(raw.get("measures", [])),
        )
    except KeyError as exc:
        raise AssignmentError(f"{where}: a [[check]] lacks {exc.args[0]!r}: {raw}") from None
    if spec.visibility not in _VISIBILITIES:
        raise AssignmentError(f"{where}: check {spec.name}: visibility must be one of {_VISIBILITIES}")
    return spec
