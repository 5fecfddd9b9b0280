"""Task sequences (ewc_helpers.studies.sequences.run_sequence) and what each method holds in memory.

Everything trains a 784-16-10 MLP for one epoch per task on a quarter of the embedded digits, so
the whole module runs in about half a minute on 2 CPU cores.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
from ewc_helpers import _cli, models, penalties, sources, tasks as task_lib, training
from ewc_helpers.penalties import PenaltyError
from ewc_helpers.studies import common, sequences

FISHER_EXAMPLES = 100
SETUP = common.Setup(hidden_units=16, batch_size=128, fisher_examples=FISHER_EXAMPLES).with_epochs(1)


@pytest.fixture(scope="module")
def small_mnist(embedded_mnist):
    """Every fourth embedded digit: 1,000 train and 250 test digits, all ten classes."""
    return sources.MNIST(train=embedded_mnist.train.take(slice(None, None, 4)),
                         test=embedded_mnist.test.take(slice(None, None, 4)),
                         source="embedded", origin="every fourth embedded digit")


@pytest.fixture(scope="module")
def seq_tasks(small_mnist):
    return task_lib.make_permuted_tasks(small_mnist, 3, seed=0)


@pytest.fixture(scope="module")
def runs(seq_tasks):
    """3-task runs of per-task and online EWC (gamma 1 and 0.5), all with lam = 0 so that their
    weights follow the same path, and a record of the data each Fisher was estimated on."""
    first = sequences.train_first_task(seq_tasks, SETUP)
    seen, original = [], training.fisher_data

    def spy(task, method="exact", **kwargs):
        x, y = original(task, method, **kwargs)
        seen.append((task.name, kwargs.get("max_examples"), len(y)))
        return x, y

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "fisher_data", spy)
        out = {"online_ewc": sequences.run_sequence(seq_tasks, SETUP, "online_ewc", lam=0.0, first=first)}
    out["fisher_calls"] = seen
    out["ewc"] = sequences.run_sequence(seq_tasks, SETUP, "ewc", lam=0.0, first=first)
    # gamma 0.5, and the last task not consolidated: F = 0.5 F1 + F2
    out["online_half"] = sequences.run_sequence(seq_tasks, SETUP, "online_ewc", lam=0.0, gamma=0.5,
                                                first=first, consolidate_last=False)
    out["first"] = first
    return out


def num_params(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


# --------------------------------------------------------------------------- the running Fisher
def test_lam_zero_runs_follow_the_same_weights(runs):
    """The precondition of the next tests: with lam = 0 the methods train the same weights."""
    ref = runs["ewc"].model.get_weights()
    for name in ("online_ewc", "online_half"):
        for a, b in zip(runs[name].model.get_weights(), ref):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(runs[name].matrix.values, runs["ewc"].matrix.values)


def test_online_ewc_with_gamma_one_is_the_sum_of_the_per_task_fishers(runs):
    per_task = runs["ewc"].info["anchors"]
    online = runs["online_ewc"].info["anchors"]
    assert [a.task for a in per_task] == ["P1", "P2", "P3"] and len(online) == 1
    assert online[0].task == "P1+P2+P3"
    for k, got in enumerate(online[0].fisher):
        want = sum(np.asarray(a.fisher[k], np.float64) for a in per_task)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-12)
    # The running anchor is centred on the latest weights, the last per-task anchor's theta*.
    for got, want in zip(online[0].theta, per_task[-1].theta):
        np.testing.assert_array_equal(got, want)


def test_online_ewc_decays_older_fishers_by_gamma(runs):
    f1, f2, _ = (a.fisher for a in runs["ewc"].info["anchors"])
    (online,) = runs["online_half"].info["anchors"]
    assert runs["online_half"].info["gamma"] == 0.5
    assert online.task == "P1+P2"  # consolidate_last=False: the last task is not folded in
    for k, got in enumerate(online.fisher):
        np.testing.assert_allclose(got, 0.5 * f1[k].astype(np.float64) + f2[k], rtol=1e-5, atol=1e-12)


def test_online_ewc_uses_only_the_task_just_learnt(runs):
    """The Fisher after task k is estimated from task k's data alone, on setup.fisher_examples
    random training examples: no old task's data is needed."""
    assert runs["fisher_calls"] == [(name, FISHER_EXAMPLES, FISHER_EXAMPLES) for name in ("P1", "P2", "P3")]
    assert [a.num_examples for a in runs["ewc"].info["anchors"]] == [FISHER_EXAMPLES] * 3


# --------------------------------------------------------------------------- memory held
def test_memory_grows_linearly_for_per_task_ewc_and_not_for_online_ewc(runs):
    model = runs["ewc"].model
    p, v = num_params(model), len(model.trainable_variables)
    anchor = {"arrays": 2 * v, "bytes": 8 * p}  # theta* and F, float32
    assert runs["online_ewc"].info["memory_history"] == [anchor] * 3
    assert runs["online_half"].info["memory_history"] == [anchor] * 3
    assert runs["ewc"].info["memory_history"] == [{"arrays": k * anchor["arrays"], "bytes": k * anchor["bytes"]}
                                                  for k in (1, 2, 3)]
    for m in ("ewc", "online_ewc"):
        assert runs[m].memory == runs[m].info["memory_history"][-1]


def test_naive_holds_nothing_and_the_first_task_shortcut_is_exact(seq_tasks, runs):
    r = sequences.run_sequence(seq_tasks[:1], SETUP, "naive")
    assert r.info["memory_history"] == [{"arrays": 0, "bytes": 0}] and r.info["anchors"] == []
    assert r.lam is None and r.memory == {"arrays": 0, "bytes": 0}
    for x, y in zip(r.model.get_weights(), runs["first"]["weights"]):
        np.testing.assert_array_equal(x, y)
    assert r.matrix.rows[0] == [runs["first"]["test_row"]["P1"]]
    with pytest.raises(ValueError, match="`first` was trained on another first task"):
        sequences.run_sequence(seq_tasks[:2], SETUP, "naive", first=runs["first"])  # 3 tasks, not 2


def test_l2_sequence_holds_theta_only(seq_tasks, runs):
    r = sequences.run_sequence(seq_tasks[:2], SETUP, "l2", lam=0.01,
                               first=sequences.train_first_task(seq_tasks[:2], SETUP))
    p, v = num_params(r.model), len(r.model.trainable_variables)
    assert r.info["memory_history"] == [{"arrays": v, "bytes": 4 * p}] * 2
    (anchor,) = r.info["anchors"]
    assert anchor.method == "l2" and anchor.task == "P2"
    for t, w in zip(anchor.theta, r.model.get_weights()):
        np.testing.assert_array_equal(t, w)


def test_l2_anchor_counts_theta_only():
    model = models.build_mlp(hidden_units=8)
    p = num_params(model)
    pen = penalties.l2_penalty(model, 0.1, task="A")
    assert penalties.memory_footprint([pen.anchor]) == {"arrays": 4, "bytes": 4 * p}
    fisher = [np.ones_like(t) * 0.5 for t in pen.anchor.theta]
    ewc = penalties.Anchor.from_model(model, fisher, task="A", method="exact")
    assert penalties.memory_footprint([ewc, pen.anchor]) == {"arrays": 12, "bytes": 12 * p}
    # An EWC anchor whose Fisher happens to be all ones still stores it.
    ones = penalties.Anchor.from_model(model, [np.ones_like(t) for t in pen.anchor.theta], method="exact")
    assert penalties.memory_footprint([ones]) == {"arrays": 8, "bytes": 8 * p}


# --------------------------------------------------------------------------- results and bad input
def test_result_holds_both_matrices(runs):
    r = runs["online_ewc"]
    assert isinstance(r, common.Result) and r.method == "online_ewc" and r.label == "online EWC"
    assert r.matrix.values.shape == r.val_matrix.values.shape == (3, 3)
    assert r.val_score == pytest.approx(r.val_matrix.average_accuracy, abs=1e-12)
    assert r.average_accuracy == pytest.approx(r.matrix.average_accuracy, abs=1e-12)
    assert r.backward_transfer == r.matrix.backward_transfer
    assert r.val == dict(zip(["P1", "P2", "P3"], r.val_matrix.rows[-1]))
    assert not np.array_equal(r.matrix.values, r.val_matrix.values)  # two splits, two matrices
    assert r.lam == 0.0 and r.info["gamma"] == 1.0 and runs["ewc"].info["gamma"] is None
    record = json.loads(json.dumps(r.to_dict(), default=_cli._jsonable))
    assert record["matrix"]["matrix"] == r.matrix.rows
    assert record["val_matrix"]["matrix"] == r.val_matrix.rows
    assert record["memory"] == r.memory and "model" not in record


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(method="ewk"), ValueError, "unknown method 'ewk'"),
    (dict(method="ewc", lam=-1.0), PenaltyError, "lam must be"),
    (dict(method="online_ewc", gamma=0.0), PenaltyError, "gamma must be in"),
])
def test_run_sequence_bad_input(seq_tasks, kwargs, error, match):
    with pytest.raises(error, match=match):
        sequences.run_sequence(seq_tasks, SETUP, **kwargs)


def test_run_sequence_refuses_mixed_heads(seq_tasks, tasks):
    with pytest.raises(ValueError, match="same number of classes"):
        sequences.run_sequence([seq_tasks[0], tasks["A"]], SETUP, "naive")
    with pytest.raises(ValueError, match="at least one task"):
        sequences.run_sequence([], SETUP, "naive")


def test_choosing_a_sequence_lam_uses_validation_only():
    def result(lam, val, test):
        return common.Result("ewc", lam, val={"P1": val}, test={"P1": test})

    rs = [result(1.0, 0.80, 0.10), result(3.0, 0.85, 0.05), result(10.0, 0.85, 0.99)]
    assert common.choose_lam(rs).lam == 3.0  # best validation, then the smaller lam
    with pytest.raises(ValueError, match="no results to choose lam from"):
        common.choose_lam([])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_tasks=1), ValueError, "at least 2 tasks"),
    (dict(seeds=0), ValueError, "seeds must be"),
    (dict(gamma=0.0), PenaltyError, "gamma"),
])
def test_run_permuted_suite_bad_input(small_mnist, kwargs, error, match):
    with pytest.raises(error, match=match):
        sequences.run_permuted_suite(small_mnist, SETUP, progress=None, **kwargs)


def test_run_permuted_suite_table_and_json(small_mnist, monkeypatch):
    # One lam per method and no grid extension: this test is about the report, not the search.
    monkeypatch.setattr(sequences, "search_lam", functools.partial(common.search_lam, max_extensions=0))
    lams = {"l2": (0.1,), "ewc": (10.0,), "online_ewc": (10.0,)}
    report = sequences.run_permuted_suite(small_mnist, SETUP, num_tasks=2, lams=lams, progress=None)
    lines = report["table"].splitlines()
    assert "avg acc" in lines[0] and "BWT" in lines[0] and "bytes held" in lines[0]
    assert "learning acc" in lines[0] and all(0 <= r["learning"] <= 1 for r in report["rows"])
    labels = [row["label"] for row in report["rows"]]
    assert labels == ["naive", "L2", "EWC", "online EWC"]
    assert all(any(line.startswith(label) for line in lines) for label in labels)
    by = {row["method"]: row for row in report["rows"]}
    p = 784 * 16 + 16 + 16 * 10 + 10
    assert by["naive"]["memory"] == 0
    assert by["l2"]["memory"] == 4 * p  # theta* only: no Fisher array
    assert by["online_ewc"]["memory"] == by["ewc"]["memory"] // 2 == 8 * p  # 2 tasks: 2 anchors vs 1
    assert by["ewc"]["lam"] == [10.0] and by["naive"]["lam"] == []
    assert report["extended"] == [] and report["fisher_examples"] == FISHER_EXAMPLES
    text = json.dumps(report, default=_cli._jsonable)  # what --json writes
    back = json.loads(text)
    results = {r["method"]: r for r in back["runs"][0]["results"]}
    assert results["ewc"]["matrix"]["tasks"] == ["P1", "P2"]
    assert results["l2"]["memory"] == {"arrays": 4, "bytes": 4 * p}
    assert results["online_ewc"]["memory"] == {"arrays": 8, "bytes": 8 * p}
    assert back["num_tasks"] == 2 and back["lams"]["ewc"] == [10.0]
