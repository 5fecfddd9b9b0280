"""Training a task through the ordinary ``model.fit``, and anchoring the weights it ends with.

:func:`fit_task` trains with or without consolidation penalties and stops with a
:class:`TrainingError` naming the cause when the loss or the weights stop being finite.
:func:`fisher_data` is the one place that decides which examples a Fisher is computed from, and
:func:`make_anchor` uses it.
"""

from __future__ import annotations

import math

import numpy as np

from . import _env  # noqa: F401

import keras
import tensorflow as tf

from .anchors import Anchor
from .fisher import compute_fisher, subsample
from .tasks import Task, check_outputs


class TrainingError(RuntimeError):
    """Raised when training cannot go on: the loss or the weights stopped being finite."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Raise :class:`TrainingError` as soon as a batch's loss or the weights after it are NaN or
    infinite, with the likely cause: non-finite training data, or a penalty whose gradients
    overflowed float32.

    With a model made by :func:`~ewc_helpers.models.build_mlp` the weights are checked inside the
    compiled train step, which reports the batch's loss as NaN when a weight is not finite (see
    ``PenalizedSequential.train_step``): this callback then only reads the loss that ``fit`` has
    already copied to the host, and costs nothing while all is well. For any other model it runs
    one compiled reduction over the weights after every batch.
    """

    def __init__(self, task_name: str = "", penalties=()):
        super().__init__()
        self.task_name, self.penalties, self.epoch = task_name, tuple(penalties), 0

    def on_train_begin(self, logs=None):
        self._in_graph = bool(getattr(self.model, "nonfinite_weights_in_loss", False))
        variables = list(self.model.trainable_variables)
        # Other models: one compiled reduction per batch, no copy of the weights to the host.
        self._all_finite = tf.function(
            lambda: tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in variables]), autograph=False)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if self._in_graph and loss is not None:
            if math.isfinite(float(loss)):
                return  # the loss is finite, and so (checked in the train step) are the weights
        else:
            # The weights too: a NaN weight or gradient can leave the loss of the batch finite
            # while the update spreads NaN through the weights.
            finite = bool(self._all_finite())
            if finite and (loss is None or np.isfinite(float(loss))):
                return
        bad = [i for i, v in enumerate(self.model.trainable_variables) if not np.all(np.isfinite(v.numpy()))]
        if self._in_graph:
            # The reported loss reads NaN when the weights are not finite: name the loss itself,
            # the running mean that the model's loss tracker holds.
            tracker = next((m for m in self.model.metrics if m.name == "loss"), None)
            if tracker is not None:
                loss = float(tracker.result())
        causes = []
        if self.penalties:
            lams = [getattr(p, "lam", None) for p in self.penalties]
            shown = ", ".join(f"{x:g}" for x in lams if x is not None)
            causes.append("a penalty whose value or gradient is not finite (a lam too large for float32"
                          + (f": lam {shown}" if shown else "")
                          + ", or a penalty not differentiable at the anchor, such as a norm)")
        causes.append("NaN or infinite values in the training data or in the weights before training")
        raise TrainingError(
            f"training on task {self.task_name or '?'} stopped at epoch {self.epoch + 1}, batch {batch + 1}: "
            f"the loss is {None if loss is None else float(loss)}"
            + (f" and {len(bad)} weight arrays hold NaN or inf" if bad else "")
            + "; likely cause: " + "; or ".join(causes))


def fit_task(model, task: Task, *, epochs: int = 6, batch_size: int = 128, penalties=(),
             seed: int = 0, callbacks=(), validation: bool = False, verbose: int = 0):
    """Train ``model`` on ``task``'s training split with ``model.fit``; return the History.

    ``penalties`` (see :mod:`ewc_helpers.penalties`) are added to the loss for this call; an
    empty sequence trains on the task loss alone. With ``validation=True`` the task's validation
    split is passed as ``validation_data``. The shuffle order is drawn from ``seed``. A NaN or
    infinite loss, or weights that turn NaN or infinite, stop training at that batch with a
    :class:`TrainingError` that names the likely cause (see :class:`StopOnNonFinite`).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer; got {epochs!r}")
    if not isinstance(task, Task):
        raise TypeError(f"fit_task trains on a Task (see make_tasks); got {type(task).__name__}")
    if not hasattr(model, "set_penalties"):
        if penalties:
            raise TypeError("penalties need a model made by build_mlp (a PenalizedSequential)")
    else:
        model.set_penalties(penalties)
    units = _output_units(model)
    if units is not None:  # a model built for fewer classes gets a named error, not TensorFlow's
        check_outputs(model, units, task)
    if hasattr(model, "set_active_classes"):
        model.set_active_classes(task.classes)
    elif task.classes is not None:
        raise TypeError(f"task {task.name} has its own head: train it on a model made by build_mlp")
    val = task.dataset("val", batch_size=1024, shuffle=False) if validation else None
    guard = StopOnNonFinite(task.name, penalties)
    return model.fit(
        task.dataset("train", batch_size=batch_size, seed=seed),
        epochs=int(epochs), validation_data=val, callbacks=[guard, *callbacks], verbose=verbose,
        shuffle=False,  # the pipeline already reshuffles every epoch, from `seed`
    )


def _output_units(model):
    """The width of a built model's output layer, or None when it cannot be read without data."""
    try:
        shape = model.output_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    return int(shape[-1]) if isinstance(shape, tuple) and shape and shape[-1] is not None else None


def fisher_data(task: Task, method: str = "exact", *, max_examples: int | None = None, seed: int = 0,
                split: str = "train"):
    """The examples a Fisher of ``task`` is computed from; every caller goes through here.

    For the per-example methods: ``(x, y)`` arrays of the whole split, or ``max_examples`` of them
    chosen at random by ``seed``. For ``"article"``: the shuffled training pipeline (shuffle order
    from ``seed``), which is what the article draws its batches from.
    """
    if method == "article":
        return task.dataset(split, batch_size=128, shuffle=True, seed=seed)
    return subsample(*task.arrays(split), max_examples, seed)


def make_anchor(model, task: Task, method: str = "exact", *, split: str = "train",
                max_examples: int | None = None, seed: int = 0, **fisher_kwargs) -> Anchor:
    """Anchor at the model's current weights, with the Fisher of ``method`` on ``task``.

    ``method`` is a Fisher method of :func:`~ewc_helpers.fisher.compute_fisher`. For the F = 1
    anchor of plain L2 use ``Anchor.from_model(model)`` or :func:`~ewc_helpers.penalties.l2_penalty`.
    """
    if method == "l2":
        raise ValueError("make_anchor has no method 'l2' (an L2 anchor needs no Fisher): use "
                         "Anchor.from_model(model) or l2_penalty(model, lam)")
    data = fisher_data(task, method, max_examples=max_examples, seed=seed, split=split)
    fisher = compute_fisher(model, data, method, seed=seed, classes=task.classes,
                            max_examples=max_examples if method == "article" else None, **fisher_kwargs)
    return Anchor.from_model(model, fisher, task=task.name)
