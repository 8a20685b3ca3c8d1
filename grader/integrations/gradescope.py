"""Gradescope's programming-assignment autograder: the zip, and what runs in it.

``backprop-grader gradescope NAME --out autograder.zip`` writes the zip Gradescope
asks for. Gradescope unpacks it into ``/autograder/source`` and runs ``setup.sh``
once when it builds the image, then ``run_autograder`` for each submission, as
root in a container (without CAP_SYS_ADMIN), with the student's files in
``/autograder/submission``; it reads ``/autograder/results/results.json``.

    setup.sh             Python 3.11 in a venv, torch==2.13.0 (CPU), the bundled grader wheel
    run_autograder       runs ``python -m grader.integrations.gradescope``
    autograder.json      which assignment this is
    wheels/backprop_grader-*.whl
    course/assignments/<name>/          every check, hidden ones included
    course/reference_data/<name>/       public and hidden reference data, manifest

The solution is not in it. ``run_autograder`` grades with the same sandbox as
``grade``: the student's code runs in children that cannot reach the results folder
(its mode is 0700 and it is hidden from them) nor the hidden reference data, and
``results.json`` is written by the grader only after every child is gone, replacing
whatever was there. Hidden checks are marked ``after_published`` and their messages
carry no reference values.

The root is ``$AUTOGRADER_ROOT`` when set (tests), else ``/autograder``.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from grader.assignment import Assignment

__all__ = ["write_autograder_zip", "run_autograder", "main", "SETUP_SH", "RUN_AUTOGRADER"]

TORCH = "torch==2.13.0"

SETUP_SH = f"""\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
export DEBIAN_FRONTEND=noninteractive
# The grader needs Python 3.11 or later; Gradescope's Ubuntu images may ship an older one.
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    apt-get update
    apt-get install -y python3.11 python3.11-venv
    PY=python3.11
else
    apt-get update
    apt-get install -y python3-venv
    PY=python3
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
# The CPU wheel: Gradescope's machines have no GPU (checks that need one are skipped).
/autograder/venv/bin/pip install {TORCH} --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install wheels/backprop_grader-*.whl
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this, as root, for each submission.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY=python3
if [ -x "$ROOT/venv/bin/python" ]; then PY="$ROOT/venv/bin/python"; fi
cd "$ROOT/source"
exec "$PY" -m grader.integrations.gradescope "$ROOT"
"""


def write_autograder_zip(assignment: Assignment, out: Path, wheel: Path | None = None) -> Path:
    """The zip for ``assignment`` (reference data must be current: the caller checks)."""
    from grader.integrations.wheel import build_wheel

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bpg-gs-") as tmp:
        wheel = wheel or build_wheel(Path(tmp))
        tmp_zip = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as zf:
            def put(name: str, data: bytes, mode: int = 0o644) -> None:
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # the same zip for the same inputs
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)

            put("setup.sh", SETUP_SH.encode(), 0o755)
            put("run_autograder", RUN_AUTOGRADER.encode(), 0o755)
            put("autograder.json", json.dumps({"assignment": assignment.name}, indent=2).encode() + b"\n")
            put(f"wheels/{wheel.name}", wheel.read_bytes())
            for base, folder in ((f"course/assignments/{assignment.name}", assignment.root),
                                 (f"course/reference_data/{assignment.name}", assignment.reference_dir)):
                for f in sorted(folder.rglob("*")):
                    rel = f.relative_to(folder)
                    if f.is_file() and not any(p.startswith(".") or p in ("__pycache__", "demo_class")
                                               for p in rel.parts):
                        put(f"{base}/{rel.as_posix()}", f.read_bytes())
        tmp_zip.replace(out)
    return out


def _student(root: Path) -> str:
    """The submitter, from Gradescope's ``submission_metadata.json`` (else "submission")."""
    try:
        meta = json.loads((root / "submission_metadata.json").read_text())
        user = (meta.get("users") or [{}])[0]
        return str(user.get("sid") or user.get("email") or user.get("name") or "submission")
    except (OSError, ValueError, AttributeError, IndexError):
        return "submission"


def run_autograder(root: Path) -> dict:
    """Grade ``root/submission`` and write ``root/results/results.json``; returns it."""
    from grader import api
    from grader.lms import safe_id
    from grader.registry import get_assignment
    from grader.report import gradescope_results
    from grader.runner import make_sandbox

    root = Path(root).resolve()
    source, submission, results = root / "source", root / "submission", root / "results"
    name = json.loads((source / "autograder.json").read_text())["assignment"]
    course = source / "course"
    assignment = get_assignment(name, course)
    from grader.sandbox.limits import readable_by_others

    if os.geteuid() == 0 and not readable_by_others(str(assignment.root)):
        # The student's code runs under another uid; where no mount namespace can be
        # made it reads the probes in place. Failing here shows as an autograder
        # failure on Gradescope, never as a zero for the student.
        raise SystemExit(f"{assignment.root} is not readable by other users, so the student's process "
                         f"could not import the probes: make {root} and its parents searchable (chmod o+rx)")
    # Only the grader reads these: the children run under other uids (and, where
    # mount namespaces work, see them empty anyway).
    results.mkdir(parents=True, exist_ok=True)
    os.chmod(results, 0o700)
    os.chmod(assignment.reference_dir, 0o700)
    target = results / "results.json"
    target.unlink(missing_ok=True)
    sandbox = make_sandbox(assignment, hide=[results, submission, root / "source" / "wheels"]).start()
    try:
        report = api.grade(submission, name, root=course, sandbox=sandbox, student=safe_id(_student(root)))
    finally:
        sandbox.close()  # every child is gone before results.json is written
    data = gradescope_results(report.student_view())  # the student reads it: hidden checks redacted
    tmp = target.with_name("results.json.tmp")
    tmp.unlink(missing_ok=True)
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(target)
    return data


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    data = run_autograder(root)
    counted = [t for t in data["tests"]]
    print(f"score {data['score']:g}; {sum(t['status'] == 'passed' for t in counted)} of {len(counted)} checks passed; "
          f"wrote {root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
