"""A wheel of this grader, for places that install it from a file (Gradescope's
image, a student repository's CI)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["build_wheel", "find_wheel", "WheelError"]


class WheelError(RuntimeError):
    pass


def find_wheel(folder: Path) -> Path | None:
    found = sorted(p for p in folder.rglob("backprop_grader-*.whl") if ".git" not in p.parts)
    return found[-1] if found else None


def build_wheel(dest: Path) -> Path:
    """The grader's wheel in ``dest``: the same pure-Python wheel ``release`` puts in a
    student bundle (:func:`grader.release.build_grader_wheel`), built from the files this
    grader runs from, with nothing downloaded."""
    from grader.release import build_grader_wheel

    dest.mkdir(parents=True, exist_ok=True)
    try:
        return build_grader_wheel(dest)
    except RuntimeError as exc:
        raise WheelError(str(exc)) from None
