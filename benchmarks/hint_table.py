"""The hint each buggy submission of the test corpus gets, as a Markdown table.

    python benchmarks/hint_table.py > /tmp/hints.md

Grades every one-line mutant of tests/test_two_layer_net.py (the same table the
tests assert, hint for hint) plus the correct submissions, and prints, per
submission: the points lost (partial credit included), the checks it fails, the
root check (the first failing one whose hint is its own, not "fix ... first") and
that check's hint. The README's table is this output.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_two_layer_net import A, EXPECTED, FULL, FULL_MARKS, mutant_source  # noqa: E402  (the tests' own table)

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

        print("| submission | points lost | checks failed | root check | its hint |")
        print("|---|---:|---:|---|---|")
        for name, source in (("solution", (ROOT / "solutions" / A / f"{A}.py").read_text()),
                             ("alice (demo, correct)", (ROOT / "assignments" / A / "demo_class" / "alice.py").read_text())):
            r = grade(name.split()[0], source)
            hints = [c.hint for c in r.checks if c.hint]
            print(f"| {name} | {FULL - r.score:g} | 0 | all pass | {'no hint' if not hints else '; '.join(hints)} |")
        for mutant in [*FULL_MARKS, *EXPECTED]:
            r = grade(mutant, mutant_source(mutant))
            bad = [c for c in r.checks if c.status not in ("passed", "skipped")]
            root = next((c for c in bad if not (c.hint or "").endswith("first: this check depends on it")), None)
            where = f"`{root.name}`" if root else "all pass"
            hint = "(none)" if root is None or not root.hint else root.hint.replace("|", "/")
            print(f"| {mutant} | {round(FULL - r.score, 2):g} | {len(bad)} | {where} | {hint if bad else 'no hint'} |")


if __name__ == "__main__":
    main()
