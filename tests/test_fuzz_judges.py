"""The grader never fails on a check: every judge of every assignment, fed odd
replies (wrong types, shapes, dtypes, NaN, inf, empty, nested, huge; and the
reference's own reply with one part replaced), gives a Verdict, never an
exception, through the same path the runner takes (`judge_reply`). Judges also
share no state across worker threads: the same replies judged from four threads
at once give the same verdicts as one after another."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from conftest import ROOT
from grader import reference
from grader.checks import Verdict, compare_arrays, describe, match_reference, walk_compare, JudgeContext
from grader.grading import judge_reply
from grader.registry import all_assignments

CHECKS = [(a, c) for a in all_assignments(ROOT) for c in a.checks]
IDS = [f"{a.name}:{c.name}" for a, c in CHECKS]


_arrays = hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.bool_]),
                     shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
_tensors = st.builds(lambda a, device, rg: {"__tensor__": a, "dtype": str(a.dtype), "device": device,
                                            "requires_grad": rg},
                     _arrays, st.sampled_from(["cpu", "cuda", "meta"]), st.booleans())
_HUGE = [np.zeros((1, 200_000)), {"__tensor__": np.full((3, 3), np.inf), "dtype": "float64", "device": "cpu"},
         {"__tensor__": np.array("not numbers"), "dtype": "str", "device": "cpu"},
         {"__object__": "TwoLayerNet"}, {"__tensor__": None}, [[[[[[[1.0]]]]]]], 10 ** 400 // 10 ** 390]
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4), _arrays, _tensors, st.sampled_from(_HUGE))
ODD = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(["W1", "b1", "W2", "b2", "loss", "used", "out", "params", "x", ""]), inner, max_size=4),
    max_leaves=8)


def _leaves(value, path=()):
    """(path, leaf) of a reply's structure, containers included."""
    yield path, value
    if isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (i,))
    elif isinstance(value, dict) and "__tensor__" not in value:
        for k, v in value.items():
            yield from _leaves(v, path + (k,))


def _replace(value, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [(_replace(v, rest, new) if i == head else v) for i, v in enumerate(value)]
    return {k: (_replace(v, rest, new) if k == head else v) for k, v in value.items()}


@st.composite
def odd_replies(draw, expected):
    """Anything at all, or the reference's reply with one part swapped for something odd."""
    if draw(st.booleans()):
        return draw(ODD)
    places = list(_leaves(expected))
    path, _ = places[draw(st.integers(0, len(places) - 1))]
    return _replace(expected, path, draw(ODD))


def _judged(a, spec, got):
    ref = reference.load(a, spec)
    verdict, grader_error = judge_reply(spec, a, got, ref, "cpu")
    return verdict, grader_error


@pytest.mark.parametrize("assignment, spec", CHECKS, ids=IDS)
def test_a_reply_of_nothing_earns_nothing(assignment, spec):
    """A judge that compares nothing fails: no reply, an empty one."""
    for got in (None, {}, []):
        verdict, grader_error = _judged(assignment, spec, got)
        assert grader_error is None and not verdict.passed and verdict.score_fraction == 0, (got, verdict.message)


@pytest.mark.parametrize("assignment, spec", CHECKS, ids=IDS)
@settings(max_examples=6, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_judge_gives_a_verdict(assignment, spec, data):
    expected = reference.load(assignment, spec)["expected"]
    got = data.draw(odd_replies(expected))
    verdict, grader_error = _judged(assignment, spec, got)
    assert grader_error is None, (describe(got), grader_error)
    assert isinstance(verdict, Verdict) and isinstance(verdict.message, str)


@settings(max_examples=100, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(got=ODD, expected=st.one_of(_tensors, st.lists(_tensors, min_size=1, max_size=3),
                                   st.dictionaries(st.sampled_from(["a", "b"]), _tensors, min_size=1)))
def test_the_shared_judges_never_raise(got, expected):
    ctx = JudgeContext(inputs=None, options={"tolerance": 1e-8, "check_dtype": True, "dtype": "float64"})
    assert isinstance(match_reference(got, expected, ctx), Verdict)
    assert all(isinstance(c.message, str) for c in walk_compare(got, expected, "out", 1e-8, dtype="float64",
                                                                device="cpu", kind="tensor"))
    assert isinstance(compare_arrays("x", got, expected if "__tensor__" in expected else np.zeros(2), 1e-8).message,
                      str) if isinstance(expected, dict) else True
    assert isinstance(describe(got), str)


def test_judges_share_no_state_across_threads():
    """The reference's reply with every number scaled (a failing one, whose messages,
    hints and pictures are computed from the values), judged four at a time."""
    def scaled(v):
        if isinstance(v, dict) and "__tensor__" in v and np.asarray(v["__tensor__"]).dtype.kind == "f":
            return {**v, "__tensor__": np.asarray(v["__tensor__"]) * 1.5}
        if isinstance(v, list):
            return [scaled(x) for x in v]
        if isinstance(v, dict) and "__tensor__" not in v:
            return {k: scaled(x) for k, x in v.items()}
        return v * 1.5 if isinstance(v, float) else v

    jobs = [(a, spec, scaled(reference.load(a, spec)["expected"])) for a, spec in CHECKS]

    def run(job):
        verdict, err = _judged(*job)
        return verdict.passed, verdict.message, verdict.hint, verdict.fraction, err

    alone = [run(j) for j in jobs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(run, jobs))
    assert together == alone
    assert all(err is None for *_, err in alone)
