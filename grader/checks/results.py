"""The records a check produces."""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["passed", "failed", "error", "timeout", "skipped"]
Visibility = Literal["public", "hidden"]


# matplotlib is not thread-safe even without pyplot (its font and text-layout caches
# are shared): batch workers are threads, so pictures are drawn one at a time.
DRAWING = threading.RLock()


@dataclass(frozen=True)
class Figure:
    """A picture a judge made (PNG bytes), shown under its check in report.html."""

    caption: str
    png: bytes

    @classmethod
    def from_matplotlib(cls, fig, caption: str) -> "Figure":
        """PNG bytes of a matplotlib figure. Works for pyplot figures and for
        ``matplotlib.figure.Figure`` objects made without pyplot (thread-safe: batch
        workers are threads, and pyplot's global state is not)."""
        import io

        buf = io.BytesIO()
        with DRAWING:
            # No bbox_inches="tight": it lays the figure out twice. Figure makers call
            # tight_layout themselves.
            fig.savefig(buf, format="png", dpi=90)
            if getattr(fig, "number", None) is not None:  # made by pyplot: release it there
                import matplotlib.pyplot as plt

                plt.close(fig)
        return cls(caption, buf.getvalue())


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
    figures: tuple[Figure, ...] = ()     # public checks only: hidden checks' pictures are dropped

    @property
    def score_fraction(self) -> float:
        if self.fraction is not None:
            return min(1.0, max(0.0, self.fraction))
        return 1.0 if self.passed else 0.0


class MalformedReply(ValueError):
    """A judge cannot use what the student's function returned (a list where an array
    belongs, a tensor of strings, a shape the check cannot index). The runner makes
    it a failed verdict, "your function returned something this check cannot use: ...":
    the student's value is at fault, not the grader. Any other exception in a judge
    is reported as a grader error."""


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
    part: str = ""
    figures: tuple[Figure, ...] = field(default=(), compare=False)
    output: str = ""            # what the student's code printed during this check


    def to_dict(self) -> dict:
        """The report.json form: pictures are left to the HTML report."""
        d = asdict(self)
        d.pop("figures")
        return d
