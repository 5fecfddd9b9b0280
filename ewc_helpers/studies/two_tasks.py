"""The A-then-B protocol of lessons 01-05: multi-task training, task A, then task B with a penalty.

Every sequential method starts task B from the *same* task-A weights and sees task B in the same
order, so differences between methods come from the method alone. :class:`LamSweeper` trains
task B many times from one task-A model with a single compiled model, which makes a ``lam``
sweep several times faster; its weights equal :func:`train_task_b`'s bit for bit.

Trained task-A models are cached on disk (see :mod:`ewc_helpers.studies.task_a_cache`), so the
lessons that share a task-A model train it once.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from .. import _env  # noqa: F401

import tensorflow as tf

from ..anchors import Anchor
from ..evaluation import accuracies
from ..penalties import check_lam, check_stiffness, ewc_penalty, l2_penalty, quadratic_penalty
from ..reproducibility import set_seed
from ..training import StopOnNonFinite, fit_task
from . import task_a_cache
from .common import Result, Setup, new_model

#: The methods that :func:`train_task_b` knows.
TASK_B_METHODS = ("naive", "l2", "ewc")
#: Half-decade starting grids for task B; search_lam extends them by a decade while the best is at
#: an end.
L2_LAMS = (0.03, 0.1, 0.3, 1.0, 3.0)
EWC_LAMS = (100.0, 300.0, 1000.0, 3000.0, 10000.0)


def evaluate(method, lam, model, tasks, history=None, started=None, label: str = "") -> Result:
    """A :class:`Result` for ``model`` on tasks A and B (validation and test accuracy)."""
    pair = [tasks["A"], tasks["B"]]
    return Result(method, lam, val=accuracies(model, pair, "val"), test=accuracies(model, pair, "test"),
                  label=label, history=dict(history.history) if history is not None else {},
                  seconds=time.perf_counter() - started if started else 0.0, model=model)


def train_multitask(tasks: dict, setup: Setup, callbacks=()) -> Result:
    """Joint training on A and B interleaved (the ``multi`` task)."""
    started = time.perf_counter()
    set_seed(setup.seed)
    model = new_model(setup)
    history = fit_task(model, tasks["multi"], epochs=setup.epochs_multi, batch_size=setup.batch_size,
                       seed=setup.seed, callbacks=callbacks, validation=True)
    return evaluate("multitask", None, model, tasks, history, started)


def train_task_a(tasks: dict, setup: Setup, dropout: float | None = None, epochs: int | None = None,
                 callbacks=(), cache: bool | None = None) -> Result:
    """The shared first phase: a fresh MLP trained on task A only.

    With ``cache`` (default: on unless ``EWC_CACHE=off``) the trained weights are kept in the
    user's cache folder, keyed by the data, the setup, dropout and epochs, and reused by later
    calls; training with ``callbacks`` always trains.
    """
    started = time.perf_counter()
    dropout = setup.dropout if dropout is None else dropout
    epochs = setup.epochs_a if epochs is None else int(epochs)
    use_cache = task_a_cache.enabled(cache) and not callbacks
    key = task_a_cache.key(tasks["A"], setup, dropout=dropout, epochs=epochs) if use_cache else None
    model = new_model(setup, dropout=dropout)
    stored = task_a_cache.load(key, shapes=[w.shape for w in model.get_weights()]) if use_cache else None
    if stored is not None:
        model.set_weights(stored["weights"])
        result = evaluate("a_only", None, model, tasks, None, started)
        result.history, result.info["cached"] = stored["history"], True
        return result
    set_seed(setup.seed)
    model = new_model(setup, dropout=dropout)
    history = fit_task(model, tasks["A"], epochs=epochs, batch_size=setup.batch_size, seed=setup.seed,
                       callbacks=callbacks, validation=True)
    if use_cache:
        task_a_cache.store(key, model.get_weights(), history.history)
    result = evaluate("a_only", None, model, tasks, history, started)
    result.info["cached"] = False
    return result


def penalties_for(method: str, model_a, lam: float = 0.0, anchor: Anchor | None = None) -> list:
    """The penalties that ``method`` ("naive", "l2", "ewc") adds while training task B."""
    if method == "naive":
        return []
    if method == "l2":
        return [l2_penalty(model_a, lam, task="A")]
    if method == "ewc":
        if anchor is None:
            raise ValueError("method 'ewc' needs an anchor (theta_A and its Fisher): see make_anchor")
        return [ewc_penalty(anchor, lam)]
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(TASK_B_METHODS)}")


def train_task_b(model_a, tasks: dict, setup: Setup, method: str = "naive", lam: float = 0.0,
                 anchor: Anchor | None = None, callbacks=(), epochs: int | None = None,
                 dropout: float | None = None, label: str = "") -> Result:
    """Continue from ``model_a``'s weights on task B, with the penalty of ``method``."""
    started = time.perf_counter()
    set_seed(setup.seed + 1)
    model = new_model(setup, weights=model_a.get_weights(), dropout=dropout)
    history = fit_task(model, tasks["B"], epochs=setup.epochs_b if epochs is None else epochs,
                       batch_size=setup.batch_size, seed=setup.seed + 1,
                       penalties=penalties_for(method, model_a, lam, anchor), callbacks=callbacks)
    model.set_penalties(())
    return evaluate(method, lam if method != "naive" else None, model, tasks, history, started, label)


class LamSweeper:
    """Task B from one task-A model, many times over, with one compiled model.

    :func:`train_task_b` builds a new model for every run, so Keras traces a new training step
    each time (about a second, most of a 6-epoch fit on the embedded digits). A sweeper keeps one
    model whose penalty reads ``theta*``, ``F`` and ``lam`` from variables. Each run restores the
    task-A weights (and dropout's random state), zeroes the optimizer state, assigns the anchor and
    ``lam``, and calls the same ``model.fit`` on the same batches: the weights it ends with are
    identical to :func:`train_task_b`'s (a unit test checks this); only the tracing is saved.

    ``setup`` gives the task-B optimizer, learning rate, epochs and seed, so the same task-A model
    can be continued with, say, SGD instead of Adam. ``dropout`` defaults to ``setup.dropout``.
    Call the sweeper (``sweeper(lam)``) for a runner that :func:`~.common.search_lam` can use.
    """

    def __init__(self, model_a, tasks: dict, setup: Setup, dropout: float | None = None):
        self.tasks, self.setup = tasks, setup
        self.dropout = setup.dropout if dropout is None else dropout
        self.theta_a = [v.numpy() for v in model_a.trainable_variables]
        set_seed(setup.seed + 1)  # as train_task_b does, so that dropout draws the same masks
        self.model = new_model(setup, weights=model_a.get_weights(), dropout=self.dropout)
        self._theta = [tf.Variable(t, trainable=False) for t in self.theta_a]
        self._fisher = [tf.Variable(np.ones_like(t), trainable=False) for t in self.theta_a]
        self._lam = tf.Variable(0.0, trainable=False, dtype=tf.float32)
        self.model.set_penalties([self._penalty])
        self.model.optimizer.build(self.model.trainable_variables)
        self._start = [v.numpy() for v in self.model.variables]  # weights and dropout's seed state
        self._optimizer_start = [v.numpy() for v in self.model.optimizer.variables]

    def _penalty(self, variables):
        return quadratic_penalty(variables, self._theta, self._fisher, self._lam)

    def run(self, method: str = "naive", lam: float = 0.0, anchor: Anchor | None = None,
            epochs: int | None = None, label: str = "", keep_model: bool = False,
            callbacks=()) -> Result:
        """One task-B run, as ``train_task_b(model_a, tasks, setup, method, lam, anchor)``.

        ``keep_model=True`` attaches a copy of the trained model to the result (the sweeper's own
        model is reused by the next run)."""
        started = time.perf_counter()
        if method not in TASK_B_METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(TASK_B_METHODS)}")
        if method == "ewc" and anchor is None:
            raise ValueError("method 'ewc' needs an anchor (theta_A and its Fisher): see make_anchor")
        lam = 0.0 if method == "naive" else check_lam(lam)
        theta = anchor.theta if method == "ewc" else self.theta_a
        fisher = anchor.fisher if method == "ewc" else [np.ones_like(t) for t in theta]
        check_stiffness(lam, Anchor(theta, fisher))
        set_seed(self.setup.seed + 1)
        for variables, values in ((self.model.variables, self._start),
                                  (self.model.optimizer.variables, self._optimizer_start),
                                  (self._theta, theta), (self._fisher, fisher)):
            for v, value in zip(variables, values):
                v.assign(value)
        self._lam.assign(lam)
        history = self.model.fit(
            self.tasks["B"].dataset("train", batch_size=self.setup.batch_size, seed=self.setup.seed + 1),
            epochs=self.setup.epochs_b if epochs is None else int(epochs), verbose=0, shuffle=False,
            callbacks=[StopOnNonFinite("B", [SimpleNamespace(lam=lam)] if lam else []), *callbacks])
        result = evaluate(method, lam if method != "naive" else None, self.model, self.tasks, history,
                          started, label)
        result.model = self.copy_model() if keep_model else None
        return result

    def runner(self, method: str, anchor: Anchor | None = None, **kwargs):
        """``lam -> Result`` for :func:`~.common.search_lam` and :func:`~.common.sweep`."""
        return lambda lam: self.run(method, lam, anchor, **kwargs)

    def copy_model(self):
        """A new model holding the sweeper's current weights."""
        return new_model(self.setup, weights=self.model.get_weights(), dropout=self.dropout)
