"""Figures shared by several lessons: digits, training and forgetting curves, trade-offs, matrices."""

from __future__ import annotations

__all__ = [
    "sample_grid",
    "training_curves",
    "forgetting_curves",
    "tradeoff",
    "fisher_image",
    "accuracy_heatmap",
    "sequence_curves",
    "method_comparison",
    "permuted_digits",
    "sequence_sweep",
    "accuracy_heatmaps",
    "memory_growth",
    "lam_sensitivity",
    "deviation_growth",
    "movement_summary",
    "TASK_COLORS",
    "METHOD_COLORS",
]

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


def _draw_matrix(ax, values, fontsize=8, short=False):
    """An accuracy matrix as an image with each value written in its cell (".87" when short)."""
    ax.imshow(values, vmin=0, vmax=1, cmap="viridis")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            text = f"{values[i, j]:.2f}"
            if short:
                text = text[1:] if values[i, j] < 1 else "1.0"
            ax.text(j, i, text, ha="center", va="center",
                    color="w" if values[i, j] < 0.6 else "k", fontsize=fontsize)


def accuracy_heatmap(matrix, title: str = "accuracy matrix"):
    """Heat map of an :class:`~ewc_helpers.evaluation.AccuracyMatrix` (row: after task i)."""
    values = matrix.values
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * values.shape[1], 1.0 + 0.6 * values.shape[0]))
    _draw_matrix(ax, values, fontsize=8)
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


# --------------------------------------------------------------------------- task sequences (notebook 06)
def permuted_digits(tasks, index: int = 0, split: str = "test"):
    """One digit as the network sees it in each permuted task, beside the original image."""
    part = tasks[0].split(split)
    fig, axes = plt.subplots(1, len(tasks) + 1, figsize=(1.6 * (len(tasks) + 1), 2.0))
    axes[0].imshow(part.images[index, ..., 0], cmap="gray_r")
    axes[0].set_title(f"original ({int(part.labels[index])})", fontsize=8)
    for ax, task in zip(axes[1:], tasks):
        x, y = task.arrays(split)
        ax.imshow(x[index, ..., 0], cmap="gray_r")
        ax.set_title(f"{task.name} (label {int(y[index])})", fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.suptitle("one test digit under each task's pixel permutation", fontsize=10)
    fig.tight_layout()
    return fig


def sequence_sweep(sweeps: dict, chosen: dict | None = None,
                   title: str = "choosing lam: validation accuracy after the last task"):
    """Average validation accuracy over every task after the last one, against lam (log scale).

    ``sweeps`` maps a method's name to a list of :func:`~ewc_helpers.experiments.run_sequence`
    results; ``chosen`` maps the same names to the chosen result (drawn as a star).
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, results in sweeps.items():
        color = METHOD_COLORS.get(results[0]["method"])
        lams = [r["lam"] for r in results]
        ax.plot(lams, [r["val_score"] for r in results], "o-", color=color, label=name)
        if chosen and name in chosen:
            ax.plot(chosen[name]["lam"], chosen[name]["val_score"], "*", ms=14, color=color,
                    markeredgecolor="k")
    ax.set_xscale("log")
    ax.set_xlabel("lam")
    ax.set_ylabel("average validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_heatmaps(results: dict, title: str = "accuracy matrices (row: after training task i)"):
    """:func:`accuracy_heatmap` for several methods side by side (``results``: name -> result)."""
    names = list(results)
    first = results[names[0]]["matrix"]
    size = len(first.task_names)
    fig, axes = plt.subplots(1, len(names), figsize=(0.55 * size * len(names) + 1.5, 0.55 * size + 1.3))
    for ax, name in zip(np.atleast_1d(axes), names):
        values = results[name]["matrix"].values
        _draw_matrix(ax, values, fontsize=7, short=True)
        names_ = results[name]["matrix"].task_names
        ax.set_xticks(range(len(names_)), names_, fontsize=7)
        ax.set_yticks(range(values.shape[0]), names_[: values.shape[0]], fontsize=7)
        ax.set_xlabel("accuracy on", fontsize=8)
        ax.set_title(name, fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel("after training", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def memory_growth(results: dict, title: str = "memory a method holds for the next task"):
    """Bytes held after each task, one line per method (``results``: name -> run_sequence result)."""
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    for name, r in results.items():
        mb = [m["bytes"] / 1e6 for m in r["memory_history"]]
        steps = np.arange(1, len(mb) + 1)
        ax.plot(steps, mb, "o-", color=METHOD_COLORS.get(r["method"]), label=name)
    ax.set_xlabel("tasks learnt")
    ax.set_ylabel("MB held (float32 arrays)")
    ax.set_xticks(steps)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- notebook 05
def lam_sensitivity(summaries: dict, scales: dict | None = None,
                    title: str = "mean validation accuracy of A and B across lam"):
    """Mean validation score (error bars: std over seeds) against lam, one line per method.

    ``summaries`` maps a label to rows of :func:`~ewc_helpers.experiments.sweep_summary`. With
    ``scales`` (label -> total of that method's Fisher) a second panel plots the same scores against
    ``lam * total(F)``, the penalty's strength in a scale that every method shares.
    """
    panels = 2 if scales else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), sharey=True)
    axes = np.atleast_1d(axes)
    for label, rows in summaries.items():
        lam = np.array([r["lam"] for r in rows], dtype=float)
        score = np.array([r["score"] for r in rows])
        err = np.array([r.get("score_std", 0.0) for r in rows])
        color = METHOD_COLORS.get(label)
        axes[0].errorbar(lam, score, yerr=err, fmt="o-", ms=4, capsize=2, color=color, label=label)
        if scales:
            axes[1].errorbar(lam * scales[label], score, yerr=err, fmt="o-", ms=4, capsize=2, color=color,
                             label=label)
    axes[0].set_xlabel("lam")
    axes[0].set_ylabel("mean of task A and task B val accuracy")
    if scales:
        axes[1].set_xlabel("lam x total(F)   (L2: F = 1 for every weight)")
    for ax in axes:
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def deviation_growth(curves: dict, title: str = "largest |theta - theta_A| during task B, per step"):
    """``max |theta - theta_A|`` after every step, log scale, one line per run.

    ``curves`` maps a label to a sequence of deviations (for example
    ``stability_run(...)["deviations"]``); NaN or inf values end a line, marked with an x.
    """
    fig, ax = plt.subplots(figsize=(6.8, 3.8))
    for label, devs in curves.items():
        devs = np.asarray(devs, dtype=float)
        ok = np.isfinite(devs)
        stop = int(np.argmin(ok)) if not ok.all() else len(devs)
        steps = np.arange(1, len(devs) + 1)
        (line,) = ax.plot(steps[:stop], devs[:stop], "-", lw=1.5, label=label)
        if stop < len(devs):
            ax.plot([steps[stop - 1] if stop else 1], [devs[stop - 1] if stop else 1.0], "x", ms=9,
                    color=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("training step on task B")
    ax.set_ylabel("max |theta - theta_A|")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
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
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))

    def bars(ax, getters, labels, colors, log=True):
        w = 0.8 / len(getters)
        for k, (get, lab, col) in enumerate(zip(getters, labels, colors)):
            vals = [np.array([get(r) for r in reports[n]], dtype=float) for n in names]
            ax.bar(x + (k - (len(getters) - 1) / 2) * w, [v.mean() for v in vals], w,
                   yerr=[v.std() for v in vals], color=col, label=lab, capsize=2)
        ax.set_xticks(x, names, fontsize=8)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)

    layers = ("hidden", "output")
    bars(axes[0], [lambda r, l=l: r["movement"][l]["distance"] for l in layers], [f"{l} layer" for l in layers],
         ["tab:blue", "tab:orange"], log=False)
    axes[0].set_title("||theta - theta_A||", fontsize=9)
    bars(axes[1], [lambda r, l=l: r["movement"][l]["fisher_weighted"] for l in layers],
         [f"{l} layer" for l in layers], ["tab:blue", "tab:orange"])
    axes[1].set_title("sum F (theta - theta_A)^2  (exact Fisher)", fontsize=9)
    kinds = ("measured", "full", "diagonal")
    bars(axes[2], [lambda r, k=k: r["rise"][k] for k in kinds],
         ["measured", "full Fisher predicts", "diagonal Fisher predicts"], ["k", "tab:green", "tab:olive"])
    axes[2].set_title("rise of task A's training loss (nats)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
