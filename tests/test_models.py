"""ewc_helpers.models: the MLP, and one output layer serving as one head per task."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
import keras
import tensorflow as tf

from ewc_helpers import evaluation, models, reproducibility, tasks as task_lib, training


def gradients(model, x, y):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True), training=True)
    return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


@pytest.fixture()
def batch():
    rng = np.random.default_rng(0)
    return rng.random((32, 28, 28, 1)).astype(np.float32), rng.choice([3, 6], 32).astype(np.int64)


def test_build_mlp_is_the_articles_network():
    model = models.build_mlp()
    assert [tuple(v.shape) for v in model.trainable_variables] == [(784, 128), (128,), (128, 5), (5,)]
    assert model.active_classes is None and model.penalties == ()
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        models.build_mlp(dropout=1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        models.build_mlp(optimizer="rmsprop")


def test_set_active_classes_masks_the_gradients_of_other_output_units(batch):
    x, y = batch
    reproducibility.set_seed(0)
    model = models.build_mlp(num_classes=10, hidden_units=16)
    rng = np.random.default_rng(1)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    unmasked = gradients(model, x, y)
    model.set_active_classes((3, 6))
    assert model.active_classes == (3, 6)
    masked = gradients(model, x, y)
    others = [c for c in range(10) if c not in (3, 6)]
    assert np.all(masked[2][:, others] == 0) and np.all(masked[3][others] == 0)
    assert np.all(np.abs(unmasked[3][others]) > 0)  # without the mask every unit is pushed down
    assert np.abs(masked[2][:, [3, 6]]).max() > 0 and np.abs(masked[0]).max() > 0
    # The loss is a softmax over units 3 and 6 only: the same as a 2-unit head's.
    narrow = models.build_mlp(num_classes=2, hidden_units=16)
    w = model.get_weights()
    narrow.set_weights([w[0], w[1], w[2][:, [3, 6]], w[3][[3, 6]]])
    want = gradients(narrow, x, np.searchsorted([3, 6], y))
    np.testing.assert_allclose(masked[0], want[0], rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(masked[2][:, [3, 6]], want[2], rtol=1e-4, atol=1e-7)
    model.set_active_classes(None)
    for a, b in zip(gradients(model, x, y), unmasked):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


def test_set_active_classes_refuses_units_the_model_lacks():
    model = models.build_mlp(num_classes=5, hidden_units=4)
    with pytest.raises(ValueError, match=r"classes must be output units 0\.\.4; got \[3, 5\]"):
        model.set_active_classes((3, 5))
    with pytest.raises(ValueError, match="classes must be output units"):
        model.set_active_classes(())


def own_head_task(tasks, classes=(1, 3)):
    """Task A restricted to two of its labels, with those labels as its own head."""
    def part(split):
        keep = np.isin(split.labels, classes)
        return task_lib.TaskSplit(images=split.images[keep], labels=split.labels[keep], digits=split.digits[keep])

    a = tasks["A"]
    return dataclasses.replace(a, name="A13", train=part(a.train), val=part(a.val), test=part(a.test), classes=classes)


def test_fit_task_trains_only_the_tasks_own_head(tasks):
    task = own_head_task(tasks)
    reproducibility.set_seed(0)
    model = models.build_mlp(hidden_units=16)
    before = model.get_weights()
    training.fit_task(model, task, epochs=1)
    after = model.get_weights()
    assert model.active_classes == (1, 3)
    others = [0, 2, 4]
    np.testing.assert_array_equal(after[2][:, others], before[2][:, others])
    np.testing.assert_array_equal(after[3][others], before[3][others])
    assert not np.array_equal(after[2][:, [1, 3]], before[2][:, [1, 3]])
    # accuracy honours the head: it chooses between units 1 and 3 only.
    logits = model(task.arrays("test")[0]).numpy()
    want = np.mean(np.array([1, 3])[np.argmax(logits[:, [1, 3]], axis=1)] == task.test.labels)
    assert evaluation.accuracy(model, task) == pytest.approx(want)
    # A plain Keras model cannot give a task its own head.
    plain = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    models.compile_model(plain)
    with pytest.raises(TypeError, match="task A13 has its own head: train it on a model made by build_mlp"):
        training.fit_task(plain, task, epochs=1)


def test_weights_finite_is_exact():
    """One sum per variable, with an exact elementwise test when a sum is not finite: finite
    values whose sum overflows float32 count as finite; a NaN or an infinity anywhere does not."""
    big = tf.Variable(np.full(1000, 3e37, np.float32))  # sum 3e40 overflows float32
    small = tf.Variable(np.zeros(5, np.float32))
    assert bool(models.weights_finite([big, small]))
    for bad in (np.nan, np.inf, -np.inf):
        values = np.zeros(5, np.float32)
        values[3] = bad
        assert not bool(models.weights_finite([big, tf.Variable(values)]))


def test_train_step_reports_nan_when_a_weight_turns_nan_while_the_loss_is_finite(batch):
    """The gradient of a norm at its anchor is 0/0: the first step writes NaN into the kernel
    although that batch's loss is finite. The step's reported loss says NaN; the loss tracker
    keeps the finite loss; a healthy step reports the loss itself."""
    x, y = batch
    reproducibility.set_seed(0)
    model = models.build_mlp(num_classes=10)
    healthy = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(healthy["loss"])
    anchor = tf.constant(model.trainable_variables[0].numpy())
    model.set_penalties([lambda variables: tf.norm(variables[0] - anchor)])  # 0 here, gradient NaN
    logs = model.train_on_batch(x, y, return_dict=True)
    assert not np.all(np.isfinite(model.trainable_variables[0].numpy()))
    assert np.isnan(logs["loss"])
    tracker = next(m for m in model.metrics if m.name == "loss")
    assert np.isfinite(float(tracker.result()))


def test_setting_the_same_penalties_again_keeps_the_compiled_step(batch):
    """fit_task sets the task's penalties on every call: the same penalty objects keep the traced
    train step; other ones make fit trace a new step that holds them."""
    x, y = batch
    model = models.build_mlp(num_classes=10)
    penalty = lambda variables: 0.0 * tf.reduce_sum(variables[0])  # noqa: E731
    model.set_penalties([penalty])
    model.train_on_batch(x, y)
    step = model.train_function
    assert step is not None
    model.set_penalties([penalty])
    assert model.train_function is step
    model.set_penalties([lambda variables: 0.0 * tf.reduce_sum(variables[1])])
    assert model.train_function is None
