"""Accuracy per task, the accuracy matrix of a task sequence, and a callback for forgetting curves."""

from __future__ import annotations

import numpy as np

from . import _env  # noqa: F401

import keras

from .tasks import ModelTaskMismatch, Task, check_outputs


def predict_logits(model, x, batch_size: int = 4096) -> np.ndarray:
    """Logits in inference mode, computed in chunks (no progress bar, no retracing)."""
    out = [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def check_fits(model, task: Task, logits: np.ndarray, y: np.ndarray) -> None:
    """Refuse a model and a task that do not fit together, naming both (see :class:`ModelTaskMismatch`)."""
    check_outputs(model, logits.shape[-1] if logits.ndim == 2 else 0, task, y)


def _checked_logits(model, task: Task, split: str):
    x, y = task.arrays(split)
    if len(y) == 0:
        raise ValueError(f"task {task.name} has no {split} examples")
    logits = predict_logits(model, x)
    check_fits(model, task, logits, y)
    return logits, y


def accuracy(model, task: Task, split: str = "test") -> float:
    """Fraction of ``task``'s ``split`` that ``model`` labels correctly."""
    logits, y = _checked_logits(model, task, split)
    if task.classes is not None:  # the task's own head: choose among its output units only
        classes = np.asarray(task.classes)
        return float(np.mean(classes[np.argmax(logits[:, classes], axis=1)] == y))
    return float(np.mean(np.argmax(logits, axis=1) == y))


def correct_answers(model, task: Task, split: str = "test") -> np.ndarray:
    """Per example of ``task``'s ``split``: did ``model`` label it correctly? (bool array; its mean
    is :func:`accuracy`). Two models' arrays on the same split feed the paired tests of
    :mod:`ewc_helpers.stats`."""
    logits, y = _checked_logits(model, task, split)
    if task.classes is not None:
        classes = np.asarray(task.classes)
        return classes[np.argmax(logits[:, classes], axis=1)] == y
    return np.argmax(logits, axis=1) == y


def noise_margin(n: int, k: float = 3.0, p: float = 0.5) -> float:
    """``k`` binomial standard errors of an accuracy measured on ``n`` examples,
    ``k * sqrt(p * (1 - p) / n)``; with the default ``p = 0.5`` this is the largest it can be.

    Two accuracies on the same split that differ by more than this differ by more than the split's
    sampling noise. The lessons use it so that a checked finding holds on 1,000 or 10,000 test
    digits alike."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive number of examples; got {n!r}")
    if not (k > 0 and 0 <= p <= 1):
        raise ValueError(f"need k > 0 and p in [0, 1]; got k={k!r}, p={p!r}")
    return float(k * np.sqrt(p * (1 - p) / int(n)))


def accuracies(model, tasks, split: str = "test") -> dict:
    """``{task name: accuracy}`` for a dict or list of tasks."""
    items = tasks.values() if isinstance(tasks, dict) else tasks
    return {t.name: accuracy(model, t, split) for t in items}


class AccuracyMatrix:
    """``R[i, j]``: accuracy on task ``j`` after training on task ``i`` (tasks in training order).

    ``average_accuracy`` is the mean of the last row. ``backward_transfer`` is the mean over all but
    the last task of ``R[T-1, j] - R[j, j]`` (negative means forgetting; Lopez-Paz & Ranzato 2017).
    ``learning_accuracy`` is the mean of the diagonal ``R[j, j]``, each task right after training on
    it (Riemer et al. 2019): a method that keeps old tasks by not learning new ones scores low here.
    """

    def __init__(self, task_names, rows=()):
        self.task_names = list(task_names)
        self.rows = []
        for row in rows:
            self.add_row(row)

    def add_row(self, row) -> None:
        values = [row[n] for n in self.task_names] if isinstance(row, dict) else list(row)
        if len(values) != len(self.task_names):
            raise ValueError(f"a row needs {len(self.task_names)} accuracies; got {len(values)}")
        self.rows.append([float(v) for v in values])

    @property
    def values(self) -> np.ndarray:
        return np.array(self.rows, dtype=float)

    def _check_complete(self):
        if len(self.rows) != len(self.task_names):
            raise ValueError(
                f"the matrix has {len(self.rows)} of {len(self.task_names)} rows: train every task first"
            )

    @property
    def average_accuracy(self) -> float:
        self._check_complete()
        return float(np.mean(self.values[-1]))

    @property
    def learning_accuracy(self) -> float:
        self._check_complete()
        return float(np.mean(np.diag(self.values)))

    @property
    def backward_transfer(self) -> float:
        self._check_complete()
        r = self.values
        t = len(self.task_names)
        if t < 2:
            return 0.0
        return float(np.mean([r[-1, j] - r[j, j] for j in range(t - 1)]))

    def to_text(self, digits: int = 2) -> str:
        width = max(8, digits + 4)
        head = "after \\ on".ljust(12) + "".join(n.rjust(width) for n in self.task_names)
        lines = [head]
        for name, row in zip(self.task_names, self.rows):
            lines.append(name.ljust(12) + "".join(f"{v:.{digits}f}".rjust(width) for v in row))
        if len(self.rows) == len(self.task_names):
            lines.append(f"average accuracy {self.average_accuracy:.{digits}f}, "
                         f"learning accuracy {self.learning_accuracy:.{digits}f}, "
                         f"backward transfer {self.backward_transfer:+.{digits}f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        out = {"tasks": self.task_names, "matrix": self.rows}
        if len(self.rows) == len(self.task_names):
            out.update(average_accuracy=self.average_accuracy, learning_accuracy=self.learning_accuracy,
                       backward_transfer=self.backward_transfer)
        return out


class AccuracyHistory(keras.callbacks.Callback):
    """Records test accuracy on the given tasks during ``fit``: at the start, every
    ``every_n_batches`` batches (if set) and after every epoch. ``records`` is a list of dicts
    ``{"step": batches seen, "epoch": fractional epoch, <task name>: accuracy, ...}``.
    """

    def __init__(self, tasks, split: str = "test", every_n_batches: int | None = None):
        super().__init__()
        self.tasks = list(tasks.values()) if isinstance(tasks, dict) else list(tasks)
        self.split = split
        if every_n_batches is not None and every_n_batches < 1:
            raise ValueError(f"every_n_batches must be at least 1; got {every_n_batches}")
        self.every_n_batches = every_n_batches
        self.records = []
        self._step = 0
        self._epoch = 0
        self._batches_per_epoch = None

    def _record(self):
        per_epoch = (self.params or {}).get("steps") or self._batches_per_epoch
        epoch = self._epoch + (self._step_in_epoch / per_epoch if per_epoch else 0.0)
        rec = {"step": self._step, "epoch": round(epoch, 4)}
        rec.update(accuracies(self.model, self.tasks, self.split))
        self.records.append(rec)

    def on_train_begin(self, logs=None):
        self._step_in_epoch = 0
        if not self.records:
            self._record()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._step_in_epoch = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        self._step_in_epoch = batch + 1
        if self.every_n_batches and self._step % self.every_n_batches == 0:
            self._record()

    def on_epoch_end(self, epoch, logs=None):
        self._batches_per_epoch = self._step_in_epoch or self._batches_per_epoch
        self._epoch, self._step_in_epoch = epoch + 1, 0
        if not (self.every_n_batches and self._step % self.every_n_batches == 0):
            self._record()

    def series(self, task_name: str):
        """(steps, accuracies) for one task."""
        return ([r["step"] for r in self.records], [r[task_name] for r in self.records])
