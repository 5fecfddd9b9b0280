"""The exercise checks accept a right answer, reject wrong ones with a message naming what differs,
and never raise on an unfilled stub."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ewc_helpers import build_mlp, fisher_data, set_seed
from ewc_helpers.exercises import (check_l2_penalty, check_loss_curve, check_output_layer_fisher,
                                   task_loss)


# --------------------------------------------------------------------------- loss curve (lesson 02)
class RightCurve(keras.callbacks.Callback):
    def __init__(self, tasks, every):
        super().__init__()
        self.tasks, self.every, self.records = tasks, every, []

    def record(self):
        self.records.append({"step": self.seen, **{k: task_loss(self.model, t) for k, t in self.tasks.items()}})

    def on_train_begin(self, logs=None):
        self.seen = 0
        self.record()

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen % self.every == 0:
            self.record()


class EveryBatch(RightCurve):
    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        self.record()


class AccuracyInstead(RightCurve):
    def record(self):
        from ewc_helpers import accuracy
        self.records.append({"step": self.seen, **{k: accuracy(self.model, t) for k, t in self.tasks.items()}})


class Stub(keras.callbacks.Callback):
    def __init__(self, tasks, every):
        super().__init__()
        self.records = []

    def on_train_batch_end(self, batch, logs=None):
        ...


def test_loss_curve_right_answer(tasks):
    assert check_loss_curve(RightCurve, tasks, verbose=False).passed


@pytest.mark.parametrize("wrong, words", [(EveryBatch, "records after"), (AccuracyInstead, "accuracy"),
                                          (Stub, "records is empty")])
def test_loss_curve_wrong_answers(tasks, wrong, words):
    check = check_loss_curve(wrong, tasks, verbose=False)
    assert not check.passed and words in check.message


def test_loss_curve_needs_task_b():
    with pytest.raises(ValueError, match="task 'B'"):
        check_loss_curve(RightCurve, {"A": None})


# --------------------------------------------------------------------------- L2 penalty (lesson 03)
def right_l2(variables, theta_a, lam):
    return lam / 2 * tf.add_n([tf.reduce_sum(tf.square(v - t)) for v, t in zip(variables, theta_a)])


@pytest.mark.parametrize("wrong, words", [
    (lambda v, t, lam: 2 * right_l2(v, t, lam), "lam / 2"),
    (lambda v, t, lam: lam / 2 * tf.add_n([tf.norm(a - b) for a, b in zip(v, t)]), "norms"),
    (lambda v, t, lam: [right_l2(v, t, lam)] * 2, "scalar"),
    (lambda v, t, lam: tf.constant(float(right_l2(v, t, lam))), "no gradient"),
    (lambda v, t, lam: None, "returns None"),
    (lambda v, t, lam: lam / 2 * sum(float(np.sum((np.asarray(a) - b) ** 2)) for a, b in zip(v, t)),
     "not a TensorFlow tensor"),
])
def test_l2_wrong_answers(wrong, words):
    check = check_l2_penalty(wrong, verbose=False)
    assert not check.passed and words in check.message


def test_l2_right_answer_and_unfilled_stub(capsys):
    assert check_l2_penalty(right_l2)
    assert "right:" in capsys.readouterr().out

    def stub(variables, theta_a, lam):
        raise NotImplementedError

    check = check_l2_penalty(stub)
    assert not check and "not filled in" in check.message


# --------------------------------------------------------------------------- output-layer Fisher (lesson 05)
def right_fisher(model, x, y):
    h = x
    for layer in model.layers[:-1]:
        h = layer(h)
    error = tf.one_hot(y, 5) - tf.nn.softmax(model.layers[-1](h))
    n = len(y)
    return (tf.einsum("ni,nj->ij", h ** 2, error ** 2) / n).numpy(), (tf.reduce_sum(error ** 2, 0) / n).numpy()


def batch_sum_fisher(model, x, y):
    with tf.GradientTape() as tape:
        log_lik = tf.reduce_sum(-keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True))
    grads = tape.gradient(log_lik, model.layers[-1].trainable_variables)
    return [g.numpy() ** 2 for g in grads]


def logit_not_log_prob_fisher(model, x, y):
    """The slip of squaring the gradient of the label's logit, log_softmax left out."""
    h = x
    for layer in model.layers[:-1]:
        h = layer(h)
    onehot = tf.one_hot(y, 5)
    n = len(y)
    return (tf.einsum("ni,nj->ij", h ** 2, onehot) / n).numpy(), (tf.reduce_sum(onehot, 0) / n).numpy()


@pytest.fixture(scope="module")
def small_model(tasks):
    set_seed(0)
    model = build_mlp(hidden_units=8)
    model.fit(tasks["A"].dataset("train"), epochs=1, verbose=0, shuffle=False)
    x, y = fisher_data(tasks["A"], "empirical", max_examples=64)
    return model, np.asarray(x), np.asarray(y)


def test_fisher_right_answer(small_model):
    assert check_output_layer_fisher(right_fisher, *small_model, verbose=False).passed


@pytest.mark.parametrize("wrong, words", [
    (batch_sum_fisher, "n times too large"),
    (lambda m, x, y: [f[:, :2] if f.ndim == 2 else f for f in right_fisher(m, x, y)], "shape"),
    (lambda m, x, y: [-f for f in right_fisher(m, x, y)], "negative"),
    (lambda m, x, y: None, "two arrays"),
    (lambda m, x, y: logit_not_log_prob_fisher(m, x, y), "log_softmax"),
])
def test_fisher_wrong_answers(small_model, wrong, words):
    check = check_output_layer_fisher(wrong, *small_model, verbose=False)
    assert not check.passed and words in check.message
