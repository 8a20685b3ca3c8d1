"""Pictures judges attach to a check (``Verdict.figures``), drawn with matplotlib.

Judges run in the grader's process and see plain NumPy data: a probe sends back a
model's outputs on a grid of points, and :func:`decision_surface` draws them, with
the data points on top and, optionally, the training curve next to the reference's.
matplotlib is optional: without it these return None and the report has no picture.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from grader.checks.results import Figure

log = logging.getLogger(__name__)

__all__ = ["decision_surface"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # not installed, or no usable backend: reports go without pictures
        log.info("matplotlib unavailable: no figure")
        return None
    return plt


def decision_surface(xs: np.ndarray, ys: np.ndarray, values: np.ndarray, *, caption: str, title: str = "",
                     points: np.ndarray | None = None, labels: np.ndarray | None = None,
                     value_label: str = "output", curves: dict[str, Sequence[float]] | None = None,
                     curve_label: str = "loss", log_curves: bool = False) -> Figure | None:
    """A model's output over a 2-D grid, as a filled contour with its 0.5 level line.

    ``values`` has shape (len(ys), len(xs)) (row i is y = ys[i]); ``points`` (n, 2) and
    integer ``labels`` (n,) are drawn on top; ``curves`` (name -> values per step)
    adds a second panel, e.g. {"yours": [...], "reference": [...]}.
    """
    plt = _pyplot()
    if plt is None:
        return None
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(ys), len(xs)) or not np.all(np.isfinite(values)):
        return None
    ncols = 2 if curves else 1
    fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols, 4.0), squeeze=False)
    ax = axes[0, 0]
    lo, hi = min(0.0, float(values.min())), max(1.0, float(values.max()))
    filled = ax.contourf(xs, ys, values, levels=np.linspace(lo, hi, 11), cmap="RdBu_r", alpha=0.55)
    if values.min() < 0.5 < values.max():
        ax.contour(xs, ys, values, levels=[0.5], colors="k", linewidths=1.2)
    fig.colorbar(filled, ax=ax, fraction=0.046, pad=0.04, label=value_label)
    if points is not None and labels is not None:
        points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels).astype(int)
        for k, (color, marker) in enumerate((("tab:blue", "o"), ("tab:red", "^"), ("tab:green", "s"))):
            sel = labels == k
            if sel.any():
                ax.scatter(points[sel, 0], points[sel, 1], c=color, marker=marker, s=18, edgecolors="k",
                           linewidths=0.4, label=f"class {k}")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    if curves:
        cax = axes[0, 1]
        for (name, values_), style in zip(curves.items(), ("-", "--", ":")):
            v = np.asarray(values_, dtype=np.float64)
            if v.size:
                cax.plot(np.arange(1, v.size + 1), v, style, label=name)
        cax.set_xlabel("step")
        cax.set_ylabel(curve_label)
        if log_curves:
            cax.set_yscale("log")
        cax.legend(fontsize=8)
        cax.set_title(f"{curve_label}, yours and the reference's", fontsize=10)
    fig.tight_layout()
    return Figure.from_matplotlib(fig, caption)
