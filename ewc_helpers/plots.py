"""Figures for the notebooks. Every function returns the matplotlib Figure it drew."""

from __future__ import annotations

import numpy as np

import matplotlib.pyplot as plt

TASK_COLORS = {"A": "tab:blue", "B": "tab:orange", "multi": "tab:green"}
METHOD_COLORS = {"naive": "tab:red", "L2": "tab:purple", "l2": "tab:purple", "EWC": "tab:green",
                 "ewc": "tab:green", "online_ewc": "tab:cyan", "multi-task": "tab:gray"}


def sample_grid(task_or_mnist, n: int = 20, split: str = "train", seed: int = 0, columns: int = 10):
    """A grid of digits titled with their digit, task and new label (``digit // 2``)."""
    part = getattr(task_or_mnist, split)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(part.labels), size=min(n, len(part.labels)), replace=False))
    rows = int(np.ceil(len(idx) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.45 * rows))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, i in zip(np.atleast_1d(axes).ravel(), idx):
        digit = int(getattr(part, "digits", part.labels)[i])
        ax.imshow(part.images[i, ..., 0], cmap="gray_r")
        ax.set_title(f"{digit}: {'A' if digit % 2 == 0 else 'B'}, y={digit // 2}", fontsize=8)
    fig.suptitle("digit: task, new label", fontsize=10)
    fig.tight_layout()
    return fig


def training_curves(history: dict, title: str = "training"):
    """Loss and accuracy per epoch from a Keras ``History.history`` dict (val_* if present)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for key, ax in (("loss", ax1), ("accuracy", ax2)):
        ax.plot(epochs, history[key], "o-", label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def forgetting_curves(curves: dict, boundary_label: str = "start of task B", title: str = "forgetting"):
    """Test accuracy during training on task B, one line per (method, task).

    ``curves`` maps a method name to an :class:`~ewc_helpers.evaluation.AccuracyHistory`.
    """
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    styles = {"A": "-", "B": "--"}
    for method, hist in curves.items():
        epochs = [r["epoch"] for r in hist.records]
        for t in hist.tasks:
            ax.plot(epochs, [r[t.name] for r in hist.records], styles.get(t.name, ":"),
                    color=METHOD_COLORS.get(method), label=f"{method}: task {t.name}")
    ax.axvline(0, color="k", lw=0.8)
    ax.text(0.02, 0.03, boundary_label, transform=ax.transAxes, fontsize=8)
    ax.set_xlabel("epochs of training on task B")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def tradeoff(sweeps: dict, chosen: dict | None = None, split: str = "val", title: str | None = None):
    """Task A versus task B accuracy across a lam sweep, one curve per method.

    ``sweeps`` maps a method name to a list of :class:`~ewc_helpers.experiments.Result` or to a list
    of dicts ``{"lam", "A", "B", "A_std", "B_std"}`` (with error bars).
    """
    fig, ax = plt.subplots(figsize=(6.2, 4.6))
    for name, results in sweeps.items():
        pts = [_point(r, split) for r in results]
        lam, a, b, sa, sb = (np.array(v, dtype=float) for v in zip(*pts))
        color = METHOD_COLORS.get(name)
        if np.any(sa > 0) or np.any(sb > 0):
            ax.errorbar(b, a, xerr=sb, yerr=sa, fmt="o-", color=color, label=name, capsize=2)
        else:
            ax.plot(b, a, "o-", color=color, label=name)
        for x, y, l in zip(b, a, lam):
            ax.annotate(f"{l:g}", (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    for name, r in (chosen or {}).items():
        _, a, b, _, _ = _point(r, split)
        ax.plot(b, a, "*", ms=14, color=METHOD_COLORS.get(name), markeredgecolor="k",
                label=f"{name} chosen")
    ax.set_xlabel(f"task B {split} accuracy")
    ax.set_ylabel(f"task A {split} accuracy")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.plot([0, 1], [1, 0], color="0.8", lw=0.8, zorder=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "lam trades task A against task B (labels: lam)")
    fig.tight_layout()
    return fig


def _point(r, split):
    if isinstance(r, dict):
        return r["lam"], r["A"], r["B"], r.get("A_std", 0.0), r.get("B_std", 0.0)
    acc = getattr(r, split)
    return r.lam, acc["A"], acc["B"], 0.0, 0.0


def fisher_image(fisher_by_name: dict, image_shape=(28, 28), title: str = "Fisher of the first layer"):
    """First-layer kernel Fisher summed over hidden units, shown per input pixel.

    Each panel has its own colour scale (the methods differ in scale, not only in pattern).
    """
    names = list(fisher_by_name)
    fig, axes = plt.subplots(1, len(names), figsize=(2.9 * len(names), 3.2))
    for ax, name in zip(np.atleast_1d(axes), names):
        per_pixel = np.asarray(fisher_by_name[name][0]).sum(axis=1).reshape(image_shape)
        im = ax.imshow(per_pixel, cmap="magma")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, format="%.2g")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def accuracy_heatmap(matrix, title: str = "accuracy matrix"):
    """Heat map of an :class:`~ewc_helpers.evaluation.AccuracyMatrix` (row: after task i)."""
    values = matrix.values
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * values.shape[1], 1.0 + 0.6 * values.shape[0]))
    ax.imshow(values, vmin=0, vmax=1, cmap="viridis")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center",
                    color="w" if values[i, j] < 0.6 else "k", fontsize=8)
    ax.set_xticks(range(values.shape[1]), [f"on {n}" for n in matrix.task_names])
    ax.set_yticks(range(values.shape[0]), [f"after {n}" for n in matrix.task_names[: values.shape[0]]])
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def sequence_curves(results: dict, title: str = "accuracy on every task after each step"):
    """One panel per method: accuracy on each task (lines) after each training step."""
    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 3.2), sharey=True)
    for ax, name in zip(np.atleast_1d(axes), names):
        m = results[name]["matrix"]
        v = m.values
        steps = np.arange(1, v.shape[0] + 1)
        for j, task in enumerate(m.task_names):
            ax.plot(steps[j:], v[j:, j], "o-", ms=3, label=task)
        ax.set_title(f"{name}\navg {m.average_accuracy:.2f}, BWT {m.backward_transfer:+.2f}", fontsize=9)
        ax.set_xlabel("after training task")
        ax.set_xticks(steps)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def method_comparison(rows: list, article: dict | None = None, title: str = "ours versus the article"):
    """Grouped bars: task A and task B test accuracy per method, ours beside the article's."""
    methods = [r["method"] for r in rows]
    x = np.arange(len(methods))
    fig, ax = plt.subplots(figsize=(max(6.5, 1.3 * len(methods)), 3.8))
    w = 0.2
    ax.bar(x - 1.5 * w, [r["A"] for r in rows], w, yerr=[r.get("A_std", 0) for r in rows],
           color="tab:blue", label="ours: task A")
    ax.bar(x - 0.5 * w, [np.nan if r["method"] == "A only" else r["B"] for r in rows], w,
           yerr=[r.get("B_std", 0) for r in rows], color="tab:orange", label="ours: task B")
    if article:
        ax.bar(x + 0.5 * w, [(article.get(m) or (np.nan, np.nan))[0] for m in methods], w,
               color="tab:blue", alpha=0.35, hatch="//", label="article: task A")
        ax.bar(x + 1.5 * w, [np.nan if (article.get(m) or (0, None))[1] is None else article[m][1]
                             for m in methods], w, color="tab:orange", alpha=0.35, hatch="//",
               label="article: task B")
    ax.set_xticks(x, methods, rotation=15, fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.axhline(0.2, color="0.6", lw=0.8, ls=":")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title)
    fig.tight_layout()
    return fig
