"""The disk cache of trained task-A models (ewc_helpers.studies.task_a_cache via train_task_a)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
from ewc_helpers import sources, tasks as task_lib
from ewc_helpers.studies import common, task_a_cache, two_tasks

SETUP = common.Setup(hidden_units=8, epochs_a=1)


@pytest.fixture(scope="module")
def small_mnist(embedded_mnist):
    """Every fourth embedded digit, so that each task-A fit takes a fraction of a second."""
    return sources.MNIST(train=embedded_mnist.train.take(slice(None, None, 4)),
                         test=embedded_mnist.test.take(slice(None, None, 4)), source="embedded", origin="quarter")


@pytest.fixture(scope="module")
def tasks(small_mnist):
    return task_lib.make_tasks(small_mnist)


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EWC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def count_fits(monkeypatch):
    calls = []
    real = two_tasks.fit_task

    def spy(*args, **kwargs):
        calls.append(args[1].name)
        return real(*args, **kwargs)

    monkeypatch.setattr(two_tasks, "fit_task", spy)
    return calls


def files(folder):
    return sorted(p.name for p in folder.glob("task_a-*.npz")) if folder.exists() else []


def test_second_call_loads_identical_weights(tasks, cache_dir, count_fits):
    first = two_tasks.train_task_a(tasks, SETUP)
    assert first.info["cached"] is False and count_fits == ["A"] and len(files(cache_dir)) == 1
    second = two_tasks.train_task_a(tasks, SETUP)
    assert second.info["cached"] is True and count_fits == ["A"]  # not trained again
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert second.val == first.val and second.test == first.test
    assert second.history == first.history and len(first.history["loss"]) == 1
    # The cached model is a usable task-A model: task B continues from it the same way.
    b1 = two_tasks.train_task_b(first.model, tasks, dataclasses.replace(SETUP, epochs_b=1))
    b2 = two_tasks.train_task_b(second.model, tasks, dataclasses.replace(SETUP, epochs_b=1))
    for a, b in zip(b1.model.get_weights(), b2.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_different_setup_or_data_misses(tasks, small_mnist, cache_dir, count_fits):
    base = two_tasks.train_task_a(tasks, SETUP)
    assert two_tasks.train_task_a(tasks, SETUP.with_seed(1)).info["cached"] is False
    assert two_tasks.train_task_a(tasks, SETUP, dropout=0.5).info["cached"] is False
    other_data = task_lib.make_tasks(small_mnist, seed=1)  # another validation hold-out
    assert two_tasks.train_task_a(other_data, SETUP).info["cached"] is False
    assert len(count_fits) == 4 and len(files(cache_dir)) == 4
    again = two_tasks.train_task_a(tasks, SETUP)
    assert again.info["cached"] is True and len(count_fits) == 4
    for a, b in zip(base.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Every field of the setup, dropout and epochs are in the key, and so are the training images
    # themselves, not only their count.
    a = tasks["A"]
    keys = {task_a_cache.key(a, SETUP), task_a_cache.key(a, SETUP, epochs=2),
            task_a_cache.key(a, dataclasses.replace(SETUP, learning_rate=2e-3)),
            task_a_cache.key(a, dataclasses.replace(SETUP, fisher="empirical"))}
    assert len(keys) == 4
    images = a.train.images.copy()
    images[0, 10, 10, 0] ^= 1
    changed = dataclasses.replace(a, train=task_lib.TaskSplit(images, a.train.labels, a.train.digits))
    assert task_a_cache.key(changed, SETUP) != task_a_cache.key(a, SETUP)
    assert task_a_cache.key(a, SETUP) == task_a_cache.key(tasks["A"], common.Setup(hidden_units=8, epochs_a=1))


def test_ewc_cache_off_always_trains(tasks, tmp_path, monkeypatch, count_fits):
    monkeypatch.setenv("EWC_CACHE", "0")
    assert task_a_cache.enabled() is False
    monkeypatch.setenv("EWC_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert task_a_cache.enabled() is False
    for _ in range(2):
        assert two_tasks.train_task_a(tasks, SETUP).info["cached"] is False
    assert count_fits == ["A", "A"]
    assert not (tmp_path / "xdg").exists()  # nothing written anywhere


def test_cache_false_and_callbacks_bypass_the_cache(tasks, cache_dir, count_fits):
    import keras

    two_tasks.train_task_a(tasks, SETUP, cache=False)
    assert files(cache_dir) == []
    two_tasks.train_task_a(tasks, SETUP)
    r = two_tasks.train_task_a(tasks, SETUP, callbacks=[keras.callbacks.Callback()])
    assert r.info["cached"] is False and count_fits == ["A", "A", "A"]


def test_a_corrupt_cache_file_is_rebuilt(tasks, cache_dir, count_fits):
    first = two_tasks.train_task_a(tasks, SETUP)
    (path,) = cache_dir.glob("task_a-*.npz")
    digest = path.name[len("task_a-"):-len(".npz")]
    whole = path.read_bytes()
    with np.load(path) as archive:
        without_w3 = {k: archive[k] for k in archive.files if k != "w3"}
    damages = {"garbage": lambda: path.write_bytes(b"not an npz at all" * 10),
               "truncated": lambda: path.write_bytes(whole[:200]),
               "empty": lambda: path.write_bytes(b""),
               "missing weight": lambda: np.savez(path, **without_w3)}
    for damage, spoil in damages.items():
        spoil()
        assert task_a_cache.load(digest) is None, damage
    rebuilt = two_tasks.train_task_a(tasks, SETUP)
    assert rebuilt.info["cached"] is False and count_fits == ["A", "A"]
    for a, b in zip(first.model.get_weights(), rebuilt.model.get_weights()):
        np.testing.assert_array_equal(a, b)  # same seed, same weights
    assert task_a_cache.load(digest) is not None  # the entry is whole again
    assert two_tasks.train_task_a(tasks, SETUP).info["cached"] is True


def test_an_unwritable_cache_only_costs_time(tasks, tmp_path, monkeypatch, count_fits):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("EWC_CACHE", str(blocker / "cache"))
    assert two_tasks.train_task_a(tasks, SETUP).info["cached"] is False
    assert two_tasks.train_task_a(tasks, SETUP).info["cached"] is False
    assert count_fits == ["A", "A"]


def test_clear(tasks, cache_dir):
    two_tasks.train_task_a(tasks, SETUP)
    assert task_a_cache.clear() == 1 and files(cache_dir) == []
