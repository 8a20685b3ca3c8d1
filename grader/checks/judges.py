"""Judges that most checks can use as they are.

A judge runs in the grader's process: ``judge(got, expected, ctx) -> Verdict`` where
``got`` is the probe's output on the student's code, ``expected`` the same probe's
output on the reference solution (from ``reference_data/``), and ``ctx`` a
:class:`JudgeContext`. Assignments re-export these from their ``judges.py`` or
wrap them to add context (batch size, reg, known mistakes) for the diagnoses.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from grader.checks.compare import Comparison, compare_arrays
from grader.checks.diagnose import diagnose
from grader.checks.results import Verdict
from grader.checks.values import as_array, describe

MAX_LISTED = 3


@dataclass(frozen=True)
class JudgeContext:
    inputs: Any
    options: dict
    device: str = "cpu"
    check: str = ""
    mistakes: dict | None = None     # what known mistakes would output (from reference_data)
    extra: dict = field(default_factory=dict)

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def _is_leaf(v: Any) -> bool:
    return as_array(v) is not None or isinstance(v, (int, float)) and not isinstance(v, bool)


def walk_compare(got: Any, expected: Any, label: str, tolerance: float, *, atol: float = 0.0,
                 dtype: str | None = None, device: str | None = None, kind: str | None = None,
                 names: list[str] | None = None) -> list[Comparison]:
    """Compare a whole structure (tuples, dicts, tensors, numbers), leaf by leaf."""
    if _is_leaf(expected):
        return [compare_arrays(label, got, expected, tolerance, atol=atol, dtype=dtype, device=device, kind=kind)]
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            what = f"a tuple of {len(expected)} ({', '.join(names)})" if names else f"{len(expected)} items"
            msg = f"{label}: expected {what}, got {describe(got)}"
            return [Comparison(label, False, "type", msg, msg)]
        out = []
        for i, (g, e) in enumerate(zip(got, expected)):
            sub = names[i] if names and i < len(names) else f"{label}[{i}]"
            out += walk_compare(g, e, sub, tolerance, atol=atol, dtype=dtype, device=device, kind=kind)
        return out
    if isinstance(expected, dict):
        if not isinstance(got, dict) or "__object__" in got or "__tensor__" in got:
            msg = f"{label}: expected a dict with keys {sorted(expected)}, got {describe(got)}"
            return [Comparison(label, False, "type", msg, msg)]
        missing = [k for k in expected if k not in got]
        if missing:
            msg = f"{label}: missing key(s) {missing}; got keys {sorted(got)}"
            return [Comparison(label, False, "type", msg, msg)]
        out = []
        for k in expected:
            out += walk_compare(got[k], expected[k], f"{label}['{k}']", tolerance, atol=atol, dtype=dtype,
                                device=device, kind=kind)
        return out
    ok = got == expected
    msg = f"{label}: got {got!r}, expected {expected!r}" if not ok else f"{label}: as expected"
    red = f"{label}: got {describe(got)}, which is not the expected value" if not ok else msg
    return [Comparison(label, bool(ok), None if ok else "values", msg, red)]


def verdict_from(comparisons: list[Comparison], context: dict | None = None,
                 hint_for: Callable[[Comparison], str | None] | None = None) -> Verdict:
    """One verdict for several comparisons: the failures first, each on its own line."""
    if not comparisons:  # a judge that compared nothing must not pass
        msg = "nothing was compared: the reply holds none of the values this check needs"
        return Verdict(False, msg, redacted=msg)
    failed = [c for c in comparisons if not c.passed]
    if not failed:
        worst = max((c.rel_error or 0.0 for c in comparisons), default=0.0)
        return Verdict(True, f"all {len(comparisons)} value(s) match (worst rel_error {worst:.2g})")
    shown = failed[:MAX_LISTED]
    more = f"\n... and {len(failed) - len(shown)} more" if len(failed) > len(shown) else ""
    hint = None
    for c in shown:
        hint = (hint_for(c) if hint_for else None) or diagnose(c, context)
        if hint:
            break
    return Verdict(False, "\n".join(c.message for c in shown) + more, hint,
                   redacted="\n".join(c.redacted for c in shown) + more)


def match_reference(got: Any, expected: Any, ctx: JudgeContext) -> Verdict:
    """Every array and number the probe returned matches the reference within ``tolerance``.

    Options: ``tolerance`` (rel_error bound, default 1e-8), ``atol``, ``label``,
    ``names`` (names for tuple elements), ``dtype`` (required dtype of every array),
    ``check_device`` (arrays must sit on the run's device).
    """
    o = ctx.options
    cmps = walk_compare(got, expected, o.get("label", "output"), float(o.get("tolerance", 1e-8)),
                        atol=float(o.get("atol", 0.0)), dtype=o.get("dtype") if o.get("check_dtype") else None,
                        device=ctx.device if o.get("check_device") else None, names=o.get("names"))
    return verdict_from(cmps, {"tolerance": float(o.get("tolerance", 1e-8)), **ctx.extra})
