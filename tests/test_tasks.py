"""ewc_helpers.tasks: tasks A, B and multi built on MNIST, their splits, and the tf.data pipeline."""

from __future__ import annotations

import collections
import hashlib
import math

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
from ewc_helpers import sources, tasks as task_lib


def fingerprints(images, labels):
    """One hash per example (pixels + digit), to compare splits as multisets of examples."""
    return [hashlib.sha1(img.tobytes() + bytes([int(d)])).hexdigest() for img, d in zip(images, labels)]


def batches_of(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return xs, ys


def epoch_order(ds):
    """A per-example signature of one pass: label and pixel sum of each example, in order."""
    xs, ys = batches_of(ds)
    x, y = np.concatenate(xs), np.concatenate(ys)
    return np.stack([y.astype(np.float64), x.reshape(len(x), -1).sum(axis=1).astype(np.float64)], axis=1)


# --------------------------------------------------------------------------- bad input
def test_unknown_task_name(embedded_mnist):
    with pytest.raises(sources.DataError, match=r"unknown task 'C'.*'A'.*'B'.*'multi'"):
        task_lib.make_task(embedded_mnist, "C")


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_invalid_val_fraction(embedded_mnist, fraction):
    with pytest.raises(sources.DataError, match="val_fraction must be between 0 and 1"):
        task_lib.make_task(embedded_mnist, "A", val_fraction=fraction)


def test_unknown_split_name(tasks):
    with pytest.raises(sources.DataError, match=r"unknown split 'bogus'; choose one of \['train', 'val', 'test'\]"):
        tasks["A"].dataset("bogus")


def test_batch_size_must_be_positive(tasks):
    with pytest.raises(sources.DataError, match="batch_size must be at least 1"):
        tasks["A"].dataset("test", batch_size=0)


# --------------------------------------------------------------------------- tasks
def test_task_digits(tasks):
    expected = {"A": {0, 2, 4, 6, 8}, "B": {1, 3, 5, 7, 9}, "multi": set(range(10))}
    assert set(tasks) == set(expected)
    for name, digits in expected.items():
        for split in ("train", "val", "test"):
            part = tasks[name].split(split)
            assert set(np.unique(part.digits).tolist()) == digits, (name, split)


def test_task_labels_are_integer_half_digits(tasks):
    for task in tasks.values():
        assert task.num_classes == 5
        for split in ("train", "val", "test"):
            part = task.split(split)
            assert np.issubdtype(part.labels.dtype, np.integer)
            np.testing.assert_array_equal(part.labels, [d // 2 for d in part.digits.tolist()])
            assert part.images.dtype == np.uint8 and part.images.shape[1:] == (28, 28, 1)
            assert len(part.images) == len(part.labels) == len(part.digits)
        x, y = task.arrays("test")
        assert np.issubdtype(y.dtype, np.integer)


def test_task_counts_add_up(tasks, embedded_mnist):
    train_digits = embedded_mnist.train.labels
    test_digits = embedded_mnist.test.labels
    n_even_train = int(np.sum(train_digits % 2 == 0))
    n_even_test = int(np.sum(test_digits % 2 == 0))
    a, b, multi = tasks["A"].counts(), tasks["B"].counts(), tasks["multi"].counts()
    assert multi["train"] + multi["val"] == len(train_digits)
    assert multi["test"] == len(test_digits)
    assert a["train"] + a["val"] == n_even_train
    assert b["train"] + b["val"] == len(train_digits) - n_even_train
    assert a["test"] == n_even_test and b["test"] == len(test_digits) - n_even_test
    for split in ("train", "val", "test"):
        assert a[split] + b[split] == multi[split]


def test_validation_is_disjoint_from_train_and_together_they_are_mnist_train(tasks, embedded_mnist):
    source = fingerprints(embedded_mnist.train.images, embedded_mnist.train.labels)
    assert len(set(source)) == len(source)  # no duplicate examples, so fingerprints identify rows
    multi = tasks["multi"]
    train = fingerprints(multi.train.images, multi.train.digits)
    val = fingerprints(multi.val.images, multi.val.digits)
    assert not set(train) & set(val)
    assert collections.Counter(train) + collections.Counter(val) == collections.Counter(source)
    test = fingerprints(multi.test.images, multi.test.digits)
    assert not set(test) & (set(train) | set(val))


def test_a_and_b_share_the_multi_validation_hold_out(tasks):
    a = fingerprints(tasks["A"].val.images, tasks["A"].val.digits)
    b = fingerprints(tasks["B"].val.images, tasks["B"].val.digits)
    multi = fingerprints(tasks["multi"].val.images, tasks["multi"].val.digits)
    assert collections.Counter(a) + collections.Counter(b) == collections.Counter(multi)


@pytest.mark.parametrize("fraction", [0.1, 0.25])
def test_validation_is_stratified(embedded_mnist, fraction):
    task = task_lib.make_task(embedded_mnist, "multi", val_fraction=fraction)
    totals = collections.Counter(embedded_mnist.train.labels.tolist())
    val = collections.Counter(task.val.digits.tolist())
    for digit in range(10):
        share = val[digit] / totals[digit]
        assert abs(share - fraction) <= 1 / totals[digit], (digit, share)


def test_tasks_are_deterministic_per_seed(embedded_mnist, tasks):
    again = task_lib.make_tasks(embedded_mnist, seed=0)
    for name in tasks:
        for split in ("train", "val", "test"):
            np.testing.assert_array_equal(again[name].split(split).images, tasks[name].split(split).images)
            np.testing.assert_array_equal(again[name].split(split).labels, tasks[name].split(split).labels)
    other = task_lib.make_tasks(embedded_mnist, seed=1)
    before = set(fingerprints(tasks["multi"].val.images, tasks["multi"].val.digits))
    after = set(fingerprints(other["multi"].val.images, other["multi"].val.digits))
    assert before != after
    assert len(after) == len(before)  # same size, other examples
    # The test split never depends on the seed.
    np.testing.assert_array_equal(other["A"].test.images, tasks["A"].test.images)


# --------------------------------------------------------------------------- pipeline
def test_pipeline_scales_to_unit_float32_without_reordering_test(tasks):
    task = tasks["A"]
    xs, ys = batches_of(task.dataset("test"))  # test is not shuffled by default
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.99
    np.testing.assert_allclose(x, task.test.images.astype(np.float64) / 255.0, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(y, task.test.labels)


def test_pipeline_batches_default_128(tasks):
    task = tasks["A"]
    n = len(task.train)
    xs, ys = batches_of(task.dataset("train"))
    assert len(xs) == math.ceil(n / 128)
    assert xs[0].shape == (128, 28, 28, 1)
    assert all(len(b) == 128 for b in xs[:-1])
    assert len(xs[-1]) == n - 128 * (len(xs) - 1)
    assert [len(b) for b in ys] == [len(b) for b in xs]
    xs50, _ = batches_of(task.dataset("train", batch_size=50))
    assert len(xs50[0]) == 50 and len(xs50) == math.ceil(n / 50)


def test_pipeline_keeps_labels_and_images_as_multisets(tasks):
    task = tasks["B"]
    xs, ys = batches_of(task.dataset("train", seed=3))
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert np.issubdtype(y.dtype, np.integer)
    assert collections.Counter(y.tolist()) == collections.Counter(task.train.labels.tolist())
    got = collections.Counter(fingerprints(np.round(x * 255).astype(np.uint8), y))
    want = collections.Counter(fingerprints(task.train.images, task.train.labels))
    assert got == want


def test_pipeline_reshuffles_every_epoch(tasks):
    ds = tasks["A"].dataset("train", seed=0)
    first, second = epoch_order(ds), epoch_order(ds)
    assert not np.array_equal(first, second)
    # Same examples, other order.
    np.testing.assert_array_equal(np.sort(first[:, 1]), np.sort(second[:, 1]))


def test_pipeline_order_is_reproducible_for_a_seed(tasks):
    a = tasks["A"].dataset("train", seed=7)
    b = tasks["A"].dataset("train", seed=7)
    a1, a2 = epoch_order(a), epoch_order(a)
    b1, b2 = epoch_order(b), epoch_order(b)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    c1 = epoch_order(tasks["A"].dataset("train", seed=8))
    assert not np.array_equal(a1, c1)


def test_unshuffled_train_pipeline_keeps_order(tasks):
    task = tasks["A"]
    order = epoch_order(task.dataset("train", shuffle=False))
    np.testing.assert_array_equal(order[:, 0], task.train.labels)


def test_article_shuffle_then_cache_freezes_the_order(tasks):
    """Why make_pipeline caches *before* shuffling: the article's shuffle().cache() replays the
    first epoch's order in every later epoch, while ours draws a new order each epoch."""
    import tensorflow as tf

    task = tasks["A"]
    x, y = task.arrays("train")
    article = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).cache().batch(128)
    a1, a2, a3 = epoch_order(article), epoch_order(article), epoch_order(article)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(a1, a3)
    assert not np.array_equal(a1[:, 0], y)  # it did shuffle, once

    ours = task_lib.make_pipeline(task.train.images, task.train.labels, seed=0)
    o1, o2 = epoch_order(ours), epoch_order(ours)
    assert not np.array_equal(o1, o2)


def test_article_pipeline_helper_replays_its_first_order(tasks):
    task = tasks["A"]
    article = task_lib.article_pipeline(task.train.images, task.train.labels, seed=0)
    ours = task_lib.make_pipeline(task.train.images, task.train.labels, seed=0)
    article_orders = task_lib.epoch_orders(article, epochs=3, n=40)
    our_orders = task_lib.epoch_orders(ours, epochs=3, n=40)
    assert len(article_orders) == 3 and all(len(o) == 40 for o in article_orders)
    assert article_orders[0] == article_orders[1] == article_orders[2]
    assert article_orders[0] != task.train.labels[:40].tolist()  # shuffled, once
    assert our_orders[0] != our_orders[1] and our_orders[1] != our_orders[2]


# --------------------------------------------------------------------------- TaskSplit checks
def test_task_split_refuses_float_images_labels_and_lengths(tasks):
    part = tasks["A"].test
    images = part.images.astype(np.float32) / 255.0
    images[0, 5, 5, 0] = np.nan
    with pytest.raises(sources.DataError, match="task images must be uint8 pixels 0-255 .*got dtype float32"):
        task_lib.TaskSplit(images=images, labels=part.labels, digits=part.digits)
    with pytest.raises(sources.DataError, match=r"task images must have shape \(N, height, width, channels\)"):
        task_lib.TaskSplit(images=part.images[..., 0], labels=part.labels, digits=part.digits)
    with pytest.raises(sources.DataError, match="task labels must be a 1-D integer array; got float64"):
        task_lib.TaskSplit(images=part.images, labels=part.labels.astype(np.float64), digits=part.digits)
    with pytest.raises(sources.DataError, match="as many images as labels and digits"):
        task_lib.TaskSplit(images=part.images, labels=part.labels[:-1], digits=part.digits)


def test_with_train_subset_keeps_a_stratified_random_subset(tasks):
    from ewc_helpers.tasks import with_train_subset

    task = tasks["multi"]
    assert with_train_subset(task, len(task.train)) is task  # nothing to drop
    small = with_train_subset(task, 500, seed=1)
    assert abs(len(small.train) - 500) <= 5
    assert small.val is task.val and small.test is task.test
    full_share = np.bincount(task.train.labels) / len(task.train)
    small_share = np.bincount(small.train.labels) / len(small.train)
    np.testing.assert_allclose(small_share, full_share, atol=0.01)
    again, other = with_train_subset(task, 500, seed=1), with_train_subset(task, 500, seed=2)
    assert np.array_equal(again.train.images, small.train.images)
    assert not np.array_equal(other.train.images, small.train.images)
    with pytest.raises(sources.DataError, match="max_examples must be a positive integer"):
        with_train_subset(task, 0)
