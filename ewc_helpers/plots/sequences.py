"""Figures of task sequences (lessons 02 and 10): accuracy matrices, curves per task, lam sweeps, memory."""

from __future__ import annotations

__all__ = ['accuracy_heatmap', 'sequence_curves', 'permuted_digits', 'sequence_sweep', 'accuracy_heatmaps', 'memory_growth']

import numpy as np

import matplotlib.pyplot as plt

from .core import _legend_outside, _field, _draw_matrix, METHOD_COLORS, DIAGONAL_COLOR


def _diagonal_note(fig, y=0.005, fontsize=7):
    """One line under a figure saying what the outlined diagonal is."""
    text = "outlined diagonal: each task right after training on it (mean = learning accuracy)"
    if fig.get_figwidth() < 6:  # too narrow for one line
        text = text.replace(" (", "\n(")
    fig.text(0.5, y, text, ha="center", va="bottom", fontsize=fontsize, color=DIAGONAL_COLOR)


def _learning_text(m) -> str:
    if len(m.rows) != len(m.task_names):
        return ""
    return f"learning {m.learning_accuracy:.2f}, avg {m.average_accuracy:.2f}"


def accuracy_heatmap(matrix, title: str = "accuracy matrix"):
    """Heat map of an :class:`~ewc_helpers.evaluation.AccuracyMatrix` (row: after task i); the
    diagonal (each task right after training on it) is outlined."""
    values = matrix.values
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * values.shape[1], 1.5 + 0.6 * values.shape[0]))
    _draw_matrix(ax, values, fontsize=8)
    ax.set_xticks(range(values.shape[1]), [f"on {n}" for n in matrix.task_names])
    ax.set_yticks(range(values.shape[0]), [f"after {n}" for n in matrix.task_names[: values.shape[0]]])
    ax.set_xlabel("test accuracy on task")
    ax.set_ylabel("after training on task")
    extra = _learning_text(matrix)
    ax.set_title(title + (f"\n{extra}" if extra else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    _diagonal_note(fig)
    return fig


def sequence_curves(results: dict, title: str = "accuracy on every task after each step"):
    """One panel per method: accuracy on each task (lines) after each training step."""
    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names) + 1.0, 3.2), sharey=True)
    for ax, name in zip(np.atleast_1d(axes), names):
        m = _field(results[name], "matrix")
        v = m.values
        steps = np.arange(1, v.shape[0] + 1)
        for j, task in enumerate(m.task_names):
            ax.plot(steps[j:], v[j:, j], "o-", ms=3, label=task)
        ax.set_title(f"{name}\navg {m.average_accuracy:.2f}, learning {m.learning_accuracy:.2f}, "
                     f"BWT {m.backward_transfer:+.2f}", fontsize=8)
        ax.set_xlabel("after training task")
        ax.set_xticks(steps)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("test accuracy")
    _legend_outside(np.atleast_1d(axes)[-1], fontsize=7, title="task")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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
    fig, ax = plt.subplots(figsize=(7.6, 3.6))
    starred = False
    for name, results in sweeps.items():
        color = METHOD_COLORS.get(_field(results[0], "method"))
        lams = [_field(r, "lam") for r in results]
        (line,) = ax.plot(lams, [_field(r, "val_score") for r in results], "o-", color=color, label=name)
        if chosen and name in chosen:
            ax.plot(_field(chosen[name], "lam"), _field(chosen[name], "val_score"), "*", ms=14,
                    color=line.get_color(), markeredgecolor="k")
            starred = True
    if starred:  # one legend entry for every star, in no method's colour
        ax.plot([], [], "*", ms=12, color="0.85", markeredgecolor="k", label="chosen lam")
    ax.set_xscale("log")
    ax.set_xlabel("lam")
    ax.set_ylabel("average validation accuracy")
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_heatmaps(results: dict, title: str = "accuracy matrices (row: after training task i)"):
    """:func:`accuracy_heatmap` for several methods side by side (``results``: name -> result);
    each panel outlines its diagonal and gives its learning and average accuracy."""
    names = list(results)
    first = _field(results[names[0]], "matrix")
    size = len(first.task_names)
    fig, axes = plt.subplots(1, len(names), figsize=(0.55 * size * len(names) + 1.5, 0.55 * size + 1.8))
    for ax, name in zip(np.atleast_1d(axes), names):
        m = _field(results[name], "matrix")
        values = m.values
        _draw_matrix(ax, values, fontsize=7, short=True)
        names_ = _field(results[name], "matrix").task_names
        ax.set_xticks(range(len(names_)), names_, fontsize=7)
        ax.set_yticks(range(values.shape[0]), names_[: values.shape[0]], fontsize=7)
        ax.set_xlabel("accuracy on", fontsize=8)
        extra = _learning_text(m)
        ax.set_title(name + (f"\n{extra}" if extra else ""), fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("after training", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    _diagonal_note(fig)
    return fig


def memory_growth(results: dict, title: str = "memory a method holds for the next task"):
    """Bytes held after each task, one line per method (``results``: name -> run_sequence result)."""
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    for name, r in results.items():
        mb = [m["bytes"] / 1e6 for m in _field(r, "memory_history")]
        steps = np.arange(1, len(mb) + 1)
        ax.plot(steps, mb, "o-", color=METHOD_COLORS.get(_field(r, "method")), label=name)
    ax.set_xlabel("tasks learnt")
    ax.set_ylabel("MB held (float32 arrays)")
    ax.set_xticks(steps)
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
