"""Tests for the lam slider (ewc_helpers.slider): indexing a grid trained once, the grid's runs,
the widget's callback, and the static figure shown where widgets cannot be.

Most tests use a hand-made grid; one trains a three-value grid for one epoch on the embedded digits.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ewc_helpers import make_anchor  # noqa: E402
from ewc_helpers.penalties import PenaltyError  # noqa: E402
from ewc_helpers.slider import LamGrid, lam_grid_results, lam_slider, widgets_available  # noqa: E402
from ewc_helpers.studies import common, two_tasks  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def grid():
    """Four lams a decade apart, with made-up accuracies (A rises, B falls with lam)."""
    lams = (1.0, 10.0, 100.0, 1000.0)
    val = tuple({"A": a, "B": b} for a, b in ((0.3, 0.95), (0.5, 0.9), (0.8, 0.7), (0.9, 0.2)))
    test = tuple({"A": a - 0.01, "B": b - 0.02} for a, b in ((0.3, 0.95), (0.5, 0.9), (0.8, 0.7), (0.9, 0.2)))
    return LamGrid(lams, val, test)


def _current(fig):
    """(x, y) of the highlighted point: task B and task A accuracy."""
    (line,) = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == "current"]
    return float(line.get_xdata()[0]), float(line.get_ydata()[0])


# --------------------------------------------------------------------------- indexing
@pytest.mark.parametrize("lam, expected", [
    (1.0, 1.0), (3.0, 1.0), (3.2, 10.0), (31.0, 10.0), (32.0, 100.0), (999.0, 1000.0),
    (1e-6, 1.0), (1e9, 1000.0),
])
def test_at_picks_the_nearest_lam_in_log_scale(grid, lam, expected):
    point = grid.at(lam)
    assert point.lam == expected and point.requested == lam
    i = grid.lams.index(expected)
    assert point.index == i and point.val == grid.val[i] and point.test == grid.test[i]


def test_nearest_is_logarithmic_not_linear():
    g = LamGrid((1.0, 100.0), ({"A": 0, "B": 1}, {"A": 1, "B": 0}), ({"A": 0, "B": 1}, {"A": 1, "B": 0}))
    assert g.at(20).lam == 100.0  # linearly, 20 is nearer 1; in decades it is nearer 100
    assert g.at(9).lam == 1.0
    assert g.at(10).lam == 1.0    # the geometric midpoint: ties go to the smaller lam


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "x", None])
def test_at_rejects_what_has_no_place_on_a_log_scale(grid, bad):
    with pytest.raises(ValueError, match="lam must be a positive"):
        grid.at(bad)


@pytest.mark.parametrize("lams", [(), (0.0, 1.0), (10.0, 1.0), (1.0, 1.0)])
def test_a_grid_needs_increasing_positive_lams(lams):
    rows = tuple({"A": 0.5, "B": 0.5} for _ in lams)
    with pytest.raises(ValueError, match="lam"):
        LamGrid(lams, rows, rows)


def test_draw_highlights_the_point_and_titles_its_accuracies(grid):
    fig = grid.draw(100.0)
    assert _current(fig) == (0.7, 0.8)
    assert fig.axes[0].get_title() == "lam = 100: task A 0.800, task B 0.700 (validation)"
    fig_test = grid.draw(120.0, split="test")
    assert _current(fig_test) == pytest.approx((0.68, 0.79))
    _, ax = plt.subplots()
    assert grid.draw(1.0, ax=ax) is ax.figure and "lam = 1:" in ax.get_title()


def test_a_grid_from_results_made_already():
    runs = [common.Result("ewc", lam, val={"A": a, "B": 1 - a}, test={"A": a, "B": 1 - a})
            for lam, a in ((1000.0, 0.8), (10.0, 0.4), (100.0, 0.6))]
    g = LamGrid.from_results(runs)
    assert g.lams == (10.0, 100.0, 1000.0) and g.at(900).val == {"A": 0.8, "B": pytest.approx(0.2)}
    assert g.results[0] is runs[1]
    with pytest.raises(ValueError, match="needs a lam"):
        LamGrid.from_results([common.Result("naive", None, val={"A": 0.1, "B": 0.9}, test={"A": 0.1, "B": 0.9})])


# --------------------------------------------------------------------------- the widget
def test_widget_callback_moves_the_point(grid):
    ipywidgets = pytest.importorskip("ipywidgets")
    widget = lam_slider(grid, initial=90.0, static=False)
    slider = widget.children[0]
    assert isinstance(widget, ipywidgets.interactive) and isinstance(slider, ipywidgets.SelectionSlider)
    assert slider.continuous_update is False
    assert list(slider.options) == [("1", 1.0), ("10", 10.0), ("100", 100.0), ("1000", 1000.0)]
    assert slider.value == 100.0 and widget.view.point.lam == 100.0  # snapped to the grid
    assert len(plt.get_fignums()) == 1
    started = time.perf_counter()
    slider.value = 1000.0  # what moving the slider does; interactive calls its update
    assert time.perf_counter() - started < 2.0
    assert widget.view.point.lam == 1000.0 and widget.view.point.val == {"A": 0.9, "B": 0.2}
    assert _current(widget.view.figure) == (0.2, 0.9)
    assert widget.view.figure.axes[0].get_title().startswith("lam = 1000: task A 0.900, task B 0.200")
    assert len(plt.get_fignums()) == 1  # the previous figure was closed, not piled up
    widget.view.show(1.0)  # the function the widget wraps, called directly
    assert _current(widget.view.figure) == (0.95, 0.3)


def test_widget_starts_in_the_middle_by_default(grid):
    pytest.importorskip("ipywidgets")
    assert lam_slider(grid, static=False).children[0].value == 10.0


# --------------------------------------------------------------------------- the static figure
def test_static_figure_when_ipywidgets_is_missing(grid, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` now raises ImportError
    monkeypatch.delenv("EWC_STATIC", raising=False)
    assert widgets_available() is False
    fig = lam_slider(grid, initial=1000.0, static=False)  # asked for the widget: falls back anyway
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 and _current(fig) == (0.2, 0.9)
    lams = fig.axes[0].get_lines()[0].get_xdata()
    np.testing.assert_array_equal(lams, grid.lams)  # the whole grid


@pytest.mark.parametrize("env", [{"EWC_STATIC": "1"}, {"PYTEST_CURRENT_TEST": "x (call)"}])
def test_static_figure_when_asked_or_under_test(grid, monkeypatch, env):
    monkeypatch.delenv("EWC_STATIC", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert widgets_available() is False
    assert isinstance(lam_slider(grid), Figure)


def test_lam_slider_wants_a_grid():
    with pytest.raises(TypeError, match="LamGrid"):
        lam_slider([1.0, 10.0])


# --------------------------------------------------------------------------- a trained grid
@pytest.fixture(scope="module")
def trained(tasks):
    setup = common.Setup().with_epochs(1)
    a = two_tasks.train_task_a(tasks, setup, cache=False)
    anchor = make_anchor(a.model, tasks["A"], "exact")
    return a.model, anchor, setup


def test_grid_runs_equal_direct_sweeper_runs(tasks, trained):
    model_a, anchor, setup = trained
    lines = []
    grid = lam_grid_results(model_a, tasks, setup, anchor, [1e4, 10.0, 1e4, 300.0], progress=lines.append)
    assert grid.lams == (10.0, 300.0, 1e4) and len(lines) == 3  # sorted, duplicate dropped
    direct = two_tasks.LamSweeper(model_a, tasks, setup).run("ewc", 300.0, anchor)
    point = grid.at(250.0)
    assert point.lam == 300.0
    assert point.val == direct.val and point.test == direct.test
    assert grid.results[1].val == direct.val and grid.results[1].model is None
    # lam acts: the stiffest run keeps more of task A than the softest
    assert grid.at(1e4).val["A"] > grid.at(10.0).val["A"]


def test_grid_checks_every_lam_before_training(tasks, trained, monkeypatch):
    model_a, anchor, setup = trained

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the grid")

    monkeypatch.setattr(two_tasks, "LamSweeper", no_training)
    with pytest.raises(ValueError, match="positive"):
        lam_grid_results(model_a, tasks, setup, anchor, [0.0, 10.0])
    with pytest.raises(PenaltyError, match="too large"):
        lam_grid_results(model_a, tasks, setup, anchor, [10.0, 1e30])
    with pytest.raises(ValueError, match="split"):
        lam_grid_results(model_a, tasks, setup, anchor, [10.0], split="train")
