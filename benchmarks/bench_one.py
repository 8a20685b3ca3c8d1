"""Where the seconds go when grading one submission.

    python benchmarks/bench_one.py [--repeat 3] [--assignment two_layer_net]

Measures, for the reference solution: the whole `backprop-grader grade` command
(a fresh process, as a student or CI would run it), and inside one process:
importing the grader, starting the fork server (which imports torch once), forking
and confining a child, importing the student module, and each check (probe in the
child plus judge in the grader). Prints a table; --json writes the figures.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def one_run(assignment: str) -> dict:
    t0 = time.perf_counter()
    from grader import api  # noqa: F401  (the grader's own import cost, torch excluded)
    from grader.registry import get_assignment
    from grader.runner import GradeOptions, ModuleSession, grade, make_sandbox, prepare_workdir
    from grader.submission import load_submission

    t_import = time.perf_counter() - t0
    a = get_assignment(assignment, ROOT)
    sandbox, t_zygote = timed(lambda: make_sandbox(a).start())
    sub = load_submission(a.solution_dir / f"{a.module}.py", a.module, "bench")
    workdir, module_path = prepare_workdir(sub, a)
    session = ModuleSession(sandbox, a, workdir, module_path)
    t = time.perf_counter()
    session.child = None
    lease = sandbox.allocate_uid()
    from grader.runner import give_to_child

    give_to_child(workdir, lease.uid if lease else None)
    child = sandbox.spawn(workdir, lease=lease)
    t_spawn = time.perf_counter() - t
    reply, t_load = timed(lambda: child.call(session._load_request(), 60))
    child.close()
    report, t_grade = timed(lambda: grade(sub, a, sandbox, GradeOptions()))
    sandbox.close()
    checks = {c.name: c.duration_s for c in report.checks if c.status != "skipped"}
    return {"import_grader_s": t_import, "start_fork_server_s": t_zygote, "fork_and_confine_child_s": t_spawn,
            "import_student_module_s": t_load, "grade_all_checks_s": t_grade, "checks_s": checks,
            "score": report.score, "max_score": report.max_score}


def cli_run(assignment: str) -> float:
    sol = ROOT / "solutions" / assignment / f"{assignment}.py"
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "grader", "grade", str(sol), "-a", assignment, "-o", out, "-q"],
                       cwd=ROOT, check=True)
        return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assignment", default="two_layer_net")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    cli = [cli_run(args.assignment) for _ in range(args.repeat)]
    inner = one_run(args.assignment)
    print(f"`backprop-grader grade` on the solution, whole command: median {statistics.median(cli):.2f} s "
          f"(runs: {', '.join(f'{x:.2f}' for x in cli)}); score {inner['score']:g}/{inner['max_score']:g}")
    print("\nInside one process:")
    for k in ("import_grader_s", "start_fork_server_s", "fork_and_confine_child_s", "import_student_module_s",
              "grade_all_checks_s"):
        print(f"  {k:<28} {inner[k]:7.3f} s")
    print("\nEach check (probe in the child + transfer; judging is in grade_all_checks_s):")
    for name, s in sorted(inner["checks_s"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:<28} {s:7.3f} s")
    print(f"  {'sum of checks':<28} {sum(inner['checks_s'].values()):7.3f} s")
    if args.json:
        args.json.write_text(json.dumps({"cli_s": cli, **inner}, indent=2))


if __name__ == "__main__":
    main()
