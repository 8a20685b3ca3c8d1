"""A wheel of this grader, for places that install it from a file (Gradescope's
image, a student repository's CI)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grader

__all__ = ["build_wheel", "find_wheel", "WheelError"]


class WheelError(RuntimeError):
    pass


def find_wheel(folder: Path) -> Path | None:
    found = sorted(p for p in folder.rglob("backprop_grader-*.whl") if ".git" not in p.parts)
    return found[-1] if found else None


def build_wheel(dest: Path) -> Path:
    """``pip wheel`` of the source tree this grader runs from (pip is the builder
    every installation has; no build isolation: nothing is downloaded)."""
    source = Path(grader.__file__).resolve().parents[1]
    if not (source / "pyproject.toml").is_file():
        raise WheelError(f"the grader at {source} is not a source tree (no pyproject.toml): install it from "
                         f"its repository to bundle it")
    dest.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(dest), str(source)], capture_output=True, text=True)
    wheel = find_wheel(dest)
    if run.returncode != 0 or wheel is None:
        raise WheelError(f"building the grader's wheel failed: {run.stderr.strip()[-2000:]}")
    return wheel
