"""Figures for lesson 11: average accuracy per method in each continual-learning setting."""

from __future__ import annotations

__all__ = ["scenario_bars", "SCENARIO_COLORS"]

import numpy as np

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .core import method_color

#: One colour per method label, shared by every setting: the course's colours (``METHOD_COLORS``).
SCENARIO_COLORS = {label: method_color(label) for label in ("naive", "L2", "EWC", "online EWC", "replay", "joint")}


def scenario_bars(rows: dict, published: dict | None = None, titles: dict | None = None,
                  chance: dict | None = None, published_label: str = "published (Hsu et al. 2018)",
                  title: str = "average test accuracy after the last task"):
    """Grouped bars: one group per setting, one bar per method (mean over seeds, error bar one std).

    ``rows`` maps a setting to its summary rows (:func:`ewc_helpers.studies.common.summarize`);
    ``published`` maps a setting to ``{method label: (average,)}``, drawn as black diamonds on the
    bars; ``chance`` maps a setting to its chance accuracy, drawn as a dotted line under its group;
    ``titles`` gives each group's tick label. The legend sits below the axes, never over the bars.
    """
    settings = list(rows)
    labels = []
    for s in settings:
        labels += [r["label"] for r in rows[s] if r["label"] not in labels]
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(min(max(7.5, 1.9 * len(settings)), 11.0), 4.4))
    for k, label in enumerate(labels):
        xs, means, stds, pubs = [], [], [], []
        for g, s in enumerate(settings):
            row = next((r for r in rows[s] if r["label"] == label), None)
            if row is None:
                continue
            xs.append(g - 0.4 + (k + 0.5) * width)
            means.append(row["average"])
            stds.append(row["average_std"])
            pubs.append(((published or {}).get(s, {}).get(label) or (np.nan,))[0])
        ax.bar(xs, means, width * 0.9, yerr=stds, capsize=2, color=method_color(label, "0.5"),
               error_kw={"lw": 0.8})
        ax.plot(xs, pubs, "D", color="black", ms=4, mfc="white", mew=1.0, ls="none")
    for g, s in enumerate(settings):
        if chance and s in chance:
            ax.hlines(chance[s], g - 0.42, g + 0.42, colors="0.3", linestyles=":", lw=1.0, zorder=0)
    ax.set_xticks(range(len(settings)), [(titles or {}).get(s, s) for s in settings], fontsize=10)
    ax.set_xlim(-0.5, len(settings) - 0.5)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("setting")
    ax.set_ylabel("average test accuracy over the tasks")
    ax.set_title(title, fontsize=10)
    handles = [Patch(color=method_color(lab, "0.5"), label=lab) for lab in labels]
    if published:
        handles.append(Line2D([], [], marker="D", color="black", mfc="white", ls="none", label=published_label))
    if chance:
        handles.append(Line2D([], [], color="0.3", ls=":", label="chance"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=10, frameon=False)
    fig.tight_layout(rect=(0, 0.1 if len(handles) <= 5 else 0.14, 1, 1))
    return fig
