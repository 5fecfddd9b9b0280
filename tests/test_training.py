"""Tests for training with penalties through the ordinary ``model.fit`` (ewc_helpers.training).

All of them train on the 5,000 embedded MNIST digits, so they run offline and in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
import keras

from ewc_helpers import evaluation, fisher, sources, tasks as task_lib, models, penalties, reproducibility, training
from ewc_helpers.anchors import Anchor
from ewc_helpers.penalties import PenaltyError
from ewc_helpers.training import TrainingError

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
    # The anchor's Fisher is the empirical Fisher of the whole training split (fisher_data) ...
    reference = fisher.compute_fisher(model_at(weights), tasks["A"].arrays("train"), "empirical")
    for got, want in zip(anchor.fisher, reference):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    # ... and has a Fisher's structure: the kernel rows of pixels that are blank in every
    # training image carry exactly zero, every other row something (F = 1, or the article's
    # row-broadcast "Fisher", would fail here).
    blank = np.all(x.reshape(len(x), -1) == 0, axis=0)
    assert 0 < blank.sum() < 784
    assert np.all(anchor.fisher[0][blank] == 0)
    assert np.all(anchor.fisher[0][~blank].max(axis=1) > 0)
    # max_examples: a seeded random subset, the one fisher_data picks.
    capped = training.make_anchor(model_at(weights), tasks["A"], "empirical", max_examples=300, seed=4)
    sub = training.fisher_data(tasks["A"], "empirical", max_examples=300, seed=4)
    assert capped.num_examples == 300 and len(sub[1]) == 300
    for got, want in zip(capped.fisher, fisher.compute_fisher(model_at(weights), sub, "empirical")):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    # Plain L2 needs no Fisher: its anchor is Anchor.from_model (F = 1), not a make_anchor method.
    l2 = Anchor.from_model(model_at(weights), task="A")
    assert l2.method == "l2" and all(np.all(f == 1) for f in l2.fisher)
    with pytest.raises(ValueError, match="'l2'.*Anchor.from_model"):
        training.make_anchor(model_at(weights), tasks["A"], "l2")


def test_ewc_stays_closer_to_the_anchor(after_a, tasks):
    """From the same weights and seed, training B with lam > 0 ends nearer theta* than lam = 0."""
    weights, anchor = after_a
    acc_at_anchor = evaluation.accuracy(model_at(weights), tasks["A"])
    results = {}
    for lam in (0.0, EWC_LAM):
        model = model_at(weights)
        reproducibility.set_seed(0)
        training.fit_task(model, tasks["B"], epochs=2, penalties=[penalties.ewc_penalty(anchor, lam)])
        x_a, y_a = tasks["A"].arrays("test")
        acc_a = model.evaluate(x_a, y_a, verbose=0)[1]
        results[lam] = (*distances(model, anchor), acc_a)
    (w0, d0, acc0), (w1, d1, acc1) = results[0.0], results[EWC_LAM]
    # Naive training on B forgot A: measured 0.92 -> 0.48 (so the comparison below is not moot).
    assert acc0 < acc_at_anchor - 0.2, (acc_at_anchor, results)
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
    # The History is this fit's: the callback saw the same epoch losses.
    assert history.history["loss"] == [logs["loss"] for _, logs in counter.epochs]
    assert len(history.history["val_accuracy"]) == 2 and len(history.history["val_loss"]) == 2
    # validation=True evaluates task B's validation split, after each epoch.
    assert history.history["val_accuracy"][-1] == pytest.approx(evaluation.accuracy(model, tasks["B"], "val"), abs=1e-6)
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


# --------------------------------------------------------------------------- runs that would end at chance
def test_a_lam_that_would_overflow_float32_is_refused_before_training(after_a, tasks):
    """lam = 1e30 turns every weight into NaN within a step (Adam squares the gradient); the
    penalty refuses it when it is made, naming lam and the overflow."""
    weights, anchor = after_a
    model = model_at(weights)
    with pytest.raises(PenaltyError, match=r"lam=1e\+30 is too large.*overflow float32"):
        training.fit_task(model, tasks["B"], epochs=1, penalties=[penalties.ewc_penalty(anchor, 1e30)])
    with pytest.raises(PenaltyError, match=r"lam=1e\+30 is too large.*overflow float32"):
        penalties.l2_penalty(model, 1e30)
    for w, w0 in zip(model.get_weights(), weights):  # nothing trained
        np.testing.assert_array_equal(w, w0)
    # The limit is lam * max(F): just below it is accepted.
    f_max = max(float(f.max()) for f in anchor.fisher)
    assert penalties.ewc_penalty(anchor, 0.5 * penalties.MAX_STIFFNESS / f_max).lam > 0
    with pytest.raises(PenaltyError, match="too large"):
        penalties.ewc_penalty(anchor, 2 * penalties.MAX_STIFFNESS / f_max)


def test_the_lam_sweeper_refuses_an_overflowing_lam_before_fitting(after_a, tasks, monkeypatch):
    from ewc_helpers.studies import common, two_tasks

    weights, anchor = after_a
    sweeper = two_tasks.LamSweeper(model_at(weights), tasks, common.Setup(epochs_b=1))
    monkeypatch.setattr(sweeper.model, "fit", lambda *a, **k: pytest.fail("trained despite lam=1e30"))
    with pytest.raises(PenaltyError, match=r"lam=1e\+30.*overflow"):
        sweeper.run("ewc", 1e30, anchor)
    with pytest.raises(PenaltyError, match=r"lam=1e\+30.*overflow"):
        sweeper.run("l2", 1e30)


def test_task_splits_refuse_float_images_so_no_nan_pixel_reaches_training(tasks):
    """Task images are uint8 pixels (scaled when fed to a model): a NaN cannot hide in them."""
    part = tasks["A"].train
    images = part.images.astype(np.float32)
    images[0, 14, 14, 0] = np.nan
    with pytest.raises(sources.DataError, match="task images must be uint8 pixels 0-255.*float32"):
        task_lib.TaskSplit(images=images, labels=part.labels, digits=part.digits)
    with pytest.raises(sources.DataError, match="images must be uint8 pixels 0-255"):
        sources.Split(images, part.digits)


def nan_model(weights):
    model = model_at(weights)
    broken = [w.copy() for w in weights]
    broken[0][0, 0] = np.nan
    model.set_weights(broken)
    return model


def test_nan_weights_stop_fit_task_with_a_training_error_naming_the_cause(after_a, tasks):
    weights, _ = after_a
    # ReLU maps NaN to 0, so the loss can stay finite: the weights are checked too.
    with pytest.raises(TrainingError, match=r"training on task A stopped at epoch 1, batch 1: the loss is .*"
                                            r"weight arrays hold NaN or inf"
                                            r".*NaN or infinite values in the training data or .*weights"):
        training.fit_task(nan_model(weights), tasks["A"], epochs=3)
    # With a penalty the message names its lam as a likely cause too.
    with pytest.raises(TrainingError, match=r"lam 5\b.*NaN or infinite values"):
        training.fit_task(nan_model(weights), tasks["A"], epochs=1, penalties=[penalties.l2_penalty(model_at(weights), 5.0)])


def test_a_nan_in_the_data_stops_training_at_the_first_bad_batch(after_a, tasks):
    import tensorflow as tf

    weights, _ = after_a
    model = model_at(weights)
    x, y = tasks["B"].arrays("train")
    x = x.copy()
    x[300, 10, 10, 0] = np.nan  # in the third batch of 128
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(128)
    seen = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    with pytest.raises(TrainingError, match=r"task B stopped at epoch 1, batch 3: .*NaN or inf.*training data"):
        model.fit(ds, epochs=2, verbose=0, callbacks=[training.StopOnNonFinite("B"), Count()])
    assert seen == [0, 1]  # stopped at once, before any later batch


def test_weights_turned_nan_by_a_finite_loss_batch_stop_at_that_batch(after_a, tasks):
    """The article's norm penalty has a NaN gradient at the anchor: batch 1's loss is finite,
    yet its update writes NaN into every weight. The guard stops at batch 1 (not at batch 2,
    where the loss would first be NaN) and names the finite loss of batch 1."""
    weights, _ = after_a
    model = model_at(weights)
    with pytest.raises(TrainingError, match=r"task B stopped at epoch 1, batch 1: the loss is \d[\d.e+-]* "
                                            r"and 4 weight arrays hold NaN or inf; likely cause: a penalty"):
        training.fit_task(model, tasks["B"], epochs=1, penalties=[penalties.article_l2_penalty(model_at(weights))])


def test_the_guard_reads_no_weights_per_batch_on_a_build_mlp_model(after_a, tasks):
    """On a build_mlp model the weights' check runs inside the compiled step: the guard's own
    per-batch reduction over the weights (the path for other models) is never called."""
    weights, _ = after_a
    calls = []

    class Counting(training.StopOnNonFinite):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            check = self._all_finite
            self._all_finite = lambda: calls.append(1) or check()

    model = model_at(weights)
    model.fit(tasks["B"].dataset("train"), epochs=1, verbose=0, callbacks=[Counting("B")])
    assert calls == []
    plain = keras.Sequential(model.layers)  # no in-graph check: the guard reduces after every batch
    plain.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain.fit(tasks["B"].dataset("train").take(3), epochs=1, verbose=0, callbacks=[Counting("B")])
    assert len(calls) == 3
