"""Every figure of ewc_helpers.plots (core and lessons) on small synthetic inputs: it returns a
Figure, names its axes, keeps its legend off the data, labels its reference lines, and (tradeoff)
labels at most the chosen lam and the two ends of each curve, with no two labels overlapping."""

from __future__ import annotations

from types import SimpleNamespace as NS

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from ewc_helpers import plots  # noqa: E402
from ewc_helpers.evaluation import AccuracyMatrix  # noqa: E402
from ewc_helpers.studies.common import Result  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- synthetic inputs
def _sweep(method, lams, knee=0.85, seed=0, std=0.0):
    """Rows of sweep_summary along a plausible trade-off: A rises and B falls with lam."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, lam in enumerate(lams):
        t = k / (len(lams) - 1)
        a = 0.35 + (knee + 0.08 - 0.35) * np.sqrt(t) + rng.normal(0, 0.005)
        b = 0.96 - (0.96 - 0.25) * t**2 + rng.normal(0, 0.005)
        rows.append({"lam": lam, "A": a, "B": b, "A_std": std, "B_std": std, "score": (a + b) / 2,
                     "score_std": std})
    return rows


def _results(method, lams, seed=0):
    return [Result(method, r["lam"], val={"A": r["A"], "B": r["B"]}, test={"A": r["A"], "B": r["B"]})
            for r in _sweep(method, lams, seed=seed)]


FIVE = {
    "L2": _sweep("l2", (0.03, 0.1, 0.3, 1, 3), 0.84, 0, 0.01),
    "EWC exact": _sweep("ewc", (100, 300, 1000, 3000, 10000), 0.86, 1, 0.02),
    "EWC empirical": _sweep("ewc", (100, 300, 1000, 3000, 10000), 0.85, 2, 0.015),
    "EWC sampled": _sweep("ewc", (100, 300, 1000, 3000, 10000), 0.86, 3, 0.02),
    "EWC article": _sweep("ewc", (1e-4, 1e-3, 0.01, 0.03, 0.3), 0.85, 4, 0.01),
}


def _curve(drop, tasks=("A", "B"), n=25):
    epochs = np.linspace(0, 6, n)
    records = [{"step": 3 * i, "epoch": float(e), "A": 0.95 - drop * (1 - np.exp(-e)),
                "B": 0.15 + 0.75 * (1 - np.exp(-1.5 * e))} for i, e in enumerate(epochs)]
    return NS(records=records, tasks=[NS(name=t) for t in tasks])


CURVES = {"naive": _curve(0.6), "L2": _curve(0.15), "EWC": _curve(0.07)}


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.05, (784, 16)), rng.normal(0, 0.05, 16), rng.normal(0, 0.3, (16, 5)),
            rng.normal(0, 0.1, 5)]


def _fisher(seed=0, zeros=0.25):
    rng = np.random.default_rng(seed)
    out = []
    for shape in ((784, 16), (16,), (16, 5), (5,)):
        f = 10.0 ** rng.uniform(-9, -2, shape)
        f[rng.random(shape) < zeros] = 0.0
        out.append(f)
    return out


def _sequence_result(method, lam, seed=0):
    rng = np.random.default_rng(seed)
    names = ["p1", "p2", "p3"]
    m = AccuracyMatrix(names)
    for i in range(3):
        m.add_row([0.9 - 0.2 * (i - j) * rng.random() if j <= i else 0.1 for j in range(3)])
    return Result(method, lam, val=dict(zip(names, m.rows[-1])), test=dict(zip(names, m.rows[-1])),
                  matrix=m, val_matrix=m, memory={"bytes": 1000},
                  info={"memory_history": [{"bytes": 1e5 * (i + 1)} for i in range(3)]})


class _Model:
    """A stand-in with ``trainable_variables`` (what plots read from a Keras model)."""

    def __init__(self, arrays):
        self.trainable_variables = [NS(numpy=lambda a=a: np.asarray(a, np.float32)) for a in arrays]


# --------------------------------------------------------------------------- checks
def _data_points(ax):
    """Display coordinates of everything plotted in ``ax``: points every few pixels along each line
    (reference lines included), scatter offsets, and the corners and centre of every bar."""
    pts = []
    for line in ax.get_lines():
        xy = np.asarray(line.get_xydata(), float)
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        if len(xy) == 0:
            continue
        px = line.get_transform().transform(xy)
        pts.append(px)
        for p, q in zip(px[:-1], px[1:]):
            n = int(np.hypot(*(q - p)) / 3) + 2
            pts.append(p + np.linspace(0, 1, n)[:, None] * (q - p))
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets(), float)
        if len(offsets):
            pts.append(coll.get_offset_transform().transform(offsets))
    for patch in ax.patches:
        ext = patch.get_window_extent()
        if np.all(np.isfinite(ext.get_points())) and ext.height > 0 and ext.width > 0:
            gx, gy = np.meshgrid(np.linspace(ext.x0, ext.x1, 5), np.linspace(ext.y0, ext.y1, 9))
            pts.append(np.c_[gx.ravel(), gy.ravel()])
    return np.vstack(pts) if pts else np.zeros((0, 2))


def _legends(fig):
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return legends + list(fig.legends)


def _check_legends_clear(fig):
    """No legend hides data: it lies outside every axes, or no plotted point falls inside it."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = _legends(fig)
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax in fig.axes:
            if not ax.get_visible() or not ax.axison:
                continue
            if not box.overlaps(ax.get_window_extent(renderer)):
                continue
            pts = _data_points(ax)
            pad = 3.0  # a legend that touches the data counts as covering it
            inside = ((pts[:, 0] > box.x0 - pad) & (pts[:, 0] < box.x1 + pad) & (pts[:, 1] > box.y0 - pad)
                      & (pts[:, 1] < box.y1 + pad))
            assert not inside.any(), f"a legend covers {int(inside.sum())} plotted points"
    return legends


def _check_named(fig, ylabel_axes=None, xlabel_axes=None):
    """The framed axes (``xlabel_axes`` / ``ylabel_axes`` of them; default all) have x and y labels.
    Panels that share an axis name it once: the selectors pick the ones that must."""
    framed = [ax for ax in fig.axes if ax.axison and ax.get_label() != "<colorbar>"]
    assert framed, "no axes drawn"
    for ax in (framed if xlabel_axes is None else xlabel_axes(framed)):
        assert ax.get_xlabel().strip(), f"axes titled {ax.get_title()!r} has no x label"
    for ax in (framed if ylabel_axes is None else ylabel_axes(framed)):
        assert ax.get_ylabel().strip(), f"axes titled {ax.get_title()!r} has no y label"


def _labelled_line(fig, prefix):
    return [line for ax in fig.axes for line in ax.get_lines() if line.get_label().startswith(prefix)]


def _text_box(t, renderer):
    """The bounding box of an annotation's text alone (an annotation's own extent adds its leader)."""
    return Text.get_window_extent(t, renderer)


def _point_labels(fig):
    return [t for ax in fig.axes for t in ax.texts if t.get_gid() == "point-label"]


# --------------------------------------------------------------------------- tradeoff
@pytest.mark.parametrize("zoom", [None, True, False])
def test_tradeoff_five_sweeps_with_error_bars(zoom):
    fig = plots.tradeoff(FIVE, zoom=zoom, title="five sweeps")
    assert isinstance(fig, Figure)
    _check_named(fig)
    _check_legends_clear(fig)
    labels = _point_labels(fig)
    renderer = fig.canvas.get_renderer()
    by_color = {}
    for t in labels:
        by_color.setdefault(matplotlib.colors.to_hex(t.get_color()), []).append(t)
    assert len(by_color) == 5 and all(len(v) <= 3 for v in by_color.values())
    boxes = [_text_box(t, renderer) for t in labels]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (labels[i].get_text(), labels[j].get_text())
    frame = fig.axes[0].get_window_extent(renderer)
    for b in boxes:
        assert frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1
    assert _labelled_line(fig, "same mean of A and B"), "the iso-score line has no label"


def test_tradeoff_labels_only_ends_and_chosen():
    sweeps = {"L2": _results("l2", (0.03, 0.1, 0.3, 1, 3)), "EWC": _results("ewc", (100, 300, 1e3, 3e3, 1e4), 1)}
    chosen = {"L2": sweeps["L2"][2], "EWC": sweeps["EWC"][3]}
    fig = plots.tradeoff(sweeps, chosen=chosen)
    texts = sorted(t.get_text() for t in _point_labels(fig))
    assert texts == sorted(["lam 0.03", "lam 3", "lam 0.3 (chosen)", "lam 100", "lam 10000",
                            "lam 3000 (chosen)"])
    _check_legends_clear(fig)
    renderer = fig.canvas.get_renderer()
    boxes = [_text_box(t, renderer) for t in _point_labels(fig)]
    assert not any(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes)))
    # no label sits on a plotted point
    pts = _data_points(fig.axes[0])
    for b in boxes:
        assert not np.any((pts[:, 0] > b.x0) & (pts[:, 0] < b.x1) & (pts[:, 1] > b.y0) & (pts[:, 1] < b.y1))


def test_tradeoff_chosen_at_an_end_is_one_label():
    sweep = _results("l2", (0.03, 0.1, 0.3))
    fig = plots.tradeoff({"L2": sweep}, chosen={"L2": sweep[-1]})
    assert sorted(t.get_text() for t in _point_labels(fig)) == ["lam 0.03", "lam 0.3 (chosen)"]


def test_tradeoff_zoom_frames_the_data_and_limits_cut_labels():
    fig = plots.tradeoff(FIVE, zoom=True)
    lo, hi = fig.axes[0].get_xlim()
    assert lo > 0.1 and hi <= 1.02
    fig = plots.tradeoff(FIVE, zoom=False)
    assert fig.axes[0].get_xlim() == (0.0, 1.02)
    fig = plots.tradeoff(FIVE, limits=((0.7, 1.0), (0.6, 0.95)))
    assert fig.axes[0].get_xlim() == (0.7, 1.0)
    for t in _point_labels(fig):
        x, y = t.xy
        assert 0.7 <= x <= 1.0 and 0.6 <= y <= 0.95


# --------------------------------------------------------------------------- bars
def test_method_comparison_legend_outside_and_chance_labelled():
    rows = [{"method": m, "A": a, "B": b, "A_std": 0.01, "B_std": 0.02}
            for m, a, b in (("multi-task", 0.9, 0.91), ("A only", 0.95, 0.1), ("naive", 0.35, 0.97),
                            ("L2", 0.8, 0.8), ("EWC", 0.88, 0.7))]
    article = {"multi-task": (0.97, 0.97), "A only": (0.985, None), "naive": (0.27, 0.98), "L2": (0.9, 0.6),
               "EWC": (0.77, 0.71)}
    fig = plots.method_comparison(rows, article)
    assert isinstance(fig, Figure)
    _check_named(fig)
    (leg,) = _check_legends_clear(fig)
    renderer = fig.canvas.get_renderer()
    assert not leg.get_window_extent(renderer).overlaps(fig.axes[0].get_window_extent(renderer))
    assert _labelled_line(fig, "chance")


def test_method_comparison_reads_summarize_rows():
    from ewc_helpers.studies.common import summarize

    results = [Result("naive", None, val={"A": 0.3, "B": 0.9}, test={"A": 0.3, "B": 0.9}),
               Result("ewc", 1000.0, val={"A": 0.8, "B": 0.7}, test={"A": 0.8, "B": 0.7})]
    fig = plots.method_comparison(summarize([results]))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["naive", "EWC"]
    _check_legends_clear(fig)


def test_movement_summary():
    report = {"movement": {"hidden": {"distance": 2.0, "fisher_weighted": 1e-3},
                           "output": {"distance": 0.5, "fisher_weighted": 2e-3}},
              "rise": {"measured": 0.5, "full": 0.1, "diagonal": 0.01}}
    fig = plots.movement_summary({"naive": [report, report], "EWC": [report]})
    _check_named(fig)
    _check_legends_clear(fig)


# --------------------------------------------------------------------------- curves
def test_forgetting_curves_and_comparison():
    for fig in (plots.forgetting_curves({"naive": CURVES["naive"]}), plots.forgetting_curves(CURVES),
                plots.forgetting_comparison(CURVES)):
        assert isinstance(fig, Figure)
        _check_named(fig)
        _check_legends_clear(fig)
        assert _labelled_line(fig, "chance")
        assert _labelled_line(fig, "start of task B")
    fig = plots.forgetting_comparison(CURVES, task="B")
    assert fig.axes[0].get_ylabel() == "task B test accuracy"
    assert len([line for line in fig.axes[0].get_lines() if "at the end" in line.get_label()]) == 3


def test_forgetting_comparison_reads_dicts_and_lists():
    as_dict = {"records": CURVES["EWC"].records, "tasks": ["A", "B"]}
    fig = plots.forgetting_comparison({"EWC": as_dict, "naive": CURVES["naive"].records})
    assert len([line for line in fig.axes[0].get_lines() if "at the end" in line.get_label()]) == 2
    with pytest.raises(KeyError):
        plots.forgetting_comparison({"EWC": CURVES["EWC"]}, task="C")


def test_training_curves():
    h = {"loss": [0.9, 0.5, 0.3], "accuracy": [0.7, 0.85, 0.9], "val_loss": [0.6, 0.4, 0.35],
         "val_accuracy": [0.8, 0.86, 0.88]}
    fig = plots.training_curves(h)
    _check_named(fig)
    _check_legends_clear(fig)


def test_lam_sensitivity_and_deviation_growth():
    fig = plots.lam_sensitivity(FIVE, scales={k: 10.0 ** i for i, k in enumerate(FIVE)})
    _check_named(fig, ylabel_axes=lambda axes: axes[:1])
    legends = _check_legends_clear(fig)
    assert len(legends[0].get_texts()) == 5
    fig = plots.deviation_growth({"lam 1000": np.geomspace(0.01, 1e6, 30),
                                  "lam 1e5": np.r_[np.geomspace(0.01, 1e30, 8), np.inf, np.nan]})
    _check_named(fig)
    _check_legends_clear(fig)


def test_sequence_figures_read_results_and_dicts():
    results = {"naive": _sequence_result("naive", None), "EWC": _sequence_result("ewc", 100.0, 1)}
    sweeps = {"EWC": [_sequence_result("ewc", lam, k) for k, lam in enumerate((30.0, 100.0, 300.0))],
              "L2": [dict(method="l2", lam=lam, val_score=0.5 + 0.1 * k) for k, lam in enumerate((0.01, 0.1))]}
    for fig in (plots.sequence_curves(results), plots.sequence_sweep(sweeps, {"EWC": sweeps["EWC"][1]}),
                plots.memory_growth(results)):
        _check_named(fig, ylabel_axes=lambda axes: axes[:1])
        _check_legends_clear(fig)
    fig = plots.accuracy_heatmaps(results)
    _check_named(fig, ylabel_axes=lambda axes: axes[:1])
    fig = plots.accuracy_heatmap(results["naive"].matrix)
    _check_named(fig)


# --------------------------------------------------------------------------- Fisher and weights
def test_fisher_histogram_reports_zeros():
    fishers = {"exact": _fisher(0, zeros=0.25), "article": [f * 1e5 for f in _fisher(1, zeros=0.0)]}
    for layout in ("overlay", "panels"):
        fig = plots.fisher_histogram(fishers, layout=layout)
        assert isinstance(fig, Figure)
        _check_named(fig, xlabel_axes=lambda axes: axes[-1:])
        legends = _check_legends_clear(fig)
        texts = " ".join(t.get_text() for leg in legends for t in leg.get_texts())
        share = np.mean(np.concatenate([f.ravel() for f in fishers["exact"]]) == 0)
        assert f"{share:.1%} exactly 0" in texts and "0.0% exactly 0" in texts
        assert all(ax.get_xscale() == "log" for ax in fig.axes)
    with pytest.raises(ValueError):
        plots.fisher_histogram({"zero": [np.zeros(3)]})
    with pytest.raises(ValueError):
        plots.fisher_histogram(fishers, layout="grid")


def test_movement_vs_fisher_accepts_models_anchors_and_lists():
    theta_a = _weights(0)
    fisher = _fisher(2, zeros=0.3)
    rng = np.random.default_rng(5)
    ewc = [a + rng.normal(0, 1e-3, a.shape) / np.sqrt(1e4 * f + 1) for a, f in zip(theta_a, fisher)]
    l2 = [a + rng.normal(0, 1e-3, a.shape) for a in theta_a]
    fig = plots.movement_vs_fisher({"L2": _Model(l2), "EWC": NS(theta=ewc), "naive": [a + 0.01 for a in theta_a]},
                                   NS(theta=theta_a), NS(fisher=fisher), max_points=3000)
    assert isinstance(fig, Figure)
    strips = [ax for ax in fig.axes if [t.get_text() for t in ax.get_xticklabels()] == ["F = 0"]]
    mains = [ax for ax in fig.axes if ax.get_xscale() == "log"]
    assert len(strips) == 3 and len(mains) == 3
    assert strips[0].get_ylabel().strip()
    assert all(ax.get_xlabel().strip() for ax in mains)
    assert all(ax.get_yscale() == "log" for ax in mains)
    _check_legends_clear(fig)
    # at most max_points weights drawn per panel (sample plus the F = 0 strip)
    drawn = sum(len(c.get_offsets()) for ax in fig.axes[:2] for c in ax.collections)
    assert drawn <= 3000
    fig = plots.movement_vs_fisher(l2, theta_a, fisher)  # one set of weights, no dict
    assert len([ax for ax in fig.axes if ax.get_xscale() == "log"]) == 1
    with pytest.raises(ValueError):
        plots.movement_vs_fisher(l2[:2], theta_a, fisher)


# --------------------------------------------------------------------------- images
def test_image_figures(tasks):
    fig = plots.sample_grid(tasks["multi"], n=10)
    assert isinstance(fig, Figure) and all(ax.get_title() for ax in fig.axes[:10])
    fig = plots.fisher_image({"exact": _fisher(0), "empirical": _fisher(1)})
    assert isinstance(fig, Figure)
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 2 and all(ax.get_ylabel() for ax in colorbars)


def test_forgetting_comparison_one_panel_per_task():
    fig = plots.forgetting_comparison(CURVES, task=["A", "B"])
    assert [ax.get_title() for ax in fig.axes] == ["task A", "task B"]
    for ax in fig.axes:
        assert len([line for line in ax.get_lines() if "at the end" in line.get_label()]) == 3
    _check_legends_clear(fig)
    with pytest.raises(ValueError, match="at least one task"):
        plots.forgetting_comparison(CURVES, task=[])


def test_matrix_with_colorbar_is_readable():
    from ewc_helpers import AccuracyMatrix
    m = AccuracyMatrix(["A", "B"], [{"A": 0.95, "B": 0.14}, {"A": 0.35, "B": 0.91}])
    fig = plots.matrix_with_colorbar(m)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "test accuracy"  # the colour bar
    assert fig.get_size_inches()[0] * fig.dpi >= 400  # not a 242-pixel thumbnail
    assert min(t.get_fontsize() for t in fig.axes[0].texts) >= 10
    with pytest.raises(ValueError, match="no rows"):
        plots.matrix_with_colorbar(AccuracyMatrix(["A", "B"]))


def test_label_pairs_puts_each_even_digit_above_its_odd_partner(tasks):
    fig = plots.label_pairs(tasks, per_digit=1)
    assert [ax.get_title() for ax in fig.axes[:5]] == [f"label {k}" for k in range(5)]
    assert fig.axes[0].get_ylabel().startswith("task A") and fig.axes[5].get_ylabel().startswith("task B")


# --------------------------------------------------------------------------- the course's figure style
def _figures_of_every_kind(tasks):
    """One figure of every plotting function, on the synthetic inputs above."""
    from ewc_helpers.slider import LamGrid

    seq = {m: _sequence_result(m, lam) for m, lam in (("naive", 0), ("l2", 1.0), ("ewc", 100.0))}
    report = {"movement": {"hidden": {"distance": 2.0, "fisher_weighted": 1e-3},
                           "output": {"distance": 0.5, "fisher_weighted": 2e-3}},
              "rise": {"measured": 0.5, "full": 0.1, "diagonal": 0.01}}
    five = {"L2": FIVE["L2"], "EWC exact": FIVE["EWC exact"], "EWC empirical": FIVE["EWC empirical"],
            "EWC sampled": FIVE["EWC sampled"], "EWC article F": FIVE["EWC article"]}
    refs = {"naive": (0.36, 0.97), "A only": (0.985, 0.22), "joint": (0.975, 0.965)}
    grid = LamGrid.from_results(_results("ewc", (100, 300, 1e3, 3e3, 1e4)))
    return {
        "tradeoff": lambda: plots.tradeoff(five, zoom=True, references=refs),
        "tradeoff_panels": lambda: plots.tradeoff_panels(five, references=refs),
        "lam_sensitivity": lambda: plots.lam_sensitivity(five, scales={k: 10.0 ** i for i, k in enumerate(five)}),
        "movement_summary": lambda: plots.movement_summary({"naive": [report, report], "EWC": [report]}),
        "forgetting_curves": lambda: plots.forgetting_curves({"naive": _curve(0.6), "EWC": _curve(0.1)}),
        "forgetting_comparison": lambda: plots.forgetting_comparison(
            {"naive": _curve(0.6), "L2": _curve(0.3), "EWC": _curve(0.1)}, task=["A", "B"]),
        "method_comparison": lambda: plots.method_comparison(
            [{"method": m, "A": 0.9, "B": 0.8} for m in ("naive", "L2", "EWC", "multi-task")]),
        "accuracy_heatmap": lambda: plots.accuracy_heatmap(seq["naive"].matrix),
        "accuracy_heatmaps": lambda: plots.accuracy_heatmaps(seq),
        "sequence_curves": lambda: plots.sequence_curves(seq),
        "sequence_sweep": lambda: plots.sequence_sweep({"EWC": [seq["ewc"]], "L2": [seq["l2"]]}),
        "memory_growth": lambda: plots.memory_growth(seq),
        "fisher_image": lambda: plots.fisher_image({k: _fisher(i) for i, k in enumerate(("a", "b", "c", "d"))}),
        "sample_grid": lambda: plots.sample_grid(tasks["multi"], n=20),
        "slider_draw": lambda: grid.draw(1e3),
        "slider_overview": lambda: grid.overview(),
    }


def test_every_figure_reads_on_a_projector(tasks):
    """No text below MIN_FONT points at the size a notebook shows the figure (wider than
    SHOWN_WIDTH inches, it is shrunk), and every figure in the course's dpi."""
    from ewc_helpers.plots.core import MIN_FONT, SHOWN_WIDTH, STYLE

    for name, make in _figures_of_every_kind(tasks).items():
        fig = make()
        fig.canvas.draw()
        assert fig.dpi == STYLE["figure.dpi"], name
        scale = min(1.0, SHOWN_WIDTH / fig.get_figwidth())
        small = {t.get_text(): t.get_fontsize() for t in fig.findobj(Text)
                 if t.get_visible() and t.get_text().strip() and t.get_fontsize() * scale < MIN_FONT - 1e-6}
        assert not small, f"{name}: text below {MIN_FONT} pt as shown (figure {fig.get_figwidth():.1f} in): {small}"
        plt.close(fig)


def test_one_colour_per_method_in_every_figure():
    """EWC, L2, naive... keep one colour whatever the figure and however the label is spelt (lessons
    06, 07 and 09 label EWC "EWC exact", which used to fall back to matplotlib's blue)."""
    from matplotlib.colors import to_hex

    from ewc_helpers.plots.core import METHOD_COLORS, method_color
    from ewc_helpers.slider import LamGrid

    ewc = to_hex(METHOD_COLORS["EWC"])
    assert {to_hex(method_color(s)) for s in ("EWC", "ewc", "EWC exact", "EWC (exact Fisher)")} == {ewc}
    assert to_hex(method_color("online_ewc")) == to_hex(method_color("online EWC")) != ewc
    assert len({to_hex(METHOD_COLORS[m]) for m in ("naive", "L2", "EWC", "online EWC", "replay", "joint",
                                                    "EWC empirical", "EWC sampled", "EWC article F")}) == 9

    def colour_of(fig, label):
        for ax in fig.axes:
            for handle, text in zip(*ax.get_legend_handles_labels()):
                if text.split(" (")[0] == label:
                    line = handle.lines[0] if hasattr(handle, "lines") else handle
                    return to_hex(line.get_color())
        raise AssertionError(f"no line labelled {label!r}")

    fig = plots.tradeoff({"EWC exact": FIVE["EWC exact"], "L2": FIVE["L2"]})
    assert colour_of(fig, "EWC exact") == ewc and colour_of(fig, "L2") == to_hex(METHOD_COLORS["L2"])
    fig = plots.lam_sensitivity({"EWC exact": FIVE["EWC exact"], "L2": FIVE["L2"]})
    assert colour_of(fig, "EWC exact") == ewc
    fig = plots.forgetting_comparison({"naive": _curve(0.6), "EWC": _curve(0.1)})
    assert colour_of(fig, "EWC") == ewc and colour_of(fig, "naive") == to_hex(METHOD_COLORS["naive"])
    fig = plots.sequence_sweep({"EWC": [_sequence_result("ewc", 1.0)]})
    assert colour_of(fig, "EWC") == ewc
    grid = LamGrid.from_results(_results("ewc", (100, 300, 1e3)))
    fig = grid.draw(300)
    assert to_hex(fig.axes[0].get_lines()[0].get_color()) == ewc
    # lines that are not methods never take a method's colour
    fig = plots.tradeoff({"Adam (lr 0.001)": FIVE["L2"], "SGD (lr 0.1)": FIVE["EWC exact"]})
    used = {colour_of(fig, "Adam"), colour_of(fig, "SGD")}
    assert len(used) == 2 and not used & {to_hex(c) for c in METHOD_COLORS.values()}


def test_tradeoff_references_and_the_iso_score_line_through_the_chosen_point():
    sweep = _results("l2", (0.03, 0.1, 0.3, 1, 3))
    refs = {"naive": (0.36, 0.97), "A only": {"A": 0.985, "B": 0.22}, "joint": (0.975, 0.965)}
    fig = plots.tradeoff({"L2": sweep}, chosen={"L2": sweep[2]}, references=refs)
    labels = [t.get_text() for t in _legends(fig)[0].get_texts()]
    for want in ("naive (A 0.36, B 0.97)", "A only (A 0.98, B 0.22)", "joint (A 0.97, B 0.96)"):
        assert any(lab.startswith(want) for lab in labels), (want, labels)
    assert not any("0.50" in lab for lab in labels)
    iso = _labelled_line(fig, "same mean of A and B")[0]
    x, y = iso.get_xdata(), iso.get_ydata()
    chosen_mean = (sweep[2].val["A"] + sweep[2].val["B"]) / 2
    assert np.allclose((np.asarray(x) + np.asarray(y)) / 2, chosen_mean)
    _check_legends_clear(fig)
    # zoomed: a reference outside the window stays in the legend only
    fig = plots.tradeoff({"L2": sweep}, references=refs, limits=((0.5, 1.0), (0.5, 1.0)))
    labels = [t.get_text() for t in _legends(fig)[0].get_texts()]
    assert any("A only" in lab and "outside the window" in lab for lab in labels)


def test_tradeoff_panels_one_panel_per_method_against_l2():
    five = {k: v for k, v in FIVE.items()}
    fig = plots.tradeoff_panels(five)
    panels = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in panels] == [f"{k} against L2" for k in five if k != "L2"]
    assert all("L2" in ax.get_legend_handles_labels()[1] for ax in panels)
    assert len({(ax.get_xlim(), ax.get_ylim()) for ax in panels}) == 1  # one window
    renderer = fig.canvas.get_renderer()
    for ax in panels:
        frame = ax.get_window_extent(renderer)
        boxes = [_text_box(t, renderer) for t in ax.texts if t.get_gid() == "point-label"]
        assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    with pytest.raises(KeyError):
        plots.tradeoff_panels({"EWC": FIVE["L2"]})


def test_accuracy_matrices_spend_the_colour_range_on_trained_cells():
    r = _sequence_result("naive", 0)  # trained cells >= 0.5, untrained ones 0.1 (chance)
    fig = plots.accuracy_heatmap(r.matrix)
    lo, hi = fig.axes[0].images[0].get_clim()
    assert lo >= 0.4 and hi == 1.0
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    fig = plots.accuracy_heatmaps({"naive": r, "EWC": _sequence_result("ewc", 1.0, seed=1)})
    clims = {ax.images[0].get_clim() for ax in fig.axes if ax.images}
    assert len(clims) == 1 and min(clims)[0] >= 0.4
