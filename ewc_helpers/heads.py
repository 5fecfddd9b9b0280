"""Output heads per example, and the network of the published protocols.

Three ways one 10-unit output layer is used in the continual-learning scenarios:

* **Task-incremental** (one head per task): each example's softmax runs over its own task's output
  units only. When replayed and new examples, or the examples of every task (joint training),
  share a batch, each goes through *its own* head: :func:`head_offsets` gives every example the
  logit offset of its task's units (0 there, -1e9 elsewhere, see
  :func:`ewc_helpers.models.logit_offset`), not one merged head over every unit seen so far.
* **Class-incremental, seen classes only** (Hsu et al. 2018, ``valid_out_dim`` in
  ``agents/default.py`` of GT-RIPL/Continual-Learning-Benchmark): while task t trains, only the
  units of the classes seen in tasks 1..t enter the training loss; :func:`seen_classes`.
* Otherwise every unit is active (offset 0).

:class:`ScenarioMLP` is a :class:`~ewc_helpers.models.PenalizedSequential` whose training targets
may carry such per-example offsets (``y = (labels, offsets)``), and which can accumulate the path
integral of Synaptic Intelligence (:class:`ewc_helpers.importance.PathIntegral`) at every step.
"""

from __future__ import annotations

import numpy as np

from . import _env  # noqa: F401

import keras
import tensorflow as tf

from .models import OPTIMIZERS, PenalizedSequential, logit_offset

__all__ = ["ScenarioMLP", "build_scenario_mlp", "head_offsets", "seen_classes", "compile_scenario_model"]


def seen_classes(tasks, upto: int) -> tuple:
    """The output units of the classes of tasks ``0..upto`` (labels of their training splits)."""
    seen = set()
    for t in list(tasks)[: int(upto) + 1]:
        seen |= set(np.unique(t.train.labels).tolist())
    return tuple(sorted(seen))


def head_offsets(digits, heads: dict, num_outputs: int) -> np.ndarray:
    """Per example, the logit offset of its own head: ``heads`` maps a digit to the output units
    of the task it belongs to (``{2: (2, 3), 3: (2, 3), ...}``). Returns ``(N, num_outputs)``
    float32. A digit with no head raises a ValueError naming it."""
    digits = np.asarray(digits)
    missing = sorted(set(np.unique(digits).tolist()) - set(heads))
    if missing:
        raise ValueError(f"digits {missing} belong to no task head; heads cover {sorted(heads)}")
    rows = {d: logit_offset(h, num_outputs) for d, h in heads.items()}
    out = np.zeros((len(digits), int(num_outputs)), np.float32)
    for d in np.unique(digits):
        out[digits == d] = rows[int(d)]
    return out


@keras.saving.register_keras_serializable(package="ewc_helpers")
class ScenarioMLP(PenalizedSequential):
    """A PenalizedSequential whose targets may be ``(labels, offsets)``: ``offsets`` (one row per
    example) is added to the logits inside the training loss, so each example trains through its
    own head. With :meth:`set_path_integral` every optimizer step also adds ``-g * delta`` to a
    :class:`~ewc_helpers.importance.PathIntegral` (``g``: the gradient of the task loss alone,
    without penalties; ``delta``: the step the optimizer took), as Synaptic Intelligence needs."""

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(layers=layers, trainable=trainable, name=name)
        self._path = None

    def set_path_integral(self, path=None) -> None:
        self._path = path
        self.train_function = None

    @staticmethod
    def _split(y):
        if isinstance(y, (tuple, list)) and len(y) == 2:
            return y[0], y[1]
        return y, None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        y, offsets = self._split(y)
        if offsets is not None:
            y_pred = y_pred + offsets
        return super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        y, _ = self._split(y)
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def train_step(self, data):
        if self._path is None:
            return super().train_step(data)
        x, y = data[0], data[1]
        sample_weight = data[2] if len(data) > 2 else None
        variables = self.trainable_variables
        before = [tf.identity(v) for v in variables]
        with tf.GradientTape() as tape:
            task_loss = self.compute_loss(x, y, self(x, training=True), sample_weight, training=False)
        grads = tape.gradient(task_loss, variables)
        out = super().train_step(data)
        self._path.accumulate(grads, before, variables)
        return out


def build_scenario_mlp(num_outputs: int, hidden=(400, 400), input_shape=(28, 28, 1), name: str = "mlp") -> ScenarioMLP:
    """Flatten -> Dense(h, relu) for each h in ``hidden`` -> Dense(num_outputs) logits (not compiled)."""
    hidden = tuple(int(h) for h in hidden)
    if not hidden or min(hidden) < 1:
        raise ValueError(f"hidden must list one or more positive layer widths; got {hidden!r}")
    layers = [keras.Input(shape=tuple(input_shape)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers.append(keras.layers.Dense(int(num_outputs)))
    return ScenarioMLP(layers, name=name)


def compile_scenario_model(model, optimizer: str = "adam", learning_rate: float = 1e-3):
    """Compile with sparse cross-entropy on logits and no metrics (targets may carry offsets)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
    model.compile(optimizer=OPTIMIZERS[optimizer](learning_rate=learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
