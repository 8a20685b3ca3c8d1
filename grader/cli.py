"""The ``backprop-grader`` command (also ``python -m grader``). Parsing and printing only.

Exit status: 0 when grading ran (whatever the scores), 2 for a usage error, 1 when
the grader itself failed, 3 with ``--fail-under`` when the score is below it.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path

from grader import __version__, api
from grader.report.text import one_line

EXIT_OK, EXIT_GRADER_FAILED, EXIT_USAGE, EXIT_BELOW = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

DESCRIPTION = """\
Autograder for backpropagation assignments. Student code runs in sandboxed child
processes; outputs are compared with reference outputs and numeric gradients in
the grader's own process; each student gets report.json/.md/.html and Gradescope's
results.json.

typical use:
  backprop-grader list
  backprop-grader reference two_layer_net          # after changing the solution or checks
  backprop-grader release two_layer_net --out student_bundle
  backprop-grader grade alice.py --assignment two_layer_net --out out/alice
  backprop-grader batch class_folder/ --assignment two_layer_net --out out/
  backprop-grader history smithjohn_201 --out out/ # every stored grading of one student
  backprop-grader gradescope two_layer_net --out autograder.zip
  backprop-grader release two_layer_net --repo --out student_repo   # GitHub Classroom
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors exit 2 too, in one line
        self.print_usage(sys.stderr)
        print(f"backprop-grader: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="backprop-grader", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"backprop-grader {__version__}")
    p.add_argument("--root", help="course folder holding assignments/, solutions/, reference_data/ "
                   "(default: $BACKPROP_GRADER_ROOT, this installation, or the current folder)")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the grader does")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def common(sp, batch=False):
        sp.add_argument("--assignment", "-a", required=True, help="assignment name (see `backprop-grader list`)")
        sp.add_argument("--out", "-o", required=True, type=Path, help="folder for the reports")
        sp.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"],
                        help="where student code runs: cpu (default), cuda (a usage error without a GPU), "
                             "or auto (cuda when present, else cpu)")
        sp.add_argument("--mnist", metavar="DIR", help="grade accuracy on MNIST from the IDX files in DIR "
                        "(default: scikit-learn's digits, offline)")
        sp.add_argument("--fail-under", type=float, metavar="SCORE",
                        help="exit 3 when the score (batch: any student's) is below SCORE (for CI)")
        sp.add_argument("--submission-timeout", type=float, default=600.0, metavar="S",
                        help="wall-clock seconds for all checks of one submission together (default 600)")
        sp.add_argument("--check-timeout", type=float, default=None, metavar="S",
                        help="cap every check's own time limit at S seconds (default: each check's own)")
        sp.add_argument("--memory-limit", type=float, default=4.0, metavar="GiB",
                        help="address-space limit of each student process (default 4 GiB; torch itself maps ~0.7)")
        sp.add_argument("--execute-notebook", action="store_true",
                        help="a .ipynb submission runs top to bottom in the sandbox before grading (default: only "
                             "its definitions are taken: imports, functions, classes, constants)")
        sp.add_argument("--notebook-timeout", type=float, default=api.NOTEBOOK_TIMEOUT_S, metavar="S",
                        help=f"with --execute-notebook: seconds one notebook may run (default {api.NOTEBOOK_TIMEOUT_S:g})")
        sp.add_argument("--quiet", "-q", action="store_true", help="print only errors")

    g = sub.add_parser("grade", help="grade one submission", description="Grade one submission: a .py file, "
                       "a Jupyter notebook (.ipynb), a folder holding the student module, or a .zip of one.")
    g.add_argument("submission", help="the student's file, notebook, folder or .zip")
    g.add_argument("--student", help="student id for the report (default: the file or folder name)")
    g.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML (one testcase per check) to FILE")
    common(g)

    b = sub.add_parser("batch", help="grade a whole class", description="Grade a class: a folder with one entry "
                       "per student (a file or folder named by the student's id), or a .zip of such a folder. "
                       "Finished students are stored at once in OUT/grades.sqlite; a re-run grades only new or "
                       "changed submissions unless --force.")
    b.add_argument("submissions", help="class folder or .zip")
    b.add_argument("--workers", type=int, default=None, help="parallel workers (default: the number of cores)")
    b.add_argument("--force", action="store_true", help="regrade everyone, changed or not")
    b.add_argument("--only", metavar="ID[,ID]", type=lambda v: [x for x in v.split(",") if x],
                   help="regrade only these students (changed or not); the others stay as stored")
    b.add_argument("--canvas-column", metavar="NAME", help="the assignment's column name in canvas_import.csv, "
                   "as Canvas shows it, e.g. 'Two-layer net (123456)' (default: the assignment's title)")
    b.add_argument("--executor", choices=["local", "dask"], default="local",
                   help="local: a worker pool on this machine (default); dask: a Dask cluster, the one at "
                        "--scheduler or else a LocalCluster of --workers processes")
    b.add_argument("--scheduler", metavar="ADDRESS", help="with --executor dask: the Dask scheduler to grade on "
                   "(e.g. tcp://10.0.0.5:8786); reports and the store stay on this machine")
    common(b, batch=True)

    r = sub.add_parser("reference", help="regenerate reference_data/NAME from solutions/NAME",
                       description="Run the reference solution through every check (CPU, float64, fixed seeds) "
                       "and write reference_data/NAME/, recording what made it (checks, probes, solution). A file "
                       "whose values all agree with the new ones to 1e-12 keeps its bytes, so regenerating on "
                       "another machine changes nothing.")
    r.add_argument("name")

    rel = sub.add_parser("release", help="write the student bundle", description="Write what students get: the "
                         "stub, provided helpers, public checks runnable with plain `pytest`, public reference "
                         "data, and a README. Hidden checks and their data are left out.")
    rel.add_argument("name")
    rel.add_argument("--out", "-o", required=True, type=Path)
    rel.add_argument("--repo", action="store_true", help="a GitHub Classroom repository: the bundle plus "
                     ".github/workflows/classroom.yml (one autograding step per public check) and the grader wheel")

    gs = sub.add_parser("gradescope", help="write Gradescope's autograder zip", description="Write the zip to "
                        "upload as a Gradescope programming assignment's autograder: setup.sh (Python, torch, the "
                        "bundled grader wheel), run_autograder, every check with its reference data (hidden ones "
                        "included; never the solution).")
    gs.add_argument("name")
    gs.add_argument("--out", "-o", required=True, type=Path, help="the zip to write, e.g. autograder.zip")

    h = sub.add_parser("history", help="every stored grading of one student",
                       description="List a student's gradings stored in OUT/grades.sqlite by `batch`, oldest first.")
    h.add_argument("student", help="the student id (the folder name under OUT) or their LMS id")
    h.add_argument("--out", "-o", required=True, type=Path, help="the batch's output folder")

    sub.add_parser("list", help="the assignments, with points and check counts")

    d = sub.add_parser("demo", help="batch-grade the bundled demo class of every assignment",
                       description="Batch-grade assignments/*/demo_class/ (a correct submission, the stub and "
                       "typical buggy ones) into OUT/<assignment>/ and print each class's scores.")
    d.add_argument("--out", "-o", type=Path, default=Path("demo_out"), help="output folder (default: demo_out)")
    d.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    d.add_argument("--workers", type=int, default=None, help="parallel workers (default: the number of cores)")
    return p


def _print_table(reports, file=None) -> None:
    if not reports:
        return
    # Student ids and problems are student text: one_line keeps escape sequences and
    # line breaks out of the terminal.
    names = {r.student: one_line(r.student) for r in reports}
    width = max(7, *(len(n) for n in names.values()))
    print(f"{'student':<{width}}  {'score':>12}  {'passed':>6}  status", file=file)
    for r in reports:
        status = r.status if not r.problem else f"error: {one_line(r.problem)[:60]}"
        print(f"{names[r.student]:<{width}}  {round(r.score, 2):>5g} / {r.max_score:<5g}  {r.count('passed'):>6}  {status}",
              file=file)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return _run(args)
    except api.UsageError as exc:
        print(f"backprop-grader: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except api.BatchInterrupted as exc:
        print(f"backprop-grader: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("backprop-grader: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the grader itself failed: say so, with the traceback for a bug report
        traceback.print_exc()
        print(f"backprop-grader: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_GRADER_FAILED


def _run(args) -> int:
    if args.command == "list":
        rows = api.list_assignments(args.root)
        print(f"{'assignment':<18} {'points':>6} {'checks':>6} {'public':>6} {'hidden':>6}  reference  title")
        for r in rows:
            print(f"{r['name']:<18} {r['points']:>6g} {r['checks']:>6} {r['public']:>6} {r['hidden']:>6}  "
                  f"{r['reference_data']:<9}  {r['title']}")
        if any(r["reference_data"] != "ok" for r in rows):
            print("\nreference: missing or stale data is refused when grading; unverified data predates "
                  "fingerprints. `backprop-grader reference NAME` fixes all three.")
        return EXIT_OK

    if args.command == "reference":
        paths = api.make_reference(args.name, args.root, progress=lambda n: print(f"  {n}", file=sys.stderr))
        print(f"wrote {len(paths)} files under {paths[-1].parent}")
        return EXIT_OK

    if args.command == "release":
        paths = api.release(args.name, args.out, args.root, repo=args.repo)
        print(f"wrote the student {'repository' if args.repo else 'bundle'} for {args.name} to {args.out} "
              f"({len(paths)} files)")
        print(f"  students: {args.out}/README.md installs it in one line, then `python -m pytest` there")
        if args.repo:
            print(f"  GitHub Classroom: push {args.out} as the template repository; each push runs "
                  f".github/workflows/classroom.yml")
        return EXIT_OK

    if args.command == "gradescope":
        path = api.gradescope(args.name, args.out, args.root)
        print(f"wrote {path}: upload it as the autograder of a Gradescope programming assignment")
        return EXIT_OK

    if args.command == "history":
        runs = api.history(args.out, args.student)
        print(f"{'run':>4}  {'graded at':<25}  {'score':>13}  {'status':<7}  submission    grading key")
        for r in runs:
            print(f"{r.run:>4}  {r.graded_at:<25}  {round(r.score, 2):>5g} / {r.max_score:<5g}  {r.status:<7}  "
                  f"{r.sha256[:12]}  {r.grading_key}")
        return EXIT_OK

    if args.command == "grade":
        report = api.grade(args.submission, args.assignment, args.out, device=args.device, student=args.student,
                           execute_notebook=args.execute_notebook, notebook_timeout_s=args.notebook_timeout,
                           root=args.root, mnist_dir=args.mnist, submission_timeout_s=args.submission_timeout,
                           max_check_timeout_s=args.check_timeout, memory_bytes=int(args.memory_limit * 2**30))
        lines = api.write_ci_outputs(report, args.submission, args.junit, os.environ.get("GITHUB_STEP_SUMMARY"),
                                     root=args.root)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            for line in lines:  # the runner turns these into annotations on the student's lines
                print(line)
        if not args.quiet:
            _print_table([report])
            print(f"reports in {args.out}/ (report.html, report.md, report.json, results.json)")
        if report.grader_errors:
            return EXIT_GRADER_FAILED
        if args.fail_under is not None and report.score < args.fail_under:
            return EXIT_BELOW
        return EXIT_OK

    if args.command == "demo":
        for name in api.demo_assignments(args.root):
            print(f"\n== {name}: {api.demo_folder(name, args.root)}")
            result = api.batch(api.demo_folder(name, args.root), name, args.out / name, force=args.force,
                               root=args.root, workers=args.workers)
            _print_table(result.reports)
        print(f"\nreports: {args.out}/<assignment>/<student>/report.html; gradebooks: {args.out}/<assignment>/gradebook.csv")
        return EXIT_OK

    if args.command == "batch":
        quiet = args.quiet or os.environ.get("CI", "").lower() == "true"
        bar = None
        if not quiet:
            from tqdm import tqdm

            bar = tqdm(unit="student", file=sys.stderr, dynamic_ncols=True)

        def progress(student: str, done: int, total: int) -> None:
            if bar is not None:
                bar.total = total
                bar.n = done
                bar.set_postfix_str(one_line(student), refresh=False)
                bar.refresh()

        try:
            result = api.batch(args.submissions, args.assignment, args.out, device=args.device, force=args.force,
                               only=args.only, canvas_column=args.canvas_column,
                               execute_notebook=args.execute_notebook, notebook_timeout_s=args.notebook_timeout,
                               root=args.root, mnist_dir=args.mnist, progress=progress, workers=args.workers,
                               submission_timeout_s=args.submission_timeout, max_check_timeout_s=args.check_timeout,
                               memory_bytes=int(args.memory_limit * 2**30),
                               executor=args.executor, scheduler=args.scheduler)
        finally:
            if bar is not None:
                bar.close()
        if not args.quiet:
            _print_table(result.reports)
            for line in result.collisions + result.namesakes:
                print(f"note: {line}")
            print(f"graded {len(result.graded)}, unchanged {len(result.reused)}; gradebook: "
                  f"{args.out / 'gradebook.csv'}; summary: {args.out / 'summary.html'}")
            if result.exports:
                print(f"exports: {', '.join(p.name for p in result.exports)}")
        for student, why in sorted(result.not_stored.items()):
            print(f"backprop-grader: {student} not graded (the grader failed, not the student: {why}); "
                  f"the same command again grades them", file=sys.stderr)
        if result.not_stored:
            return EXIT_GRADER_FAILED
        if any(r.grader_errors for r in result.reports):
            return EXIT_GRADER_FAILED
        if args.fail_under is not None and any(r.score < args.fail_under for r in result.reports):
            return EXIT_BELOW
        return EXIT_OK
    raise AssertionError(args.command)
