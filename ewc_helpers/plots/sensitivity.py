"""Figures of lessons 06-09: lam sensitivity, the SGD stability limit, where the weights moved."""

from __future__ import annotations

__all__ = ['lam_sensitivity', 'deviation_growth', 'movement_summary']

import numpy as np

import matplotlib.pyplot as plt

from .core import _legend_outside, METHOD_COLORS, colors_for


def lam_sensitivity(summaries: dict, scales: dict | None = None,
                    title: str = "mean validation accuracy of A and B across lam"):
    """Mean validation score (error bars: std over seeds) against lam, one line per method.

    ``summaries`` maps a label to rows of :func:`~ewc_helpers.experiments.sweep_summary`. With
    ``scales`` (label -> total of that method's Fisher) a second panel plots the same scores against
    ``lam * total(F)``, the penalty's strength in a scale that every method shares.
    """
    panels = 2 if scales else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels + 1.6, 4.0), sharey=True)
    axes = np.atleast_1d(axes)
    palette = colors_for(list(summaries))
    for label, rows in summaries.items():
        lam = np.array([r["lam"] for r in rows], dtype=float)
        score = np.array([r["score"] for r in rows])
        err = np.array([r.get("score_std", 0.0) for r in rows])
        color = palette[label]
        bars = axes[0].errorbar(lam, score, yerr=err, fmt="o-", ms=4, capsize=2, color=color, label=label)
        if scales:
            axes[1].errorbar(lam * scales[label], score, yerr=err, fmt="o-", ms=4, capsize=2,
                             color=bars.lines[0].get_color())
    axes[0].set_xlabel("lam")
    axes[0].set_ylabel("mean of task A and task B val accuracy")
    if scales:
        axes[1].set_xlabel("lam x total(F)   (L2: F = 1 for every weight)")
    for ax in axes:
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    _legend_outside(axes[-1], fontsize=10, handles=axes[0].get_legend_handles_labels()[0])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def deviation_growth(curves: dict, title: str = "largest |theta - theta_A| during task B, per step"):
    """``max |theta - theta_A|`` after every step, log scale, one line per run.

    ``curves`` maps a label to a sequence of deviations (for example
    ``stability_run(...)["deviations"]``); NaN or inf values end a line, marked with an x.
    """
    fig, ax = plt.subplots(figsize=(8.0, 3.8))
    crossed = False
    palette = colors_for(list(curves))  # runs are not methods: colours no method uses
    for label, devs in curves.items():
        devs = np.asarray(devs, dtype=float)
        ok = np.isfinite(devs)
        stop = int(np.argmin(ok)) if not ok.all() else len(devs)
        steps = np.arange(1, len(devs) + 1)
        (line,) = ax.plot(steps[:stop], devs[:stop], "-", lw=1.8, color=palette[label], label=label)
        if stop < len(devs):
            ax.plot([steps[stop - 1] if stop else 1], [devs[stop - 1] if stop else 1.0], "x", ms=9,
                    color=line.get_color(), label=None if crossed else "last finite value (then NaN or inf)")
            crossed = True
    ax.set_yscale("log")
    ax.set_xlabel("training step on task B")
    ax.set_ylabel("max |theta - theta_A|")
    ax.grid(alpha=0.3)
    _legend_outside(ax, fontsize=10)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def movement_summary(reports: dict, title: str = "how far task B moved the weights, and what it cost task A"):
    """Three panels from :func:`~ewc_helpers.experiments.movement_report` results (``reports``:
    method -> list of reports, one per seed; bars are means, error bars std over seeds):
    distance from theta_A per layer, Fisher-weighted distance per layer (log scale), and task A's
    loss rise as measured and as the full and the diagonal Fisher predict it (log scale)."""
    names = list(reports)
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 3, figsize=(11, 5.0))

    def bars(ax, getters, labels, colors, ylabel, log=True):
        w = 0.8 / len(getters)
        for k, (get, lab, col) in enumerate(zip(getters, labels, colors)):
            vals = [np.array([get(r) for r in reports[n]], dtype=float) for n in names]
            std = [v.std(ddof=1) if v.size > 1 else 0.0 for v in vals]  # sample std over seeds
            ax.bar(x + (k - (len(getters) - 1) / 2) * w, [v.mean() for v in vals], w,
                   yerr=std if any(e > 0 for e in std) else None, color=col, label=lab, capsize=2)
        ax.set_xticks(x, names, fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3, axis="y")
        ax.set_xlabel("method")
        ax.set_ylabel(ylabel, fontsize=10)
        _legend_outside(ax, "below", ncol=len(getters) if len(getters) < 3 else 1, fontsize=10,
                        bbox_to_anchor=(0.5, -0.2))

    layers = ("hidden", "output")
    bars(axes[0], [lambda r, l=l: r["movement"][l]["distance"] for l in layers], [f"{l} layer" for l in layers],
         ["tab:blue", "tab:orange"], "distance", log=False)
    axes[0].set_title("||theta - theta_A||", fontsize=10)
    bars(axes[1], [lambda r, l=l: r["movement"][l]["fisher_weighted"] for l in layers],
         [f"{l} layer" for l in layers], ["tab:blue", "tab:orange"], "Fisher-weighted squared distance")
    axes[1].set_title("sum F (theta - theta_A)^2  (exact Fisher)", fontsize=10)
    kinds = ("measured", "full", "diagonal")
    bars(axes[2], [lambda r, k=k: r["rise"][k] for k in kinds],
         ["measured", "full Fisher predicts", "diagonal Fisher predicts"], ["k", "0.5", "0.78"],
         "loss rise (nats)")
    axes[2].set_title("rise of task A's loss (nats)", fontsize=10)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
