"""Partial credit for checks made of independent parts (a loss and each gradient).

A check declares its parts and their weights in the toml::

    [[check]]
    name = "loss_and_grads"
    judge = "loss_and_grads"
    options.partial = { loss = 1, W1 = 1, b1 = 1, W2 = 1, b2 = 1 }

and its judge, having decided each part, calls :func:`with_partial_credit`: a
failed verdict then earns the weights of the parts that are right (an inf loss
with right gradients keeps the gradient points). Without ``options.partial`` the
verdict is left as it is: all or nothing.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping

from grader.checks.compare import Comparison
from grader.checks.results import Verdict


def partial_credit(parts: Mapping[str, bool], weights: Mapping[str, float] | None = None) -> tuple[float, str]:
    """(fraction in [0, 1], a line naming the right and the wrong parts).

    ``weights`` decides what counts: a part it names that ``parts`` lacks (a gradient
    the function did not return) counts as wrong; a part it does not name counts for
    nothing. Without weights every part of ``parts`` weighs the same.
    """
    weights = dict(weights) if weights else {p: 1.0 for p in parts}
    total = 0.0
    for p, w in weights.items():
        try:
            w = float(w)
        except (TypeError, ValueError):
            raise ValueError(f"partial credit: the weight of {p!r} is not a number: {w!r}") from None
        if w < 0 or w != w:
            raise ValueError(f"partial credit: the weight of {p!r} must be >= 0, not {w}")
        weights[p] = w
        total += w
    if total <= 0:
        return 0.0, "no part carries any weight"
    right = [p for p in weights if parts.get(p) is True]
    wrong = [p for p in weights if parts.get(p) is not True]
    fraction = sum(weights[p] for p in right) / total
    if not wrong:
        return 1.0, f"all {len(right)} parts right"
    line = f"partial credit {_pct(fraction)}: right: {', '.join(right) or 'none'}; not right: {', '.join(wrong)}"
    return fraction, line


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.0f}%"


def parts_of(comparisons: Iterable[Comparison], part_of: Callable[[Comparison], str]) -> dict[str, bool]:
    """Group comparisons into parts: a part is right when all of its comparisons pass.
    ``part_of`` names the part of a comparison (e.g. ``"W1"`` for ``grads['W1']``)."""
    parts: dict[str, bool] = {}
    for c in comparisons:
        p = part_of(c)
        parts[p] = parts.get(p, True) and bool(c.passed)
    return parts


def with_partial_credit(verdict: Verdict, parts: Mapping[str, bool], options: Mapping) -> Verdict:
    """``verdict`` with the fraction the right parts earn, when ``options["partial"]``
    declares the weights; a passed verdict, or a check without ``partial``, is unchanged."""
    weights = options.get("partial") if isinstance(options, Mapping) else None
    if verdict.passed or not weights:
        return verdict
    fraction, line = partial_credit(parts, weights)
    if fraction <= 0:
        return verdict
    return Verdict(False, f"{verdict.message}\n{line}", verdict.hint,
                   f"{verdict.redacted}\n{line}" if verdict.redacted else None, fraction, verdict.figures)
