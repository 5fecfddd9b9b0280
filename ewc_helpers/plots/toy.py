"""Figures for the two-parameter toy of :mod:`ewc_helpers.studies.toy` (lesson 04)."""

from __future__ import annotations

__all__ = ["toy_paths", "fisher_ellipse"]

import numpy as np

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from .core import METHOD_COLORS, TASK_COLORS

_END_MARKERS = {"naive": "s", "L2": "D", "EWC": "^"}
_WIDTHS = {"naive": 6.0, "L2": 3.5, "EWC": 1.6}


def fisher_ellipse(center, fisher, rise: float, num: int = 200) -> np.ndarray:
    """Points ``w`` with ``0.5 (w - center)^T fisher (w - center) = rise``, shape (num, 2): where the
    quadratic (Laplace) approximation says task A's loss has risen by ``rise``."""
    values, vectors = np.linalg.eigh(np.asarray(fisher, float))
    t = np.linspace(0.0, 2.0 * np.pi, num)
    circle = np.stack([np.cos(t), np.sin(t)])
    return (vectors @ (np.sqrt(2.0 * rise / values)[:, None] * circle)).T + np.asarray(center, float)


def _window(points, pad: float = 0.6):
    points = np.asarray(points, float)
    lo, hi = points.min(axis=0) - pad, points.max(axis=0) + pad
    return (lo[0], hi[0]), (lo[1], hi[1])


def toy_paths(result, rise: float = 0.05, grid: int = 160, title: str | None = None):
    """Task A's and task B's loss contours over (w1, w2), task A's Fisher ellipse at ``theta_A``,
    and the gradient-descent paths of naive, L2 and EWC training on task B from ``theta_A``.

    ``result`` is a :class:`~ewc_helpers.studies.toy.ToyRun`. The ellipses (full Fisher solid,
    its diagonal dotted) mark where the Laplace approximation puts a rise of ``rise`` in task A's
    loss; task A's contour at the same rise (thick blue) is the loss it approximates.
    """
    from ..studies import toy  # the study this figure draws (numpy only)

    task_a, task_b = result.tasks["A"], result.tasks["B"]
    ends = [p[-1] for p in result.paths.values()]
    (x0, x1), (y0, y1) = _window([result.theta_a, result.theta_b, result.joint, *ends])
    w1, w2 = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))
    flat = np.stack([w1.ravel(), w2.ravel()], axis=1)
    loss_a = toy.loss(flat, task_a).reshape(w1.shape)
    loss_b = toy.loss(flat, task_b).reshape(w1.shape)
    base_a, base_b = toy.loss(result.theta_a, task_a), toy.loss(result.theta_b, task_b)

    # Equal scales on both axes (L2's pull is round only if a circle looks round), so the width
    # follows the window's shape; the legend gets its own 4.6 inches on the right.
    height = 5.4
    width = float(np.clip(height * (x1 - x0) / (y1 - y0), 3.2, 6.4))  # at most 11 in wide in all
    fig, ax = plt.subplots(figsize=(width + 4.6, height + 0.6), layout="constrained")
    ax.contour(w1, w2, loss_a, levels=base_a + np.array([0.25, 0.6, 1.2, 2.4]),
               colors=TASK_COLORS["A"], linewidths=0.8, alpha=0.7)
    ax.contour(w1, w2, loss_a, levels=[base_a + rise], colors=TASK_COLORS["A"], linewidths=2.0)
    ax.contour(w1, w2, loss_b, levels=base_b + np.array([0.02, 0.08, 0.2, 0.4, 0.8]),
               colors=TASK_COLORS["B"], linewidths=0.8, linestyles="--", alpha=0.8)
    for f, style in ((result.fisher_full, "-"), (result.fisher_diag, ":")):
        e = fisher_ellipse(result.theta_a, f, rise)
        ax.plot(e[:, 0], e[:, 1], style, color="k", lw=1.4)

    for name, path in result.paths.items():  # wide to narrow, so that shared stretches all show
        color = METHOD_COLORS.get(name)
        ax.plot(path[:, 0], path[:, 1], "-", color=color, lw=_WIDTHS.get(name, 2.0), solid_capstyle="butt")
        ax.plot(*path[-1], _END_MARKERS.get(name, "o"), color=color, ms=9, markeredgecolor="k", zorder=5)
    ax.plot(*result.theta_a, "o", color="k", ms=8, zorder=6)
    ax.plot(*result.joint, "*", color="none", ms=20, markeredgecolor="k", markeredgewidth=1.2, zorder=6)
    ax.annotate(r"start: $\theta_A$", result.theta_a, textcoords="offset points", xytext=(10, -14),
                fontsize=10, fontweight="bold", zorder=7,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))

    lam = result.lams
    handles = [
        Line2D([], [], color=TASK_COLORS["A"], lw=0.8, label="task A loss (contours)"),
        Line2D([], [], color=TASK_COLORS["A"], lw=2.0, label=f"task A loss = its minimum + {rise:g}"),
        Line2D([], [], color="k", lw=1.4, label=f"A's Fisher ellipse: ½ ΔᵀFΔ = {rise:g}"),
        Line2D([], [], color="k", lw=1.4, ls=":", label="the same, diagonal F only"),
        Line2D([], [], color=TASK_COLORS["B"], lw=0.8, ls="--", label="task B loss (contours)"),
        Line2D([], [], color="k", marker="o", ls="", ms=8, label=r"start: $\theta_A$ (task A trained)"),
        Line2D([], [], color=METHOD_COLORS["naive"], lw=_WIDTHS["naive"], marker=_END_MARKERS["naive"], ms=8,
               markeredgecolor="k", label="naive: path and end"),
        Line2D([], [], color=METHOD_COLORS["L2"], lw=_WIDTHS["L2"], marker=_END_MARKERS["L2"], ms=8,
               markeredgecolor="k", label=f"L2 (lam = {lam['L2']:.2g}): path and end"),
        Line2D([], [], color=METHOD_COLORS["EWC"], lw=_WIDTHS["EWC"], marker=_END_MARKERS["EWC"], ms=8,
               markeredgecolor="k", label=f"EWC (lam = {lam['EWC']:.2g}): path and end"),
        Line2D([], [], color="none", marker="*", ls="", ms=16, markeredgecolor="k",
               label="optimum of A and B together"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=10, frameon=False)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xlabel("weight w1")
    ax.set_ylabel("weight w2")
    ax.set_title(title or "training on task B from θ_A: naive, L2 and EWC", fontsize=10)
    return fig
