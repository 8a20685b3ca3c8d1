"""A GitHub Classroom student repository: the release bundle plus its workflow.

``backprop-grader release NAME --repo --out DIR`` writes the bundle
(:func:`grader.release.write_bundle`) and ``.github/workflows/classroom.yml``,
which GitHub Classroom's autograding reads:

1. install torch==2.13.0 (CPU) and the grader wheel that travels in the repository;
2. grade once: ``backprop-grader grade .`` on the public checks, which writes
   ``.autograding/report.json``, JUnit XML, the job summary and ``::error``
   annotations at the student's lines;
3. one ``education/autograding-command-grader@v1`` step per public check, with the
   check's points as ``max-score``; its command reads that check's verdict from
   the report (``python -m grader.integrations.classroom verdict ...``), so the
   student's code runs once, not once per check;
4. ``education/autograding-grading-reporter@v1`` sends the points to Classroom.

Only public checks are in it: a student repository holds no hidden material.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from grader.assignment import Assignment

__all__ = ["write_repo", "workflow", "verdict", "REPORT_DIR", "WORKFLOW"]

REPORT_DIR = ".autograding"
WORKFLOW = ".github/workflows/classroom.yml"
GITIGNORE = f"""\
{REPORT_DIR}/
__pycache__/
.ipynb_checkpoints/
"""


def _step_id(check: str) -> str:
    # Step ids: letters, digits, "-" and "_", starting with a letter; the reporter
    # reads <ID uppercased>_RESULTS from its environment.
    return "check-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in check)


def workflow(assignment: Assignment, wheel: str) -> dict:
    """The workflow as data (``wheel``: its path relative to the repository root)."""
    public = [c for c in assignment.checks if c.visibility == "public" and c.requires != "cuda"]
    grade = (f"backprop-grader grade . --assignment {assignment.name} --out {REPORT_DIR} "
             f"--junit {REPORT_DIR}/junit.xml || true")
    steps: list[dict] = [
        {"name": "Check out the code", "uses": "actions/checkout@v4"},
        {"name": "Set up Python", "uses": "actions/setup-python@v5", "with": {"python-version": "3.11"}},
        {"name": "Install the grader", "run": f"python -m pip install torch==2.13.0 --index-url "
                                             f"https://download.pytorch.org/whl/cpu && python -m pip install {wheel}"},
        # Never fails the job by itself: the points come from the steps below.
        {"name": "Grade the public checks", "id": "grade", "run": grade},
    ]
    for c in public:
        steps.append({
            "name": c.name, "id": _step_id(c.name), "uses": "education/autograding-command-grader@v1",
            "with": {"test-name": c.name, "setup-command": "",
                     "command": f"python -m grader.integrations.classroom verdict {REPORT_DIR}/report.json {c.name}",
                     "timeout": 1, "max-score": int(c.points) if float(c.points).is_integer() else c.points},
        })
    ids = [_step_id(c.name) for c in public]
    steps.append({
        "name": "Autograding Reporter", "uses": "education/autograding-grading-reporter@v1",
        "env": {f"{i.upper()}_RESULTS": "${{ steps.%s.outputs.result }}" % i for i in ids},
        "with": {"runners": ",".join(ids)},
    })
    return {
        "name": "Autograding Tests",
        "on": ["push", "workflow_dispatch", "repository_dispatch"],
        "permissions": {"checks": "write", "actions": "read", "contents": "read"},
        "jobs": {"run-autograding-tests": {
            "runs-on": "ubuntu-latest",
            "if": "github.actor != 'github-classroom[bot]'",
            "env": {"CI": "true"},
            "steps": steps,
        }},
    }


def write_repo(assignment: Assignment, out: Path) -> list[Path]:
    """The student repository: bundle, wheel (unless the bundle has one), workflow, .gitignore."""
    import yaml

    from grader.integrations.wheel import build_wheel, find_wheel
    from grader.release import write_bundle

    out = Path(out)
    written = write_bundle(assignment, out)
    wheel = find_wheel(out) or build_wheel(out / "wheels")
    path = out / WORKFLOW
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ("# GitHub Classroom autograding (written by `backprop-grader release --repo`).\n"
            + yaml.safe_dump(workflow(assignment, wheel.relative_to(out).as_posix()), sort_keys=False, width=120))
    path.write_text(text)
    (out / ".gitignore").write_text(GITIGNORE)
    return [*written, wheel, path, out / ".gitignore"]


def verdict(report_json: Path, check: str) -> int:
    """Exit status of one check's command-grader step: 0 when it passed. Prints its message."""
    try:
        report = json.loads(Path(report_json).read_text())
    except (OSError, ValueError):
        print(f"{check}: not graded ({report_json} is missing: the grading step failed, see its log)")
        return 1
    if report.get("problem"):
        print(f"{check}: not graded: {report['problem']}")
        return 1
    result = next((c for c in report.get("checks", []) if c.get("name") == check), None)
    if result is None:
        print(f"{check}: not in the report")
        return 1
    print(f"{check} ({result['max_score']:g} points): {result['status']}")
    print(result.get("message", ""))
    if result.get("hint"):
        print(f"likely cause: {result['hint']}")
    return 0 if result["status"] == "passed" else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] != "verdict":
        print("usage: python -m grader.integrations.classroom verdict REPORT_JSON CHECK", file=sys.stderr)
        return 2
    return verdict(Path(argv[1]), argv[2])


if __name__ == "__main__":
    raise SystemExit(main())
