"""Tests for ewc_helpers.penalties: the quadratic penalty, L2, stacking, online EWC, persistence.

Expected values are computed here independently, in float64 numpy, from the weights and the
Fisher; the package computes them in float32 TensorFlow.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
import tensorflow as tf

from ewc_helpers import models, penalties, reproducibility
from ewc_helpers.penalties import Anchor, AnchorError, OnlineEWC, PenaltyError

LAM = 7.5


# --------------------------------------------------------------------------- helpers
def weights(model):
    return [v.numpy().astype(np.float64) for v in model.trainable_variables]


def random_fisher(model, seed=0):
    """Positive, uneven 'Fisher' arrays: the penalty must weight every entry by its own F."""
    rng = np.random.default_rng(seed)
    return [rng.gamma(0.5, 1.0, tuple(v.shape)).astype(np.float32) for v in model.trainable_variables]


def perturb(model, scale=0.05, seed=1):
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        v.assign(v.numpy() + rng.normal(0.0, scale, tuple(v.shape)).astype(np.float32))


def numpy_penalty(theta, anchor_theta, fisher, lam):
    return 0.5 * lam * sum(float(np.sum(np.asarray(f, np.float64) * (t - np.asarray(a, np.float64)) ** 2))
                           for t, a, f in zip(theta, anchor_theta, fisher))


@pytest.fixture()
def model():
    reproducibility.set_seed(0)
    return models.build_mlp(hidden_units=16)


# --------------------------------------------------------------------------- the EWC penalty
def test_zero_at_the_anchor(model):
    anchor = Anchor.from_model(model, random_fisher(model), task="A", method="test")
    pen = penalties.ewc_penalty(anchor, LAM)
    assert float(pen(model.trainable_variables)) == 0.0
    model.set_penalties([pen])
    assert float(model.penalty()) == 0.0


def test_value_and_gradient_after_perturbing(model):
    fisher = random_fisher(model)
    anchor = Anchor.from_model(model, fisher, task="A", method="test")
    theta_star = weights(model)
    perturb(model)
    theta = weights(model)
    pen = penalties.ewc_penalty(anchor, LAM)
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        value = pen(variables)
    grads = tape.gradient(value, variables)
    expected_value = numpy_penalty(theta, theta_star, fisher, LAM)
    assert expected_value > 0
    assert float(value) == pytest.approx(expected_value, rel=1e-5)
    for g, t, ts, f, analytic in zip(grads, theta, theta_star, fisher, pen.gradient(variables)):
        expected = LAM * f.astype(np.float64) * (t - ts)
        scale = float(np.max(np.abs(expected)))
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-4, atol=1e-5 * scale)
        np.testing.assert_allclose(analytic, expected, rtol=1e-4, atol=1e-5 * scale)


def test_the_written_out_gradient_follows_the_loss_it_is_part_of(model):
    """The penalty's gradient is supplied by hand (tf.custom_gradient): it must still be scaled by
    whatever multiplies the penalty in the loss (a loss scale, a weight), as autodiff would, and
    match autodiff of the same expression; the free function computes lam * F itself when not
    given it."""
    fisher = random_fisher(model)
    anchor = Anchor.from_model(model, fisher, task="A", method="test")
    perturb(model)
    pen = penalties.ewc_penalty(anchor, LAM)
    variables = model.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        scaled = -2.5 * pen(variables)
        by_autodiff = -2.5 * 0.5 * LAM * tf.add_n(
            [tf.reduce_sum(tf.constant(f) * tf.square(v - tf.constant(t)))
             for v, t, f in zip(variables, anchor.theta, fisher)])
    for g, ref in zip(tape.gradient(scaled, variables), tape.gradient(by_autodiff, variables)):
        scale = float(np.max(np.abs(ref.numpy())))
        assert scale > 0
        np.testing.assert_allclose(g.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6 * scale)
    free = penalties.quadratic_penalty(variables, anchor.theta, fisher, LAM)
    assert float(free) == pytest.approx(float(pen(variables)), rel=1e-6)
    assert float(scaled) == pytest.approx(float(by_autodiff), rel=1e-5)


def test_penalty_scales_linearly_with_lam(model):
    anchor = Anchor.from_model(model, random_fisher(model))
    perturb(model)
    v = model.trainable_variables
    one = float(penalties.ewc_penalty(anchor, 1.0)(v))
    assert float(penalties.ewc_penalty(anchor, 4.0)(v)) == pytest.approx(4 * one, rel=1e-6)
    assert float(penalties.ewc_penalty(anchor, 0.0)(v)) == 0.0


# --------------------------------------------------------------------------- L2
def test_l2_is_half_lam_squared_distance(model):
    pen = penalties.l2_penalty(model, LAM, task="A")
    theta_star = weights(model)
    assert pen.anchor.method == "l2"
    assert all(np.all(f == 1) for f in pen.anchor.fisher)
    assert float(pen(model.trainable_variables)) == 0.0
    perturb(model, scale=0.03)
    theta = weights(model)
    squared = sum(float(np.sum((t - ts) ** 2)) for t, ts in zip(theta, theta_star))
    value = float(pen(model.trainable_variables))
    assert value == pytest.approx(0.5 * LAM * squared, rel=1e-5)
    # The article's L2: half the sum of per-variable norms, unsquared, with no lambda.
    article = 0.5 * sum(float(np.linalg.norm(t - ts)) for t, ts in zip(theta, theta_star))
    assert not math.isclose(value, article, rel_tol=0.05)
    assert not math.isclose(value, LAM * article, rel_tol=0.05)


def test_l2_gradient_is_finite_at_the_anchor(model):
    """The article's tf.norm has a NaN gradient at theta = theta*; the squared distance has 0."""
    pen = penalties.l2_penalty(model, LAM)
    with tf.GradientTape() as tape:
        value = pen(model.trainable_variables)
    for g in tape.gradient(value, model.trainable_variables):
        assert np.all(g.numpy() == 0)


def test_l2_from_an_anchor_uses_its_theta(model):
    ewc_anchor = Anchor.from_model(model, random_fisher(model), task="A")
    perturb(model)
    pen = penalties.l2_penalty(ewc_anchor, LAM)
    assert pen.anchor.task == "A"
    expected = numpy_penalty(weights(model), ewc_anchor.theta, [np.ones_like(t) for t in ewc_anchor.theta], LAM)
    assert float(pen(model.trainable_variables)) == pytest.approx(expected, rel=1e-5)


# --------------------------------------------------------------------------- stacking
def test_two_anchors_add_up(model):
    a1 = Anchor.from_model(model, random_fisher(model, 0), task="A")
    perturb(model, seed=2)
    a2 = Anchor.from_model(model, random_fisher(model, 1), task="B")
    perturb(model, seed=3)
    p1, p2 = penalties.ewc_penalty(a1, 2.0), penalties.ewc_penalty(a2, 5.0)
    v = model.trainable_variables
    model.set_penalties([p1, p2])
    assert float(model.penalty()) == pytest.approx(float(p1(v)) + float(p2(v)), rel=1e-6)
    theta = weights(model)
    expected = numpy_penalty(theta, a1.theta, a1.fisher, 2.0) + numpy_penalty(theta, a2.theta, a2.fisher, 5.0)
    assert float(model.penalty()) == pytest.approx(expected, rel=1e-5)
    model.set_penalties([])
    assert model.penalty() == 0.0


# --------------------------------------------------------------------------- online EWC
@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_online_ewc_running_fisher(model, gamma):
    online = OnlineEWC(gamma=gamma)
    fishers = [random_fisher(model, s) for s in range(3)]
    running = None
    for t, f in enumerate(fishers):
        perturb(model, seed=10 + t)
        anchor = online.consolidate(model, f, task=f"T{t}")
        running = [np.asarray(x, np.float64) for x in f] if running is None else \
            [gamma * r + np.asarray(x, np.float64) for r, x in zip(running, f)]
        for got, want in zip(anchor.fisher, running):
            np.testing.assert_allclose(got, want, rtol=1e-6)
        # The anchor sits at the latest weights.
        for got, want in zip(anchor.theta, model.trainable_variables):
            np.testing.assert_array_equal(got, want.numpy())
    assert online.anchor.task == "T0+T1+T2"
    if gamma == 1.0:
        total = [sum(np.asarray(f[k], np.float64) for f in fishers) for k in range(len(fishers[0]))]
        for got, want in zip(online.anchor.fisher, total):
            np.testing.assert_allclose(got, want, rtol=1e-6)
    # Its penalty is the quadratic one around the running anchor.
    perturb(model, seed=99)
    expected = numpy_penalty(weights(model), online.anchor.theta, online.anchor.fisher, LAM)
    assert float(online.penalty(LAM)(model.trainable_variables)) == pytest.approx(expected, rel=1e-5)


def test_online_ewc_two_tasks_gamma_half(model):
    f1, f2 = random_fisher(model, 0), random_fisher(model, 1)
    online = OnlineEWC(gamma=0.5)
    online.consolidate(model, f1, task="A")
    perturb(model)
    online.consolidate(model, f2, task="B")
    for got, a, b in zip(online.anchor.fisher, f1, f2):
        np.testing.assert_allclose(got, 0.5 * a.astype(np.float64) + b, rtol=1e-6)


def test_online_memory_does_not_grow(model):
    online, per_task = OnlineEWC(gamma=0.9), []
    online_sizes, list_sizes = [], []
    for t in range(4):
        perturb(model, seed=t)
        f = random_fisher(model, t)
        online.consolidate(model, f, task=f"T{t}")
        per_task.append(Anchor.from_model(model, f, task=f"T{t}"))
        online_sizes.append(penalties.memory_footprint([online.anchor]))
        list_sizes.append(penalties.memory_footprint(per_task))
    assert all(s == online_sizes[0] for s in online_sizes)
    one = list_sizes[0]
    params = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    assert one["bytes"] == 2 * 4 * params  # theta* and F, float32
    assert one["arrays"] == 2 * len(model.trainable_variables)
    for t, s in enumerate(list_sizes, start=1):
        assert s == {"arrays": t * one["arrays"], "bytes": t * one["bytes"]}


def test_online_penalty_before_consolidate_fails():
    with pytest.raises(PenaltyError, match="consolidate"):
        OnlineEWC().penalty(1.0)


# --------------------------------------------------------------------------- persistence
def test_save_load_round_trip(model, tmp_path):
    anchor = Anchor.from_model(model, random_fisher(model), task="A", method="empirical",
                               num_examples=123, note="hello")
    path = anchor.save(tmp_path / "anchor_a.npz")
    assert path.suffix == ".npz" and path.exists()
    loaded = Anchor.load(path)
    assert loaded.equals(anchor) and anchor.equals(loaded)
    assert loaded.meta == {"note": "hello"}
    perturb(model)
    v = model.trainable_variables
    assert float(penalties.ewc_penalty(loaded, LAM)(v)) == float(penalties.ewc_penalty(anchor, LAM)(v))
    # equals() notices a change.
    changed = Anchor.load(path)
    changed.fisher[0][0, 0] += 1.0
    assert not changed.equals(anchor)


def test_load_rejects_a_non_anchor_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(AnchorError, match=r"other\.npz: is not an anchor file"):
        Anchor.load(path)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("lam", [-1.0, float("nan"), float("inf"), -float("inf"), "abc", None])
def test_bad_lam(model, lam):
    anchor = Anchor.from_model(model, random_fisher(model))
    with pytest.raises(PenaltyError, match="lam"):
        penalties.ewc_penalty(anchor, lam)
    with pytest.raises(PenaltyError, match="lam"):
        penalties.l2_penalty(model, lam)


@pytest.mark.parametrize("bad, message", [(np.nan, "NaN or inf"), (np.inf, "NaN or inf"),
                                          (-0.5, "negative")])
def test_bad_fisher(model, bad, message):
    fisher = random_fisher(model)
    fisher[2][3, 1] = bad
    with pytest.raises(PenaltyError, match=message):
        Anchor.from_model(model, fisher)
    with pytest.raises(PenaltyError, match=message):
        OnlineEWC().consolidate(model, fisher)
    with pytest.raises(PenaltyError, match=message):
        penalties.check_fisher(fisher)


def test_anchor_weights_with_nan(model):
    theta = [v.numpy() for v in model.trainable_variables]
    theta[0][0, 0] = np.nan
    with pytest.raises(PenaltyError, match="NaN or inf"):
        Anchor(theta, random_fisher(model))


def test_shape_mismatch(model):
    reproducibility.set_seed(0)
    other = models.build_mlp(hidden_units=8)
    pen = penalties.ewc_penalty(Anchor.from_model(model, random_fisher(model)), LAM)
    with pytest.raises(PenaltyError, match="shape"):
        other.set_penalties([pen])
    assert other.penalties == ()  # nothing was set
    with pytest.raises(PenaltyError, match="shape"):
        penalties.l2_penalty(model, LAM).check_model(other)
    # A Fisher whose shapes do not match theta is refused too.
    with pytest.raises(PenaltyError, match="shape"):
        Anchor([v.numpy() for v in model.trainable_variables], random_fisher(other))
    with pytest.raises(PenaltyError, match="arrays"):
        Anchor([v.numpy() for v in model.trainable_variables], random_fisher(model)[:2])
    online = OnlineEWC()
    online.consolidate(model, random_fisher(model))
    with pytest.raises(PenaltyError, match="shape"):
        online.consolidate(other, random_fisher(other))


@pytest.mark.parametrize("gamma", [0, 1.5, -1, float("nan"), "x"])
def test_bad_gamma(gamma):
    with pytest.raises(PenaltyError, match="gamma"):
        OnlineEWC(gamma=gamma)


def test_a_penalty_must_be_callable(model):
    with pytest.raises(TypeError, match="callable"):
        model.set_penalties([3.0])


# --------------------------------------------------------------------------- the variables a penalty is called on
def test_a_penalty_needs_all_the_models_variables(model):
    pen = penalties.ewc_penalty(Anchor.from_model(model, random_fisher(model)), LAM)
    with pytest.raises(PenaltyError, match=r"needs all 4 trainable variables of the anchored model \(got 2\)"):
        pen(model.trainable_variables[:2])
    with pytest.raises(PenaltyError, match=r"needs all 4 trainable variables"):
        pen(model.trainable_variables[2:])
    # zip() would silently have summed over the 2 given: the full list still works.
    assert float(pen(model.trainable_variables)) == 0.0


def test_a_penalty_refuses_another_models_variables(model):
    pen = penalties.l2_penalty(model, LAM)
    reproducibility.set_seed(1)
    other = models.build_mlp(hidden_units=8)  # the same 4 variables, other shapes
    with pytest.raises(PenaltyError, match=r"variable 0 has shape \(784, 8\) but the anchor's has \(784, 16\)"):
        pen(other.trainable_variables)
    swapped = [model.trainable_variables[i] for i in (0, 1, 3, 2)]  # right variables, wrong order
    with pytest.raises(PenaltyError, match="variable 2 has shape"):
        pen(swapped)
