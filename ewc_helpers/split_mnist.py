"""Split MNIST: five tasks of two digits each, (0, 1), (2, 3), ..., (8, 9), in three scenarios.

The scenarios (van de Ven and Tolias 2019; Hsu et al. 2018) differ only in what the network is
asked at test time, and so in the labels and the output units each task uses:

``"task"``    task-incremental: the task is known at test time. One 10-unit output layer whose
              two units of each pair form that task's own head (``Task.classes``); labels are the
              digits, so task (2, 3) uses units 2 and 3.
``"domain"``  domain-incremental: one shared 2-way head, label ``digit % 2`` (even or odd); the
              task is not known and need not be. The article's even/odd split is its 2-task cousin.
``"class"``   class-incremental: one shared 10-way head, label = digit; the network must tell all
              ten digits apart without being told which pair a digit came from.

Every task has train, validation (held out from the training split, stratified by digit, one
hold-out shared by all tasks) and test splits.
"""

from __future__ import annotations

import numpy as np

from .sources import MNIST, DataError, Split
from .tasks import Task, TaskSplit, validation_split

__all__ = ["SCENARIOS", "PAIRS", "make_split_tasks", "task_name"]

#: The five digit pairs, in training order.
PAIRS = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))
#: Scenario -> (number of output units, what a label is).
SCENARIOS = {
    "task": (10, "the digit; each task uses only its own pair's two output units"),
    "domain": (2, "digit % 2 (0 even, 1 odd), one shared 2-way head"),
    "class": (10, "the digit, one shared 10-way head"),
}


def task_name(pair) -> str:
    """``(2, 3)`` -> ``"2/3"``."""
    return "/".join(str(d) for d in pair)


def _labels(digits: np.ndarray, scenario: str) -> np.ndarray:
    return (digits % 2 if scenario == "domain" else digits).astype(np.int64)


def _split(split: Split, pair, scenario: str) -> TaskSplit:
    keep = np.isin(split.labels, pair)
    d = split.labels[keep]
    return TaskSplit(images=split.images[keep], labels=_labels(d, scenario), digits=d)


def make_split_tasks(mnist: MNIST, scenario: str, val_fraction: float = 0.1, seed: int = 0) -> list:
    """The five split-MNIST tasks of ``scenario`` ("task", "domain" or "class"), in order.

    ``seed`` chooses the validation hold-out (``val_fraction`` of each digit's training examples,
    see :func:`ewc_helpers.tasks.validation_split`).
    """
    if not isinstance(scenario, str) or scenario not in SCENARIOS:
        raise DataError(f"unknown split-MNIST scenario {scenario!r}; choose 'task' (one head per task), "
                        "'domain' (one shared 2-way head) or 'class' (one shared 10-way head)")
    if not isinstance(mnist, MNIST):
        raise DataError(f"make_split_tasks needs the MNIST of load_mnist; got {type(mnist).__name__}")
    train, val = validation_split(mnist.train, val_fraction, seed)
    num_classes = SCENARIOS[scenario][0]
    tasks = []
    for pair in PAIRS:
        parts = {name: _split(s, pair, scenario) for name, s in (("train", train), ("val", val), ("test", mnist.test))}
        empty = [name for name, part in parts.items() if len(part) == 0]
        if empty:
            raise DataError(f"digits {pair} have no examples in the {', '.join(empty)} split(s): "
                            "split MNIST needs every digit in every split")
        tasks.append(Task(name=task_name(pair), num_classes=num_classes, digits=tuple(pair),
                          classes=tuple(pair) if scenario == "task" else None, **parts))
    return tasks
