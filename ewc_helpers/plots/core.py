"""Figures shared by several lessons: digits, training and forgetting curves, trade-offs, matrices."""

from __future__ import annotations

__all__ = [
    "sample_grid",
    "training_curves",
    "forgetting_curves",
    "tradeoff",
    "tradeoff_panels",
    "fisher_image",
    "method_comparison",
    "method_color",
    "colors_for",
    "styled",
    "use_retina",
    "STYLE",
    "MIN_FONT",
    "TASK_COLORS",
    "METHOD_COLORS",
]

from collections.abc import Mapping

import numpy as np

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

TASK_COLORS = {"A": "tab:blue", "B": "tab:orange", "multi": "tab:green"}
#: The one colour of each method in every figure of the course (lessons 02-11, the slider, the
#: scenario bars). Look a label up with :func:`method_color`, which also knows the aliases below.
METHOD_COLORS = {"naive": "tab:red", "L2": "tab:purple", "EWC": "tab:green", "online EWC": "tab:cyan",
                 "replay": "tab:brown", "joint": "tab:gray", "A only": "0.15",
                 # the two importance-weighted penalties of lesson 11's scenario map
                 "SI": "#1b9e77", "MAS": "#7570b3",
                 # the Fishers of lesson 06 (EWC exact is the EWC of lessons 05, 07 and 09)
                 "EWC exact": "tab:green", "EWC empirical": "tab:olive", "EWC sampled": "#2f4b7c",
                 "EWC article F": "tab:pink"}
#: Other spellings of the same methods (compared in lower case, "_" and "-" read as spaces).
METHOD_ALIASES = {"l2": "L2", "ewc": "EWC", "online ewc": "online EWC", "online_ewc": "online EWC",
                  "multi task": "joint", "multi-task": "joint", "joint training": "joint", "a only": "A only",
                  "a_only": "A only", "naive training": "naive", "ewc (exact fisher)": "EWC exact",
                  "ewc exact": "EWC exact", "ewc empirical": "EWC empirical", "ewc sampled": "EWC sampled",
                  "ewc article f": "EWC article F", "ewc article": "EWC article F", "si": "SI", "mas": "MAS"}
METHOD_COLORS.update({alias: METHOD_COLORS[name] for alias, name in METHOD_ALIASES.items()
                      if alias not in METHOD_COLORS})
#: Colours for lines that are not methods (optimizers, dropout, runs): none of them is a method's.
OTHER_COLORS = ("tab:blue", "#e6ab02", "#d95f02", "#000080", "#a6761d", "0.4")
#: Chance accuracy of a five-class task (every task of the lessons has five labels).
CHANCE = 0.2

#: The smallest text (points) any figure of the course draws, at the size a notebook shows it.
MIN_FONT = 10.0
#: A notebook shows a figure at most this wide (inches at ``figure.dpi``); wider ones are shrunk.
SHOWN_WIDTH = 11.0
#: The course's figure style, applied by every plotting function (:func:`styled`): text that reads
#: on a projector, and a resolution that stays sharp on a high-DPI screen (PNGs at twice the
#: figure's dpi, shown at its size: the notebook's "retina" format, set by :func:`use_retina`).
STYLE = {"figure.dpi": 100, "savefig.dpi": 200, "font.size": 11, "axes.titlesize": 12,
         "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 10,
         "legend.title_fontsize": 10, "figure.titlesize": 13, "lines.linewidth": 1.8,
         "lines.markersize": 6}


def method_color(label, default=None):
    """The course's colour for a method label (``"EWC"``, ``"l2"``, ``"online_ewc"``,
    ``"EWC exact"``...), or ``default`` when the label names no method."""
    if label in METHOD_COLORS:
        return METHOD_COLORS[label]
    key = " ".join(str(label).lower().replace("_", " ").replace("-", " ").split())
    name = METHOD_ALIASES.get(key) or next((n for n in METHOD_COLORS if n.lower() == key), None)
    return METHOD_COLORS[name] if name else default


def colors_for(labels) -> dict:
    """label -> colour: each method's own colour, and for every other label the next colour of
    :data:`OTHER_COLORS` that no label of this figure already uses."""
    out = {lab: method_color(lab) for lab in labels}
    spare = [c for c in OTHER_COLORS if c not in out.values()]
    for lab in labels:
        if out[lab] is None:
            out[lab] = spare.pop(0) if spare else "0.3"
    return out


_RETINA = {"done": False}


def use_retina() -> bool:
    """Inside a Jupyter kernel, show figures as PNGs at twice their resolution (sharp on high-DPI
    screens, same size on the page). Returns whether it did; outside a kernel it does nothing."""
    if _RETINA["done"]:
        return True
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or not hasattr(shell, "kernel"):
            return False
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
    except Exception:  # no IPython or no inline backend: plain matplotlib, nothing to set
        return False
    _RETINA["done"] = True
    return True


def styled(func):
    """Draw ``func``'s figure in the course's :data:`STYLE` (and the retina format in a notebook)."""
    import functools

    if getattr(func, "__styled__", False):
        return func

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        use_retina()
        with plt.rc_context(STYLE):
            return func(*args, **kwargs)

    wrapper.__styled__ = True
    return wrapper


# --------------------------------------------------------------------------- shared helpers
def _legend_outside(ax, where: str = "right", ncol: int = 1, fontsize: float | None = None, **kwargs):
    """The axes' legend outside the axes (``"right"`` or ``"below"``), so it never hides data.

    ``"below"`` sits under the x label; :func:`~matplotlib.figure.Figure.tight_layout` makes room.
    ``fontsize`` never goes below :data:`MIN_FONT`."""
    fontsize = max(float(fontsize or MIN_FONT), MIN_FONT)
    if where == "below":
        kwargs.setdefault("bbox_to_anchor", (0.5, -0.18))
        return ax.legend(loc="upper center", ncol=ncol, fontsize=fontsize, borderaxespad=0.0, **kwargs)
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), ncol=ncol, fontsize=fontsize,
                     borderaxespad=0.0, **kwargs)


def _field(r, key):
    """``r[key]`` for a dict, else the attribute ``key``, else ``r.info[key]`` (a study Result)."""
    if isinstance(r, dict):
        return r[key]
    if hasattr(r, key):
        return getattr(r, key)
    return r.info[key]


def _records(curve):
    """(records, task names) of an AccuracyHistory, of a dict ``{"records", "tasks"}`` or of a list
    of records (task names: every key but ``step`` and ``epoch``)."""
    records = curve if isinstance(curve, list) else (
        curve["records"] if isinstance(curve, dict) else curve.records)
    tasks = curve.get("tasks") if isinstance(curve, dict) else getattr(curve, "tasks", None)
    if tasks is None:
        tasks = [k for k in records[0] if k not in ("step", "epoch")]
    return records, [getattr(t, "name", t) for t in tasks]


def _overlaps(box, others, pad: float = 0.0) -> bool:
    return any(box.x0 - pad < o.x1 and o.x0 < box.x1 + pad and box.y0 - pad < o.y1 and o.y0 < box.y1 + pad
               for o in others)


def _segments_hit(box, samples, pad: float = 2.0) -> int:
    """How many of ``samples`` (display points along the drawn lines) fall in ``box``."""
    if not len(samples):
        return 0
    x, y = samples[:, 0], samples[:, 1]
    return int(np.sum((x > box.x0 - pad) & (x < box.x1 + pad) & (y > box.y0 - pad) & (y < box.y1 + pad)))


def _sample_segments(segments, step: float = 2.0) -> np.ndarray:
    """Points every ``step`` pixels along display-space segments ``[(p, q), ...]``."""
    out = []
    for p, q in segments:
        p, q = np.asarray(p, float), np.asarray(q, float)
        n = max(2, int(np.hypot(*(q - p)) / step) + 1)
        out.append(p + np.linspace(0, 1, n)[:, None] * (q - p))
    return np.vstack(out) if out else np.zeros((0, 2))


def _place_labels(ax, items, segments=(), points=(), point_radius: float = 5.0):
    """Annotate data points so that no label touches another label, a point, a drawn line or the
    axes' edge, each as near as it can be to its preferred side.

    ``items``: dicts ``{"xy": (x, y) in data, "text", "color", "direction": (dx, dy)}`` (the
    preferred direction in display space). ``segments``: data-space ``((x0, y0), (x1, y1))`` of every
    line drawn; ``points``: data-space markers. Call after the axes' limits and the figure's layout
    are final. Returns the annotations (gid ``"point-label"``)."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    samples = _sample_segments([(to_px(p), to_px(q)) for p, q in segments])
    pts = to_px(np.asarray(points, float).reshape(-1, 2)) if len(points) else np.zeros((0, 2))
    frame = ax.get_window_extent(renderer)
    placed, out = [], []
    angles = np.deg2rad(np.arange(0, 360, 22.5))
    for item in items:
        d = np.asarray(item.get("direction", (1.0, 1.0)), float)
        d = d / (np.hypot(*d) or 1.0)
        pref = np.arctan2(d[1], d[0])
        order = sorted(angles, key=lambda a: abs(np.angle(np.exp(1j * (a - pref)))))
        ann = ax.annotate(item["text"], item["xy"], textcoords="offset points", xytext=(0, 0),
                          fontsize=item.get("fontsize", MIN_FONT), color=item.get("color", "k"), gid="point-label",
                          annotation_clip=False)
        best = None
        for radius in (7, 11, 16, 22, 30, 40, 52):
            for a in order:
                c, s_ = np.cos(a), np.sin(a)
                ann.set_ha("left" if c > 0.35 else "right" if c < -0.35 else "center")
                ann.set_va("bottom" if s_ > 0.35 else "top" if s_ < -0.35 else "center")
                ann.xyann = (radius * c, radius * s_)
                box = ann.get_window_extent(renderer)
                inside = (box.x0 >= frame.x0 + 2 and box.x1 <= frame.x1 - 2 and box.y0 >= frame.y0 + 2
                          and box.y1 <= frame.y1 - 2)
                cost = (0 if inside else 10_000) + (1_000 if _overlaps(box, placed, 1.0) else 0)
                cost += 50 * _segments_hit(box, samples)
                if len(pts):
                    near = (pts[:, 0] > box.x0 - point_radius) & (pts[:, 0] < box.x1 + point_radius) & (
                        pts[:, 1] > box.y0 - point_radius) & (pts[:, 1] < box.y1 + point_radius)
                    cost += 200 * int(near.sum())
                cost += radius * 0.5 + abs(np.angle(np.exp(1j * (a - pref))))
                if best is None or cost < best[0]:
                    best = (cost, ann.xyann, ann.get_ha(), ann.get_va(), box)
            if best[0] < 50:  # a free spot at this radius: no nearer one exists
                break
        _, xyann, ha, va, box = best
        ann.remove()
        far = np.hypot(*xyann) > 10  # away from its point: a thin leader line shows which point
        ann = ax.annotate(item["text"], item["xy"], textcoords="offset points", xytext=xyann, ha=ha, va=va,
                          fontsize=item.get("fontsize", MIN_FONT), color=item.get("color", "k"), gid="point-label",
                          annotation_clip=False,
                          arrowprops=dict(arrowstyle="-", color=item.get("color", "k"), lw=0.7, alpha=0.8,
                                          shrinkA=1, shrinkB=3) if far else None)
        placed.append(ann.get_window_extent(renderer))
        out.append(ann)
    return out


def sample_grid(task_or_mnist, n: int = 20, split: str = "train", seed: int = 0, columns: int = 10):
    """A grid of digits titled with their digit, task and new label (``digit // 2``)."""
    part = getattr(task_or_mnist, split)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(part.labels), size=min(n, len(part.labels)), replace=False))
    rows = int(np.ceil(len(idx) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.45 * rows))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, i in zip(np.atleast_1d(axes).ravel(), idx):
        digit = int(getattr(part, "digits", part.labels)[i])
        ax.imshow(part.images[i, ..., 0], cmap="gray_r")
        ax.set_title(f"{digit}: {'A' if digit % 2 == 0 else 'B'}, y={digit // 2}", fontsize=10)
    fig.suptitle("digit: task, new label", fontsize=10)
    fig.tight_layout()
    return fig


def training_curves(history: dict, title: str = "training"):
    """Loss and accuracy per epoch from a Keras ``History.history`` dict (val_* if present)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for key, ax in (("loss", ax1), ("accuracy", ax2)):
        ax.plot(epochs, history[key], "o-", label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    _legend_outside(ax2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def forgetting_curves(curves: dict, boundary_label: str = "start of task B", title: str = "forgetting",
                      chance: float | None = CHANCE):
    """Test accuracy during training on task B, one line per (method, task).

    ``curves`` maps a method name to an :class:`~ewc_helpers.evaluation.AccuracyHistory` (or a dict
    ``{"records", "tasks"}`` or a list of its records). The start of task B and ``chance`` accuracy
    are labelled lines; the legend sits right of the axes.
    """
    fig, ax = plt.subplots(figsize=(8.2, 3.8))
    styles = {"A": "-", "B": "--"}
    last = 0.0
    for method, hist in curves.items():
        records, names = _records(hist)
        epochs = [r["epoch"] for r in records]
        last = max(last, max(epochs))
        for t in names:
            ax.plot(epochs, [r[t] for r in records], styles.get(t, ":"),
                    color=METHOD_COLORS.get(method), label=f"{method}: task {t}")
    ax.axvline(0, color="k", lw=1.0, label=boundary_label)
    if chance is not None:
        ax.axhline(chance, color="0.4", lw=1.0, ls=":", label=f"chance ({chance:g})", zorder=0)
    ax.set_xlim(-0.03 * (last or 1), (last or 1) * 1.01)
    ax.set_xlabel("epochs of training on task B")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _reference(value, split):
    """(A, B) of a reference point: a pair, a dict ``{"A", "B"}``, or a result with ``split``."""
    if isinstance(value, Mapping):
        return float(value["A"]), float(value["B"])
    if isinstance(value, (tuple, list)):
        return float(value[0]), float(value[1])
    acc = getattr(value, split, None) or getattr(value, "test")
    return float(acc["A"]), float(acc["B"])


#: Marker of each reference point of a trade-off plot.
REFERENCE_MARKERS = {"naive": "X", "A only": "s", "joint": "P"}


def tradeoff(sweeps: dict, chosen: dict | None = None, split: str = "val", title: str | None = None,
             zoom: bool | None = None, limits: tuple | None = None, references: dict | None = None,
             ax=None, axis_labels: bool = True):
    """Task A versus task B accuracy across a lam sweep, one curve per method.

    ``sweeps`` maps a method name to a list of :class:`~ewc_helpers.studies.common.Result` or to a
    list of dicts ``{"lam", "A", "B", "A_std", "B_std"}`` (drawn with error bars); ``chosen`` maps a
    name to its chosen result (a star). Only the chosen lam and the two ends of each curve are
    labelled, each label placed clear of the curves, the points and the other labels. The dashed
    grey line joins the points with the same mean of A and B as the chosen lam (the best chosen one
    when several are; without ``chosen``, the best point drawn): a point above it is a better
    trade-off by that score.

    ``references`` maps a name (``"naive"``, ``"A only"``, ``"joint"``...) to its accuracy: an
    ``(A, B)`` pair, a dict ``{"A", "B"}`` or a result (read on ``split``); each is a marker in its
    method's colour with its values in the legend (a reference outside a zoomed window stays in the
    legend only, marked "outside the window").

    ``zoom``: True frames the curves (with a margin), False shows the whole unit square, None (the
    default) zooms when the data fill less than half of it in either direction. ``limits``
    ``((B low, B high), (A low, A high))`` sets the window by hand (points outside it are cut off and
    their labels left out), for example to look closely at the knee of the curves. ``ax``: draw
    into these axes (no legend; the caller adds one) instead of a new figure.
    """
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(8.4, 6.6))
    else:
        fig = ax.figure
    palette = colors_for(list(sweeps) + [n for n in (chosen or {}) if n not in sweeps])
    colors, curves, segments, points = {}, {}, [], []
    for name, results in sweeps.items():
        pts = [_point(r, split) for r in results]
        lam, a, b, sa, sb = (np.array(v, dtype=float) for v in zip(*pts))
        order = np.argsort(lam)
        lam, a, b, sa, sb = lam[order], a[order], b[order], sa[order], sb[order]
        color = palette[name]
        if np.any(sa > 0) or np.any(sb > 0):
            line = ax.errorbar(b, a, xerr=sb, yerr=sa, fmt="o-", ms=5, color=color, label=name, capsize=2,
                               elinewidth=0.9).lines[0]
            for x, y, ex, ey in zip(b, a, sb, sa):
                segments += [((x - ex, y), (x + ex, y)), ((x, y - ey), (x, y + ey))]
        else:
            (line,) = ax.plot(b, a, "o-", ms=5, color=color, label=name)
        colors[name] = line.get_color()
        curves[name] = (lam, a, b, sa, sb)
        segments += list(zip(zip(b[:-1], a[:-1]), zip(b[1:], a[1:])))
        points += list(zip(b, a))
    stars = {}
    for name, r in (chosen or {}).items():
        lam_c, a_c, b_c, _, _ = _point(r, split)
        color = colors.get(name, palette[name])
        ax.plot(b_c, a_c, "*", ms=16, color=color, markeredgecolor="k", zorder=5,
                label=f"{name}: chosen lam" if len(chosen) > 1 else "chosen lam (best mean on validation)")
        stars[name] = (float(lam_c), float(a_c), float(b_c))

    # limits: the unit square, or the curves with a margin
    lo_b = min(float(np.min(c[2] - c[4])) for c in curves.values())
    hi_b = max(float(np.max(c[2] + c[4])) for c in curves.values())
    lo_a = min(float(np.min(c[1] - c[3])) for c in curves.values())
    hi_a = max(float(np.max(c[1] + c[3])) for c in curves.values())
    if zoom is None:
        zoom = (hi_b - lo_b) < 0.5 or (hi_a - lo_a) < 0.5
    if limits is not None:
        xlim, ylim = (tuple(map(float, lim)) for lim in limits)
    elif zoom:
        pad_b, pad_a = 0.12 * max(hi_b - lo_b, 0.05), 0.12 * max(hi_a - lo_a, 0.05)
        xlim = (max(0.0, lo_b - pad_b), min(1.02, hi_b + pad_b))
        ylim = (max(0.0, lo_a - pad_a), min(1.02, hi_a + pad_a))
    else:
        xlim = ylim = (0.0, 1.02)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    visible = lambda xy: xlim[0] <= xy[0] <= xlim[1] and ylim[0] <= xy[1] <= ylim[1]  # noqa: E731

    # reference points: naive, A only, joint training (their values in the legend)
    for name, value in (references or {}).items():
        a_r, b_r = _reference(value, split)
        inside = visible((b_r, a_r))
        label = f"{name} (A {a_r:.2f}, B {b_r:.2f})" + ("" if inside else ", outside the window")
        ax.plot([b_r] if inside else [], [a_r] if inside else [], REFERENCE_MARKERS.get(name, "D"), ms=10,
                color=method_color(name, "0.3"), markeredgecolor="k", ls="none", zorder=6, label=label)
        if inside:
            points.append((b_r, a_r))

    # the iso-score line: every point with the same mean of A and B as the (best) chosen point
    if stars:
        best_name = max(stars, key=lambda n: stars[n][1] + stars[n][2])
        level = (stars[best_name][1] + stars[best_name][2]) / 2
        iso_label = (f"same mean of A and B as the chosen lam ({level:.3f})" if len(stars) == 1 else
                     f"same mean of A and B as {best_name}'s chosen lam ({level:.3f})")
    else:
        best_name, level = None, max(float(np.max((c[1] + c[2]) / 2)) for c in curves.values())
        iso_label = f"same mean of A and B as the best point ({level:.3f})"
    xs = np.array([max(xlim[0], 2 * level - ylim[1]), min(xlim[1], 2 * level - ylim[0])])
    if xs[0] < xs[1]:
        ax.plot(xs, 2 * level - xs, color="0.55", lw=1.1, ls="--", zorder=0, label=iso_label)
        segments.append(((xs[0], 2 * level - xs[0]), (xs[1], 2 * level - xs[1])))

    if axis_labels:
        ax.set_xlabel(f"task B {split} accuracy")
        ax.set_ylabel(f"task A {split} accuracy")
    ax.grid(alpha=0.3)
    if own:
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("same mean"))  # that line last
        _legend_outside(ax, "below", ncol=2, handles=[handles[i] for i in order],
                        labels=[labels[i] for i in order], bbox_to_anchor=(0.5, -0.13))
        ax.set_title(title or "lam trades task A against task B (labels: lam)")
        fig.tight_layout()
    elif title:
        ax.set_title(title)

    # labels: the chosen lam and both ends of every curve, clear of everything drawn
    to_px = ax.transData.transform
    items = []
    for name, (lam, a, b, _, _) in curves.items():
        star = stars.get(name)
        for i in (0, len(lam) - 1):
            if len(lam) == 1 and i:
                break
            j = 1 if i == 0 else len(lam) - 2
            d = to_px((b[i], a[i])) - to_px((b[max(j, 0)], a[max(j, 0)])) if len(lam) > 1 else np.array([1.0, 1.0])
            is_chosen = star is not None and np.isclose(star[0], lam[i])
            items.append({"xy": (b[i], a[i]), "color": colors[name], "direction": d,
                          "text": f"lam {lam[i]:g}" + (" (chosen)" if is_chosen else "")})
        if star is not None and not np.any(np.isclose(star[0], lam[[0, -1]])):
            k = int(np.argmin(np.abs(lam - star[0])))
            p_prev, p_next = to_px((b[max(k - 1, 0)], a[max(k - 1, 0)])), to_px((b[min(k + 1, len(lam) - 1)],
                                                                                 a[min(k + 1, len(lam) - 1)]))
            t = p_next - p_prev
            normal = np.array([t[1], -t[0]])
            if normal.sum() < 0:  # the side away from the origin: up and to the right
                normal = -normal
            items.append({"xy": (star[2], star[1]), "color": colors[name], "direction": normal,
                          "text": f"lam {star[0]:g} (chosen)"})
    for name, (lam_c, a_c, b_c) in stars.items():
        if name not in curves:
            items.append({"xy": (b_c, a_c), "color": colors.get(name, "k"), "direction": (1, 1),
                          "text": f"lam {lam_c:g} (chosen)"})
        points.append((b_c, a_c))
    _place_labels(ax, [it for it in items if visible(it["xy"])], segments=segments, points=points)
    return fig


def tradeoff_panels(sweeps: dict, against: str = "L2", chosen: dict | None = None, split: str = "val",
                    title: str | None = None, references: dict | None = None, zoom: bool | None = True,
                    columns: int = 2):
    """One trade-off panel per method, each beside the ``against`` curve (grey, the same in every
    panel), all on the same window: the takeaway of a many-method comparison at a glance.

    Arguments as in :func:`tradeoff` (``chosen`` and ``references`` are drawn in every panel they
    concern); ``columns`` panels per row. With ``zoom`` (the default) the window frames every curve.
    """
    if against not in sweeps:
        raise KeyError(f"{against!r} is not one of the sweeps ({list(sweeps)})")
    others = [n for n in sweeps if n != against]
    if not others:
        raise ValueError("tradeoff_panels needs at least one method besides " + repr(against))
    # one window for every panel: the one tradeoff would choose for all the curves together
    probe = tradeoff(sweeps, split=split, zoom=zoom)
    (x0, x1), (y0, y1) = probe.axes[0].get_xlim(), probe.axes[0].get_ylim()
    plt.close(probe)
    for value in (references or {}).values():  # widened to show every reference point whole
        a_r, b_r = _reference(value, split)
        x0, x1 = min(x0, max(0.0, b_r - 0.04)), max(x1, min(1.02, b_r + 0.04))
        y0, y1 = min(y0, max(0.0, a_r - 0.04)), max(y1, min(1.02, a_r + 0.04))
    limits = ((x0, x1), (y0, y1))
    rows = int(np.ceil(len(others) / columns))
    cols = min(columns, len(others))
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 4.4 * rows + 0.9), squeeze=False,
                             sharex=True, sharey=True)
    used = axes.ravel()[: len(others)]
    for ax in axes.ravel()[len(others):]:
        ax.axis("off")
    # the layout first (limits, axis labels, titles, legend), then the curves and their labels
    for ax, name in zip(used, others):
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
        ax.set_title(f"{name} against {against}")
        ax.set_xlabel(f"task B {split} accuracy")
        ax.set_ylabel(f"task A {split} accuracy")
        ax.label_outer()
    # the legend below the panels: every curve, one entry for the stars, the references, the dashed
    # line; room for its rows (about 0.3 in each at 10 pt) under the lowest x label
    entries = 1 + len(others) + (1 if chosen else 0) + len(references or {}) + 1
    ncol = 3 if cols > 1 else 2
    legend_rows = int(np.ceil(entries / ncol))
    fig.suptitle(title or f"each method's trade-off against {against} (labels: lam)")
    fig.tight_layout(rect=(0, (0.15 + 0.3 * legend_rows) / fig.get_figheight(), 1, 1))
    for ax, name in zip(used, others):
        pair = {against: sweeps[against], name: sweeps[name]}
        pick = {k: v for k, v in (chosen or {}).items() if k in pair}
        tradeoff(pair, chosen=pick or None, split=split, limits=limits, references=references, ax=ax,
                 axis_labels=False)
        handles, labels = ax.get_legend_handles_labels()  # the reference method fainter
        for handle, label in zip(handles, labels):
            if label == against:
                for artist in (handle.get_children() if hasattr(handle, "get_children") else [handle]):
                    artist.set_alpha(0.6)
    handles = {}
    for ax in used:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab.startswith("same mean"):
                lab = ("dashed: same mean of A and B\nas the panel's best star" if chosen
                       else "dashed: same mean of A and B\nas the panel's best point")
            elif lab.endswith("chosen lam") or lab.startswith("chosen lam"):
                lab = "star: the lam chosen on\nvalidation (curve's colour)"
                h = Line2D([], [], marker="*", ms=14, color="0.6", markeredgecolor="k", ls="none")
            handles.setdefault(lab, h)
    star = [k for k in handles if k.startswith("star:")]
    refs = [k for k in handles if k.split(" (")[0] in (references or {})]
    dashed = [k for k in handles if k.startswith("dashed")]
    order = [k for k in handles if k not in star + refs + dashed] + star + refs + dashed  # curves first
    fig.legend([handles[k] for k in order], order, loc="lower center", ncol=ncol, frameon=False,
               fontsize=MIN_FONT)
    return fig


def _point(r, split):
    if isinstance(r, Mapping):  # a dict, or a studies.sensitivity.SummaryRow
        return r["lam"], r["A"], r["B"], r.get("A_std", 0.0), r.get("B_std", 0.0)
    acc = getattr(r, split)
    return r.lam, acc["A"], acc["B"], 0.0, 0.0


def fisher_image(fisher_by_name: dict, image_shape=(28, 28), title: str = "Fisher of the first layer"):
    """First-layer kernel Fisher summed over hidden units, shown per input pixel.

    Each panel has its own colour scale (the methods differ in scale, not only in pattern).
    """
    names = list(fisher_by_name)
    fig, axes = plt.subplots(1, len(names), figsize=(min(2.75 * len(names), 11.0), 3.2))
    for ax, name in zip(np.atleast_1d(axes), names):
        per_pixel = np.asarray(fisher_by_name[name][0]).sum(axis=1).reshape(image_shape)
        im = ax.imshow(per_pixel, cmap="magma")
        ax.set_title(name, fontsize=10)
        ax.axis("off")
        cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, format="%.2g")
        cbar.set_label("Fisher summed over hidden units", fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


#: The colour that outlines the diagonal of an accuracy matrix (each task right after training on it).
DIAGONAL_COLOR = "#e4572e"


def matrix_range(values, untrained: bool = False, step: float = 0.1) -> tuple:
    """The colour range of an accuracy matrix: from the lowest drawn value (rounded down to
    ``step``) to 1, so the colours are spent on the data. With ``untrained``, the cells above the
    diagonal (tasks not trained yet, at about chance) do not count."""
    v = np.asarray(values, float)
    keep = np.isfinite(v)
    if untrained:
        keep &= np.tril(np.ones_like(v, bool))
    lo = float(np.min(v[keep])) if keep.any() else 0.0
    return max(0.0, min(np.floor(lo / step) * step, 1.0 - step)), 1.0


def _draw_matrix(ax, values, fontsize=10, short=False, diagonal=True, untrained: bool = False):
    """An accuracy matrix as an image with each value written in its cell (".87" when short).

    The colour range runs from the lowest value drawn to 1 (:func:`matrix_range`), not from 0. With
    ``untrained`` the cells above the diagonal (tasks not trained yet) are light grey, their values
    still written, and they do not stretch the colour range. With ``diagonal`` the cells ``R[j, j]``
    (task j right after training on it: their mean is the learning accuracy) are outlined and their
    values set in bold, so a method that keeps old tasks by failing to learn new ones shows as a
    dark diagonal."""
    values = np.asarray(values, float)
    vmin, vmax = matrix_range(values, untrained)
    shown = np.ma.masked_array(values, mask=~np.tril(np.ones_like(values, bool))) if untrained else values
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.88")
    ax.imshow(shown, vmin=vmin, vmax=vmax, cmap=cmap)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            text = f"{values[i, j]:.2f}"
            if short:
                text = text[1:] if text.startswith("0") else "1.0"  # 0.998 prints "1.0", not ".00"
            grey = untrained and j > i
            dark = (values[i, j] - vmin) / (vmax - vmin) < 0.6
            ax.text(j, i, text, ha="center", va="center", fontweight="bold" if diagonal and i == j else None,
                    color="0.35" if grey else "w" if dark else "k", fontsize=fontsize)
    if diagonal:
        for j in range(min(values.shape)):
            ax.add_patch(plt.Rectangle((j - 0.5, j - 0.5), 1, 1, fill=False, lw=2.2,
                                       edgecolor=DIAGONAL_COLOR, clip_on=False))


def _bar_values(r):
    """(label, A, B, A_std, B_std) of a comparison row: ``{"method", "A", "B", ...}`` or a row of
    :func:`~ewc_helpers.studies.common.summarize` (``label``, ``test``, ``test_std``)."""
    if "test" in r:
        test, std = r["test"], r.get("test_std") or {}
        label = r.get("label") or r["method"]
        a, b, sa, sb = test.get("A"), test.get("B"), std.get("A"), std.get("B")
    else:
        label, a, b, sa, sb = r["method"], r["A"], r.get("B"), r.get("A_std"), r.get("B_std")
    if label == "A only" or r.get("method") == "a_only":
        b, sb = None, None
    f = lambda v: np.nan if v is None else float(v)  # noqa: E731
    return label, f(a), f(b), 0.0 if sa is None else float(sa), 0.0 if sb is None else float(sb)


def method_comparison(rows: list, article: dict | None = None, title: str = "ours versus the article",
                      chance: float | None = CHANCE):
    """Grouped bars: task A and task B test accuracy per method, ours beside the article's.

    ``rows``: dicts ``{"method", "A", "B", "A_std", "B_std"}`` or rows of
    :func:`~ewc_helpers.studies.common.summarize`; ``article`` maps a method's label to its
    published ``(A, B)``. A dotted line marks ``chance`` accuracy; the legend sits right of the axes.
    """
    values = [_bar_values(r) for r in rows]
    methods = [v[0] for v in values]
    x = np.arange(len(methods))
    fig, ax = plt.subplots(figsize=(max(7.5, 1.3 * len(methods) + 2.5), 3.9))
    w = 0.2 if article else 0.3
    ours = (-1.5 * w, -0.5 * w) if article else (-0.5 * w, 0.5 * w)
    err = lambda k: [v[k] for v in values] if any(v[k] > 0 for v in values) else None  # noqa: E731
    ax.bar(x + ours[0], [v[1] for v in values], w, yerr=err(3), capsize=2, color="tab:blue", label="ours: task A")
    ax.bar(x + ours[1], [v[2] for v in values], w, yerr=err(4), capsize=2, color="tab:orange",
           label="ours: task B")
    if article:
        ax.bar(x + 0.5 * w, [(article.get(m) or (np.nan, np.nan))[0] for m in methods], w,
               color="tab:blue", alpha=0.35, hatch="//", label="article: task A")
        ax.bar(x + 1.5 * w, [np.nan if (article.get(m) or (0, None))[1] is None else article[m][1]
                             for m in methods], w, color="tab:orange", alpha=0.35, hatch="//",
               label="article: task B")
    ax.set_xticks(x, methods, rotation=15, fontsize=10)
    ax.set_xlabel("method")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    if chance is not None:
        ax.axhline(chance, color="0.4", lw=1.0, ls=":", label=f"chance ({chance:g})", zorder=0)
    _legend_outside(ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
