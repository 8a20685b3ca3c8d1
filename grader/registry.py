"""Finding assignments. Discovery only: no assignment's name appears in grader/.

The course root is the folder holding ``assignments/``, ``solutions/`` and
``reference_data/``. It is, in order: ``--root`` on the command line, the
``BACKPROP_GRADER_ROOT`` environment variable, the repository this package sits in
(a development install), or the current directory.
"""
from __future__ import annotations

import os
from pathlib import Path

from grader.assignment import Assignment

__all__ = ["course_root", "discover", "get_assignment", "UnknownAssignment"]


class UnknownAssignment(LookupError):
    pass


def course_root(explicit: str | Path | None = None) -> Path:
    candidates = [explicit, os.environ.get("BACKPROP_GRADER_ROOT"), Path(__file__).resolve().parents[1], Path.cwd()]
    for c in candidates:
        if c and (Path(c) / "assignments").is_dir():
            return Path(c).resolve()
    raise UnknownAssignment(
        "no assignments/ folder found: run from a course folder, or pass --root DIR "
        "(or set BACKPROP_GRADER_ROOT)"
    )


def discover(root: Path) -> dict[str, Path]:
    """name -> folder, for every ``assignments/<name>/assignment.toml``."""
    found = {}
    for toml in sorted((root / "assignments").glob("*/assignment.toml")):
        found[toml.parent.name] = toml.parent
    return found


def get_assignment(name: str, root: Path) -> Assignment:
    folders = discover(root)
    if name not in folders:
        known = ", ".join(sorted(folders)) or "none"
        raise UnknownAssignment(f"unknown assignment {name!r} (known: {known})")
    return Assignment.load(folders[name], solutions=root / "solutions" / name,
                           reference=root / "reference_data" / name)


def all_assignments(root: Path) -> list[Assignment]:
    return [get_assignment(name, root) for name in discover(root)]
