"""The grading loop's own rules, on a tiny NumPy lab built here (so no lab's data
matters): root cause first (`after`), a hung function is called once, partial
credit, replies a judge cannot use, and what hidden checks show to students."""
from __future__ import annotations

import csv
import io
import json
import textwrap
from dataclasses import replace

import pytest

from conftest import mutate, solution_source
from grader import api
from grader.assignment import Assignment, AssignmentError
from grader.registry import get_assignment
from grader.report.gradebook import Gradebook
from grader.store import GradeStore
from grader.runner import make_sandbox

TOML = '''
name = "tiny"
module = "tiny"
names = ["double", "twice_double", "parts"]
uses_torch = false

[[check]]
name = "double_public"
points = 2
probe = "double"
inputs = "make_x"
uses = ["double"]
timeout_s = 5

[[check]]
name = "double_hidden"
points = 2
visibility = "hidden"
probe = "double"
inputs = "make_x"
inputs_args = { n = 31, seed = 7 }
uses = ["double"]

[[check]]
name = "twice"
points = 2
probe = "twice"
inputs = "make_x"
uses = ["twice_double"]
after = ["double_public"]

[[check]]
name = "parts"
points = 4
probe = "parts"
judge = "parts"
inputs = "make_x"
uses = ["parts"]
options.partial = { a = 1, b = 1, c = 2 }

[[check]]
name = "strict"
points = 1
probe = "double"
judge = "strict"
inputs = "make_x"
uses = ["double"]
'''

PROBES = '''
import numpy as np


def make_x(helpers, n=3, seed=0):
    return {"x": np.random.default_rng(seed).standard_normal(n)}


def double(student, inputs, ctx):
    return student.double(np.array(inputs["x"]))


def twice(student, inputs, ctx):
    return student.twice_double(np.array(inputs["x"]))


def parts(student, inputs, ctx):
    return student.parts(np.array(inputs["x"]))
'''

JUDGES = '''
from grader.checks import (MalformedReply, as_array, compare_arrays, describe, match_reference, parts_of,
                           verdict_from, with_partial_credit)


def parts(got, expected, ctx):
    cmps = [compare_arrays(k, got.get(k) if isinstance(got, dict) else None, e, 1e-9) for k, e in expected.items()]
    return with_partial_credit(verdict_from(cmps), parts_of(cmps, lambda c: c.label), ctx.options)


def strict(got, expected, ctx):
    if as_array(got) is None:
        raise MalformedReply(f"expected an array, got {describe(got)}")
    return match_reference(got, expected, ctx)
'''

SOLUTION = '''
import numpy as np


def double(x):
    return 2 * x


def twice_double(x):
    return double(double(x))


def parts(x):
    return {"a": x + 1, "b": x - 1, "c": x * x}
'''

STUB = '''
def double(x):
    raise NotImplementedError("double: return two times x")


def twice_double(x):
    raise NotImplementedError("twice_double: double x twice")


def parts(x):
    raise NotImplementedError("parts: a dict of x + 1, x - 1, x squared")
'''

MUTANTS = {
    "solution": SOLUTION,
    "spins": mutate(SOLUTION, "    return 2 * x", "    while True:\n        pass"),
    "wrong_double": mutate(SOLUTION, "    return 2 * x", "    return 3 * x"),
    "one_part_wrong": mutate(SOLUTION, '"b": x - 1', '"b": x - 2'),
    "returns_text": mutate(SOLUTION, "    return 2 * x", "    return 'twice ' + str(x)"),
    # Prints and raises what it was given when it sees the hidden input (31 entries).
    "leaks_hidden": mutate(SOLUTION, "    return 2 * x", textwrap.indent(textwrap.dedent('''\
        if len(x) == 31:
            print("HIDDEN-INPUT", repr(x.tolist()))
            raise ValueError(f"LEAK {x.tolist()} class {type(x).__name__}")
        print("public call with", len(x), "entries")
        return 2 * x'''), "    ")),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    for rel, body in {"assignments/tiny/assignment.toml": TOML, "assignments/tiny/probes.py": PROBES,
                      "assignments/tiny/judges.py": JUDGES, "assignments/tiny/tiny.py": STUB,
                      "solutions/tiny/tiny.py": SOLUTION}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(body)
    api.make_reference("tiny", root=root)
    return root


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """name -> (Report, output folder) for every mutant, through one fork server."""
    out = tmp_path_factory.mktemp("graded")
    sandbox = make_sandbox(get_assignment("tiny", course)).start()
    try:
        reports = {}
        for name, source in MUTANTS.items():
            path = out / "src" / name / "tiny.py"
            path.parent.mkdir(parents=True)
            path.write_text(source)
            reports[name] = (api.grade(path, "tiny", out / name, root=course, sandbox=sandbox), out / name)
        return reports
    finally:
        sandbox.close()


def by_name(report):
    return {c.name: c for c in report.checks}


def test_the_solution_gets_full_marks(graded):
    report, _ = graded["solution"]
    assert (report.score, report.max_score) == (11.0, 11.0)


def test_a_hung_function_is_called_once(graded):
    checks = by_name(graded["spins"][0])
    assert checks["double_public"].status == "timeout"
    assert checks["double_public"].message.startswith("timed out:")
    expected = {
        "double_hidden": "not run: double did not return in check double_public (timed out after 5 s)",
        "twice": "not run: double did not return in check double_public (timed out after 5 s); "
                 "twice_double calls it",
        "strict": "not run: double did not return in check double_public (timed out after 5 s)",
    }
    assert {n: checks[n].message.split("\n")[0] for n in expected} == expected
    assert all(checks[n].status == "timeout" and checks[n].score == 0 for n in expected)
    assert checks["parts"].status == "passed"      # it does not call double


def test_root_cause_first(graded):
    checks = by_name(graded["wrong_double"][0])
    assert checks["double_public"].status == "failed"
    assert checks["twice"].hint == "fix double_public first: this check depends on it"
    assert "depends on double_public" in checks["twice"].message
    # A check that depends on nothing keeps its judge's own hint.
    assert "fix" not in (checks["double_public"].hint or "")


def test_partial_credit_in_every_file(graded):
    report, folder = graded["one_part_wrong"]
    parts = by_name(report)["parts"]
    assert parts.status == "failed" and parts.score == pytest.approx(3.0)   # a and c (weights 1 + 2 of 4)
    assert "right: a, c; not right: b" in parts.message
    assert report.score == pytest.approx(10.0)
    on_record = json.loads((folder / "report.json").read_text())
    assert on_record["score"] == pytest.approx(10.0)
    gradescope = json.loads((folder / "results.json").read_text())
    assert [t["score"] for t in gradescope["tests"] if t["name"] == "parts"] == [pytest.approx(3.0)]
    # Thirds survive the gradebook and the store to 4 decimals.
    third = replace(report, score=report.score - 2 / 3,
                    checks=tuple(replace(c, score=c.score - 2 / 3) if c.name == "parts" else c for c in report.checks))
    row = next(csv.DictReader(io.StringIO(Gradebook.of("tiny", [third], [c.name for c in third.checks]).csv_text())))
    assert (row["score"], row["parts"]) == ("9.3333", "2.3333")
    with GradeStore(folder / "grades.sqlite") as store:
        store.save(third, "key")
        assert store.report(third.student).score == pytest.approx(third.score, abs=1e-9)


def test_partial_credit_keeps_fractions():
    from grader.checks import partial_credit

    fraction, line = partial_credit({"loss": False, "W1": True}, {"loss": 1, "W1": 2, "b1": 1})
    assert fraction == pytest.approx(0.5) and line.endswith("right: W1; not right: loss, b1")
    assert partial_credit({"a": True, "b": True}) == (1.0, "all 2 parts right")


def test_a_reply_the_judge_cannot_use_fails_the_check(graded):
    report, _ = graded["returns_text"]
    strict = by_name(report)["strict"]
    assert strict.status == "failed"
    assert strict.message == "your function returned something this check cannot use: expected an array, got a string"
    assert not report.grader_errors


def test_after_must_name_an_earlier_check(course, tmp_path):
    bad = tmp_path / "tiny"
    bad.mkdir()
    toml = (course / "assignments" / "tiny" / "assignment.toml").read_text()
    (bad / "assignment.toml").write_text(toml.replace('after = ["double_public"]', 'after = ["parts"]'))
    with pytest.raises(AssignmentError, match="parts comes later"):
        Assignment.load(bad)
    (bad / "assignment.toml").write_text(toml.replace('after = ["double_public"]', 'after = ["nope"]'))
    with pytest.raises(AssignmentError, match="nope is not a check"):
        Assignment.load(bad)


def test_an_infinite_loop_costs_one_timeout(grade_source):
    """two_layer_net: nn_forward_pass spins; every later check that needs it (through
    nn_forward_backward too) fails at once instead of waiting out its own timeout."""
    source = mutate(solution_source("two_layer_net"), "    W1, b1 = params['W1'], params['b1']\n",
                    "    W1, b1 = params['W1'], params['b1']\n    while True:\n        pass\n")
    report = grade_source("two_layer_net", source, max_check_timeout_s=10)
    waited = [c.name for c in report.checks if c.status == "timeout" and c.message.startswith("timed out")]
    not_run = [c.name for c in report.checks if c.message.startswith("not run: nn_forward_pass did not return")]
    assert waited == ["forward_pass_toy"]
    assert {"forward_pass_random", "loss_no_reg", "grads_vs_numeric", "nn_predict_labels"} <= set(not_run)


STUDENT_FILES = ("report.md", "report.html", "results.json")


def test_hidden_checks_stay_hidden(course, graded):
    """What the student's code prints and raises during a hidden check (its inputs)
    reaches the instructor's report.json, and none of the student-facing files."""
    from grader import reference

    report, folder = graded["leaks_hidden"]
    a = get_assignment("tiny", course)
    hidden_x = reference.load(a, a.check("double_hidden"))["inputs"]["x"]
    secrets = ["HIDDEN-INPUT", "LEAK", "ValueError", *(repr(float(v)) for v in hidden_x[:5])]
    hidden = by_name(report)["double_hidden"]
    assert hidden.status == "error" and "LEAK" in hidden.message          # the instructor sees it all
    instructor = (folder / "report.json").read_text()
    assert all(s in instructor for s in secrets), [s for s in secrets if s not in instructor]
    for name in STUDENT_FILES:
        text = (folder / name).read_text()
        assert [s for s in secrets if s in text] == [], name
        assert "public call with 3 entries" in text or name == "results.json"  # public output stays
    view = {c.name: c for c in report.student_view().checks}
    assert (view["double_hidden"].message, view["double_hidden"].hint) == ("raised an error", None)
    assert view["double_public"].message == by_name(report)["double_public"].message
