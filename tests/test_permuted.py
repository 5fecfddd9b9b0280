"""Permuted MNIST tasks (ewc_helpers.tasks.make_permuted_tasks) and the ``--suite permuted`` options.

No training here: these run in about a second.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
from ewc_helpers import __main__ as cli
from ewc_helpers import sources, tasks as task_lib


@pytest.fixture(scope="module")
def permuted(embedded_mnist):
    return task_lib.make_permuted_tasks(embedded_mnist, 4, seed=0)


def flat(x):
    return x.reshape(len(x), -1)


# --------------------------------------------------------------------------- permutations
def test_same_seed_same_permutations_different_seed_different(embedded_mnist, permuted):
    again = task_lib.make_permuted_tasks(embedded_mnist, 4, seed=0)
    other = task_lib.make_permuted_tasks(embedded_mnist, 4, seed=1)
    for a, b, c in zip(permuted, again, other):
        np.testing.assert_array_equal(a.permutation, b.permutation)
        assert not np.array_equal(a.permutation, c.permutation)
    # Task t does not depend on how many tasks were asked for.
    for a, b in zip(permuted, task_lib.make_permuted_tasks(embedded_mnist, 2, seed=0)):
        np.testing.assert_array_equal(a.permutation, b.permutation)


def test_each_permutation_is_a_permutation_of_the_pixels(permuted):
    for task in permuted:
        assert task.permutation.shape == (784,)
        np.testing.assert_array_equal(np.sort(task.permutation), np.arange(784))
        assert not task.permutation.flags.writeable  # a task's permutation cannot drift
        assert not np.array_equal(task.permutation, np.arange(784))


def test_different_tasks_differ(permuted):
    x0 = flat(permuted[0].arrays("test")[0])
    for a, b in itertools.combinations(permuted, 2):
        assert not np.array_equal(a.permutation, b.permutation)
        # Most pixel positions hold a different original pixel in the two tasks.
        assert np.mean(a.permutation != b.permutation) > 0.99
        assert not np.array_equal(flat(a.arrays("test")[0]), flat(b.arrays("test")[0]))
    assert x0.shape == (1000, 784)


def test_names_and_first_identity(embedded_mnist):
    tasks = task_lib.make_permuted_tasks(embedded_mnist, 3, seed=0, first_identity=True)
    assert [t.name for t in tasks] == ["P1", "P2", "P3"]
    np.testing.assert_array_equal(tasks[0].permutation, np.arange(784))
    x, _ = tasks[0].arrays("test")
    np.testing.assert_array_equal(x, task_lib.scale_images(embedded_mnist.test.images))
    assert not np.array_equal(tasks[1].permutation, np.arange(784))


# --------------------------------------------------------------------------- labels and splits
def test_labels_are_the_ten_digits(embedded_mnist, permuted):
    for task in permuted:
        assert task.num_classes == 10 and tuple(task.digits) == tuple(range(10))
        for split in ("train", "val", "test"):
            part = task.split(split)
            assert sorted(np.unique(part.labels).tolist()) == list(range(10))
            np.testing.assert_array_equal(part.labels, part.digits)  # the label is the digit
        np.testing.assert_array_equal(task.test.labels, embedded_mnist.test.labels)
        assert len(task.train) + len(task.val) == len(embedded_mnist.train)
        assert task.counts() == permuted[0].counts()


def test_tasks_share_the_validation_hold_out_of_tasks_a_and_b(embedded_mnist, permuted, tasks):
    multi = tasks["multi"]
    for task in permuted:
        np.testing.assert_array_equal(task.val.images, multi.val.images)
        np.testing.assert_array_equal(task.val.labels, multi.val.digits)


# --------------------------------------------------------------------------- applying the permutation
@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_arrays_apply_the_permutation(permuted, split):
    for task in permuted[:2]:
        x, y = task.arrays(split)
        part = task.split(split)
        original = flat(part.images.astype(np.float32) / 255.0)
        assert x.shape == part.images.shape and x.dtype == np.float32
        np.testing.assert_array_equal(flat(x), original[:, task.permutation])
        # Every image holds exactly the original image's pixel values, moved.
        np.testing.assert_array_equal(np.sort(flat(x), axis=1), np.sort(original, axis=1))
        np.testing.assert_array_equal(y, part.labels)


def test_dataset_matches_arrays(permuted):
    task = permuted[1]
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in task.dataset("test", batch_size=256)])
    x, y = task.arrays("test")
    np.testing.assert_array_equal(np.concatenate(xs), x)
    np.testing.assert_array_equal(np.concatenate(ys), y)


def test_shuffled_training_dataset_holds_the_permuted_images(permuted):
    task = permuted[2]
    x, y = task.arrays("train")
    batch_x, batch_y = next(iter(task.dataset("train", batch_size=64, seed=3)))
    batch_x, batch_y = np.asarray(batch_x), np.asarray(batch_y)
    # Each shuffled example is one of the task's permuted training images, with its own label.
    lookup = {flat(x)[i].tobytes(): int(y[i]) for i in range(len(y))}
    assert all(lookup.get(img.tobytes()) == label for img, label in zip(flat(batch_x), batch_y))


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("num_tasks", [0, -2, 2.5, "3", None, True])
def test_bad_num_tasks_raises(embedded_mnist, num_tasks):
    with pytest.raises(sources.DataError, match="num_tasks must be a positive integer"):
        task_lib.make_permuted_tasks(embedded_mnist, num_tasks)


@pytest.mark.parametrize("seed", [-1, 0.5, "0"])
def test_bad_seed_raises(embedded_mnist, seed):
    with pytest.raises(sources.DataError, match="seed must be a non-negative integer"):
        task_lib.make_permuted_tasks(embedded_mnist, 2, seed=seed)


@pytest.mark.parametrize("permutation", [np.arange(783), np.zeros(784, int), np.arange(784).reshape(28, 28)])
def test_scale_images_refuses_a_bad_permutation(embedded_mnist, permutation):
    with pytest.raises(sources.DataError, match="permutation"):
        task_lib.scale_images(embedded_mnist.test.images[:3], permutation)


def test_scale_images_handles_an_empty_batch(permuted):
    empty = np.zeros((0, 28, 28, 1), np.uint8)
    assert task_lib.scale_images(empty, permuted[0].permutation).shape == (0, 28, 28, 1)


# --------------------------------------------------------------------------- command line
@pytest.mark.parametrize("argv, message", [
    (["--gamma", "0"], "expected a number in (0, 1]"),
    (["--gamma", "1.5"], "expected a number in (0, 1]"),
    (["--gamma", "nan"], "expected a number in (0, 1]"),
    (["--tasks", "0"], "expected a positive integer"),
    (["--tasks", "1"], "a task sequence needs at least 2 tasks"),
    (["--tasks", "three"], "expected a positive integer"),
])
def test_permuted_suite_bad_options_exit_with_a_message(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reproduce", "--suite", "permuted", "--data", "embedded", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "usage: python -m ewc_helpers reproduce" in err


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "3"], "--tasks applies only to --suite permuted"),
    (["--tasks", "3", "--gamma", "0.5"], "--tasks and --gamma apply only to --suite permuted"),
    (["--full-grid"], "--full-grid applies only to --suite permuted"),
])
def test_sequence_options_are_refused_for_the_article_suite(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reproduce", "--data", "embedded", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_permuted_defaults_are_the_documented_ones():
    """--help shows the defaults without importing the studies; they must match the studies'."""
    import inspect

    from ewc_helpers.studies import sequences

    assert cli.PERMUTED_EPOCHS == sequences.PERMUTED_SETUP.epochs_per_task
    assert cli.PERMUTED_TASKS == inspect.signature(sequences.run_permuted_suite).parameters["num_tasks"].default
    args = cli.build_parser().parse_args(["reproduce", "--suite", "permuted"])
    cli._check_suite_options(args.subparser, args)
    assert (args.tasks, args.gamma, args.epochs) == (cli.PERMUTED_TASKS, 1.0, sequences.PERMUTED_SETUP.epochs_per_task)
