"""A ``lam`` slider: move it and watch EWC trade task A against task B.

Training task B takes seconds to minutes, far too long for a slider. So the slider never trains:
:func:`lam_grid_results` trains task B once per value of a grid (with
:class:`~ewc_helpers.studies.two_tasks.LamSweeper`, so each run equals a
:func:`~ewc_helpers.studies.two_tasks.train_task_b` run at that ``lam``), and :func:`lam_slider`
only *indexes* that grid: a move of the slider redraws one figure, well within a second. A ``lam``
between two grid values shows the grid value nearest to it on a log scale (``lam`` acts in
decades, so 300 is "between" 100 and 1000; a tie goes to the smaller value)::

    from ewc_helpers.slider import lam_grid_results, lam_slider

    grid = lam_grid_results(a.model, tasks, setup, anchor, [10, 100, 1000, 10000])
    widget = lam_slider(grid, initial=1000)      # displays itself; assign it to avoid a second copy

A lam search made already gives a grid for free: ``LamGrid.from_results(search.results)``.

Where a widget cannot be shown, :func:`lam_slider` draws the whole grid as one static figure
instead and returns that figure: when ipywidgets is not installed, when ``EWC_STATIC=1`` (set
it when executing notebooks to export them, e.g. to HTML or to commit their outputs), under pytest
and nbval, and outside a Jupyter kernel.

The figures show validation accuracy by default, as ``lam`` is chosen on validation; pass
``split="test"`` to :func:`lam_grid_results` to show test accuracy (both are kept either way).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

import matplotlib.pyplot as plt

__all__ = ["LamGrid", "LamPoint", "lam_grid_results", "lam_slider", "widgets_available"]

from .plots.core import METHOD_COLORS, styled

#: The colour of EWC in every figure of the package (the course's one mapping).
COLOR = METHOD_COLORS["EWC"]
SPLITS = {"val": "validation", "test": "test"}


@dataclass(frozen=True)
class LamPoint:
    """One grid value: its ``lam``, its position ``index`` in the grid, and the accuracy on tasks
    A and B at the end of task B, on the validation (``val``) and test (``test``) splits.
    ``requested`` is the ``lam`` asked for (the grid value shown is the nearest in log scale)."""

    lam: float
    index: int
    val: dict
    test: dict
    requested: float

    def accuracy(self, split: str = "val") -> dict:
        return {"val": self.val, "test": self.test}[_check_split(split)]


@dataclass
class LamGrid:
    """Task-B runs at a grid of ``lam`` values, trained once (see :func:`lam_grid_results`).

    ``lams`` are increasing; ``val[i]`` and ``test[i]`` map "A" and "B" to the accuracies after
    task B at ``lams[i]``; ``split`` is what the figures show; ``results`` keeps the
    :class:`~ewc_helpers.studies.common.Result` of every run (without its model).
    """

    lams: tuple
    val: tuple
    test: tuple
    split: str = "val"
    method: str = "ewc"
    results: list = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self):
        self.lams = tuple(float(x) for x in self.lams)
        if not self.lams or any(not math.isfinite(x) or x <= 0 for x in self.lams):
            raise ValueError(f"a lam grid needs positive, finite values; got {list(self.lams)!r}")
        if list(self.lams) != sorted(set(self.lams)):
            raise ValueError(f"the grid's lams must increase; got {list(self.lams)!r}")
        if not len(self.val) == len(self.test) == len(self.lams):
            raise ValueError("a lam grid needs one val and one test entry per lam")
        _check_split(self.split)

    @classmethod
    def from_results(cls, results, split: str = "val") -> "LamGrid":
        """A grid from task-B runs made already, e.g. the ``results`` of a
        :func:`~ewc_helpers.studies.common.search_lam` for EWC: nothing is trained again. Each
        result needs a positive ``lam``; they are put in ``lam`` order."""
        results = sorted(results, key=lambda r: r.lam if r.lam is not None else -1.0)
        if any(r.lam is None for r in results):
            raise ValueError("every result of a lam grid needs a lam (a naive run has none)")
        methods = {r.method for r in results}
        return cls(tuple(r.lam for r in results), tuple(dict(r.val) for r in results),
                   tuple(dict(r.test) for r in results), split=split,
                   method=methods.pop() if len(methods) == 1 else "ewc", results=list(results))

    def __len__(self) -> int:
        return len(self.lams)

    def index(self, lam) -> int:
        """The position of the grid value nearest to ``lam`` in log scale (ties: the smaller)."""
        try:
            value = float(lam)
        except (TypeError, ValueError):
            raise ValueError(f"lam must be a positive number; got {lam!r}") from None
        if not value > 0 or math.isinf(value):
            raise ValueError(f"lam must be a positive, finite number (the grid is on a log scale); got {lam!r}")
        distance = np.abs(np.log(np.asarray(self.lams)) - math.log(value))
        return int(np.argmin(distance))  # argmin returns the first of equal distances: the smaller lam

    def at(self, lam) -> LamPoint:
        """The accuracies at the grid value nearest to ``lam`` in log scale. Nothing is trained."""
        i = self.index(lam)
        return LamPoint(self.lams[i], i, dict(self.val[i]), dict(self.test[i]), float(lam))

    def curve(self, split: str | None = None):
        """``(lams, task A accuracy, task B accuracy)`` as arrays, on ``split`` (default: the grid's)."""
        rows = self.val if _check_split(split or self.split) == "val" else self.test
        return (np.array(self.lams), np.array([r["A"] for r in rows]), np.array([r["B"] for r in rows]))

    @styled
    def draw(self, lam, ax=None, split: str | None = None):
        """The trade-off curve (task A against task B accuracy, one point per ``lam``) with the
        grid value nearest to ``lam`` highlighted and its accuracies in the title.

        Draws on ``ax`` if given, otherwise on a new figure; returns the figure."""
        split = _check_split(split or self.split)
        point = self.at(lam)
        new = ax is None
        fig, ax = plt.subplots(figsize=(6.2, 4.6)) if new else (ax.figure, ax)
        lams, a, b = self.curve(split)
        ax.plot(b, a, "o-", color=COLOR, alpha=0.6, label=f"{self.method.upper()}, one run per lam")
        for x, y, value in zip(b, a, lams):
            ax.annotate(f"{value:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=10)
        acc = point.accuracy(split)
        ax.plot([acc["B"]], [acc["A"]], "*", ms=18, color=COLOR, markeredgecolor="k", zorder=5,
                gid="current", label=f"lam = {point.lam:g}")
        level = (acc["A"] + acc["B"]) / 2  # the iso-score line through the current point
        ax.plot([2 * level - 1.02, 1.02], [1.02, 2 * level - 1.02], color="0.55", lw=1.1, ls="--", zorder=0,
                label=f"same mean of A and B ({level:.3f})")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"task B {SPLITS[split]} accuracy")
        ax.set_ylabel(f"task A {SPLITS[split]} accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=10, loc="lower left")
        ax.set_title(f"lam = {point.lam:g}: task A {acc['A']:.3f}, task B {acc['B']:.3f} ({SPLITS[split]})")
        if new:
            fig.tight_layout()
        return fig

    @styled
    def overview(self, lam=None, split: str | None = None):
        """The whole grid in one static figure: accuracy on A and B against ``lam`` (log scale), and
        the trade-off curve with ``lam`` (default: the middle of the grid) highlighted."""
        split = _check_split(split or self.split)
        lam = self.lams[(len(self.lams) - 1) // 2] if lam is None else lam
        point = self.at(lam)
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
        lams, a, b = self.curve(split)
        left.semilogx(lams, a, "o-", color="tab:blue", label="task A")
        left.semilogx(lams, b, "s--", color="tab:orange", label="task B")
        left.axvline(point.lam, color="0.5", lw=0.8, label=f"lam = {point.lam:g}")
        left.set_xlabel("lam (log scale)")
        left.set_ylabel(f"{SPLITS[split]} accuracy after task B")
        left.set_ylim(0, 1.02)
        left.grid(alpha=0.3)
        left.legend(fontsize=10)
        left.set_title("every lam of the grid")
        self.draw(point.lam, ax=right, split=split)
        fig.tight_layout()
        return fig


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be 'val' or 'test'; got {split!r}")
    return split


def lam_grid_results(model_a, tasks: dict, setup, anchor, lams, *, split: str = "val",
                     progress=None) -> LamGrid:
    """Train task B once per ``lam`` (EWC around ``anchor``, from ``model_a``'s weights) and keep
    the validation and test accuracies of every run, for :func:`lam_slider`.

    Each run is ``two_tasks.LamSweeper(model_a, tasks, setup).run("ewc", lam, anchor)``, so it equals
    ``train_task_b(model_a, tasks, setup, "ewc", lam, anchor)``. ``lams`` must be positive (the
    slider moves on a log scale); they are sorted and duplicates dropped, and all are checked
    before any training. ``progress`` (e.g. ``print``) hears one line per run.
    """
    from .penalties import check_lam, check_stiffness
    from .studies import two_tasks

    _check_split(split)
    values = sorted({check_lam(x) for x in lams})
    if not values or values[0] <= 0:
        raise ValueError(f"a lam grid needs positive values (the slider moves on a log scale); got {list(lams)!r}")
    for lam in values:
        check_stiffness(lam, anchor)  # fail now rather than after several runs
    say = progress or (lambda *_: None)
    sweeper = two_tasks.LamSweeper(model_a, tasks, setup)
    results = []
    for lam in values:
        r = sweeper.run("ewc", lam, anchor)
        r.model = None
        results.append(r)
        say(f"  lam {lam:g}: validation A {r.val['A']:.3f}, B {r.val['B']:.3f}")
    return LamGrid(tuple(values), tuple(dict(r.val) for r in results), tuple(dict(r.test) for r in results),
                   split=split, method="ewc", results=results)


def widgets_available() -> bool:
    """True where :func:`lam_slider` can show a live widget: ipywidgets is installed, this runs in a
    Jupyter kernel, and neither ``EWC_STATIC=1`` nor a test run (pytest, nbval) asks for a static
    figure. (nbval starts its kernel from inside a pytest test, which the kernel inherits as
    ``PYTEST_CURRENT_TEST``.)"""
    if os.environ.get("EWC_STATIC", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if os.environ.get("PYTEST_CURRENT_TEST"):
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _View:
    """What the slider calls: draws the grid at one ``lam`` and remembers the point and figure."""

    def __init__(self, grid: LamGrid):
        self.grid, self.point, self.figure = grid, None, None

    def show(self, lam):
        if self.figure is not None:
            plt.close(self.figure)  # the inline backend has shown it already; elsewhere it would pile up
        self.point = self.grid.at(lam)
        self.figure = self.grid.draw(lam)


def lam_slider(grid: LamGrid, initial=None, *, static: bool | None = None, display: bool = True):
    """A slider over ``grid``'s ``lam`` values that redraws :meth:`LamGrid.draw` as it moves.

    The slider (an ipywidgets ``SelectionSlider`` of the grid values, updating on release) starts
    at the grid value nearest to ``initial`` (default: the middle of the grid). Moving it only
    indexes the grid, so the figure follows at once. Returns the ``ipywidgets.interactive``
    (``widget.children[0]`` is the slider, ``widget.view.point`` the point shown and
    ``widget.view.figure`` its figure), displayed already when ``display`` is true.

    Where widgets cannot be shown (see :func:`widgets_available`; ``static=True`` forces it), draws
    :meth:`LamGrid.overview` instead, the whole grid at once, and returns that Figure.
    ``static=False`` asks for the widget even outside a kernel (it still falls back to the figure
    when ipywidgets is missing).
    """
    if not isinstance(grid, LamGrid):
        raise TypeError(f"lam_slider needs the LamGrid of lam_grid_results; got {type(grid).__name__}")
    start = grid.at(grid.lams[(len(grid) - 1) // 2] if initial is None else initial).lam
    use_widget = widgets_available() if static is None else not static
    if use_widget:
        try:
            import ipywidgets
        except ImportError:
            use_widget = False
    if not use_widget:
        fig = grid.overview(start)
        _show(fig, display)
        return fig
    view = _View(grid)
    slider = ipywidgets.SelectionSlider(
        options=[(f"{lam:g}", lam) for lam in grid.lams], value=start, description="lam",
        continuous_update=False, layout=ipywidgets.Layout(width="420px"))
    widget = ipywidgets.interactive(view.show, lam=slider)
    widget.view = view
    if display and _in_ipython():
        from IPython.display import display as show

        show(widget)
    return widget


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def _show(fig, display: bool) -> None:
    """Show ``fig`` once in IPython (and close it, so that the inline backend does not show it a
    second time); elsewhere leave it to the caller."""
    if display and _in_ipython():
        from IPython.display import display as show

        show(fig)
        plt.close(fig)
