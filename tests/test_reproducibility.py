"""set_seed makes a short training run repeatable, weight for weight."""

from __future__ import annotations

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
from ewc_helpers import models, training
from ewc_helpers.reproducibility import set_seed


def train_once(seed, task):
    set_seed(seed)
    model = models.build_mlp()
    initial = [w.copy() for w in model.get_weights()]
    training.fit_task(model, task, epochs=1)
    return initial, model.get_weights()


def test_same_seed_gives_identical_weights_and_other_seed_does_not(tasks):
    init_a, final_a = train_once(0, tasks["A"])
    init_b, final_b = train_once(0, tasks["A"])
    assert len(final_a) == len(final_b) == 4  # two Dense layers: kernel and bias each
    for wa, wb in zip(init_a, init_b):
        assert np.array_equal(wa, wb)
    for wa, wb in zip(final_a, final_b):
        assert np.array_equal(wa, wb)
    # Training did change the weights, so the equality above is not the trivial kind.
    assert any(not np.array_equal(i, f) for i, f in zip(init_a, final_a))

    init_c, final_c = train_once(1, tasks["A"])
    assert not np.array_equal(init_c[0], init_a[0])
    assert not np.array_equal(final_c[0], final_a[0])


def draws():
    import random

    import tensorflow as tf

    return (np.random.rand(3), random.random(), tf.random.uniform([3]).numpy())


def test_set_seed_seeds_python_numpy_and_tensorflow():
    set_seed(3)
    first = draws()
    set_seed(3)
    second = draws()
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]
    np.testing.assert_array_equal(first[2], second[2])  # TensorFlow's global seed is set too
    set_seed(4)
    other = draws()
    assert not np.array_equal(other[0], first[0])
    assert other[1] != first[1]
    assert not np.array_equal(other[2], first[2])


@pytest.mark.parametrize("bad", [-1, 1.5])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        set_seed(bad)
