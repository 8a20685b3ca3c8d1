"""The hint each buggy submission of the test corpus gets, as a Markdown table.

    python benchmarks/hint_table.py > /tmp/hints.md

Grades every one-line mutant of tests/test_two_layer_net.py (the same table the
tests assert) plus the correct submissions, and prints, per submission: the points
lost, the main check and the hint it got. The README's table is this output.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_two_layer_net import A, FULL, ROWS, mutant_source  # noqa: E402  (the tests' own table)

from grader import api  # noqa: E402
from grader.runner import make_sandbox  # noqa: E402
from grader.registry import get_assignment  # noqa: E402


def main() -> None:
    with make_sandbox(get_assignment(A, ROOT)) as sandbox, tempfile.TemporaryDirectory() as tmp:
        def grade(name: str, source: str):
            path = Path(tmp) / name / f"{A}.py"
            path.parent.mkdir()
            path.write_text(source)
            return api.grade(path, A, root=ROOT, sandbox=sandbox)

        print("| submission | points lost | main check | hint it gets |")
        print("|---|---:|---|---|")
        for name, source in (("solution", (ROOT / "solutions" / A / f"{A}.py").read_text()),
                             ("alice (demo, correct)", (ROOT / "assignments" / A / "demo_class" / "alice.py").read_text())):
            r = grade(name.split()[0], source)
            hints = [c.hint for c in r.checks if c.hint]
            print(f"| {name} | {FULL - r.score:g} | all | {'no hint' if not hints else '; '.join(hints)} |")
        for param in ROWS:
            mutant, _, main, _ = param.values
            r = grade(mutant, mutant_source(mutant))
            hint = next(c.hint for c in r.checks if c.name == main) or "(none)"
            print(f"| {mutant} | {FULL - r.score:g} | `{main}` | {hint.replace('|', '/')} |")


if __name__ == "__main__":
    main()
