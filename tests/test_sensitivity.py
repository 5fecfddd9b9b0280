"""Tests for the studies behind lessons 06-09: the reusable lam sweeper (studies.two_tasks),
sweep summaries (studies.sensitivity), the SGD stability limit (studies.stability), and
weight-movement measures, silent-unit detection and the full-versus-diagonal Fisher quadratic
form (studies.movement).

Pure-numpy checks use hand-made arrays; the rest train on the embedded digits for one epoch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
import tensorflow as tf

from ewc_helpers import fisher, models, reproducibility
from ewc_helpers.anchors import Anchor
from ewc_helpers.penalties import PenaltyError
from ewc_helpers.studies import common, movement, sensitivity, stability, two_tasks


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def short_setup():
    return common.Setup(epochs_a=1, epochs_b=1)


@pytest.fixture(scope="module")
def after_a(tasks, short_setup):
    """A task-A model (1 epoch) and its exact-Fisher anchor."""
    a = two_tasks.train_task_a(tasks, short_setup, cache=False)
    anchor = Anchor.from_model(a.model, fisher.compute_fisher(a.model, tasks["A"].arrays("train"), "exact"),
                                  task="A")
    return a.model, anchor


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def _mlp_weights(rng, hidden=4, inputs=6, classes=3):
    return [rng.normal(size=(inputs, hidden)), rng.normal(size=hidden), rng.normal(size=(hidden, classes)),
            rng.normal(size=classes)]


# --------------------------------------------------------------------------- the lam sweeper
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_sweeper_reproduces_train_task_b_exactly(tasks, short_setup, after_a, dropout):
    """Reusing one compiled model must give bit-identical weights to a fresh train_task_b run,
    in any order of runs (the optimizer, weights and dropout state are all reset)."""
    model_a, anchor = after_a
    setup = dataclasses.replace(short_setup, dropout=dropout)
    sweeper = two_tasks.LamSweeper(model_a, tasks, setup)
    runs = [("ewc", 1000.0, anchor), ("l2", 0.3, None), ("naive", 0.0, None), ("ewc", 1000.0, anchor)]
    got = []
    for method, lam, an in runs:
        r = sweeper.run(method, lam, an, keep_model=True)
        got.append(_weights(r.model))
        ref = two_tasks.train_task_b(model_a, tasks, setup, method, lam, an)
        for w, w_ref in zip(got[-1], ref.model.get_weights()):
            np.testing.assert_array_equal(w, w_ref)
        assert r.val == ref.val and r.lam == ref.lam
    # the first and the last run are the same configuration
    for w1, w4 in zip(got[0], got[3]):
        np.testing.assert_array_equal(w1, w4)
    # and lam really acts: EWC ends closer to theta_A than naive training
    dist = [sum(np.sum((w - t) ** 2) for w, t in zip(g, anchor.theta)) for g in got]
    assert dist[0] < dist[2]


def test_sweeper_rejects_bad_runs(tasks, short_setup, after_a):
    model_a, _ = after_a
    sweeper = two_tasks.LamSweeper(model_a, tasks, short_setup)
    with pytest.raises(ValueError, match="unknown method 'ewc2'"):
        sweeper.run("ewc2", 1.0)
    with pytest.raises(ValueError, match="method 'ewc' needs an anchor"):
        sweeper.run("ewc", 1.0)
    with pytest.raises(PenaltyError, match="lam must be a finite number >= 0"):
        sweeper.run("l2", -1.0)


# --------------------------------------------------------------------------- summaries
def _result(lam, a, b, ta=None, tb=None):
    return common.Result("x", lam, val={"A": a, "B": b}, test={"A": ta if ta is not None else a,
                                                             "B": tb if tb is not None else b})


def test_sweep_summary_best_row_and_table():
    seeds = [[_result(1.0, 0.4, 0.9), _result(10.0, 0.8, 0.8), _result(100.0, 0.9, 0.3)],
             [_result(1.0, 0.6, 0.9), _result(10.0, 0.8, 0.7), _result(100.0, 0.9, 0.4)]]
    rows = sensitivity.sweep_summary(seeds)
    assert [r["lam"] for r in rows] == [1.0, 10.0, 100.0]
    assert rows[0]["A"] == pytest.approx(0.5) and rows[0]["A_std"] == pytest.approx(0.1 * 2 ** 0.5)  # ddof=1
    assert rows[1]["score"] == pytest.approx(0.775) and rows[1]["score_std"] == pytest.approx(0.025 * 2 ** 0.5)
    assert sensitivity.best_row(rows)["lam"] == 10.0
    assert [r.lam for r in sensitivity.at_lam(seeds, 100.0)] == [100.0, 100.0]
    table = sensitivity.sensitivity_table({"m": seeds}, {"m": 2.0})
    assert table[0]["lam"] == 10.0 and table[0]["lam_x_total"] == pytest.approx(20.0)
    assert "m" in sensitivity.format_sensitivity_table(table)
    with pytest.raises(ValueError, match="same lam grid"):
        sensitivity.sweep_summary([seeds[0], seeds[1][:2]])
    with pytest.raises(ValueError, match="no sweeps to summarise"):
        sensitivity.sweep_summary([])


def test_best_row_prefers_the_smaller_lam_on_ties():
    rows = [{"lam": 3.0, "score": 0.8}, {"lam": 1.0, "score": 0.8}, {"lam": 9.0, "score": 0.7}]
    assert sensitivity.best_row(rows)["lam"] == 1.0


def test_article_alpha_in_exact_units():
    article = [np.full((2, 2), 1000.0), np.full(2, 1000.0)]  # total 6000
    exact = [np.full((2, 2), 0.5), np.full(2, 0.5)]  # total 3
    assert sensitivity.fisher_total(exact) == pytest.approx(3.0)
    assert sensitivity.article_alpha_in_exact_units(25, article, exact) == pytest.approx(25 * 2000)
    with pytest.raises(ValueError, match="the exact Fisher sums to zero"):
        sensitivity.article_alpha_in_exact_units(25, article, [np.zeros(2)])


# --------------------------------------------------------------------------- SGD stability
def test_stiffness_and_max_stable_lam():
    f = [np.array([[0.01, 0.3]]), np.array([0.2])]
    assert stability.stiffness(0.1, 100.0, f) == pytest.approx(3.0)
    assert stability.max_stable_lam(0.1, f) == pytest.approx(2 / 0.03)
    assert stability.max_stable_lam(0.1, f, margin=0.5) == pytest.approx(1 / 0.03)
    np.testing.assert_allclose(stability.sgd_step_factor(0.1, 100.0, [0.1, 0.3]), [0.0, -2.0])
    with pytest.raises(ValueError, match=r"margin must be in \(0, 1\]"):
        stability.max_stable_lam(0.1, f, margin=0)


@pytest.mark.parametrize("k, grows", [(0.5, False), (1.9, False), (2.1, True), (3.0, True)])
def test_quadratic_descent_diverges_exactly_above_two(k, grows):
    """Plain gradient descent on (lam/2) F d^2 multiplies d by (1 - lr lam F): |.| > 1 iff > 2."""
    f, lr = 0.5, 0.1
    lam = k / (lr * f)
    path = stability.quadratic_descent(np.array([1e-3]), lr, lam, f, steps=50)
    assert path.shape == (51, 1)
    assert (abs(path[-1, 0]) > 1e-3) == grows
    assert stability.growth_per_step(path[:, 0], 0, 50) == pytest.approx(abs(1 - k), rel=1e-9)


def test_growth_per_step_stops_at_the_first_non_finite_value():
    values = [1.0, 2.0, 4.0, 8.0, np.inf, np.nan]
    assert stability.growth_per_step(values, 0, 10) == pytest.approx(2.0)
    assert np.isnan(stability.growth_per_step([1.0, np.nan], 0, 10))


def test_stability_run_follows_the_limit(tasks, short_setup, after_a):
    """Real training: SGD above the limit grows by |1 - lr lam F_max| per step; below, it does not."""
    model_a, anchor = after_a
    sgd = two_tasks.LamSweeper(model_a, tasks, dataclasses.replace(short_setup, optimizer="sgd", learning_rate=0.1))
    over = stability.stability_run(sgd, 20 / (0.1 * max(float(f.max()) for f in anchor.fisher)), anchor)
    assert over["stiffness"] == pytest.approx(20.0)
    assert over["growth"] == pytest.approx(19.0, rel=0.05)
    assert not (over["finite"] and over["max_deviation"] < 1e3)
    # Far above the limit the weights overflow within the epoch: the run stops with a message
    # instead of raising, and reports no validation score.
    f_max = max(float(f.max()) for f in anchor.fisher)
    blowup = stability.stability_run(sgd, 1e4 / (0.1 * f_max), anchor)
    assert blowup["finite"] is False and blowup["val"] is None
    assert "training on task B stopped at epoch 1" in blowup["stopped"]
    assert "float32" in blowup["stopped"] and "lam" in blowup["stopped"]  # the likely cause
    assert blowup["growth"] == pytest.approx(blowup["predicted_growth"], rel=0.05)  # |1 - 1e4|
    under = stability.stability_run(sgd, stability.max_stable_lam(0.1, anchor, margin=0.5), anchor)
    assert under["stiffness"] == pytest.approx(1.0)
    assert under["finite"] is True and under["stopped"] is None and under["max_deviation"] < 1.0
    assert set(under["val"]) == {"A", "B"}


def test_seed_sweeps_grids_map_a_label_to_a_fisher_method_or_none(tasks, short_setup):
    """A grid's Fisher method picks the anchor of its EWC runs; None means plain L2 (no anchor)."""
    setup = dataclasses.replace(short_setup, fisher_examples=200)
    grids = {"plain L2": (None, (0.1,)), "EWC exact": ("exact", (100.0, 1000.0))}
    out = sensitivity.seed_sweeps(tasks, setup, [0], grids)
    assert out["seeds"] == [0] and list(out["sweeps"]) == ["plain L2", "EWC exact"]
    assert list(out["anchors"][0]) == ["exact"]  # one anchor per Fisher method, none for L2
    anchor = out["anchors"][0]["exact"]
    assert anchor.method == "exact" and anchor.num_examples == 200
    (l2_runs,), (ewc_runs,) = out["sweeps"]["plain L2"], out["sweeps"]["EWC exact"]
    assert [(r.method, r.lam) for r in l2_runs] == [("l2", 0.1)]
    assert [(r.method, r.lam) for r in ewc_runs] == [("ewc", 100.0), ("ewc", 1000.0)]
    # The runs are the sweeper's: the same as train_task_b from the same task-A model.
    ref = two_tasks.train_task_b(out["a_results"][0].model, tasks, setup, "ewc", 1000.0, anchor)
    assert ewc_runs[1].val == ref.val and ewc_runs[1].test == ref.test
    with pytest.raises(ValueError, match="grid 'bad': unknown Fisher method 'diagonal'"):
        sensitivity.seed_sweeps(tasks, setup, [0], {"bad": ("diagonal", (1.0,))})


def test_deviation_recorder_tracks_the_stiffest_weight():
    anchor = Anchor([np.zeros((2, 3), np.float32), np.zeros(3, np.float32)],
                       [np.array([[0, 1, 0], [0, 0, 0]], np.float32), np.array([0, 5, 0], np.float32)])
    rec = stability.DeviationRecorder(anchor)
    assert rec.stiffest[0] == 1 and tuple(rec.stiffest[1]) == (1,)


# --------------------------------------------------------------------------- movement measures
def test_weight_movement_per_layer():
    star = [np.zeros((2, 2)), np.zeros(2), np.zeros((2, 1)), np.zeros(1)]
    theta = [np.full((2, 2), 1.0), np.zeros(2), np.full((2, 1), 2.0), np.array([0.0])]
    f = [np.full((2, 2), 0.5), np.ones(2), np.full((2, 1), 0.25), np.ones(1)]
    m = movement.weight_movement(theta, star, f)
    assert m["hidden"]["distance"] == pytest.approx(2.0)  # sqrt(4 * 1)
    assert m["output"]["distance"] == pytest.approx(np.sqrt(8.0))
    assert m["total"]["distance"] == pytest.approx(np.sqrt(12.0))
    assert m["hidden"]["fisher_weighted"] == pytest.approx(2.0)  # 4 * 0.5 * 1
    assert m["output"]["fisher_weighted"] == pytest.approx(2.0)  # 2 * 0.25 * 4
    assert m["hidden"]["fisher_share"] == pytest.approx(0.5) and m["total"]["fisher_share"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one array per variable"):
        movement.weight_movement(theta[:3], star, f)


def test_fisher_mass():
    f = [np.full((3, 2), 1.0), np.zeros(2), np.full((2, 1), 2.0), np.array([2.0])]
    mass = movement.fisher_mass(f)
    assert mass["hidden"]["mass"] == pytest.approx(0.5) and mass["output"]["mass"] == pytest.approx(0.5)
    assert mass["output"]["parameters"] == pytest.approx(3 / 11)
    with pytest.raises(ValueError, match="the Fisher sums to zero"):
        movement.fisher_mass([np.zeros(2)] * 4)


def test_inactive_units_and_their_changes():
    rng = np.random.default_rng(0)
    w = _mlp_weights(rng)
    x = np.abs(rng.normal(size=(20, 6)))  # non-negative inputs, like pixels
    w[0][:, 1] = -np.abs(w[0][:, 1])  # unit 1: negative weights and bias on positive inputs
    w[1][1] = -1.0
    w[0][:, 3] = np.abs(w[0][:, 3])  # unit 3: always positive
    w[1][3] = 0.5
    w[0][:, 0], w[1][0] = 0.0, 0.0  # unit 0: pre-activation exactly 0, so ReLU never positive
    mask = movement.inactive_units(w, x)
    assert mask[0] and mask[1] and not mask[3]
    assert np.all(movement.hidden_preactivations(w, x)[:, mask] <= 0)
    moved = [a.copy() for a in w]
    moved[0][:, 1] += 0.2
    moved[2][1] += 0.4
    ch = movement.unit_changes(moved, w, mask)
    assert ch["masked"]["units"] == mask.sum()
    assert ch["masked"]["incoming"] > 0 and ch["others"]["incoming"] == 0
    assert ch["masked"]["outgoing"] > 0 and ch["others"]["outgoing"] == 0


def test_inactive_units_of_a_keras_model(tasks):
    reproducibility.set_seed(0)
    model = models.build_mlp(hidden_units=8)
    w = model.get_weights()
    w[1][:] = 0.0
    w[1][2] = -1e3  # unit 2 can never fire on pixels in [0, 1] with small weights
    model.set_weights(w)
    x, _ = tasks["A"].arrays("val")
    mask = movement.inactive_units(model, x)
    assert mask[2] and mask.sum() < 8
    np.testing.assert_allclose(movement.mlp_logits(model, x), model(x).numpy(), atol=1e-4)


def test_hybrid_weights():
    rng = np.random.default_rng(1)
    a, b = _mlp_weights(rng), _mlp_weights(rng)
    mask = np.array([True, False, False, True])
    h = movement.hybrid_weights(b, a, "units", units=mask)
    np.testing.assert_allclose(h[0][:, mask], a[0][:, mask], rtol=1e-6)
    np.testing.assert_allclose(h[0][:, ~mask], b[0][:, ~mask], rtol=1e-6)
    np.testing.assert_allclose(h[2], b[2], rtol=1e-6)
    out = movement.hybrid_weights(b, a, "output")
    np.testing.assert_allclose(out[2], a[2], rtol=1e-6)
    np.testing.assert_allclose(out[0], b[0], rtol=1e-6)
    with pytest.raises(ValueError, match="restore must be 'units' or one of"):
        movement.hybrid_weights(b, a, "middle")


# --------------------------------------------------------------------------- the Fisher quadratic form
def _brute_force_fisher(weights, x):
    """The full exact Fisher matrix of the small MLP, from per-example logit Jacobians (float64)."""
    variables = [tf.Variable(w) for w in weights]

    def logits(v):
        h = tf.nn.relu(tf.constant(x) @ v[0] + v[1])
        return h @ v[2] + v[3]

    with tf.GradientTape(persistent=True) as tape:
        out = logits(variables)
    jac = tape.jacobian(out, variables)  # each (N, C, *shape)
    n, c = out.shape
    j = np.concatenate([np.reshape(a.numpy(), (n, c, -1)) for a in jac], axis=2)  # (N, C, P)
    p = tf.nn.softmax(out).numpy()
    fmat = np.zeros((j.shape[2], j.shape[2]))
    for k in range(n):
        m = np.diag(p[k]) - np.outer(p[k], p[k])
        fmat += j[k].T @ m @ j[k]
    return fmat / n


def test_fisher_quadratic_matches_the_full_matrix():
    rng = np.random.default_rng(2)
    w = _mlp_weights(rng)
    x = rng.normal(size=(15, 6))
    fmat = _brute_force_fisher(w, x)
    delta = _mlp_weights(rng)
    flat = np.concatenate([d.ravel() for d in delta])
    diag = [np.reshape(v, a.shape) for v, a in zip(np.split(np.diag(fmat), np.cumsum([a.size for a in w])[:-1]), w)]
    q = movement.fisher_quadratic(w, delta, x, diag)
    assert q["full"] == pytest.approx(0.5 * flat @ fmat @ flat, rel=1e-8)
    assert q["diagonal"] == pytest.approx(0.5 * np.sum(np.diag(fmat) * flat**2), rel=1e-8)
    assert abs(q["full"] - q["diagonal"]) > 1e-6  # off-diagonal terms matter for a generic move


def test_fisher_quadratic_agrees_with_compute_fisher_on_one_weight(after_a, tasks):
    """Along a single coordinate the full and diagonal forms coincide with F_ii / 2."""
    model_a, anchor = after_a
    x, _ = tasks["A"].arrays("train")
    k = int(np.argmax(anchor.fisher[2]))
    delta = [np.zeros_like(t) for t in anchor.theta]
    delta[2].flat[k] = 1.0
    q = movement.fisher_quadratic(model_a, delta, x, anchor.fisher)
    assert q["full"] == pytest.approx(anchor.fisher[2].flat[k] / 2, rel=1e-4)
    assert q["diagonal"] == pytest.approx(q["full"], rel=1e-4)


def test_loss_rise(after_a, tasks):
    model_a, anchor = after_a
    zero = movement.loss_rise(anchor.theta, anchor.theta, tasks["A"], anchor.fisher)
    assert zero == {"measured": 0.0, "diagonal": 0.0, "full": 0.0}
    moved = [t + 0.01 for t in anchor.theta]
    rise = movement.loss_rise(anchor.theta, moved, tasks["A"], anchor.fisher)
    expected = movement.mean_loss(moved, tasks["A"]) - movement.mean_loss(model_a, tasks["A"])
    assert rise["measured"] == pytest.approx(expected, rel=1e-6)
    assert rise["full"] > 0 and rise["diagonal"] > 0


def test_dropout_is_active_where_lesson_09_says_it_is(tasks):
    """Lesson 09 compares EWC with and without dropout 0.5 "in both phases": the task-A model and
    the task-B sweeper must both hold an active Dropout(0.5), and the plain run none."""
    import keras
    from ewc_helpers.studies import sensitivity
    from ewc_helpers.studies.common import Setup

    setup = Setup().with_epochs(1)
    grids = {"EWC exact": ("exact", (100.0,))}
    dropped = sensitivity.seed_sweeps(tasks, setup, [0], grids, dropout=0.5, cache=False)
    plain = sensitivity.seed_sweeps(tasks, setup, [0], grids, cache=False)
    x, _ = tasks["A"].arrays("val")
    for model in (dropped["a_results"][0].model, dropped["sweepers"][0].model):
        rates = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
        assert rates == [0.5]
        first, second = (np.asarray(model(x[:64], training=True)) for _ in range(2))
        assert not np.allclose(first, second)  # a new mask on every training-mode call
        np.testing.assert_allclose(np.asarray(model(x[:64], training=False)), np.asarray(model(x[:64], training=False)))
    for model in (plain["a_results"][0].model, plain["sweepers"][0].model):
        assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)
