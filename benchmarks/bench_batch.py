"""Batch throughput and harness overhead, local pool and Dask, in one run.

    python benchmarks/bench_batch.py [--sizes 50,200,500] [--naive-sample 12] [--no-dask] [--json FILE]

Generates classes of two_layer_net submissions (a realistic mix: correct ones,
one-line bugs, stubs, broken files; the smaller classes are the first students
of the larger one), then grades them

* the naive way: one fresh `python` per student that imports torch and grades
  that student (`backprop-grader grade FILE`), on a sample, as a rate;
* with `batch --workers 2` (the local pool: one fork server, a fresh child per
  student) at every size, and a one-student batch for the fixed start-up;
* with `batch --executor dask --workers 2` (a 2-worker LocalCluster started by the
  batch: one fork server per worker) at the two smallest sizes;
* a no-op Dask task on a 2-worker LocalCluster: the scheduler's own round trip.

Reports seconds per submission (should stay flat as the class grows), the ratio
to the naive way, the per-task cost Dask adds (its marginal seconds per
submission minus the local pool's, between the two smallest sizes), and the
harness overhead: batch wall time x workers over the summed time of the checks
themselves. Figures on a shared machine are noisy: compare ratios within a run.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
A = "two_layer_net"

# (old, new) one-line bugs of the solution; a student may have several.
MUTANTS = [
    ("dscores /= N", "dscores /= 1"),
    ("grads['W1'] = X.t().mm(dhidden) + 2 * reg * W1", "grads['W1'] = X.t().mm(dhidden)"),
    ("dhidden = dscores.mm(W2.t()) * (hidden > 0)", "dhidden = dscores.mm(W2.t())"),
    ("shifted = scores - scores.max(dim=1, keepdim=True).values", "shifted = scores"),
    ("learning_rate *= learning_rate_decay", "pass"),
]


def make_class(folder: Path, n: int, seed: int = 0) -> dict[str, int]:
    rng = random.Random(seed)
    sol = (ROOT / "solutions" / A / f"{A}.py").read_text()
    stub = (ROOT / "assignments" / A / f"{A}.py").read_text()
    kinds = {"correct": 0, "buggy": 0, "stub": 0, "broken": 0}
    usable = [(o, n_) for o, n_ in MUTANTS if o in sol]
    for i in range(n):
        r = rng.random()
        if r < 0.35:
            src, kind = sol + f"\n# student {i}\n", "correct"
        elif r < 0.80 and usable:
            src = sol
            for old, new in rng.sample(usable, rng.randint(1, min(2, len(usable)))):
                src = src.replace(old, new, 1)
            kind = "buggy"
        elif r < 0.90:
            src, kind = stub, "stub"
        else:
            src = rng.choice([sol.replace("def sample_batch", "def sample_batch(", 1),   # syntax error
                              "import torch\nraise ImportError('no module named eecs598')\n",
                              sol.replace("def nn_predict", "def nn_predct", 1)])
            kind = "broken"
        kinds[kind] += 1
        (folder / f"student{i:03d}.py").write_text(src)
    return kinds


WORKERS = 2


def run_batch(klass: Path, workers: int = WORKERS, executor: str = "local") -> dict:
    from grader import api

    out = Path(tempfile.mkdtemp(prefix="bench-out-"))
    t = time.perf_counter()
    result = api.batch(klass, A, out, root=ROOT, workers=workers, force=True, executor=executor)
    wall = time.perf_counter() - t
    checks = sum(c.duration_s for r in result.reports for c in r.checks)
    shutil.rmtree(out, ignore_errors=True)
    n = len(result.reports)
    return {"executor": executor, "workers": workers, "students": n, "wall_s": wall, "s_per_student": wall / n,
            "per_minute": 60 * n / wall, "sum_checks_s": checks,
            "overhead": wall * workers / checks if checks else float("nan")}


def run_naive(klass: Path, sample: int) -> dict:
    files = sorted(klass.glob("*.py"))[:sample]
    out = Path(tempfile.mkdtemp(prefix="bench-naive-"))
    t = time.perf_counter()
    for f in files:
        subprocess.run([sys.executable, "-m", "grader", "grade", str(f), "-a", A, "-o", str(out / f.stem), "-q"],
                       cwd=ROOT, check=True)
    wall = time.perf_counter() - t
    shutil.rmtree(out, ignore_errors=True)
    return {"students": len(files), "wall_s": wall, "per_minute": 60 * len(files) / wall}


def _noop(i: int) -> int:
    return i


def run_dask_noop(tasks: int = 200) -> float:
    """Seconds per no-op task through the scheduler of a 2-worker LocalCluster."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.gather(client.map(_noop, range(10)))  # warm
        t = time.perf_counter()
        client.gather(client.map(_noop, range(tasks), pure=False))
        return (time.perf_counter() - t) / tasks


def _subclass(klass: Path, n: int) -> Path:
    """The first n students of the generated class."""
    folder = klass.with_name(f"{klass.name}-{n}")
    folder.mkdir(exist_ok=True)
    for f in sorted(klass.glob("*.py"))[:n]:
        shutil.copyfile(f, folder / f.name)
    return folder


def _line(label: str, r: dict, naive: dict) -> str:
    return (f"{label:<34} {r['wall_s']:7.1f} s  {r['s_per_student']:.3f} s/student  {r['per_minute']:6.1f}/min  "
            f"{r['per_minute'] / naive['per_minute']:5.1f}x naive  overhead {r['overhead']:.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="50,200,500", help="class sizes, comma-separated (default 50,200,500)")
    p.add_argument("--naive-sample", type=int, default=12)
    p.add_argument("--no-dask", action="store_true", help="the local pool only")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))
    sys.path.insert(0, str(ROOT))
    klass = Path(tempfile.mkdtemp(prefix="bench-class-"))
    kinds = make_class(klass, sizes[-1])
    print(f"class of {sizes[-1]}: {kinds}")
    naive = run_naive(klass, args.naive_sample)
    print(f"naive (one fresh python per student, {naive['students']} students): {naive['per_minute']:.1f}/min, "
          f"{naive['wall_s'] / naive['students']:.2f} s/student")
    one = run_batch(_subclass(klass, 1))
    startup = one["wall_s"] - one["sum_checks_s"]
    print(f"one-student batch: {one['wall_s']:.2f} s, of which checks {one['sum_checks_s']:.2f} s: "
          f"start-up ~{startup:.2f} s")
    local, dask = {}, {}
    for n in sizes:
        local[n] = run_batch(_subclass(klass, n))
        print(_line(f"local --workers {WORKERS}, {n} students", local[n], naive), flush=True)
    if not args.no_dask:
        for n in sizes[:2]:
            dask[n] = run_batch(_subclass(klass, n), executor="dask")
            print(_line(f"dask LocalCluster x{WORKERS}, {n} students", dask[n], naive), flush=True)
        noop = run_dask_noop()
        print(f"dask no-op task round trip: {1000 * noop:.1f} ms per task")
        if len(sizes) > 1:
            a, b = sizes[:2]

            def marginal(rs):
                return (rs[b]["wall_s"] - rs[a]["wall_s"]) / (b - a)

            added = marginal(dask) - marginal(local)
            print(f"marginal s/student between {a} and {b}: local {marginal(local):.3f}, dask {marginal(dask):.3f}: "
                  f"Dask adds {1000 * added:.0f} ms per submission ({added / marginal(local):+.0%})")
    shutil.rmtree(klass, ignore_errors=True)
    for n in [1, *sizes]:
        shutil.rmtree(klass.with_name(f"{klass.name}-{n}"), ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"kinds": kinds, "naive": naive, "one": one, "local": local, "dask": dask},
                                        indent=2))


if __name__ == "__main__":
    main()
