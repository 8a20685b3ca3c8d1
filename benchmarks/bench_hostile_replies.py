"""What a submission whose every reply is an attack costs the grader's process.

    python benchmarks/bench_hostile_replies.py

Grades toy_mlp's solution with tests/test_hostile_replies.py's ATTACK appended (four
20 MB error messages, 8 million empty lists, nesting 5 000 deep, 900 000-character
keys, a 9 MB message, 50 MB of printed output...) after warming up on the stub,
and prints the grader's resident memory (peak over the graded run, from
/proc/self/status), the wall time, the time per check and the size of the reports.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> None:
    from memwatch import _status_kib, peak_growth_mib
    from conftest import stub_source
    from test_hostile_replies import A, grade_hostile

    from grader.registry import get_assignment
    from grader.runner import make_sandbox

    with tempfile.TemporaryDirectory() as tmp, make_sandbox(get_assignment(A, ROOT)) as sandbox:
        grade_hostile(sandbox, Path(tmp), "warm_up", stub_source(A))
        before = _status_kib("VmRSS") / 1024
        with peak_growth_mib() as grew:
            t = time.perf_counter()
            report, out = grade_hostile(sandbox, Path(tmp), "attacker")
            took = time.perf_counter() - t
        size = sum(p.stat().st_size for p in out.iterdir())
        print(f"grader RSS before {before:.0f} MiB, peak +{grew():.0f} MiB; {took:.1f} s for {len(report.checks)} "
              f"checks ({took / len(report.checks):.2f} s each); reports {size / 2**20:.2f} MiB; "
              f"score {report.score:g}")
        for c in report.checks:
            print(f"  {c.name:28} {c.status:8} {c.duration_s:6.2f} s  {c.message[:90]!r}")


if __name__ == "__main__":
    main()
