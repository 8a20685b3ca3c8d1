"""Where the seconds go when grading one submission.

    python benchmarks/bench_one.py [--repeat 3] [--assignment two_layer_net]
    python benchmarks/bench_one.py --spawns 20     # only: the cost of one confined child

Run it as root, as a normal user and under `capsh --drop=cap_sys_admin --` to
compare the modes (the confinement plan the sandbox chose is printed).

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

    give_to_child(workdir, lease.uid if lease and not sandbox.private_scratch else None)
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


def spawn_cost(assignment: str, n: int) -> dict:
    """Seconds from asking for a child to its hello (fork, namespaces, private root,
    scratch copy, uid, Landlock, seccomp, cgroup), over ``n`` children in a row."""
    from grader.registry import get_assignment
    from grader.runner import give_to_child, make_sandbox, prepare_workdir
    from grader.submission import load_submission

    a = get_assignment(assignment, ROOT)
    sandbox, t_start = timed(lambda: make_sandbox(a).start())
    sub = load_submission(a.solution_dir / f"{a.module}.py", a.module, "bench")
    workdir, _ = prepare_workdir(sub, a)
    costs = []
    for _ in range(n):
        t = time.perf_counter()
        lease = sandbox.allocate_uid()
        give_to_child(workdir, lease.uid if lease and not sandbox.private_scratch else None)
        child = sandbox.spawn(workdir, lease=lease)
        costs.append(time.perf_counter() - t)
        child.close()
    plan, protections = sandbox.plan, sandbox.protections
    sandbox.close()
    return {"start_with_probe_s": t_start, "spawn_median_s": statistics.median(costs), "spawn_max_s": max(costs),
            "plan": plan, "protections": protections}


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
    p.add_argument("--spawns", type=int, default=0, help="only measure this many confined children in a row")
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.spawns:
        cost = spawn_cost(args.assignment, args.spawns)
        print(f"fork server start + probe: {cost['start_with_probe_s']:.3f} s; one confined child: median "
              f"{cost['spawn_median_s'] * 1000:.1f} ms, max {cost['spawn_max_s'] * 1000:.1f} ms over {args.spawns}")
        print("plan:", cost["plan"])
        print("header:", "; ".join(cost["protections"]))
        return
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
