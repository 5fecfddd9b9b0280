"""The checks of lessons 10 and 11 accept a right answer, reject wrong ones with a message naming
what differs, and never raise on an unfilled stub."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ewc_helpers.exercises import check_masked_loss, check_online_ewc
from ewc_helpers.models import logit_offset


# --------------------------------------------------------------------------- online EWC (lesson 10)
def right_update(old, new, gamma):
    return list(new) if old is None else [gamma * o + n for o, n in zip(old, new)]


def right_penalty(variables, theta_star, fisher_star, lam, gamma):
    return lam / 2 * tf.add_n([tf.reduce_sum(gamma * f * (v - t) ** 2)
                               for v, t, f in zip(variables, theta_star, fisher_star)])


def library_form_penalty(variables, theta_star, fisher_star, lam, gamma):
    return lam / 2 * tf.add_n([tf.reduce_sum(f * (v - t) ** 2) for v, t, f in zip(variables, theta_star, fisher_star)])


def no_gamma_update(old, new, gamma):
    return list(new) if old is None else [o + n for o, n in zip(old, new)]


def dropped_old_update(old, new, gamma):
    return list(new)


def numpy_penalty(variables, theta_star, fisher_star, lam, gamma):  # right value, no gradient
    return np.float32(lam / 2 * sum(np.sum(gamma * f * (v.numpy() - t) ** 2)
                                    for v, t, f in zip(variables, theta_star, fisher_star)))


def stub(*args):
    raise NotImplementedError


def test_online_ewc_accepts_the_published_form():
    check = check_online_ewc(right_update, right_penalty, verbose=False)
    assert check and "match" in check.message


@pytest.mark.parametrize("update, penalty, words", [
    (right_update, library_form_penalty, "library's form"),
    (no_gamma_update, right_penalty, "gamma is missing"),
    (dropped_old_update, right_penalty, "old Fisher is dropped"),
    (right_update, numpy_penalty, "no gradient"),
    (stub, stub, "not filled in"),
])
def test_online_ewc_names_what_differs(update, penalty, words):
    check = check_online_ewc(update, penalty, verbose=False)
    assert not check and words in check.message


# --------------------------------------------------------------------------- masked loss (lesson 11)
def right_loss(logits, labels, units):
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
        labels, logits + logit_offset(units, logits.shape[-1]), from_logits=True))


def gather_loss(logits, labels, units):  # another right answer: softmax over the gathered units
    units = list(units)
    position = tf.constant([units.index(int(y)) for y in labels])
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
        position, tf.gather(logits, units, axis=1), from_logits=True))


def unmasked_loss(logits, labels, units):
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))


def summed_loss(logits, labels, units):
    return tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(
        labels, logits + logit_offset(units, logits.shape[-1]), from_logits=True))


@pytest.mark.parametrize("loss", [right_loss, gather_loss])
def test_masked_loss_accepts_right_answers(loss):
    assert check_masked_loss(loss, verbose=False)


@pytest.mark.parametrize("loss, words", [
    (unmasked_loss, "all 10 units"),
    (summed_loss, "sum over examples"),
    (stub, "not filled in"),
])
def test_masked_loss_names_what_differs(loss, words):
    check = check_masked_loss(loss, verbose=False)
    assert not check and words in check.message


# --------------------------------------------------------------------------- named results of lessons 10 and 11
def test_memory_held_names_each_tasks_memory():
    from ewc_helpers.studies import sequences
    from ewc_helpers.studies.common import Result

    r = Result("ewc", 1.0, {}, {}, info={"memory_history": [{"arrays": 4, "bytes": 2_000_000},
                                                            {"arrays": 8, "bytes": 4_000_000}]})
    held = sequences.memory_held(r)
    assert [h.arrays for h in held] == [4, 8] and held[1].megabytes == 4.0
    assert repr(held[0]) == "Held(4 arrays, 2.00 MB)"
    with pytest.raises(ValueError, match="no memory history"):
        sequences.memory_held(Result("joint", None, {}, {}))


def test_first_task_reads_as_attributes_and_as_before():
    from ewc_helpers.studies.sequences import FirstTask

    first = FirstTask("P1", 0, [np.zeros(2)], [0.9, 0.1], [0.88, 0.1])
    assert first.task == first["task"] == "P1" and first["test_row"] == [0.9, 0.1]
    assert "P1" in repr(first) and "0.900" in repr(first) and "array" not in repr(first)
    with pytest.raises(KeyError):
        first["nothing"]


def test_penalty_parts_are_named():
    from ewc_helpers import Anchor
    from ewc_helpers.studies import per_task_ewc

    rng = np.random.default_rng(0)
    anchors = [Anchor([rng.normal(size=(3, 2)).astype(np.float32)], [rng.random((3, 2)).astype(np.float32)])
               for _ in range(3)]
    parts = per_task_ewc.penalty_decomposition(anchors[-1], anchors, 2.0)
    assert parts.total == pytest.approx(parts.about_centre + parts.spread) and parts["total"] == parts.total
    assert len(parts.terms) == 3 and "about the centre" in repr(parts)


def test_suite_results_are_named():
    from ewc_helpers.studies import scenario_suite, scenarios

    r = scenarios.read_results(scenario_suite.shipped("scenarios_short_embedded.json"), "short")
    row = r.row("class", "ewc")
    assert row.label == "EWC" and set(row.per_seed["learning"]) == {0, 1, 2}
    assert r.per_seed("class", "ewc", "learning") == row.per_seed["learning"]
    assert r.lam("class", "ewc") > 0 and all(isinstance(f.holds, bool) for f in r.findings)
    assert "table" not in repr(r) and "short" in repr(r)
    with pytest.raises(KeyError, match="no method"):
        r.row("class", "nothing")


def test_sequence_sweep_draws_intervals_from_the_validation_digits():
    from types import SimpleNamespace

    import matplotlib.pyplot as plt

    from ewc_helpers import plots

    sweep = {"EWC": [SimpleNamespace(method="ewc", lam=lam, val_score=v) for lam, v in ((10, 0.8), (100, 0.9))]}
    fig = plots.sequence_sweep(sweep, val_digits=400)
    bars = [c for c in fig.axes[0].containers if c.has_yerr]
    segments = bars[0].lines[2][0].get_segments()
    assert [float(s[1, 1] - s[0, 1]) / 2 for s in segments] == pytest.approx(
        [1.96 * np.sqrt(0.8 * 0.2 / 400), 1.96 * np.sqrt(0.9 * 0.1 / 400)])
    plt.close(fig)
    with pytest.raises(ValueError, match="val_digits"):
        plots.sequence_sweep(sweep, val_digits=0)
