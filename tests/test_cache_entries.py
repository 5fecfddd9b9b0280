"""Issue 20 on the lesson caches: every entry describes itself and is checked when loaded (never
trusted, never left to fail forever); clear() deletes only what the cache wrote; the usual spellings
of "off" switch it off. Entries are written with store()/store_results(), so nothing trains here
except in the one end-to-end test."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
from ewc_helpers import sources, tasks as task_lib
from ewc_helpers.studies import common, task_a_cache, two_tasks

SETUP = common.Setup(hidden_units=8, epochs_a=1)


@pytest.fixture(scope="module")
def tasks(embedded_mnist):
    small = sources.MNIST(train=embedded_mnist.train.take(slice(None, None, 4)),
                          test=embedded_mnist.test.take(slice(None, None, 4)), source="embedded", origin="quarter")
    return task_lib.make_tasks(small)


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EWC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def weights(hidden=8, fill=0.5):
    return [np.full(s, fill, np.float32) for s in ((784, hidden), (hidden,), (hidden, 5), (5,))]


def said_rebuilt(capsys, reason):
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "computing it again" in line]
    assert len(lines) == 1 and reason in lines[0], out
    return lines[0]


# --------------------------------------------------------------------------- task-A models
def test_a_good_entry_loads(tasks, cache_dir):
    digest = task_a_cache.key(tasks["A"], SETUP)
    task_a_cache.store(digest, weights(), {"loss": [1.0]})
    got = task_a_cache.load(digest)
    assert got["history"] == {"loss": [1.0]} and [w.shape for w in got["weights"]] == [(784, 8), (8,), (8, 5), (5,)]


def test_nan_weights_are_rebuilt(tasks, cache_dir, capsys):
    digest = task_a_cache.key(tasks["A"], SETUP)
    bad = weights()
    bad[2][0, 0] = np.nan
    task_a_cache.store(digest, bad, {"loss": [1.0]})
    assert task_a_cache.load(digest) is None
    said_rebuilt(capsys, "not finite numbers")


def test_an_entry_of_another_setup_under_this_key_is_rebuilt(tasks, cache_dir, capsys):
    digest = task_a_cache.key(tasks["A"], SETUP)
    other = task_a_cache.key(tasks["A"], common.Setup(hidden_units=64, epochs_a=1))
    path = task_a_cache.store(other, weights(64), {"loss": [1.0]})
    os.replace(path, cache_dir / f"task_a-{digest}.npz")
    assert task_a_cache.load(digest) is None
    said_rebuilt(capsys, "holds the entry of another key")


def test_an_entry_that_describes_another_request_is_rebuilt(tasks, cache_dir, capsys):
    digest = task_a_cache.key(tasks["A"], SETUP)
    wanted = task_a_cache._REQUESTS[digest]
    task_a_cache._REQUESTS[digest] = {**wanted, "setup": {**wanted["setup"], "hidden_units": 64}}
    task_a_cache.store(digest, weights(64), {"loss": [1.0]})  # a writer that mixed up its keys
    task_a_cache._REQUESTS[digest] = wanted
    assert task_a_cache.load(digest) is None
    said_rebuilt(capsys, "computed for another setup")


def test_weights_of_the_wrong_shape_are_rebuilt(tasks, cache_dir, capsys):
    digest = task_a_cache.key(tasks["A"], SETUP)
    task_a_cache.store(digest, weights(64), {"loss": [1.0]})
    assert task_a_cache.load(digest, shapes=[w.shape for w in weights(8)]) is None
    said_rebuilt(capsys, "holds weights of shapes")


def test_an_older_entry_of_a_64_unit_model_is_rebuilt_not_a_keras_error(tasks, cache_dir, capsys):
    """End to end: the entry an older version wrote (no description) for another width, under
    this key, used to raise Keras' shape error on every run until deleted by hand."""
    digest = task_a_cache.key(tasks["A"], SETUP, dropout=SETUP.dropout, epochs=SETUP.epochs_a)
    cache_dir.mkdir(parents=True)
    w = weights(64)
    np.savez(cache_dir / f"task_a-{digest}.npz", num_weights=np.array(4), history=np.array("{}"),
             **{f"w{i}": a for i, a in enumerate(w)})
    result = two_tasks.train_task_a(tasks, SETUP)
    assert result.info["cached"] is False
    said_rebuilt(capsys, "does not describe itself")
    assert two_tasks.train_task_a(tasks, SETUP).info["cached"] is True  # rewritten: not failing forever


# --------------------------------------------------------------------------- sweeps
def sweep_rows(lams, value=0.9):
    return [{"method": "ewc", "lam": lam, "val": {"A": value, "B": value}, "test": {"A": value, "B": value},
             "label": f"lam={lam}"} for lam in lams]


def test_a_sweep_round_trips(cache_dir):
    digest = task_a_cache.results_key("sweep", [1.0, 10.0], np.arange(3))
    task_a_cache.store_results(digest, sweep_rows([1.0, 10.0]))
    assert task_a_cache.load_results(digest) == sweep_rows([1.0, 10.0])


@pytest.mark.parametrize("rows, reason", [
    ([], "holds no results"),
    (sweep_rows([1.0, 100.0]), "not over the grid asked for"),
    (sweep_rows([1.0, 10.0], value=float("nan")), "not finite"),
])
def test_a_bad_sweep_is_rebuilt(cache_dir, capsys, rows, reason):
    digest = task_a_cache.results_key("sweep", [1.0, 10.0], np.arange(3))
    task_a_cache.store_results(digest, rows)
    assert task_a_cache.load_results(digest) is None
    said_rebuilt(capsys, reason)


def test_a_sweep_of_another_grid_under_this_key_is_rebuilt(cache_dir, capsys):
    digest = task_a_cache.results_key("sweep", [1.0, 10.0], np.arange(3))
    other = task_a_cache.results_key("sweep", [1.0, 100.0], np.arange(3))
    task_a_cache.store_results(other, sweep_rows([1.0, 100.0]))
    os.replace(cache_dir / f"results-{other}.json", cache_dir / f"results-{digest}.json")
    assert task_a_cache.load_results(digest) is None
    said_rebuilt(capsys, "another key")


def test_an_older_unmarked_sweep_is_rebuilt(cache_dir, capsys):
    digest = task_a_cache.results_key("sweep", [1.0, 10.0])
    cache_dir.mkdir(parents=True)
    (cache_dir / f"results-{digest}.json").write_text(json.dumps(sweep_rows([1.0, 10.0])))
    assert task_a_cache.load_results(digest) is None
    said_rebuilt(capsys, "does not describe itself")


# --------------------------------------------------------------------------- clear, off
def test_clear_deletes_only_what_the_cache_wrote(tasks, cache_dir):
    digest = task_a_cache.key(tasks["A"], SETUP)
    task_a_cache.store(digest, weights(), {"loss": [1.0]})
    rdigest = task_a_cache.results_key("sweep", [1.0])
    task_a_cache.store_results(rdigest, sweep_rows([1.0]))
    (cache_dir / ".results-k2j4h5g6.tmp").write_text("{")  # left by a killed write: the cache's own
    (cache_dir / ".task_a-abcd_123.tmp").write_bytes(b"PK")
    mine = {"results-2024.json": "my results", f"results-{'0' * 32}.json": '{"mine": true}',
            f"task_a-{'1' * 32}.npz": "not an npz", "notes.txt": "hello"}
    for name, text in mine.items():
        (cache_dir / name).write_text(text)
    assert task_a_cache.clear() == 4
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(mine)
    assert all((cache_dir / n).read_text() == t for n, t in mine.items())


@pytest.mark.parametrize("word", ["false", "FALSE", "no", "No", "off", "0", "none", "disabled"])
def test_the_usual_spellings_of_off(tmp_path, monkeypatch, word):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("EWC_CACHE", word)
    assert task_a_cache.enabled() is False
    assert task_a_cache.folder() == tmp_path / "xdg" / "ewc_helpers"  # never a folder named "false"


@pytest.mark.parametrize("word", ["true", "yes", "on", "1"])
def test_the_usual_spellings_of_on(tmp_path, monkeypatch, word):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("EWC_CACHE", word)
    assert task_a_cache.enabled() is True and task_a_cache.folder() == tmp_path / "xdg" / "ewc_helpers"
