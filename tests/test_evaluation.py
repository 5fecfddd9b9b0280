"""Accuracy, the accuracy matrix and its summary numbers, and the AccuracyHistory callback."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
import keras
from ewc_helpers import tasks as task_lib, evaluation, models, training

R = [
    [0.90, 0.12, 0.20],
    [0.55, 0.85, 0.31],
    [0.40, 0.62, 0.77],
]
NAMES = ["A", "B", "C"]


# --------------------------------------------------------------------------- AccuracyMatrix
def test_average_accuracy_and_backward_transfer_from_the_definitions():
    m = evaluation.AccuracyMatrix(NAMES, R)
    T = len(R)
    last = R[T - 1]
    want_avg = sum(last) / T
    want_bwt = sum(R[T - 1][j] - R[j][j] for j in range(T - 1)) / (T - 1)
    assert m.average_accuracy == pytest.approx(want_avg, abs=1e-12)
    assert m.backward_transfer == pytest.approx(want_bwt, abs=1e-12)
    assert want_bwt < 0  # this matrix forgets
    np.testing.assert_array_equal(m.values, np.array(R))


def test_rows_given_as_dicts_follow_task_order():
    m = evaluation.AccuracyMatrix(NAMES)
    for row in R:
        m.add_row({"C": row[2], "A": row[0], "B": row[1]})  # keys in another order
    assert m.rows == R
    d = m.to_dict()
    assert d["tasks"] == NAMES and d["matrix"] == R
    assert d["backward_transfer"] == pytest.approx(((0.40 - 0.90) + (0.62 - 0.85)) / 2)


def test_incomplete_matrix_raises():
    m = evaluation.AccuracyMatrix(NAMES, R[:2])
    with pytest.raises(ValueError, match="2 of 3 rows"):
        m.average_accuracy
    with pytest.raises(ValueError, match="2 of 3 rows"):
        m.backward_transfer
    assert "average_accuracy" not in m.to_dict()
    assert "average accuracy" not in m.to_text()


def test_wrong_row_length_raises():
    m = evaluation.AccuracyMatrix(NAMES)
    with pytest.raises(ValueError, match="needs 3 accuracies; got 2"):
        m.add_row([0.1, 0.2])
    with pytest.raises(ValueError, match="needs 3 accuracies; got 4"):
        evaluation.AccuracyMatrix(NAMES, [[0.1, 0.2, 0.3, 0.4]])
    with pytest.raises(KeyError, match="C"):  # the task the row lacks
        m.add_row({"A": 0.1, "B": 0.2})


def test_single_task_has_zero_backward_transfer():
    m = evaluation.AccuracyMatrix(["A"], [[0.8]])
    assert m.average_accuracy == pytest.approx(0.8)
    assert m.backward_transfer == 0.0


def test_to_text_shows_every_value_and_the_summary():
    m = evaluation.AccuracyMatrix(NAMES, R)
    text = m.to_text(digits=2)
    for row in R:
        for v in row:
            assert f"{v:.2f}" in text
    assert f"{sum(R[2]) / 3:.2f}" in text


# --------------------------------------------------------------------------- accuracy
def constant_model(cls: int, num_classes: int = 5):
    """A model whose logits ignore the input and always favour class ``cls``."""
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(num_classes)])
    kernel = np.zeros((784, num_classes), np.float32)
    bias = np.zeros(num_classes, np.float32)
    bias[cls] = 1.0
    model.set_weights([kernel, bias])
    return model


@pytest.mark.parametrize("cls", [0, 3])
def test_accuracy_of_a_constant_model_is_the_class_frequency(tasks, cls):
    model = constant_model(cls)
    for name in ("A", "B"):
        labels = tasks[name].test.labels
        want = sum(1 for y in labels.tolist() if y == cls) / len(labels)
        assert evaluation.accuracy(model, tasks[name]) == pytest.approx(want, abs=1e-12)
    val_labels = tasks["A"].val.labels.tolist()
    assert evaluation.accuracy(model, tasks["A"], "val") == pytest.approx(val_labels.count(cls) / len(val_labels))


def test_accuracy_of_a_model_that_reads_the_input(embedded_mnist):
    """Class 1 when the top-left pixel is inked, else class 0: accuracy checked against a count."""
    images = embedded_mnist.test.images[:20].copy()
    images[:, 0, 0, 0] = 0
    images[:7, 0, 0, 0] = 255
    digits = np.array([2] * 10 + [0] * 10, np.int64)  # labels 1 and 0 after // 2
    task = task_lib.Task(name="T", train=None, val=None,
                     test=task_lib.TaskSplit(images=images, labels=digits // 2, digits=digits))
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    kernel = np.zeros((784, 5), np.float32)
    kernel[0, 1] = 10.0
    bias = np.array([1.0, 0, -5, -5, -5], np.float32)
    model.set_weights([kernel, bias])
    predicted = [1 if images[i, 0, 0, 0] > 0 else 0 for i in range(20)]
    want = sum(p == y for p, y in zip(predicted, (digits // 2).tolist())) / 20
    assert want == pytest.approx(17 / 20)  # 7 right "1"s, 10 right "0"s
    assert evaluation.accuracy(model, task) == pytest.approx(want)
    assert evaluation.accuracies(model, [task]) == {"T": pytest.approx(want)}


def test_accuracy_on_an_empty_split_raises():
    empty = task_lib.TaskSplit(images=np.zeros((0, 28, 28, 1), np.uint8),
                           labels=np.zeros(0, np.int64), digits=np.zeros(0, np.int64))
    task = task_lib.Task(name="E", train=empty, val=empty, test=empty)
    with pytest.raises(ValueError, match="task E has no test examples"):
        evaluation.accuracy(constant_model(0), task)


def test_accuracies_by_name(tasks):
    model = constant_model(2)
    got = evaluation.accuracies(model, tasks)
    assert set(got) == {"A", "B", "multi"}
    for name, task in tasks.items():
        assert got[name] == pytest.approx(float(np.mean(task.test.labels == 2)))


# --------------------------------------------------------------------------- AccuracyHistory
def test_accuracy_history_records_at_start_and_every_n_batches(tasks):
    keras.utils.set_random_seed(0)
    model = models.build_mlp()
    watch = {"A": tasks["A"], "B": tasks["B"]}
    start = evaluation.accuracies(model, watch)
    n_every, epochs = 4, 2
    history = evaluation.AccuracyHistory(watch, every_n_batches=n_every)
    training.fit_task(model, tasks["A"], epochs=epochs, callbacks=[history])

    per_epoch = math.ceil(len(tasks["A"].train) / 128)
    total = per_epoch * epochs
    want_steps = sorted({0, *range(n_every, total + 1, n_every), *(per_epoch * e for e in range(1, epochs + 1))})
    steps, acc_a = history.series("A")
    assert steps == want_steps
    first = history.records[0]
    assert first["step"] == 0 and first["epoch"] == 0
    assert first["A"] == pytest.approx(start["A"]) and first["B"] == pytest.approx(start["B"])
    last = history.records[-1]
    end = evaluation.accuracies(model, watch)
    assert last["A"] == pytest.approx(end["A"]) and last["B"] == pytest.approx(end["B"])
    assert last["epoch"] == pytest.approx(epochs)
    by_step = {r["step"]: r for r in history.records}
    assert by_step[n_every]["epoch"] == pytest.approx(round(n_every / per_epoch, 4))
    assert acc_a[-1] > acc_a[0] + 0.3  # it learned task A while the callback watched


def test_accuracy_history_without_every_n_records_start_and_epochs(tasks):
    keras.utils.set_random_seed(0)
    model = models.build_mlp()
    history = evaluation.AccuracyHistory([tasks["B"]])
    training.fit_task(model, tasks["B"], epochs=2, callbacks=[history])
    per_epoch = math.ceil(len(tasks["B"].train) / 128)
    assert history.series("B")[0] == [0, per_epoch, 2 * per_epoch]
    assert [r["epoch"] for r in history.records] == [0, 1, 2]


def test_accuracy_history_rejects_zero_interval(tasks):
    with pytest.raises(ValueError, match="every_n_batches must be at least 1"):
        evaluation.AccuracyHistory(tasks, every_n_batches=0)


# --------------------------------------------------------------------------- a task's own head
def test_accuracy_chooses_among_the_tasks_own_output_units(tasks):
    """A model that always favours unit 4 (outside the head) is judged on units 0 and 1 only."""
    import dataclasses

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    model.set_weights([np.zeros((784, 5), np.float32), np.array([0.0, 0.5, 0.0, 0.0, 9.0], np.float32)])
    a = tasks["A"]
    keep = np.isin(a.test.labels, (0, 1))
    test = task_lib.TaskSplit(images=a.test.images[keep], labels=a.test.labels[keep], digits=a.test.digits[keep])
    shared = dataclasses.replace(a, test=test)
    own = dataclasses.replace(shared, classes=(0, 1))
    assert evaluation.accuracy(model, shared) == 0.0  # unit 4 wins over every label
    assert evaluation.accuracy(model, own) == pytest.approx(float(np.mean(test.labels == 1)))  # unit 1 beats 0


# --------------------------------------------------------------------------- noise_margin
def test_noise_margin_is_k_binomial_standard_errors():
    assert evaluation.noise_margin(10_000) == pytest.approx(3 * 0.5 / 100)
    assert evaluation.noise_margin(1_000, k=2, p=0.9) == pytest.approx(2 * math.sqrt(0.09 / 1000))
    assert evaluation.noise_margin(100) > evaluation.noise_margin(10_000)
    assert evaluation.noise_margin(50, p=0.5) >= evaluation.noise_margin(50, p=0.8)  # p = 0.5 is the largest


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "n must be a positive number of examples; got 0"),
    (dict(n=2.5), "n must be a positive number of examples; got 2.5"),
    (dict(n=True), "n must be a positive number of examples; got True"),
    (dict(n=100, k=0), r"need k > 0 and p in \[0, 1\]; got k=0"),
    (dict(n=100, p=1.5), r"need k > 0 and p in \[0, 1\]; got k=3.0, p=1.5"),
])
def test_noise_margin_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        evaluation.noise_margin(**kwargs)
