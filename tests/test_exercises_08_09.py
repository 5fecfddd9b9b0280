"""Lessons 08 and 09's exercise checks accept a right answer, reject wrong ones with a message
naming what differs, and never raise on an unfilled stub."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ewc_helpers.exercises import check_fisher_quadratic, check_penalty_descent
from ewc_helpers.studies import movement


# --------------------------------------------------------------------------- lesson 08: quadratic forms
def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _logit_change(weights, delta, x, eps=1e-5):
    plus = movement.mlp_logits([w + eps * d for w, d in zip(weights, delta)], x)
    minus = movement.mlp_logits([w - eps * d for w, d in zip(weights, delta)], x)
    return (plus - minus) / (2 * eps)


def right_forms(weights, delta, x, diagonal_fisher):
    u, p = _logit_change(weights, delta, x), _softmax(movement.mlp_logits(weights, x))
    full = 0.5 * np.mean(np.sum(p * u ** 2, 1) - np.sum(p * u, 1) ** 2)
    return full, 0.5 * sum(np.sum(f * d ** 2) for f, d in zip(diagonal_fisher, delta))


def second_moment_only(weights, delta, x, diagonal_fisher):
    u, p = _logit_change(weights, delta, x), _softmax(movement.mlp_logits(weights, x))
    return 0.5 * np.mean(np.sum(p * u ** 2, 1)), right_forms(weights, delta, x, diagonal_fisher)[1]


def test_quadratic_right_answer(capsys):
    assert check_fisher_quadratic(right_forms)
    assert "right:" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, words", [
    (second_moment_only, "covariance"),
    (lambda w, d, x, f: tuple(2 * v for v in right_forms(w, d, x, f)), "(1/2) sum F d^2"),
    (lambda w, d, x, f: (2 * right_forms(w, d, x, f)[0], right_forms(w, d, x, f)[1]), "(1/2) d^T F d"),
    (lambda w, d, x, f: (right_forms(w, d, x, f)[1],) * 2, "diagonal form again"),
    (lambda w, d, x, f: right_forms(w, d, x, f)[0], "two numbers"),
])
def test_quadratic_wrong_answers(wrong, words):
    check = check_fisher_quadratic(wrong, verbose=False)
    assert not check.passed and words in check.message


def test_quadratic_unfilled_stub():
    def stub(weights, delta, x, diagonal_fisher):
        raise NotImplementedError

    check = check_fisher_quadratic(stub, verbose=False)
    assert not check and "not filled in" in check.message


# --------------------------------------------------------------------------- lesson 09: SGD on the penalty
def right_descent(deviation, lr, lam, fisher, steps):
    """Plain SGD on the penalty, as a Keras optimizer takes it: the mechanism the lesson teaches."""
    theta_a = tf.zeros_like(deviation)
    theta = tf.Variable(deviation)
    sgd = keras.optimizers.SGD(learning_rate=lr)
    out = [theta.numpy().copy()]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            penalty = lam / 2 * tf.reduce_sum(fisher * (theta - theta_a) ** 2)
        sgd.apply_gradients([(tape.gradient(penalty, theta), theta)])
        out.append(theta.numpy().copy())
    return np.array(out)


def half_gradient(deviation, lr, lam, fisher, steps):
    out = [deviation]
    for _ in range(steps):
        out.append(out[-1] * (1 - lr * lam * fisher / 2))
    return np.array(out)


def test_descent_right_answer():
    check = check_penalty_descent(right_descent, verbose=False)
    assert check.passed and "[2.5]" in check.message


@pytest.mark.parametrize("wrong, words", [
    (half_gradient, "lam F d"),
    (lambda d, lr, lam, f, s: half_gradient(d, lr, -2 * lam, f, s), "against the gradient"),
    (lambda d, lr, lam, f, s: right_descent(d, lr, lam, f, s)[1:], "row 0 must be the starting"),
    (lambda d, lr, lam, f, s: right_descent(d, 2 * lr, lam, f, s), "expected 1 - lr*lam*F"),
    (lambda d, lr, lam, f, s: None, "returns None"),
])
def test_descent_wrong_answers(wrong, words):
    check = check_penalty_descent(wrong, verbose=False)
    assert not check.passed and words in check.message


def test_descent_unfilled_stub():
    def stub(deviation, lr, lam, fisher, steps):
        raise NotImplementedError

    check = check_penalty_descent(stub, verbose=False)
    assert not check and "not filled in" in check.message
