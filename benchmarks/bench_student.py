"""What a student waits for: plain pytest in a released bundle.

    python benchmarks/bench_student.py [--assignment two_layer_net] [--install]

Releases the bundle, then times `python -m pytest` in copies of it holding the
untouched stub, a half-done submission (forward, loss and gradients done; training,
prediction and the class still to do), the solution, and `pytest -x` on the solution
with an infinite loop in nn_forward_backward (the first check that calls it fails
after --check-timeout, default 10 s). Run as on a laptop without Linux's extras
(tests/not_linux/sitecustomize.py). With --install, also the README's install line
in a fresh venv. Prints one line per case: seconds, and pytest's last line.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment", default="two_layer_net")
    parser.add_argument("--install", action="store_true", help="also time the README's install line")
    args = parser.parse_args()
    from grader import api
    from test_student_checks import HALF_DONE, LOOPS, solution_source  # the test suite's submissions

    tmp = Path(tempfile.mkdtemp(prefix="bench-student-"))
    bundle = tmp / "bundle"
    api.release(args.assignment, bundle, root=ROOT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "not_linux")}
    cases = [("stub", None, []), ("half-done", HALF_DONE, []), ("solution", solution_source(args.assignment), []),
             ("infinite loop, -x", LOOPS, ["-x"]), ("infinite loop, all checks", LOOPS, [])]
    for name, source, extra in cases:
        work = tmp / re.sub(r"\W+", "_", name)
        shutil.copytree(bundle, work)
        if source is not None:
            (work / f"{args.assignment}.py").write_text(source)
        t = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra], cwd=work,
                             env=env, capture_output=True, text=True)
        took = time.perf_counter() - t
        last = [line for line in run.stdout.splitlines() if line.strip()][-1]
        total = next((line for line in run.stdout.splitlines() if line.startswith("public checks:")), "")
        print(f"{name:28} {took:6.1f} s   {last.strip('= ')}   {total}")
    if args.install:
        readme = (bundle / "README.md").read_text()
        line = re.search(r"```sh\n(.*?)\n```", readme.split("## Install (once)", 1)[1], flags=re.S).group(1)
        fresh = tmp / "fresh"
        shutil.copytree(bundle, fresh)
        clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        t = time.perf_counter()
        done = subprocess.run(["bash", "-c", line], cwd=fresh, env=clean, capture_output=True, text=True)
        print(f"{'install line, fresh venv':28} {time.perf_counter() - t:6.1f} s   exit {done.returncode}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
