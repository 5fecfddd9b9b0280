"""SI and MAS importances against brute-force computations; per-example heads and the seen-classes mask."""

from __future__ import annotations

import numpy as np
import pytest

from ewc_helpers.anchors import Anchor
from ewc_helpers.heads import build_scenario_mlp, compile_scenario_model, head_offsets, seen_classes
from ewc_helpers.importance import PathIntegral, mas_importance, si_omega
from ewc_helpers.penalties import QuadraticPenalty
from ewc_helpers.reproducibility import set_seed


def _tiny(hidden=(5,), outputs=4, seed=0):
    set_seed(seed)
    return build_scenario_mlp(outputs, hidden, input_shape=(3, 2, 1))


def _forward64(weights, x):
    """The tiny MLP's logits in float64 numpy: Flatten -> Dense relu ... -> Dense."""
    h = x.reshape(len(x), -1).astype(np.float64)
    ws = [np.asarray(w, np.float64) for w in weights]
    for k in range(0, len(ws) - 2, 2):
        h = np.maximum(h @ ws[k] + ws[k + 1], 0.0)
    return h @ ws[-2] + ws[-1]


def test_mas_matches_finite_differences_per_example_and_in_batches():
    model = _tiny()
    x = np.random.default_rng(1).random((7, 3, 2, 1)).astype(np.float32)
    weights = [w.numpy() for w in model.trainable_variables]
    for classes, batch in ((None, 1), ((1, 2), 1), (None, 3)):
        got = mas_importance(model, x, classes=classes, batch_size=batch)
        cols = list(range(4)) if classes is None else list(classes)
        starts = list(range(0, len(x), batch))
        for k, w in enumerate(weights):
            brute = np.zeros(w.shape)
            for idx in np.ndindex(w.shape):
                for s in starts:
                    xb = x[s: s + batch]

                    def f(eps):
                        ws = [np.array(v, np.float64) for v in weights]
                        ws[k][idx] += eps
                        return np.mean(_forward64(ws, xb)[:, cols] ** 2)
                    brute[idx] += abs((f(1e-5) - f(-1e-5)) / 2e-5)
            brute /= len(starts)
            np.testing.assert_allclose(got[k], brute, rtol=2e-3, atol=2e-5)


def test_mas_adds_to_previous_and_rejects_bad_batches():
    model = _tiny()
    x = np.random.default_rng(2).random((4, 3, 2, 1)).astype(np.float32)
    once = mas_importance(model, x)
    twice = mas_importance(model, x, previous=once)
    for a, b in zip(once, twice):
        np.testing.assert_allclose(b, 2 * a, rtol=1e-6)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        mas_importance(model, x, batch_size=0)
    with pytest.raises(ValueError, match="at least one example"):
        mas_importance(model, x[:0])


def test_si_path_integral_matches_a_step_by_step_loop():
    """Train with model.fit and the path integral, then redo the same SGD steps by hand: w must be
    -sum over steps of (task-loss gradient) x (step taken), with the penalty in the step only."""
    import tensorflow as tf

    from ewc_helpers.studies.protocols import _dataset

    rng = np.random.default_rng(3)
    x = rng.random((24, 3, 2, 1)).astype(np.float32)
    y = rng.integers(0, 4, 24)
    batches = [np.arange(0, 8), np.arange(8, 16), np.arange(16, 24), np.arange(3, 11)]
    model = _tiny()
    start = [w.numpy().copy() for w in model.trainable_variables]
    anchor = Anchor([w + 0.05 for w in start], [np.full(w.shape, 2.0, np.float32) for w in start])
    compile_scenario_model(model, "sgd", 0.1)
    path = PathIntegral(model)
    model.set_penalties([QuadraticPenalty(anchor, 0.7)])
    model.set_path_integral(path)
    off = np.zeros((24, 4), np.float32)
    model.fit(_dataset(x, y, off, np.ones(24, np.float32), batches), epochs=1, verbose=0)

    theta = [tf.Variable(w.astype(np.float64)) for w in start]
    w_brute = [np.zeros(w.shape) for w in start]
    for b in batches:
        with tf.GradientTape() as tape:
            h = tf.reshape(tf.constant(x[b], tf.float64), (len(b), -1))
            h = tf.nn.relu(h @ theta[0] + theta[1])
            logits = h @ theta[2] + theta[3]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y[b], logits))
        g = [t.numpy() for t in tape.gradient(loss, theta)]
        step = [-0.1 * (gk + 0.7 * 2.0 * (t.numpy() - a)) for gk, t, a in zip(g, theta, anchor.theta)]
        for k, t in enumerate(theta):
            w_brute[k] += -g[k] * step[k]
            t.assign_add(step[k])
    for got, want in zip(path.values(), w_brute):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7)
    for v, t in zip(model.trainable_variables, theta):
        np.testing.assert_allclose(v.numpy(), t.numpy(), rtol=1e-4, atol=1e-6)
    # Omega from the path: w / (total change**2 + damping), by hand.
    end = [v.numpy() for v in model.trainable_variables]
    omega, clipped = si_omega(path.values(), path.start, end, damping=0.1)
    for o, w, s, e in zip(omega, path.values(), path.start, end):
        np.testing.assert_allclose(o, np.maximum(w / ((e - s) ** 2 + 0.1), 0), rtol=1e-5, atol=1e-9)
    assert clipped == sum(int(np.sum(w / ((e - s) ** 2 + 0.1) < 0)) for w, s, e in zip(path.values(), path.start, end))


def test_si_omega_adds_up_and_clips_negative_path_integrals():
    w = [np.array([1.0, -1.0, 0.5])]
    omega, clipped = si_omega(w, [np.zeros(3)], [np.array([1.0, 0.0, 0.0])], damping=1.0)
    np.testing.assert_allclose(omega[0], [0.5, 0.0, 0.5])
    assert clipped == 1
    again, _ = si_omega(w, [np.zeros(3)], [np.array([1.0, 0.0, 0.0])], damping=1.0, previous=omega)
    np.testing.assert_allclose(again[0], [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="damping must be positive"):
        si_omega(w, [np.zeros(3)], [np.zeros(3)], damping=0.0)


def test_each_example_trains_through_its_own_head():
    """The loss of a mixed batch equals each example's cross-entropy over its own task's units."""
    model = _tiny(outputs=6)
    compile_scenario_model(model)
    x = np.random.default_rng(4).random((6, 3, 2, 1)).astype(np.float32)
    digits = np.array([0, 1, 2, 3, 4, 5])
    heads = {0: (0, 1), 1: (0, 1), 2: (2, 3), 3: (2, 3), 4: (4, 5), 5: (4, 5)}
    off = head_offsets(digits, heads, 6)
    logits = np.asarray(model(x)).astype(np.float64)
    want = []
    for i, d in enumerate(digits):
        units = list(heads[int(d)])
        z = logits[i, units]
        want.append(np.log(np.sum(np.exp(z - z.max()))) + z.max() - logits[i, d])
    loss = float(model.compute_loss(x, (digits, off), model(x), training=False))
    assert loss == pytest.approx(np.mean(want), rel=1e-5)
    merged = float(model.compute_loss(x, digits, model(x), training=False))  # one softmax over all six
    assert abs(merged - loss) > 1e-3
    with pytest.raises(ValueError, match=r"digits \[7\] belong to no task head"):
        head_offsets(np.array([7]), heads, 6)


def test_task_replay_and_joint_batches_carry_each_examples_head():
    from ewc_helpers.split_mnist import make_split_tasks
    from ewc_helpers.studies.protocols import PROTOCOLS, _offsets

    from ewc_helpers.sources import load_mnist

    tasks = make_split_tasks(load_mnist("embedded", verbose=False), "task")
    digits = np.array([0, 3, 5, 9])
    off = _offsets("task", PROTOCOLS["hsu2018"], tasks, 4, digits, digits, 10)
    for row, d in zip(off, digits):
        assert set(np.flatnonzero(row == 0)) == {d - d % 2, d - d % 2 + 1}


def test_class_incremental_mask_keeps_only_the_seen_classes():
    from ewc_helpers.sources import load_mnist
    from ewc_helpers.split_mnist import make_split_tasks
    from ewc_helpers.studies.protocols import PROTOCOLS, _offsets

    tasks = make_split_tasks(load_mnist("embedded", verbose=False), "class")
    assert seen_classes(tasks, 1) == (0, 1, 2, 3)
    labels = np.array([2, 3, 0])
    seen = _offsets("class", PROTOCOLS["hsu2018"], tasks, 1, labels, labels, 10)
    assert all(set(np.flatnonzero(r == 0)) == {0, 1, 2, 3} for r in seen)
    assert np.all(_offsets("class", PROTOCOLS["short"], tasks, 1, labels, labels, 10) == 0)
    # The masked units get no gradient: an unseen class's output bias does not move.
    model = _tiny(outputs=10, hidden=(4,))
    compile_scenario_model(model, "sgd", 0.5)
    x = np.random.default_rng(5).random((3, 3, 2, 1)).astype(np.float32)
    bias = model.trainable_variables[-1].numpy().copy()
    model.fit(x, (labels, seen), batch_size=3, epochs=1, verbose=0)
    moved = model.trainable_variables[-1].numpy() != bias
    assert moved[:4].any() and not moved[4:].any()
