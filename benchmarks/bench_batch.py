"""Batch throughput: the fork-server batch against the naive way, in one run.

    python benchmarks/bench_batch.py [--students 200] [--naive-sample 12]

Generates a class of two_layer_net submissions (a realistic mix: correct ones,
one-line bugs, stubs, broken files), then grades it

* with `batch --workers 1` and `--workers 2`: one fork server that imported torch
  once, a fresh forked child per student;
* the naive way: one fresh `python` per student that imports torch and grades that
  student (`backprop-grader grade FILE`), on a sample of the class, as a rate.

Reports submissions per minute, the ratio to the naive way, and the harness
overhead: batch wall time x workers over the summed time of the checks themselves.
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


def run_batch(klass: Path, workers: int) -> dict:
    from grader import api

    out = Path(tempfile.mkdtemp(prefix="bench-out-"))
    t = time.perf_counter()
    result = api.batch(klass, A, out, root=ROOT, workers=workers, force=True)
    wall = time.perf_counter() - t
    checks = sum(c.duration_s for r in result.reports for c in r.checks)
    shutil.rmtree(out, ignore_errors=True)
    return {"workers": workers, "wall_s": wall, "students": len(result.reports),
            "per_minute": 60 * len(result.reports) / wall, "sum_checks_s": checks,
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=200)
    p.add_argument("--naive-sample", type=int, default=12)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    klass = Path(tempfile.mkdtemp(prefix="bench-class-"))
    kinds = make_class(klass, args.students)
    print(f"class of {args.students}: {kinds}")
    naive = run_naive(klass, args.naive_sample)
    print(f"naive (one fresh python per student, {naive['students']} students): {naive['per_minute']:.1f}/min")
    results = []
    for w in (1, 2):
        r = run_batch(klass, w)
        results.append(r)
        print(f"batch --workers {w}: {r['wall_s']:.1f} s for {r['students']}: {r['per_minute']:.1f}/min, "
              f"{r['per_minute'] / naive['per_minute']:.1f}x naive, overhead {r['overhead']:.2f}x, "
              f"500 students in ~{500 / r['per_minute']:.1f} min")
    shutil.rmtree(klass, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"kinds": kinds, "naive": naive, "batch": results}, indent=2))


if __name__ == "__main__":
    main()
