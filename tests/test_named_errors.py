"""Issue 20, the smaller items: lam=True refused, Anchor.save into a folder it cannot write names
the destination, and a model whose head is too small for a task gets a named error wherever they
meet in evaluation (not a number, not TensorFlow's InvalidArgumentError)."""

from __future__ import annotations

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
from ewc_helpers import evaluation, tasks as task_lib
from ewc_helpers.anchors import Anchor, AnchorError, PenaltyError
from ewc_helpers.models import build_mlp
from ewc_helpers.penalties import ewc_penalty


def anchor():
    theta = [np.zeros((3, 2), np.float32), np.zeros(2, np.float32)]
    return Anchor(theta, [np.ones_like(t) for t in theta], task="A", method="exact", num_examples=5)


@pytest.mark.parametrize("lam", [True, False, np.bool_(True), "10"])
def test_a_bool_or_text_lam_is_refused(lam):
    with pytest.raises(PenaltyError, match="lam must be a number"):
        ewc_penalty(anchor(), lam)


def test_numbers_are_still_accepted():
    assert ewc_penalty(anchor(), 1).lam == 1.0 and ewc_penalty(anchor(), np.float32(2.5)).lam == 2.5


def test_save_into_an_unwritable_folder_names_the_destination(tmp_path, monkeypatch):
    target = tmp_path / "ro" / "anchor.npz"
    target.parent.mkdir()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "ro" / ".anchor.npz.x1y2.tmp"))

    monkeypatch.setattr("ewc_helpers.anchors.tempfile.mkstemp", refuse)
    with pytest.raises(AnchorError, match=f"{target}: cannot be written: no file can be created in folder {target.parent}") as err:
        anchor().save(target)
    assert ".tmp" not in str(err.value)


def test_save_under_proc_names_the_destination():
    with pytest.raises(AnchorError, match="/proc/anchor.npz: cannot be written"):
        anchor().save("/proc/anchor.npz")


@pytest.fixture(scope="module")
def ten_digit_task(embedded_mnist):
    return task_lib.make_permuted_tasks(embedded_mnist, 1)[0]  # labels 0-9


@pytest.mark.parametrize("function", [evaluation.accuracy, evaluation.correct_answers])
def test_a_head_too_small_for_the_task_is_named(ten_digit_task, function):
    model = build_mlp(num_classes=5, hidden_units=4)
    with pytest.raises(evaluation.ModelTaskMismatch, match=r"has 5 output units but task P1 needs labels up to 9"):
        function(model, ten_digit_task)


def test_a_task_head_beyond_the_model_is_named(embedded_mnist):
    from ewc_helpers.split_mnist import make_split_tasks

    last = make_split_tasks(embedded_mnist, "task")[-1]  # its own head: output units 8 and 9
    assert last.classes == (8, 9)
    with pytest.raises(evaluation.ModelTaskMismatch, match=r"needs output units \(8, 9\)"):
        evaluation.accuracy(build_mlp(num_classes=5, hidden_units=4), last)


def test_a_head_large_enough_still_measures(ten_digit_task):
    assert 0.0 <= evaluation.accuracy(build_mlp(num_classes=10, hidden_units=4), ten_digit_task) <= 1.0


def test_training_a_head_too_small_for_the_task_is_named_before_tensorflow_runs(ten_digit_task, embedded_mnist):
    """fit_task gives the same named error as evaluation, not TensorFlow's InvalidArgumentError."""
    from ewc_helpers import fit_task
    from ewc_helpers.split_mnist import make_split_tasks

    with pytest.raises(evaluation.ModelTaskMismatch, match=r"has 5 output units but task P1 needs labels up to 9"):
        fit_task(build_mlp(num_classes=5, hidden_units=4), ten_digit_task, epochs=1)
    last = make_split_tasks(embedded_mnist, "task")[-1]
    with pytest.raises(evaluation.ModelTaskMismatch, match=r"needs output units \(8, 9\)"):
        fit_task(build_mlp(num_classes=5, hidden_units=4), last, epochs=1)
