"""Figures of task sequences (lessons 02 and 10): accuracy matrices, curves per task, lam sweeps, memory."""

from __future__ import annotations

__all__ = ['accuracy_heatmap', 'sequence_curves', 'permuted_digits', 'sequence_sweep', 'accuracy_heatmaps', 'memory_growth']

import numpy as np

import matplotlib.pyplot as plt

from .core import _legend_outside, _field, _draw_matrix, METHOD_COLORS, DIAGONAL_COLOR, MIN_FONT, method_color, matrix_range


def _diagonal_note(fig, y=0.005, fontsize=10):
    """One line under a figure saying what the outlined diagonal is."""
    text = ("outlined diagonal: each task right after training on it (mean = learning accuracy); "
            "grey: tasks not trained yet")
    if fig.get_figwidth() < 12:  # too narrow for one line
        text = text.replace("; ", "\n")
    if fig.get_figwidth() < 6:
        text = text.replace(" (", "\n(")
    fig.text(0.5, y, text, ha="center", va="bottom", fontsize=fontsize, color=DIAGONAL_COLOR)


def _learning_text(m) -> str:
    if len(m.rows) != len(m.task_names):
        return ""
    return f"learning {m.learning_accuracy:.2f}, avg {m.average_accuracy:.2f}"


def accuracy_heatmap(matrix, title: str = "accuracy matrix"):
    """Heat map of an :class:`~ewc_helpers.evaluation.AccuracyMatrix` (row: after task i); the
    diagonal (each task right after training on it) is outlined, the tasks not trained yet are grey,
    and the colour bar spans the trained cells only (not the chance-level ones)."""
    values = matrix.values
    n = values.shape[1]
    fig, ax = plt.subplots(figsize=(2.6 + 0.62 * n, 2.3 + 0.55 * values.shape[0]))
    _draw_matrix(ax, values, fontsize=MIN_FONT, short=n > 6, untrained=True)
    ax.set_xticks(range(n), [f"on {t}" if n <= 6 else str(t) for t in matrix.task_names],
                  rotation=0 if n <= 6 else 45)
    ax.set_yticks(range(values.shape[0]), [f"after {t}" if n <= 6 else str(t)
                                           for t in matrix.task_names[: values.shape[0]]])
    ax.set_xlabel("test accuracy on task")
    ax.set_ylabel("after training on task")
    bar = fig.colorbar(ax.images[0], ax=ax, fraction=0.05, pad=0.03)
    bar.set_label("test accuracy (trained tasks)")
    extra = _learning_text(matrix)
    ax.set_title(title + (f"\n{extra}" if extra else ""))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    _diagonal_note(fig, fontsize=MIN_FONT)
    return fig


def sequence_curves(results: dict, title: str = "accuracy on every task after each step"):
    """One panel per method: accuracy on each task (lines) after each training step."""
    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(min(2.4 * len(names) + 1.4, 11.0), 3.6), sharey=True)
    for ax, name in zip(np.atleast_1d(axes), names):
        m = _field(results[name], "matrix")
        v = m.values
        steps = np.arange(1, v.shape[0] + 1)
        shades = plt.get_cmap("cividis")(np.linspace(0.0, 0.85, len(m.task_names)))  # tasks, not methods
        for j, task in enumerate(m.task_names):
            ax.plot(steps[j:], v[j:, j], "o-", ms=4, color=shades[j], label=task)
        ax.set_title(f"{name}\navg {m.average_accuracy:.2f}, learning {m.learning_accuracy:.2f}\n"
                     f"BWT {m.backward_transfer:+.2f}", fontsize=10)
        ax.set_xlabel("after training task")
        ax.set_xticks(steps)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy")
    _legend_outside(np.atleast_1d(axes)[-1], fontsize=10, title="task")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def permuted_digits(tasks, index: int = 0, split: str = "test"):
    """One digit as the network sees it in each permuted task, beside the original image."""
    part = tasks[0].split(split)
    fig, axes = plt.subplots(1, len(tasks) + 1, figsize=(1.6 * (len(tasks) + 1), 2.0))
    axes[0].imshow(part.images[index, ..., 0], cmap="gray_r")
    axes[0].set_title(f"original ({int(part.labels[index])})", fontsize=10)
    for ax, task in zip(axes[1:], tasks):
        x, y = task.arrays(split)
        ax.imshow(x[index, ..., 0], cmap="gray_r")
        ax.set_title(f"{task.name} (label {int(y[index])})", fontsize=10)
    for ax in axes:
        ax.axis("off")
    fig.suptitle("one test digit under each task's pixel permutation", fontsize=10)
    fig.tight_layout()
    return fig


def sequence_sweep(sweeps: dict, chosen: dict | None = None,
                   title: str = "choosing lam: validation accuracy after the last task",
                   val_digits: int | None = None):
    """Average validation accuracy over every task after the last one, against lam (log scale).

    ``sweeps`` maps a method's name to a list of :func:`~ewc_helpers.experiments.run_sequence`
    results; ``chosen`` maps the same names to the chosen result (drawn as a star). With
    ``val_digits`` (the validation digits the average is taken over) each point gets a 95 %
    binomial interval, ``1.96 * sqrt(p (1 - p) / val_digits)``.
    """
    fig, ax = plt.subplots(figsize=(7.6, 3.6))
    starred = False
    if val_digits is not None and (int(val_digits) != val_digits or val_digits < 1):
        raise ValueError(f"val_digits must be a positive number of digits; got {val_digits!r}")
    for k, (name, results) in enumerate(sweeps.items()):
        color = method_color(name, method_color(_field(results[0], "method")))
        # with intervals, each method is nudged sideways (a few % of a decade) so that bars at the
        # same lam do not hide each other
        dodge = 10 ** (0.06 * (k - (len(sweeps) - 1) / 2)) if val_digits is not None else 1.0
        lams = [_field(r, "lam") * dodge for r in results]
        scores = np.array([_field(r, "val_score") for r in results], dtype=float)
        if val_digits is not None:
            ax.errorbar(lams, scores, yerr=1.96 * np.sqrt(scores * (1 - scores) / val_digits), fmt="none",
                        ecolor=color, elinewidth=1.2, capsize=3, alpha=0.7)
        (line,) = ax.plot(lams, scores, "o-", color=color, label=name)
        if chosen and name in chosen:
            ax.plot(_field(chosen[name], "lam") * dodge, _field(chosen[name], "val_score"), "*", ms=14,
                    color=line.get_color(), markeredgecolor="k")
            starred = True
    if starred:  # one legend entry for every star, in no method's colour
        ax.plot([], [], "*", ms=12, color="0.85", markeredgecolor="k", label="chosen lam")
    if val_digits is not None:
        ax.errorbar([], [], yerr=[], fmt="none", ecolor="0.4", capsize=3, label="95% interval")
    ax.set_xscale("log")
    ax.set_xlabel("lam")
    ax.set_ylabel("average validation accuracy")
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_heatmaps(results: dict, title: str = "accuracy matrices (row: after training task i)",
                      columns: int | None = None):
    """:func:`accuracy_heatmap` for several methods (``results``: name -> result), ``columns``
    panels per row (default: two, or all when there are at most two or the tasks are three or
    fewer); each panel outlines its
    diagonal and gives its learning and average accuracy. One colour bar serves every panel and
    spans the trained cells of all of them (the tasks not trained yet are grey)."""
    names = list(results)
    mats = [_field(results[n], "matrix") for n in names]
    size = len(mats[0].task_names)
    columns = columns or (len(names) if len(names) <= 2 or size <= 3 else 2)
    rows = int(np.ceil(len(names) / columns))
    cell = 0.42 if size > 5 else 0.62
    fig, axes = plt.subplots(rows, columns, figsize=(cell * size * columns + 1.2 * columns + 1.2,
                                                     (cell * size + 1.3) * rows + 0.9), squeeze=False)
    lo = min(matrix_range(m.values, untrained=True)[0] for m in mats)
    for ax, name, m in zip(axes.ravel(), names, mats):
        values = m.values
        _draw_matrix(ax, values, fontsize=MIN_FONT, short=True, untrained=True)
        ax.images[0].set_clim(lo, 1.0)
        for t, v in zip(ax.texts, values.ravel()):  # text colour for the shared range
            if t.get_color() in ("w", "k"):
                t.set_color("w" if (v - lo) / (1.0 - lo) < 0.6 else "k")
        names_ = m.task_names
        ax.set_xticks(range(len(names_)), names_, rotation=45 if size > 5 else 0)
        ax.set_yticks(range(values.shape[0]), names_[: values.shape[0]])
        ax.set_xlabel("accuracy on")
        ax.set_ylabel("after training")
        extra = _learning_text(m)
        ax.set_title(name + (f"\n{extra}" if extra else ""), fontsize=MIN_FONT + 1)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 0.9, 1))
    cax = fig.add_axes([0.92, 0.2, 0.018, 0.6], label="<colorbar>")
    bar = fig.colorbar(axes.ravel()[0].images[0], cax=cax)
    bar.set_label("test accuracy (trained tasks)")
    _diagonal_note(fig, fontsize=MIN_FONT)
    return fig


def memory_growth(results: dict, title: str = "memory a method holds for the next task"):
    """Bytes held after each task, one line per method (``results``: name -> run_sequence result)."""
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    for name, r in results.items():
        mb = [m["bytes"] / 1e6 for m in _field(r, "memory_history")]
        steps = np.arange(1, len(mb) + 1)
        ax.plot(steps, mb, "o-", color=method_color(name, method_color(_field(r, "method"))), label=name)
    ax.set_xlabel("tasks learnt")
    ax.set_ylabel("MB held (float32 arrays)")
    ax.set_xticks(steps)
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
