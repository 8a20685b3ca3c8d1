"""Pictures for the class summary (matplotlib without pyplot, PNG as base64)."""
from __future__ import annotations

import base64
import io


def score_histogram_png(percents: list[float], title: str) -> str:
    """A histogram of scores in percent, base64-encoded PNG for inline HTML."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 2.6))
    ax = fig.subplots()
    ax.hist(percents, bins=list(range(0, 101, 10)), color="#1a7f37", edgecolor="white")
    ax.set_xlabel("score (%)")
    ax.set_ylabel("students")
    ax.set_title(title)
    ax.set_xlim(0, 100)
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")
