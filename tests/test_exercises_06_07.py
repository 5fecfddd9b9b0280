"""Lessons 06 and 07: the exercise checks accept a right answer and reject wrong ones with a
message naming what differs (never raising on an unfilled stub), and the sensitivity study's
results are named objects that still answer the mapping access older lessons use."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ewc_helpers import build_mlp, fisher_data, set_seed
from ewc_helpers.exercises import check_exact_output_fisher, check_lam_search
from ewc_helpers.studies import common, sensitivity


# --------------------------------------------------------------------------- exact Fisher (lesson 06)
def _hidden_and_probs(model, x):
    h = tf.convert_to_tensor(x)
    for layer in model.layers[:-1]:
        h = layer(h, training=False)
    return h, tf.nn.softmax(model.layers[-1](h))


def right_exact(model, x):
    h, p = _hidden_and_probs(model, x)
    v, n = p * (1 - p), float(len(x))
    return (tf.einsum("ni,nj->ij", h ** 2, v) / n).numpy(), (tf.reduce_sum(v, 0) / n).numpy()


def right_exact_by_classes(model, x):
    """The definition itself: every class c weighted by p(c | x), with a gradient tape."""
    h, p = _hidden_and_probs(model, x)
    layer = model.layers[-1]
    kernel, bias = np.zeros(layer.kernel.shape), np.zeros(layer.bias.shape)
    for c in range(p.shape[1]):
        with tf.GradientTape(persistent=True) as tape:
            logp = tf.nn.log_softmax(layer(h))[:, c]
        jk = tape.jacobian(logp, layer.kernel)  # (n, hidden, classes)
        jb = tape.jacobian(logp, layer.bias)
        w = p[:, c].numpy()
        kernel += np.einsum("n,nij->ij", w, jk.numpy() ** 2) / len(x)
        bias += np.einsum("n,nj->j", w, jb.numpy() ** 2) / len(x)
    return kernel, bias


def most_likely_class_only(model, x):
    h, p = _hidden_and_probs(model, x)
    e = tf.one_hot(tf.argmax(p, 1), p.shape[1]) - p
    n = float(len(x))
    return (tf.einsum("ni,nj->ij", h ** 2, e ** 2) / n).numpy(), (tf.reduce_sum(e ** 2, 0) / n).numpy()


def stub_exact(model, x):
    raise NotImplementedError


@pytest.fixture(scope="module")
def small_model(tasks):
    set_seed(0)
    model = build_mlp(hidden_units=8)
    model.fit(tasks["A"].dataset("train"), epochs=1, verbose=0, shuffle=False)
    x, _ = fisher_data(tasks["A"], "exact", max_examples=64)
    return model, np.asarray(x)


@pytest.mark.parametrize("right", [right_exact, right_exact_by_classes])
def test_exact_fisher_right_answers(small_model, right):
    assert check_exact_output_fisher(right, *small_model, verbose=False).passed


@pytest.mark.parametrize("wrong, words", [
    (most_likely_class_only, "most likely class only"),
    (lambda m, x: [f * len(x) for f in right_exact(m, x)], "n times too large"),
    (lambda m, x: [f[:, :2] if f.ndim == 2 else f for f in right_exact(m, x)], "shape"),
    (lambda m, x: [-f for f in right_exact(m, x)], "negative"),
    (lambda m, x: [f * 1.5 for f in right_exact(m, x)], "1.5 times the expected"),
    (lambda m, x: None, "two arrays"),
    (stub_exact, "not filled in yet"),
])
def test_exact_fisher_wrong_answers(small_model, wrong, words):
    check = check_exact_output_fisher(wrong, *small_model, verbose=False)
    assert not check.passed and words in check.message, check.message


# --------------------------------------------------------------------------- lam search (lesson 07)
def right_search(run, grid, max_extensions=3):
    results = {float(lam): run(lam) for lam in grid}
    added = {"low": 0, "high": 0}
    while True:
        best = common.choose_lam(results.values()).lam
        lo, hi = min(results), max(results)
        if best == lo and added["low"] < max_extensions and len(results) > 1:
            added["low"] += 1
            results[lo / 10] = run(lo / 10)
        elif best == hi and added["high"] < max_extensions:
            added["high"] += 1
            results[hi * 10] = run(hi * 10)
        else:
            return best, sorted(results)


def no_extension(run, grid, max_extensions=3):
    results = {lam: run(lam) for lam in grid}
    return common.choose_lam(results.values()).lam, sorted(results)


def no_limit(run, grid, max_extensions=3):
    return right_search(run, grid, max_extensions=max_extensions + 5)


def picks_the_largest(run, grid, max_extensions=3):
    best, tried = right_search(run, grid, max_extensions)
    return tried[-1], tried


def stub_search(run, grid, max_extensions=3):
    raise NotImplementedError


def test_lam_search_right_answer():
    check = check_lam_search(right_search, verbose=False)
    assert check.passed, check.message


@pytest.mark.parametrize("wrong, words", [
    (no_extension, "stops too early"),
    (no_limit, "tries too many"),
    (picks_the_largest, "chose lam"),
    (lambda run, grid, m: None, "return a pair"),
    (stub_search, "not filled in yet"),
])
def test_lam_search_wrong_answers(wrong, words):
    check = check_lam_search(wrong, verbose=False)
    assert not check.passed and words in check.message, check.message


def test_lam_search_reports_lams_it_did_not_run():
    def lies(run, grid, m=3):
        best, tried = right_search(run, grid, m)
        return best, [x * 1.0000001 if i == 0 else x for i, x in enumerate(tried)]
    check = check_lam_search(lies, verbose=False)
    assert not check.passed and "tried" in check.message


# --------------------------------------------------------------------------- named study results
def _result(lam, a, b):
    return common.Result("x", lam, val={"A": a, "B": b}, test={"A": a, "B": b})


SEEDS = [[_result(1.0, 0.4, 0.9), _result(10.0, 0.8, 0.8)], [_result(1.0, 0.6, 0.9), _result(10.0, 0.8, 0.7)]]


def test_summary_rows_are_named_and_keep_mapping_access():
    rows = sensitivity.sweep_summary(SEEDS)
    assert isinstance(rows[0], sensitivity.SummaryRow)
    assert rows[1].lam == rows[1]["lam"] == 10.0 and rows[1].score == pytest.approx(0.775)
    assert rows[0].get("score_std") == pytest.approx(rows[0].score_std) and rows[0].get("nope", 7) == 7
    assert dict(rows[0])["A"] == pytest.approx(0.5) and "B_std" in rows[0]
    assert "lam=10" in repr(rows[1]) and "score 0.775" in repr(rows[1])
    with pytest.raises(KeyError, match="'nope': SummaryRow has lam"):
        rows[0]["nope"]


def test_table_rows_are_named_and_keep_mapping_access():
    (row,) = sensitivity.sensitivity_table({"m": SEEDS}, {"m": 2.0})
    assert isinstance(row, sensitivity.TableRow)
    assert row.label == row["label"] == "m" and row.lam_x_total == row["lam_x_total"] == pytest.approx(20.0)
    assert repr(row).startswith("TableRow(m: lam 10")
    assert "m" in sensitivity.format_sensitivity_table([row])


def test_seed_sweeps_result_is_named():
    run = sensitivity.SeedSweeps([0, 1], {"m": ("exact", (1.0, 10.0))}, sweeps={"m": SEEDS},
                                 anchors=[{"exact": "anchor 0"}, {"exact": "anchor 1"}])
    assert run["sweeps"] is run.sweeps and run.anchor("exact", 1) == "anchor 1"
    assert run.summary()["m"][1].lam == 10.0
    assert repr(run) == "SeedSweeps(seeds [0, 1]; sweeps m (2 lams))"
    with pytest.raises(KeyError, match="no 'sampled' anchor: this run made exact"):
        run.anchor("sampled")


def test_plots_read_summary_rows():
    from ewc_helpers import plots
    rows = sensitivity.sweep_summary(SEEDS)
    fig = plots.tradeoff({"EWC exact": rows}, references={"naive": {"A": 0.3, "B": 0.95}})
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == pytest.approx([0.9, 0.75]) and list(line.get_ydata()) == pytest.approx([0.5, 0.8])


def test_tradeoff_panels_legend_clears_every_panel_and_its_labels():
    """With stars and three references the legend below the panels leaves every x label clear."""
    import matplotlib
    matplotlib.use("Agg")
    from ewc_helpers import plots
    rows = sensitivity.sweep_summary(SEEDS)
    sweeps = {name: rows for name in ("L2", "EWC exact", "EWC empirical", "EWC sampled", "EWC article F")}
    refs = {"naive": (0.38, 0.96), "A only": (0.95, 0.15), "joint": (0.90, 0.92)}
    fig = plots.tradeoff_panels(sweeps, chosen={k: sensitivity.best_row(v) for k, v in sweeps.items()},
                                references=refs)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    for ax in (a for a in fig.axes if a.axison):
        assert legend.y1 <= ax.get_tightbbox(renderer).y0 + 1, "the legend overlaps a panel or its x label"
        x0, x1 = ax.get_xlim()
        assert x0 <= 0.15 - 0.03 and x1 >= 0.96  # every reference point shown whole
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sum(lab.startswith("star:") for lab in labels) == 1
