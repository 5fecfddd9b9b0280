"""Tests for training with penalties through the ordinary ``model.fit`` (ewc_helpers.training).

All of them train on the 5,000 embedded MNIST digits, so they run offline and in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
import keras

from ewc_helpers import sources, tasks as task_lib, models, penalties, reproducibility, training

EWC_LAM = 3000.0  # with the empirical Fisher of this model (entries up to ~0.05) the pull matters


@pytest.fixture(scope="module")
def tasks():
    return task_lib.make_tasks(sources.load_mnist("embedded", verbose=False))


@pytest.fixture(scope="module")
def after_a(tasks):
    """Weights after 2 epochs on task A and the empirical-Fisher anchor there."""
    reproducibility.set_seed(0)
    model = models.build_mlp()
    training.fit_task(model, tasks["A"], epochs=2)
    anchor = training.make_anchor(model, tasks["A"], "empirical")
    return model.get_weights(), anchor


def model_at(weights):
    """A fresh compiled MLP (new optimizer state) holding ``weights``."""
    model = models.build_mlp()
    model.set_weights(weights)
    return model


def distances(model, anchor):
    """(Fisher-weighted squared distance, plain Euclidean distance) to the anchor, in float64."""
    theta = [v.numpy().astype(np.float64) for v in model.trainable_variables]
    weighted = sum(float(np.sum(f * (t - a) ** 2)) for t, a, f in zip(theta, anchor.theta, anchor.fisher))
    plain = float(np.sqrt(sum(np.sum((t - a) ** 2) for t, a in zip(theta, anchor.theta))))
    return weighted, plain


def test_make_anchor(after_a, tasks):
    weights, anchor = after_a
    x, _ = tasks["A"].arrays("train")
    assert anchor.task == "A" and anchor.method == "empirical"
    assert anchor.num_examples == len(x)
    for t, w in zip(anchor.theta, weights):  # trainable variables = all weights for this MLP
        np.testing.assert_array_equal(t, w)
    assert all(np.all(f >= 0) for f in anchor.fisher) and sum(float(f.sum()) for f in anchor.fisher) > 0
    l2 = training.make_anchor(model_at(weights), tasks["A"], "l2")
    assert l2.method == "l2" and all(np.all(f == 1) for f in l2.fisher)


def test_ewc_stays_closer_to_the_anchor(after_a, tasks):
    """From the same weights and seed, training B with lam > 0 ends nearer theta* than lam = 0."""
    weights, anchor = after_a
    results = {}
    for lam in (0.0, EWC_LAM):
        model = model_at(weights)
        reproducibility.set_seed(0)
        training.fit_task(model, tasks["B"], epochs=2, penalties=[penalties.ewc_penalty(anchor, lam)])
        x_a, y_a = tasks["A"].arrays("test")
        acc_a = model.evaluate(x_a, y_a, verbose=0)[1]
        results[lam] = (*distances(model, anchor), acc_a)
    (w0, d0, acc0), (w1, d1, acc1) = results[0.0], results[EWC_LAM]
    assert w0 > 0 and d0 > 0  # training on B moved the weights
    # Measured: the Fisher-weighted distance drops about tenfold, the plain one by ~30 %.
    assert w1 < 0.5 * w0, results
    assert d1 < 0.9 * d0, results
    # And it forgets task A less.
    assert acc1 > acc0, results


def test_fit_task_history_validation_and_callback(after_a, tasks):
    weights, anchor = after_a
    model = model_at(weights)

    class CountEpochs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append((epoch, dict(logs or {})))

    counter = CountEpochs()
    history = training.fit_task(model, tasks["B"], epochs=2, validation=True, callbacks=[counter],
                                penalties=[penalties.ewc_penalty(anchor, 10.0),
                                           penalties.l2_penalty(anchor, 0.1)])
    assert isinstance(history, keras.callbacks.History)
    assert len(history.history["loss"]) == 2
    assert len(history.history["val_accuracy"]) == 2 and len(history.history["val_loss"]) == 2
    assert all(0.0 <= a <= 1.0 for a in history.history["val_accuracy"])
    assert [e for e, _ in counter.epochs] == [0, 1]
    assert "loss" in counter.epochs[-1][1]
    assert len(model.penalties) == 2


def test_compute_loss_adds_the_penalty(after_a, tasks):
    weights, anchor = after_a
    model = model_at(weights)
    rng = np.random.default_rng(0)
    for v in model.trainable_variables:
        v.assign(v.numpy() + rng.normal(0, 0.01, tuple(v.shape)).astype(np.float32))
    model.set_penalties([penalties.ewc_penalty(anchor, EWC_LAM), penalties.l2_penalty(anchor, 1.0)])
    penalty = float(model.penalty())
    assert penalty > 0
    x, y = tasks["B"].arrays("train")
    x, y = x[:256], y[:256]
    y_pred = model(x, training=False)
    with_penalty = float(model.compute_loss(x=x, y=y, y_pred=y_pred, training=True))
    without = float(model.compute_loss(x=x, y=y, y_pred=y_pred, training=False))
    assert with_penalty - without == pytest.approx(penalty, rel=1e-4)
    model.set_penalties([])
    assert float(model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)) == pytest.approx(without, rel=1e-6)


def test_reported_training_loss_includes_the_penalty(after_a, tasks):
    """With a learning rate of 0 the weights stay put, so fit's reported loss must equal the
    task loss (from evaluate, which leaves penalties out) plus the penalty."""
    weights, anchor = after_a
    model = model_at(weights)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(1)
    for v in model.trainable_variables:
        v.assign(v.numpy() + rng.normal(0, 0.01, tuple(v.shape)).astype(np.float32))
    pen = penalties.ewc_penalty(anchor, EWC_LAM)
    model.set_penalties([pen])
    penalty = float(model.penalty())
    task_loss = model.evaluate(tasks["B"].dataset("train", shuffle=False), verbose=0, return_dict=True)["loss"]
    history = model.fit(tasks["B"].dataset("train", shuffle=False), epochs=1, verbose=0)
    assert penalty > 0.1 * task_loss  # large enough that leaving it out would show
    assert history.history["loss"][0] == pytest.approx(task_loss + penalty, rel=1e-4)


def test_changing_penalties_between_fits_takes_effect(after_a, tasks):
    """fit() compiles its train step once and reuses it; set_penalties must force a new one.

    Plain SGD with learning rate ``lr`` and an L2 penalty with ``lam = 1 / lr``: one step maps
    theta to ``theta* - lr * grad_task``, so an active penalty brings weights that were pushed
    far from theta* straight back, while without it they stay far away. A stale train step
    (penalty on when it should be off, or off when on) shows up as the opposite outcome.
    """
    weights, _ = after_a
    lr = 0.05
    model = model_at(weights)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    reproducibility.set_seed(0)
    training.fit_task(model, tasks["B"], epochs=1)  # trace a train step without penalties
    anchor = penalties.Anchor.from_model(model)  # F = 1: L2
    rng = np.random.default_rng(0)

    def push_away():
        for v, t in zip(model.trainable_variables, anchor.theta):
            v.assign(t + rng.normal(0, 0.05, t.shape).astype(np.float32))
        return distance()

    def distance():
        return float(np.sqrt(sum(np.sum((v.numpy() - t) ** 2)
                                  for v, t in zip(model.trainable_variables, anchor.theta))))

    far = push_away()
    training.fit_task(model, tasks["B"], epochs=1, penalties=[penalties.ewc_penalty(anchor, 1 / lr)])
    assert distance() < 0.1 * far, "the penalty set for this fit was not used"
    far = push_away()
    training.fit_task(model, tasks["B"], epochs=1)  # penalties switched off again
    assert distance() > 0.5 * far, "a penalty from an earlier fit was still applied"
    # The same through set_penalties and model.fit directly.
    far = push_away()
    model.set_penalties([penalties.l2_penalty(anchor, 1 / lr)])
    model.fit(tasks["B"].dataset("train"), epochs=1, verbose=0)
    assert distance() < 0.1 * far
    model.set_penalties([])
    far = push_away()
    model.fit(tasks["B"].dataset("train"), epochs=1, verbose=0)
    assert distance() > 0.5 * far


def test_fit_task_rejects_bad_epochs_and_plain_models(tasks):
    model = models.build_mlp(hidden_units=8)
    with pytest.raises(ValueError, match="epochs"):
        training.fit_task(model, tasks["A"], epochs=-1)
    plain = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    models.compile_model(plain)
    with pytest.raises(TypeError, match="PenalizedSequential"):
        training.fit_task(plain, tasks["A"], epochs=1, penalties=[penalties.l2_penalty(plain, 1.0)])
    assert len(training.fit_task(plain, tasks["A"], epochs=1).history["loss"]) == 1
