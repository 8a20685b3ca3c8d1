"""The check library: comparisons that teach, numeric gradients, diagnoses."""
import numpy as np
import pytest

from grader.checks import compare_arrays, diagnose, numeric_gradient, rel_error
from grader.checks.diagnose import hint_for_error


def tensor(a, dtype="float64", device="cpu"):
    return {"__tensor__": np.asarray(a), "dtype": dtype, "device": device, "requires_grad": False}


def test_rel_error_is_the_course_definition():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0], [3.0]) == pytest.approx(0.5)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_message_names_the_worst_entry_with_both_values():
    exp = np.arange(12.0).reshape(3, 4)
    got = exp.copy()
    got[2, 1] = 100.0
    c = compare_arrays("dW", tensor(got), exp, 1e-8)
    assert not c.passed and c.problem == "values"
    assert "dW[2, 1]" in c.message and "yours 100" in c.message and "expected 9" in c.message
    assert "1/12 entries differ" in c.message
    assert "expected 9" not in c.redacted and "100" not in c.redacted


def test_shape_type_dtype_and_device_come_first():
    exp = np.zeros((2, 3))
    assert compare_arrays("x", tensor(np.zeros((3, 2))), exp, 1e-8).problem == "shape"
    assert compare_arrays("x", {"__object__": "generator"}, exp, 1e-8).problem == "type"
    assert compare_arrays("x", tensor(exp, "float32"), exp, 1e-8, dtype="float64").problem == "dtype"
    assert compare_arrays("x", tensor(exp, device="cpu"), exp, 1e-8, device="cuda").problem == "device"
    assert compare_arrays("x", tensor([np.inf, 0, 0]), np.zeros(3), 1e-8).problem == "nonfinite"


def test_numeric_gradient_of_a_known_function():
    x = np.array([1.0, -2.0, 0.5])
    g = numeric_gradient(lambda v: float(np.sum(v ** 3)), x.copy())
    assert rel_error(g, 3 * x ** 2) < 1e-8
    with pytest.raises(TypeError):
        numeric_gradient(lambda v: 0.0, x.astype(np.float32))


def _diag(got, exp, **ctx):
    return diagnose(compare_arrays("grads['W1']", tensor(got), exp, 1e-8), ctx)


@pytest.mark.parametrize("make_got, ctx, words", [
    (lambda e, W: 5 * e, {"N": 5}, "N = 5"),
    (lambda e, W: e / 5, {"N": 5}, "divided by N twice"),
    (lambda e, W: -e, {}, "wrong sign"),
    (lambda e, W: e.T, {}, "transposed"),
    (lambda e, W: e - 2 * 0.1 * W, {"reg": 0.1}, "missing the regularization gradient"),
    (lambda e, W: e - 0.1 * W, {"reg": 0.1}, "off by a factor 2"),
])
def test_each_classic_mistake_gets_its_hint(make_got, ctx, words):
    rng = np.random.default_rng(0)
    exp, W = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    hint = _diag(make_got(exp, W), exp, W=W, **ctx)
    assert hint and words in hint


def test_no_hint_when_no_cause_fits():
    rng = np.random.default_rng(1)
    exp = rng.standard_normal((4, 3))
    assert _diag(exp + rng.standard_normal((4, 3)), exp, N=5, reg=0.1, W=rng.standard_normal((4, 3))) is None


def test_broadcast_trap_and_wrong_axis():
    exp = np.zeros(5)
    assert "broadcast" in diagnose(compare_arrays("y", tensor(np.zeros((5, 5))), exp, 1e-8), {"N": 5})
    assert "sum over the batch" in diagnose(compare_arrays("db", tensor(np.zeros(7)), np.zeros(3), 1e-8), {"N": 7})


def test_error_hints():
    assert "device='cpu'" in hint_for_error("AssertionError", "Torch not compiled with CUDA enabled")
    assert "dtype=X.dtype" in hint_for_error("RuntimeError", "expected m1 and m2 to have the same dtype")
    assert hint_for_error("ValueError", "something else") is None


def test_float32_precision_where_float64_was_asked():
    exp = np.random.default_rng(2).standard_normal((4, 3))
    got = exp.astype(np.float32).astype(np.float64)
    hint = diagnose(compare_arrays("grads['W1']", tensor(got), exp, 1e-10), {})
    assert hint and "float32 precision" in hint
    # Off by as much, but in float64 all along (an epsilon inside the softmax): no float32 blamed.
    assert "float32" not in (diagnose(compare_arrays("grads['W1']", tensor(exp * (1 + 3e-7)), exp, 1e-10), {}) or "")


def test_overflow_named_only_when_the_judge_says_exp_overflows():
    cmp = compare_arrays("loss", tensor(np.array([np.nan])), np.array([1.0]), 1e-8)
    assert diagnose(cmp, {}) is None                       # a NaN from 0 * log 0 is not an overflow
    assert "overflows" in diagnose(cmp, {"exp_overflows": True})
