"""Pictures judges attach to a check (``Verdict.figures``), drawn with matplotlib.

Judges run in the grader's process and see plain NumPy data: a probe sends back a
model's outputs on a grid of points, and :func:`decision_surface` draws them, with
the data points on top and, optionally, the training curve next to the reference's.
matplotlib is optional: without it these return None and the report has no picture.
"""
from __future__ import annotations

import functools
import io
import logging
from typing import Sequence

import numpy as np

from grader.checks.results import DRAWING, Figure

log = logging.getLogger(__name__)

__all__ = ["decision_surface", "error_heatmaps", "curves"]


def _one_at_a_time(draw):
    """Draw under the process-wide lock (see ``DRAWING``)."""
    @functools.wraps(draw)
    def locked(*args, **kwargs):
        with DRAWING:
            return draw(*args, **kwargs)
    return locked


def _figure(**kw):
    """A matplotlib Figure outside pyplot: no global state, nothing shown, nothing to close."""
    try:
        from matplotlib.figure import Figure as MplFigure
    except Exception:
        log.info("matplotlib unavailable: no figure")
        return None
    return MplFigure(**kw)


@_one_at_a_time
def decision_surface(xs: np.ndarray, ys: np.ndarray, values: np.ndarray, *, caption: str, title: str = "",
                     points: np.ndarray | None = None, labels: np.ndarray | None = None,
                     value_label: str = "output", curves: dict[str, Sequence[float]] | None = None,
                     curve_label: str = "loss", step_label: str = "step",
                     log_curves: bool = False) -> Figure | None:
    """A model's output over a 2-D grid, as a filled contour with its 0.5 level line.

    ``values`` has shape (len(ys), len(xs)) (row i is y = ys[i]); ``points`` (n, 2) and
    integer ``labels`` (n,) are drawn on top; ``curves`` (name -> values per step)
    adds a second panel, e.g. {"yours": [...], "reference": [...]}.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(ys), len(xs)):
        return None
    finite = np.isfinite(values)
    values = np.where(finite, values, np.nan)  # inf/NaN (a diverged network) are left blank
    ncols = 2 if curves else 1
    fig = _figure(figsize=(4.4 * ncols, 3.8))
    if fig is None:
        return None
    axes = fig.subplots(1, ncols, squeeze=False)
    ax = axes[0, 0]
    lo = min(0.0, float(np.nanmin(values))) if finite.any() else 0.0
    hi = max(1.0, float(np.nanmax(values))) if finite.any() else 1.0
    # imshow rather than contourf: the same picture at a fraction of the drawing time.
    image = ax.imshow(values, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), cmap="RdBu_r", alpha=0.6,
                      vmin=lo, vmax=hi, interpolation="bilinear", aspect="auto")
    if finite.all() and values.min() < 0.5 < values.max():
        ax.contour(xs, ys, values, levels=[0.5], colors="k", linewidths=1.2)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=value_label)
    if not finite.all():
        ax.text(0.5, 0.02, f"{int((~finite).sum())} of {values.size} outputs are inf or NaN (left blank)",
                transform=ax.transAxes, ha="center", fontsize=8, color="darkred")
    if points is not None and labels is not None:
        points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels).astype(int)
        size = 40 if len(points) < 50 else 18
        for k, (color, marker) in enumerate((("tab:blue", "o"), ("tab:red", "^"), ("tab:green", "s"))):
            sel = labels == k
            if sel.any():
                ax.scatter(points[sel, 0], points[sel, 1], c=color, marker=marker, s=size, edgecolors="k",
                           linewidths=0.4, label=f"class {k}")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    if curves:
        cax = axes[0, 1]
        positive = True
        for (name, values_), style in zip(curves.items(), ("-", "--", ":")):
            v = np.asarray(values_, dtype=np.float64)
            v = np.where(np.isfinite(v), v, np.nan)
            if v.size:
                cax.plot(np.arange(1, v.size + 1), v, style, label=name)
                positive = positive and bool(np.nanmin(v) > 0) if np.isfinite(v).any() else positive
        cax.set_xlabel(step_label)
        cax.set_ylabel(curve_label)
        if log_curves and positive:
            cax.set_yscale("log")
        cax.legend(fontsize=8)
        cax.set_title(f"{curve_label}: {' and '.join(curves)}", fontsize=10)
    # Fixed margins: tight_layout costs as much as drawing the whole figure.
    fig.subplots_adjust(left=0.07 if curves else 0.12, right=0.97, bottom=0.13, top=0.91, wspace=0.5)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return Figure(caption, buf.getvalue())


@_one_at_a_time
def error_heatmaps(pairs: dict[str, tuple[np.ndarray, np.ndarray]], *, caption: str) -> Figure | None:
    """One heat map per parameter of the per-entry error |yours - expected| / (|yours| + |expected|).

    Masks (whole rows or columns off), transposes (a diagonal pattern) and scale
    errors (everything uniformly off) are visible at a glance. 1-D gradients
    (biases) are drawn as a single row. Pairs whose shapes differ are skipped:
    the message already says so.

    Drawn as pixels (Pillow, matplotlib's colour map) rather than through a matplotlib
    figure: its text layout made this ~0.2 s a picture, and in a batch every buggy
    student's failed gradient check has one.
    """
    usable = {k: (np.asarray(g, float), np.asarray(e, float)) for k, (g, e) in pairs.items()
              if g is not None and e is not None and np.shape(g) == np.shape(e) and np.size(e)}
    if not usable:
        return None
    try:
        from matplotlib import colormaps
        from PIL import Image, ImageDraw, ImageFont
    except Exception:
        log.info("matplotlib or Pillow unavailable: no figure")
        return None
    cmap, width, height, top, gap, bar = colormaps["magma"], 200, 150, 34, 22, 14
    font = ImageFont.load_default(size=12)
    image = Image.new("RGB", (len(usable) * (width + gap) + bar + 70, height + top + 12), "white")
    draw = ImageDraw.Draw(image)
    for i, (label, (g, e)) in enumerate(usable.items()):
        g2, e2 = np.atleast_2d(g), np.atleast_2d(e)
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.abs(g2 - e2) / np.maximum(np.abs(g2) + np.abs(e2), 1e-12)
        err = np.where(np.isfinite(err), err, 1.0)
        pixels = (cmap(np.clip(err, 0.0, 1.0))[..., :3] * 255).astype(np.uint8)
        panel = Image.fromarray(pixels).resize((width, height), Image.Resampling.NEAREST)
        x = i * (width + gap) + 8
        image.paste(panel, (x, top))
        draw.text((x, 2), f"{label}\nworst {err.max():.2g}", fill="black", font=font)
    x = len(usable) * (width + gap) + 8
    ramp = (cmap(np.linspace(1.0, 0.0, height))[:, None, :3] * 255).astype(np.uint8).repeat(bar, axis=1)
    image.paste(Image.fromarray(ramp), (x, top))
    draw.text((x + bar + 4, top - 6), "1", fill="black", font=font)
    draw.text((x + bar + 4, top + height - 8), "0", fill="black", font=font)
    draw.text((x - 4, 2), "relative error\nper entry", fill="black", font=font)
    buf = io.BytesIO()
    image.save(buf, format="png")
    return Figure(caption, buf.getvalue())


@_one_at_a_time
def curves(series: dict[str, Sequence[float]], *, caption: str, ylabel: str = "loss", xlabel: str = "iteration",
           log: bool = False) -> Figure | None:
    """Line plots on one axis, e.g. the student's loss curve beside the reference's."""
    fig = _figure(figsize=(5.5, 2.8)) if series else None
    if fig is None:
        return None
    ax = fig.subplots()
    positive = True
    for (name, values), style in zip(series.items(), ("-", "--", ":", "-.")):
        v = np.asarray(values, dtype=np.float64)
        v = np.where(np.isfinite(v) & (np.abs(v) < 1e30), v, np.nan)  # a diverged run would overflow the axis
        ax.plot(np.arange(len(v)), v, style, label=name)
        positive = positive and (not np.isfinite(v).any() or np.nanmin(v) > 0)
    if log and positive:
        from matplotlib.ticker import FuncFormatter, NullLocator

        ax.set_yscale("log")
        # Plain labels (0.1, 1, 10) and no minor ticks: the default 10^k labels go through
        # mathtext and the dozens of minor ticks are objects each; together most of the picture's time.
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    # Fixed margins: tight_layout costs as much as drawing the whole figure.
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.17, top=0.95)
    return Figure.from_matplotlib(fig, caption)
