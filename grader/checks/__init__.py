"""The check library: comparisons, numeric gradients, diagnoses and generic judges.

Pure functions over NumPy arrays and plain data. Nothing here knows about
processes, reports or a particular assignment.
"""
from grader.checks.compare import Comparison, compare_arrays, rel_error
from grader.checks.diagnose import DEFAULT_DIAGNOSES, diagnose
from grader.checks.gradients import numeric_gradient
from grader.checks.partial import partial_credit, parts_of, with_partial_credit
from grader.checks.properties import gradient_check, only_if_right
from grader.checks.judges import JudgeContext, match_reference, verdict_from, walk_compare
from grader.checks.results import CheckResult, Figure, MalformedReply, Verdict
from grader.checks.values import ArrayValue, as_array, as_number, describe

__all__ = [
    "ArrayValue", "CheckResult", "Figure", "Comparison", "DEFAULT_DIAGNOSES", "JudgeContext", "MalformedReply", "Verdict",
    "as_array", "as_number", "compare_arrays", "describe", "diagnose", "match_reference",
    "numeric_gradient", "rel_error", "verdict_from", "walk_compare",
    "partial_credit", "parts_of", "with_partial_credit", "gradient_check", "only_if_right",
]
