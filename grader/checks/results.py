"""The records a check produces."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["passed", "failed", "error", "timeout", "skipped"]
Visibility = Literal["public", "hidden"]


@dataclass(frozen=True)
class Verdict:
    """A judge's decision on one probe's output.

    ``message`` says what was compared and how far apart it was, values included.
    ``redacted`` says the same without input or expected values: it is what a
    student sees for a hidden check. ``fraction`` in [0, 1] allows partial credit.
    """

    passed: bool
    message: str
    hint: str | None = None
    redacted: str | None = None
    fraction: float | None = None

    @property
    def score_fraction(self) -> float:
        if self.fraction is not None:
            return min(1.0, max(0.0, self.fraction))
        return 1.0 if self.passed else 0.0


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome for one submission, as it appears in every report."""

    name: str
    visibility: Visibility
    status: Status
    score: float
    max_score: float
    message: str
    hint: str | None = None
    duration_s: float = 0.0
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)
