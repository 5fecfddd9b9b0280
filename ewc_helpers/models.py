"""The article's MLP, built as a Keras model whose training loss can carry extra penalty terms."""

from __future__ import annotations

from . import _env  # noqa: F401  (quiet TensorFlow before it loads)

import keras
import tensorflow as tf

OPTIMIZERS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}


@keras.saving.register_keras_serializable(package="ewc_helpers")
class PenalizedSequential(keras.Sequential):
    """A ``keras.Sequential`` whose training loss adds the active penalties.

    A penalty is any callable taking ``model.trainable_variables`` and returning a scalar tensor
    (see :mod:`ewc_helpers.penalties`). Because the penalty is added in :meth:`compute_loss`, the
    ordinary ``model.fit`` trains with it: progress bars, History, callbacks and
    ``validation_data`` all work. The reported training ``loss`` includes the penalty; validation
    and ``evaluate`` losses do not.
    """

    #: The loss in ``fit``'s per-batch logs reads NaN as soon as a weight is NaN or infinite (see
    #: :meth:`train_step`), so a callback that watches the loss watches the weights too, at no cost.
    nonfinite_weights_in_loss = True

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(layers=layers, trainable=trainable, name=name)
        self._penalties = ()
        self._active_classes = None
        self._logit_offset = None

    @property
    def active_classes(self):
        return self._active_classes

    def set_active_classes(self, classes=None) -> None:
        """Train only the output units ``classes`` (a task's own head), or all when None.

        The other units' logits get a large negative offset inside the training loss, so their
        softmax probability and their gradients are zero: one output layer serves as one head per
        task (task-incremental learning, van de Ven et al. 2022)."""
        classes = None if classes is None else tuple(int(c) for c in classes)
        if classes == self._active_classes:
            return
        self._active_classes = classes
        self._logit_offset = None if classes is None else logit_offset(classes, self.outputs[0].shape[-1])
        self.train_function = None

    @property
    def penalties(self) -> tuple:
        return self._penalties

    def set_penalties(self, penalties=()) -> None:
        """Replace the active penalties (an empty sequence switches them off)."""
        penalties = tuple(penalties)
        for p in penalties:
            if not callable(p):
                raise TypeError(f"a penalty must be callable on the trainable variables; got {p!r}")
            check = getattr(p, "check_model", None)
            if check is not None:
                check(self)
        if len(penalties) == len(self._penalties) and all(a is b for a, b in zip(penalties, self._penalties)):
            return  # the same penalty objects: the compiled train step still holds them
        self._penalties = penalties
        # The compiled train step captured the old penalties: make fit() trace a new one.
        self.train_function = None

    def penalty(self):
        """The sum of the active penalties at the current weights (0.0 when there are none)."""
        total = 0.0
        for p in self._penalties:
            total = total + p(self.trainable_variables)
        return total

    def train_step(self, data):
        """Keras's train step; then, inside the same compiled step, the weights' finiteness.

        When a weight is NaN or infinite after the update, the step's reported ``loss`` is NaN.
        ReLU passes a NaN on, but a weight can turn NaN while the loss of the batch that did it
        was still finite (a NaN gradient, e.g. of a norm at its anchor); this makes that batch's
        loss say so. The check is a sum per variable (one pass over the weights, NaN or infinite
        if any weight is; an exact test runs only when a sum overflows), and it travels with the
        loss that ``fit`` copies to the host after every batch anyway: no extra host round-trip.
        The epoch's loss in the History is the loss tracker's mean, which this does not touch.
        """
        logs = super().train_step(data)
        if isinstance(logs, dict) and "loss" in logs:
            logs = dict(logs)
            logs["loss"] = tf.where(weights_finite(self.trainable_variables), logs["loss"], float("nan"))
        return logs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self._logit_offset is not None:
            y_pred = y_pred + self._logit_offset
        loss = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        if training and self._penalties:
            loss = loss + self.penalty()
        return loss


def weights_finite(variables):
    """A boolean scalar tensor: every value of ``variables`` is finite.

    A sum is NaN or infinite when any term is, so a finite sum per variable proves its values
    finite in one pass; only when a sum is not finite (a NaN or an overflow of huge but finite
    values) does the exact elementwise test run.
    """
    variables = list(variables)
    if not variables:
        return tf.constant(True)
    sums = tf.stack([tf.reduce_sum(tf.cast(v, tf.float32)) for v in variables])
    return tf.cond(tf.reduce_all(tf.math.is_finite(sums)), lambda: tf.constant(True),
                   lambda: tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in variables])))


def logit_offset(classes, num_outputs: int):
    """A float32 vector that is 0 at ``classes`` and -1e9 elsewhere (added to logits, it masks the
    other output units)."""
    import numpy as np

    classes = list(classes)
    if not classes or min(classes) < 0 or max(classes) >= num_outputs:
        raise ValueError(f"classes must be output units 0..{num_outputs - 1}; got {classes}")
    offset = np.full(int(num_outputs), -1e9, np.float32)
    offset[classes] = 0.0
    return offset


def compile_model(model, optimizer: str = "adam", learning_rate: float = 1e-3):
    """Compile with the article's loss (sparse cross-entropy on logits) and accuracy."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive; got {learning_rate}")
    model.compile(
        optimizer=OPTIMIZERS[optimizer](learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def build_mlp(num_classes: int = 5, hidden_units: int = 128, dropout: float = 0.0,
              input_shape=(28, 28, 1), optimizer: str = "adam", learning_rate: float = 1e-3,
              name: str = "mlp") -> PenalizedSequential:
    """Flatten -> Dense(hidden, relu) -> [Dropout] -> Dense(num_classes) logits, compiled.

    With the defaults this is the article's 784-128-5 network; ``dropout=0.5`` gives the variant the
    article used for EWC only.
    """
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout}")
    layers = [
        keras.Input(shape=tuple(input_shape)),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden_units, activation="relu"),
    ]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(num_classes))
    model = PenalizedSequential(layers, name=name)
    return compile_model(model, optimizer, learning_rate)
