"""Figures that teach one idea each: forgetting per method, the Fisher's spread of values, and which
weights task B moved against how much task A's Fisher protects them."""

from __future__ import annotations

__all__ = ["forgetting_comparison", "fisher_histogram", "movement_vs_fisher", "matrix_with_colorbar", "label_pairs"]

import numpy as np

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from .core import CHANCE, DIAGONAL_COLOR, METHOD_COLORS, _draw_matrix, _legend_outside, _records, method_color


def _arrays(x) -> list:
    """float64 arrays of a model (its trainable variables), an Anchor (``theta``), a Fisher or an
    Anchor's Fisher (``fisher``, when asked for with ``attr="fisher"``) or a list of arrays."""
    if hasattr(x, "trainable_variables"):
        return [np.asarray(v.numpy(), np.float64) for v in x.trainable_variables]
    x = getattr(x, "theta", x)
    return [np.asarray(a, np.float64) for a in x]


def _fisher_arrays(f) -> list:
    return [np.asarray(a, np.float64) for a in getattr(f, "fisher", f)]


def forgetting_comparison(curves: dict, task="A", title: str | None = None,
                          chance: float | None = CHANCE, boundary_label: str = "start of task B"):
    """Test accuracy while training on task B, one line per method: on one task (``task``,
    default A), or one panel per task when ``task`` is a list such as ``["A", "B"]`` (what the
    methods keep of A beside what they learn of B).

    ``curves`` maps a method's name to an :class:`~ewc_helpers.evaluation.AccuracyHistory` (or a
    dict ``{"records", "tasks"}`` or a list of its records ``{"step", "epoch", <task>: accuracy}``).
    The legend gives each method's accuracy at the end; the start of task B and ``chance`` accuracy
    are labelled lines.
    """
    panels = [task] if isinstance(task, str) else list(task)
    if not panels:
        raise ValueError("name at least one task to draw")
    wide = len(panels) > 1
    fig, axes = plt.subplots(1, len(panels), figsize=(11.0 if wide else 8.0, 4.6 if wide else 3.9),
                             sharey=True, squeeze=False)
    for ax, name in zip(axes[0], panels):
        last = 0.0
        for method, curve in curves.items():
            records, names = _records(curve)
            if name not in names and name not in records[0]:
                raise KeyError(f"the curve of {method!r} has no accuracy for task {name!r} (it has {names})")
            epochs = np.array([r["epoch"] for r in records], float)
            acc = np.array([r[name] for r in records], float)
            last = max(last, float(epochs.max()))
            ax.plot(epochs, acc, "-", lw=1.8, color=method_color(method),
                    label=f"{method} (at the end: {acc[-1]:.2f})")
        ax.axvline(0, color="k", lw=1.0, label=boundary_label)
        if chance is not None:
            ax.axhline(chance, color="0.4", lw=1.0, ls=":", label=f"chance ({chance:g})", zorder=0)
        ax.set_xlim(-0.03 * (last or 1), (last or 1) * 1.01)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("epochs of training on task B")
        ax.set_ylabel(f"task {name} test accuracy" if not wide else "test accuracy")
        ax.grid(alpha=0.3)
        if wide:
            ax.set_title(f"task {name}", fontsize=11)
            _legend_outside(ax, "below", ncol=2, fontsize=10, bbox_to_anchor=(0.5, -0.2))
        else:
            _legend_outside(ax)
    default = (f"how much of task {panels[0]} each method keeps while it learns task B" if not wide
               else "what each method keeps of task A and learns of task B")
    if wide:
        fig.suptitle(title or default, fontsize=12)
    else:
        axes[0][0].set_title(title or default, fontsize=10)
    fig.tight_layout()
    return fig


def fisher_histogram(fishers: dict, title: str | None = None, bins: int = 60, layout: str = "overlay",
                     log_counts: bool = True):
    """How the Fisher's values spread over the weights: a histogram over log-spaced bins.

    ``fishers`` maps a name to a Fisher (a :class:`~ewc_helpers.fisher.FisherEstimate`, an Anchor or a
    list of arrays). Log bins cannot hold a zero, so each legend entry gives the share of entries
    that are exactly zero. ``layout``: ``"overlay"`` (outlines on one axis) or ``"panels"`` (one
    panel each, sharing the x axis). ``log_counts``: a log-scale count axis, so that the few
    largest values stay visible.
    """
    if layout not in ("overlay", "panels"):
        raise ValueError(f"layout must be 'overlay' or 'panels'; got {layout!r}")
    flat = {name: np.concatenate([a.ravel() for a in _fisher_arrays(f)]) for name, f in fishers.items()}
    positive = [v[v > 0] for v in flat.values() if np.any(v > 0)]
    if not positive:
        raise ValueError("every Fisher is zero everywhere: nothing to draw on a log scale")
    lo = min(float(p.min()) for p in positive)
    hi = max(float(p.max()) for p in positive)
    edges = np.logspace(np.log10(lo), np.log10(hi) + 1e-9, bins + 1)
    names = list(flat)
    if layout == "panels":
        fig, axes = plt.subplots(len(names), 1, figsize=(8.4, 1.5 + 1.5 * len(names)), sharex=True)
        axes = list(np.atleast_1d(axes))
    else:
        fig, ax = plt.subplots(figsize=(8.4, 4.0))
        axes = [ax] * len(names)
    for k, (ax, name) in enumerate(zip(axes, names)):
        v = flat[name]
        zeros = float(np.mean(v == 0))
        color = method_color(f"EWC {name}", f"C{k}")  # a Fisher in the colour of its EWC
        ax.hist(v[v > 0], bins=edges, histtype="step", lw=1.6, color=color,
                label=f"{name}: {v.size:,} entries, {zeros:.1%} exactly 0 (not drawn)")
        if layout == "panels":
            ax.set_ylabel("number of weights", fontsize=10)
            _legend_outside(ax, fontsize=10)
    for ax in set(axes):
        ax.set_xscale("log")
        if log_counts:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("Fisher value (log-spaced bins)")
    if layout == "overlay":
        axes[0].set_ylabel("number of weights")
        _legend_outside(axes[0], fontsize=10)
    fig.suptitle(title or "the Fisher's values over all weights (zeros cannot sit on a log axis)", fontsize=10)
    fig.tight_layout()
    return fig


def movement_vs_fisher(theta_b, theta_a, fisher, title: str | None = None, max_points: int = 20_000,
                       seed: int = 0):
    """Each weight's move during task B, ``|theta_B - theta_A|``, against its task-A Fisher entry.

    ``theta_b``: the weights after task B (a model, an Anchor or a list of arrays), or a dict
    ``{method name: weights}`` for one panel per method; ``theta_a`` the task-A weights and
    ``fisher`` task A's Fisher (a FisherEstimate, an Anchor or a list of arrays). Both axes are
    logarithmic; a random sample of ``max_points`` weights (the same in every panel) is drawn, and a
    black line gives the median move in each band of F. Weights with F = 0 are drawn in the narrow
    strip at the left of each panel; weights that did not move at all are counted in its title.
    EWC moves the low-Fisher weights and holds the high-Fisher ones; L2 treats them alike.
    """
    if not isinstance(theta_b, dict):
        theta_b = {"after task B": theta_b}
    a = np.concatenate([x.ravel() for x in _arrays(theta_a)])
    f = np.concatenate([x.ravel() for x in _fisher_arrays(fisher)])
    moves = {}
    for name, w in theta_b.items():
        b = np.concatenate([x.ravel() for x in _arrays(w)])
        if b.shape != a.shape or f.shape != a.shape:
            raise ValueError(f"{name!r}: theta_B, theta_A and the Fisher must hold the same number of "
                             f"weights; got {b.size}, {a.size} and {f.size}")
        moves[name] = np.abs(b - a)
    rng = np.random.default_rng(seed)
    idx = rng.choice(a.size, size=min(max_points, a.size), replace=False)
    fz = f[idx] == 0
    moved = np.concatenate([m[idx][m[idx] > 0] for m in moves.values()])
    if not moved.size:
        raise ValueError("no weight moved: nothing to draw on a log scale")
    ylo, yhi = float(moved.min()) / 1.5, float(moved.max()) * 1.5
    pos = f[f > 0]
    xlo, xhi = float(pos.min()) / 1.5, float(pos.max()) * 1.5
    edges = np.logspace(np.log10(xlo), np.log10(xhi), 16)

    n = len(moves)
    fig = plt.figure(figsize=(min(4.0 * n + 1.2, 11.0), 4.8))
    ratios = []
    for k in range(n):
        ratios += [0.7, 5.0] + ([0.9] if k < n - 1 else [])
    grid = fig.add_gridspec(1, len(ratios), width_ratios=ratios, wspace=0.05, left=0.9 / min(4.0 * n + 1.2, 11.0),
                            right=0.985, top=0.80, bottom=0.22)
    first_strip, handles = None, None
    for k, (name, move) in enumerate(moves.items()):
        col = 3 * k
        strip = fig.add_subplot(grid[0, col], sharey=first_strip)
        ax = fig.add_subplot(grid[0, col + 1], sharey=strip)
        first_strip = first_strip or strip
        m = move[idx]
        color = method_color(name, f"C{k}")
        show = ~fz & (m > 0)
        ax.scatter(f[idx][show], m[show], s=2, alpha=0.15, color=color, lw=0, rasterized=True,
                   label=f"one weight (random {len(idx):,} of {a.size:,})")
        zs = fz & (m > 0)
        strip.scatter(rng.uniform(0.15, 0.85, int(zs.sum())), m[zs], s=2, alpha=0.15, color=color, lw=0,
                      rasterized=True)
        # the median move per band of F, over every weight (not only the sample)
        keep = (f > 0) & (move > 0)
        band = np.digitize(f[keep], edges)
        mids, meds = [], []
        for j in range(1, len(edges)):
            sel = band == j
            if sel.sum() >= 20:
                mids.append(np.sqrt(edges[j - 1] * edges[j]))
                meds.append(np.median(move[keep][sel]))
        ax.plot(mids, meds, "k-", lw=1.8, label="median move per band of F")
        zero_f = (f == 0) & (move > 0)
        if zero_f.any():
            strip.axhline(np.median(move[zero_f]), color="k", lw=1.8, xmin=0.1, xmax=0.9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(xlo, xhi)
        ax.set_ylim(ylo, yhi)
        strip.set_xlim(0, 1)
        strip.set_xticks([0.5], ["F = 0"], fontsize=10)
        strip.tick_params(axis="x", length=0)
        ax.tick_params(axis="y", labelleft=False)
        if k:
            strip.tick_params(axis="y", labelleft=False)
        ax.grid(alpha=0.3)
        strip.grid(alpha=0.3, axis="y")
        ax.set_xlabel("task A's Fisher entry F (log)")
        unmoved = float(np.mean(move == 0))
        ax.set_title(f"{name}\nmedian move {np.median(move):.2g}" + (f"\n{unmoved:.0%} unmoved (not drawn)"
                                                                        if unmoved >= 0.005 else ""), fontsize=10)
    first_strip.set_ylabel("|theta_B - theta_A| (log)")
    handles = [Line2D([], [], ls="", marker="o", ms=4, color="0.45"), Line2D([], [], color="k", lw=1.8)]
    fig.legend(handles, [f"one weight (a random {len(idx):,} of {a.size:,})",
                         "median move per band of F (in the strip: of the weights with F = 0)"],
               loc="lower center", ncol=2, fontsize=10, frameon=False)
    fig.suptitle(title or "how far task B moved each weight, against how much task A's Fisher protects it",
                 fontsize=10)
    return fig


def matrix_with_colorbar(matrix, title: str = "accuracy matrix"):
    """A small :class:`~ewc_helpers.evaluation.AccuracyMatrix` (two or three tasks) drawn large
    enough to read when projected, with a colour bar for test accuracy (0 to 1); the diagonal
    (each task right after training on it) is outlined, as in every accuracy matrix."""
    values = matrix.values
    if values.size == 0:
        raise ValueError("the accuracy matrix has no rows yet")
    fig, ax = plt.subplots(figsize=(2.4 + 1.5 * values.shape[1], 1.6 + 1.3 * values.shape[0]))
    _draw_matrix(ax, values, fontsize=16)
    ax.set_xticks(range(values.shape[1]), [f"task {n}" for n in matrix.task_names], fontsize=12)
    ax.set_yticks(range(values.shape[0]), [f"after {n}" for n in matrix.task_names[: values.shape[0]]],
                  fontsize=12)
    ax.set_xlabel("test accuracy on", fontsize=12)
    ax.set_ylabel("after training on", fontsize=12)
    bar = fig.colorbar(ax.images[0], ax=ax, fraction=0.08, pad=0.04)
    bar.set_label("test accuracy", fontsize=11)
    ax.set_title(title, fontsize=12)
    fig.text(0.5, 0.01, "outlined: each task right after training on it", ha="center", va="bottom",
             fontsize=10, color=DIAGONAL_COLOR)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def label_pairs(tasks: dict, per_digit: int = 2, split: str = "train", seed: int = 0):
    """The digits that share each label, side by side: one column per label 0-4, task A's even
    digit (``2 * label``) above task B's odd digit (``2 * label + 1``), ``per_digit`` examples of
    each, drawn at random with ``seed``."""
    if per_digit < 1:
        raise ValueError(f"per_digit must be at least 1; got {per_digit}")
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2 * per_digit, 5, figsize=(7.0, 1.45 * 2 * per_digit + 0.6), squeeze=False)
    for label in range(5):
        for row, (task, digit) in enumerate(
                [("A", 2 * label)] * per_digit + [("B", 2 * label + 1)] * per_digit):
            part = tasks[task].split(split)
            index = np.flatnonzero(part.digits == digit)
            if index.size == 0:
                raise ValueError(f"task {task} has no digit {digit} in its {split} split")
            ax = axes[row][label]
            ax.imshow(part.images[rng.choice(index)].squeeze(), cmap="gray_r")
            ax.set_xticks([]), ax.set_yticks([])
            if row == 0:
                ax.set_title(f"label {label}", fontsize=12)
            if label == 0:
                ax.set_ylabel(f"task {task}: {'even' if task == 'A' else 'odd'}", fontsize=11)
            for spine in ax.spines.values():
                spine.set_edgecolor(METHOD_COLORS.get("naive", "k") if task == "B" else "0.3")
    fig.suptitle("digits that share a label: task A's even digit above task B's odd one", fontsize=12)
    fig.tight_layout()
    return fig
