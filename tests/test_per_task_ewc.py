"""ewc_helpers.per_task_ewc: the summed per-task penalty by hand, its decomposition into a pull
towards the Fisher-weighted centre plus the anchors' spread, and the sequence runner.

The numeric checks use small random arrays; the sequence checks train a 784-16-10 MLP for one
epoch per task on a quarter of the embedded digits (a few seconds on 2 CPU cores).
"""

from __future__ import annotations

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
from ewc_helpers import MNIST, make_permuted_tasks, models
from ewc_helpers.anchors import Anchor
from ewc_helpers.penalties import QuadraticPenalty
from ewc_helpers.studies import common, sequences
from ewc_helpers.studies import per_task_ewc as pte

import tensorflow as tf

SHAPES = [(5, 3), (3,), (3, 2), (2,)]
SETUP = common.Setup(hidden_units=16, batch_size=128, fisher_examples=100).with_epochs(1)


def random_anchors(n, seed=0, same_theta=False):
    rng = np.random.default_rng(seed)
    base = [rng.normal(size=s) for s in SHAPES]
    out = []
    for k in range(n):
        theta = base if same_theta else [rng.normal(size=s) for s in SHAPES]
        fisher = [rng.gamma(0.5, size=s) for s in SHAPES]
        fisher[1][0] = 0.0  # one entry no task cares about
        out.append(Anchor(theta, fisher, task=f"T{k}"))
    return out


def random_weights(seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(np.float32) for s in SHAPES]


def test_summed_penalty_matches_tensorflow_and_a_loop():
    anchors, w, lam = random_anchors(4), random_weights(), 3.0
    tf_value = sum(float(QuadraticPenalty(a, lam)([tf.constant(x) for x in w])) for a in anchors)
    loop = 0.0
    for a in anchors:
        for x, t, f in zip(w, a.theta, a.fisher):
            for xi, ti, fi in zip(np.ravel(x), np.ravel(t), np.ravel(f)):
                loop += 0.5 * lam * float(fi) * (float(xi) - float(ti)) ** 2
    assert pte.summed_penalty(w, anchors, lam) == pytest.approx(loop, rel=1e-9)
    assert pte.summed_penalty(w, anchors, lam) == pytest.approx(tf_value, rel=1e-5)
    assert pte.anchor_terms(w, anchors, lam).shape == (4,)


def test_summed_gradient_matches_autodiff():
    anchors, w, lam = random_anchors(3), random_weights(), 2.0
    variables = [tf.Variable(x) for x in w]
    with tf.GradientTape() as tape:
        total = tf.add_n([QuadraticPenalty(a, lam)(variables) for a in anchors])
    auto = tape.gradient(total, variables)
    for g, a in zip(pte.summed_gradient(w, anchors, lam), auto):
        np.testing.assert_allclose(g, a.numpy(), rtol=1e-4, atol=1e-5)


def test_decomposition_adds_up_and_centre_is_the_minimum():
    anchors, w, lam = random_anchors(5), random_weights(), 7.0
    d = pte.penalty_decomposition(w, anchors, lam)
    assert d["total"] == pytest.approx(d["about_centre"] + d["spread"], rel=1e-9)
    centre, f_sum = pte.fisher_weighted_centre(anchors)
    assert all(np.allclose(g, 0.0, atol=1e-9) for g in pte.summed_gradient(centre, anchors, lam))
    assert pte.summed_penalty(centre, anchors, lam) == pytest.approx(d["spread"])
    # any other point costs more
    moved = [c + 0.01 for c in centre]
    assert pte.summed_penalty(moved, anchors, lam) > d["spread"]
    # F_sum is the online (gamma = 1) Fisher
    for i, f in enumerate(f_sum):
        np.testing.assert_allclose(f, sum(np.asarray(a.fisher[i], np.float64) for a in anchors), rtol=1e-6)
    # where no anchor has Fisher, the centre is the plain mean of the anchors' weights
    plain = np.mean([np.asarray(a.theta[1][0], np.float64) for a in anchors])
    assert centre[1][0] == pytest.approx(plain, rel=1e-6)


def test_spread_is_zero_only_when_anchors_agree():
    assert pte.anchor_spread(random_anchors(3, same_theta=True), 5.0) == pytest.approx(0.0, abs=1e-9)
    assert pte.anchor_spread(random_anchors(3), 5.0) > 0.1
    single = random_anchors(1)
    assert pte.anchor_spread(single, 5.0) == pytest.approx(0.0, abs=1e-9)
    # the spread scales with lam
    two = random_anchors(2)
    assert pte.anchor_spread(two, 4.0) == pytest.approx(2 * pte.anchor_spread(two, 2.0))


def test_penalty_only_descent_moves_towards_the_centre():
    anchors, lam = random_anchors(3), 1.0
    start = anchors[-1].theta
    end = pte.penalty_only_descent(start, anchors, lam, steps=300, learning_rate=0.05)
    assert pte.summed_penalty(end, anchors, lam) < 0.5 * pte.summed_penalty(start, anchors, lam)
    centre, _ = pte.fisher_weighted_centre(anchors)
    dist = lambda w: sum(float(np.sum((np.asarray(x, np.float64) - c) ** 2)) for x, c in zip(w, centre))
    assert dist(end) < dist(start)


def test_fisher_sampling_error():
    f = [np.random.default_rng(0).gamma(0.5, size=(300,))]
    same = pte.fisher_sampling_error(f, f)
    assert same["rel_l1"] == 0 and same["rel_total"] == 0 and same["top_overlap"] == 1
    noisy = pte.fisher_sampling_error([f[0] * np.random.default_rng(1).uniform(0.5, 1.5, 300)], f)
    assert noisy["rel_l1"] > 0.05 and noisy["top_overlap"] <= 1
    assert pte.fisher_sampling_error([2 * f[0]], f)["rel_total"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- sequences
@pytest.fixture(scope="module")
def seq(embedded_mnist):
    small = MNIST(train=embedded_mnist.train.take(slice(None, None, 4)),
                       test=embedded_mnist.test.take(slice(None, None, 4)),
                       source="embedded", origin="every fourth embedded digit")
    tasks = make_permuted_tasks(small, 3, seed=0)
    return tasks, sequences.train_first_task(tasks, SETUP)


@pytest.mark.parametrize("form,method", [("per_task", "ewc"), ("online", "online_ewc")])
def test_runner_trains_as_run_sequence(seq, form, method):
    tasks, first = seq
    ours = pte.run_ewc_sequence(tasks, SETUP, 50.0, form, fisher_examples=100, first=first)
    ref = sequences.run_sequence(tasks, SETUP, method, 50.0, first=first)
    np.testing.assert_allclose(ours["matrix"].values, ref.matrix.values, atol=1e-6)
    for a, b in zip(ours["model"].get_weights(), ref.model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_runner_keeps_anchors_at_each_tasks_weights_and_records_terms(seq):
    tasks, first = seq
    recorders = {}

    def callbacks_for(i, anchors):
        recorders[i] = pte.AnchorTermRecorder(anchors, 50.0, every=3)
        return [recorders[i]]

    probes = []
    r = pte.run_ewc_sequence(tasks, SETUP, 50.0, "per_task", fisher_examples=100, first=first,
                             probe=lambda i, m, anchors, online: probes.append((i, len(anchors))) or i,
                             callbacks_for=callbacks_for)
    assert probes == [(1, 1), (2, 2)] and r["probes"] == [1, 2]
    assert len(r["anchors"]) == 2 and len(r["thetas"]) == 3
    for a, theta in zip(r["anchors"], r["thetas"]):
        assert all(np.array_equal(x, y) for x, y in zip(a.theta, theta))
    # the online anchor holds the summed Fisher, centred on the latest anchored weights
    for i, f in enumerate(r["online_anchor"].fisher):
        np.testing.assert_allclose(f, r["anchors"][0].fisher[i] + r["anchors"][1].fisher[i], rtol=1e-6)
    assert all(np.array_equal(x, y) for x, y in zip(r["online_anchor"].theta, r["thetas"][1]))
    # the recorder saw two anchors on task 3, starting at the penalty of theta_2
    rec = recorders[2]
    assert rec.terms().shape[1] == 2
    assert rec.terms()[0].sum() == pytest.approx(pte.summed_penalty(r["thetas"][1], r["anchors"], 50.0), rel=1e-6)
    assert rec.terms()[0][1] == pytest.approx(0.0, abs=1e-9)  # the newest anchor starts at zero
    assert rec.terms()[-1].sum() == pytest.approx(pte.summed_penalty(r["model"], r["anchors"], 50.0), rel=1e-6)


def test_per_task_mean_divides_lam_by_the_number_of_anchors(seq):
    tasks, first = seq
    seen = {}

    def callbacks_for(i, anchors):
        seen[i] = None
        return []

    orig = pte.QuadraticPenalty
    lams = []

    class Spy(orig):
        def __init__(self, anchor, lam):
            lams.append(lam)
            super().__init__(anchor, lam)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pte, "QuadraticPenalty", Spy)
        pte.run_ewc_sequence(tasks, SETUP, 60.0, "per_task_mean", fisher_examples=100, first=first)
    assert lams == [60.0, 30.0, 30.0]


def test_runner_refuses_unknown_form(seq):
    tasks, first = seq
    with pytest.raises(ValueError, match="unknown form"):
        pte.run_ewc_sequence(tasks, SETUP, 1.0, "sum", first=first)
