"""Split MNIST in three scenarios, the replay buffer, and the scenarios study (lesson 11).

Everything but the last two tests runs without training; the end-to-end run takes about 30 s.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow start-up)
from ewc_helpers import DataError, make_permuted_tasks, make_split_tasks
from ewc_helpers.replay import ReplayBuffer, merge_tasks
from ewc_helpers.studies import common, scenarios


@pytest.fixture(scope="module")
def split(embedded_mnist):
    return {s: make_split_tasks(embedded_mnist, s) for s in ("task", "domain", "class")}


# --------------------------------------------------------------------------- split MNIST
@pytest.mark.parametrize("scenario", ["task", "domain", "class"])
def test_split_tasks_digits_labels_and_heads(split, scenario):
    tasks = split[scenario]
    assert [t.name for t in tasks] == ["0/1", "2/3", "4/5", "6/7", "8/9"]
    for k, task in enumerate(tasks):
        pair = (2 * k, 2 * k + 1)
        assert task.digits == pair
        for part in (task.train, task.val, task.test):
            assert set(np.unique(part.digits).tolist()) == set(pair)
            expected = part.digits % 2 if scenario == "domain" else part.digits
            np.testing.assert_array_equal(part.labels, expected)
        assert task.classes == (pair if scenario == "task" else None)
        assert task.num_classes == (2 if scenario == "domain" else 10)
        # 400 training digits per digit, 10% held out for validation, 100 test digits per digit
        assert task.counts() == {"train": 720, "val": 80, "test": 200}


def test_validation_is_held_out_of_training(split):
    task = split["class"][0]
    train = {img.tobytes() for img in task.train.images}
    assert not any(img.tobytes() in train for img in task.val.images)


def test_bad_scenario_and_bad_data(embedded_mnist):
    with pytest.raises(DataError, match="unknown split-MNIST scenario 'incremental'"):
        make_split_tasks(embedded_mnist, "incremental")
    with pytest.raises(DataError, match="needs the MNIST of load_mnist"):
        make_split_tasks({"train": None}, "task")
    with pytest.raises(DataError, match="val_fraction must be between 0 and 1"):
        make_split_tasks(embedded_mnist, "task", val_fraction=1.5)


def test_task_incremental_training_leaves_other_heads_untouched(split):
    from ewc_helpers import build_mlp, fit_task
    from ewc_helpers.evaluation import accuracy

    model = build_mlp(num_classes=10)
    before = model.get_weights()
    fit_task(model, split["task"][1], epochs=1)  # digits 2 and 3: output units 2 and 3 only
    kernel, bias = model.get_weights()[-2:]
    others = [u for u in range(10) if u not in (2, 3)]
    np.testing.assert_array_equal(kernel[:, others], before[-2][:, others])
    np.testing.assert_array_equal(bias[others], before[-1][others])
    assert not np.allclose(kernel[:, [2, 3]], before[-2][:, [2, 3]])
    # Its own head answers only 2 or 3, so it is well above chance on its own task.
    assert accuracy(model, split["task"][1]) > 0.8


# --------------------------------------------------------------------------- replay buffer
def test_buffer_stores_k_per_class_from_the_training_split(split):
    task = split["domain"][2]
    buffer = ReplayBuffer(per_class=7, seed=3)
    stored = buffer.add(task)
    assert np.bincount(stored.labels).tolist() == [7, 7]
    train = {img.tobytes() for img in task.train.images}
    assert all(img.tobytes() in train for img in stored.images)
    assert set(stored.digits.tolist()) <= {4, 5}
    again = ReplayBuffer(per_class=7, seed=3).add(task)
    other = ReplayBuffer(per_class=7, seed=4).add(task)
    np.testing.assert_array_equal(stored.images, again.images)
    assert not np.array_equal(stored.images, other.images)


def test_buffer_bytes_and_growth(split):
    buffer = ReplayBuffer(per_class=20)
    assert buffer.memory() == {"examples": 0, "arrays": 0, "bytes": 0}
    for task in split["class"]:
        buffer.add(task)
    assert len(buffer) == 200 and buffer.tasks == [t.name for t in split["class"]]
    assert buffer.memory()["bytes"] == 200 * (28 * 28 + 8)  # uint8 pixels and int64 labels


def test_mix_adds_the_buffer_to_the_next_task(split):
    tasks = split["task"]
    buffer = ReplayBuffer(per_class=20)
    assert buffer.mix(tasks[1]) is tasks[1]
    buffer.add(tasks[0])
    mixed = buffer.mix(tasks[1], ratio=1.0)
    assert len(mixed.train) == 2 * len(tasks[1].train)
    np.testing.assert_array_equal(mixed.train.images[:720], tasks[1].train.images)
    assert set(mixed.train.digits[720:].tolist()) == {0, 1}
    # each stored example repeated as evenly as possible: 720 = 18 x 40
    assert np.all(np.unique(mixed.train.images[720:].reshape(720, -1), axis=0, return_counts=True)[1] == 18)
    assert mixed.classes == (0, 1, 2, 3) and mixed.test is tasks[1].test
    assert len(buffer.mix(tasks[1], ratio=None).train) == 720 + 40


def test_replay_of_permuted_tasks_keeps_each_tasks_pixel_order(embedded_mnist):
    p1, p2 = make_permuted_tasks(embedded_mnist, 2, seed=0)
    buffer = ReplayBuffer(per_class=2)
    buffer.add(p1)
    mixed = buffer.mix(p2, ratio=None)
    assert mixed.permutation is None
    x, _ = mixed.arrays("train")
    np.testing.assert_array_equal(x[: len(p2.train)], p2.arrays("train")[0])
    idx = np.flatnonzero(np.isin(np.arange(len(p1.train)), np.arange(len(p1.train))))
    stored = {img.tobytes() for img in (p1.arrays("train")[0][idx] * 255).round().astype(np.uint8)}
    assert all(img.tobytes() in stored for img in (x[len(p2.train):] * 255).round().astype(np.uint8))


def test_buffer_errors(split):
    with pytest.raises(ValueError, match="per_class must be a positive integer"):
        ReplayBuffer(per_class=0)
    buffer = ReplayBuffer()
    with pytest.raises(TypeError, match="stores examples of a Task"):
        buffer.add("0/1")
    buffer.add(split["domain"][0])
    with pytest.raises(DataError, match="10 output units but the buffer holds tasks with 2"):
        buffer.add(split["class"][1])
    with pytest.raises(ValueError, match="ratio must be a positive number or None"):
        buffer.mix(split["domain"][1], ratio=-1)


def test_merge_tasks_is_the_union(split):
    joint = merge_tasks(split["task"])
    assert joint.counts() == {"train": 3600, "val": 400, "test": 1000}
    assert joint.classes == tuple(range(10)) and joint.digits == tuple(range(10))
    with pytest.raises(DataError, match="must share one output layer"):
        merge_tasks([split["task"][0], split["domain"][0]])
    with pytest.raises(TypeError, match="non-empty list of Tasks"):
        merge_tasks([])


# --------------------------------------------------------------------------- findings and lam
def _row(method, average, std):
    return {"method": method, "label": common.LABELS[method], "average": average, "average_std": std}


def test_margin_is_twice_the_std_or_the_split_noise():
    noise = ewc_helpers.noise_margin(1000)
    a, b = _row("ewc", 0.9, 0.05), _row("naive", 0.7, 0.01)
    assert scenarios.margin(a, b, 1000) == pytest.approx(0.1)
    assert scenarios.margin(_row("ewc", 0.9, 0.001), b, 1000) == pytest.approx(noise)
    rows = [a, b, _row("l2", 0.82, 0.02)]
    assert scenarios.compare(rows, "ewc", "naive", 1000)["beats"]
    assert not scenarios.compare(rows, "ewc", "l2", 1000)["beats"]  # 0.08 < 2 x 0.05
    assert scenarios.ewc_wins({"x": rows}, 1000) == []
    rows[0] = _row("ewc", 0.95, 0.01)
    assert scenarios.ewc_wins({"x": rows}, 1000) == ["x"]


def test_search_lam_reports_each_extension():
    def run(lam):  # validation improves with lam: the grid must grow upwards
        return common.Result("ewc", lam, val={"t": min(lam, 1e4) / 1e5}, test={"t": 0.0})

    said = []
    search = common.search_lam(run, (1.0, 10.0, 100.0), progress=said.append)
    assert search.lams == [1.0, 10.0, 100.0, 1e3, 1e4, 1e5]
    assert search.best.lam == 1e4 and not search.at_edge
    assert said == search.extended and len(said) == 3
    assert "lam 100 is the largest value tried: extending the grid to 1000" in said[0]


def test_bad_settings_methods_and_seeds(embedded_mnist):
    with pytest.raises(ValueError, match="unknown setting 'split'"):
        scenarios.make_setting_tasks("split", embedded_mnist)
    with pytest.raises(ValueError, match="unknown method"):
        scenarios.run_scenario("task", embedded_mnist, methods=("si",))
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        scenarios.run_scenarios_suite(embedded_mnist, seeds=0)


# --------------------------------------------------------------------------- end to end
def test_one_setting_end_to_end(embedded_mnist):
    said = []
    setup = common.Setup(epochs_per_task=1, fisher_examples=100)
    report = scenarios.run_scenarios_suite(
        embedded_mnist, setup=setup, seeds=1, settings=("domain",), methods=("naive", "ewc", "replay", "joint"),
        grids={"ewc": (1e3,)}, progress=said.append)
    rows = scenarios.rows_by_method(report["rows"]["domain"])
    assert list(rows) == ["naive", "ewc", "replay", "joint"]
    # a one-value grid always sits at its end: the extension is said, kept and shown in the table
    assert report["extended"] and all("extending the grid" in e for e in report["extended"])
    assert any("extending the grid" in s for s in said)
    assert "lam grid extensions (seed 0 chooses lam): domain, seed 0, ewc" in report["table"]
    assert "Hsu 2018" in report["table"] and "vdVen 2022" in report["table"]
    assert rows["replay"]["memory"] == 200 * (28 * 28 + 8)
    assert rows["ewc"]["memory"] > 5 * rows["replay"]["memory"]  # five (theta*, F) pairs
    assert rows["joint"]["average"] > rows["naive"]["average"]
    assert len(report["runs"]["domain"][0]["searches"]["ewc"]) == 1 + len(report["extended"])
    json.dumps(report["runs"])
    json.dumps(report["rows"])


def test_scenario_bars_names_its_axes_and_keeps_the_legend_off_the_data():
    import matplotlib

    matplotlib.use("Agg")
    from ewc_helpers import plots

    summary = {"class": {"naive": (0.2, 0.01, -0.9, 0.01, None, 0), "ewc": (0.5, 0.02, -0.2, 0.01, 1e4, 10),
                         "replay": (0.8, 0.01, -0.1, 0.01, None, 5)}}
    fig = plots.scenario_bars(scenarios.expand(summary, 3), published=scenarios.PUBLISHED, chance={"class": 0.1})
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is None
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["naive", "EWC", "replay",
                                                                 "published (Hsu et al. 2018)", "chance"]
