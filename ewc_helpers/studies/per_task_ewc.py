"""Measuring EWC with one anchor per task against online EWC (issue 13).

With one anchor per finished task ``k`` (``theta_k``, ``F_k``), the penalty while training task
``t`` is a sum of ``t - 1`` quadratics. A sum of diagonal quadratics is one quadratic:

    sum_k (lam / 2) F_k (theta - theta_k)**2
        = (lam / 2) F_sum (theta - theta_bar)**2  +  (lam / 2) sum_k F_k (theta_bar - theta_k)**2

with ``F_sum = sum_k F_k`` and ``theta_bar = sum_k F_k theta_k / F_sum`` (per parameter), the
Fisher-weighted mean of the old weights. The first part has the same stiffness as online EWC with
``gamma = 1`` (``F_sum``), but it is centred on ``theta_bar`` instead of on the latest weights
``theta_{t-1}``. The second part, the *spread*, does not depend on ``theta``: it is the penalty's
minimum, the price of the anchors disagreeing with each other. So the two forms differ only in
where the pull points, and these helpers measure exactly that:

* :func:`summed_penalty`, :func:`summed_gradient`, :func:`anchor_terms`: the penalty, its
  gradient and each anchor's term by hand, in float64 numpy (to check the TensorFlow penalty);
* :func:`fisher_weighted_centre`, :func:`anchor_spread`, :func:`penalty_decomposition`: the
  decomposition above;
* :func:`AnchorTermRecorder`: each anchor's term and the task loss while a task trains;
* :func:`penalty_only_descent`: where the penalty alone (no new data) takes the weights;
* :func:`fisher_sampling_error`: how far a Fisher from a subsample is from the full one;
* :func:`run_ewc_sequence`: a task sequence with a choice of penalty form (per task, per task
  with ``lam / number of anchors``, online) and of resetting Adam, with hooks for probes.
  With ``form="per_task"`` or ``"online"`` and ``reset_optimizer=True`` it trains exactly as
  :func:`ewc_helpers.studies.sequences.run_sequence` does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import _env  # noqa: F401

import keras
import tensorflow as tf

from ..evaluation import AccuracyMatrix, accuracy
from ..fisher import compute_fisher, subsample
from ..models import build_mlp, compile_model
from ..anchors import Anchor
from ..penalties import OnlineEWC, QuadraticPenalty, check_lam
from ..reproducibility import set_seed
from ..training import fit_task
from .common import FieldAccess

FORMS = ("per_task", "per_task_mean", "online")


# --------------------------------------------------------------------------- by hand
def _weights(model_or_arrays) -> list:
    """float64 arrays from a model (trainable variables), an Anchor (theta*) or a list."""
    if hasattr(model_or_arrays, "trainable_variables"):
        return [np.asarray(v.numpy(), np.float64) for v in model_or_arrays.trainable_variables]
    arrays = getattr(model_or_arrays, "theta", model_or_arrays)
    return [np.asarray(a, np.float64) for a in arrays]


def _fisher(anchor) -> list:
    return [np.asarray(f, np.float64) for f in anchor.fisher]


def anchor_terms(weights, anchors, lam) -> np.ndarray:
    """Each anchor's term ``(lam / 2) sum_i F_k,i (theta_i - theta_k,i)**2`` (float64)."""
    lam = check_lam(lam)
    w = _weights(weights)
    return np.array([0.5 * lam * sum(float(np.sum(f * (x - t) ** 2))
                                     for x, t, f in zip(w, _weights(a), _fisher(a)))
                     for a in anchors], dtype=np.float64)


def summed_penalty(weights, anchors, lam) -> float:
    """The per-task EWC penalty, the sum of :func:`anchor_terms`."""
    return float(np.sum(anchor_terms(weights, anchors, lam)))


def summed_gradient(weights, anchors, lam) -> list:
    """``lam * sum_k F_k (theta - theta_k)``, one float64 array per variable."""
    lam = check_lam(lam)
    w = _weights(weights)
    grad = [np.zeros_like(x) for x in w]
    for a in anchors:
        for g, x, t, f in zip(grad, w, _weights(a), _fisher(a)):
            g += lam * f * (x - t)
    return grad


def fisher_weighted_centre(anchors):
    """``(theta_bar, F_sum)``: the minimiser of the summed penalty and its total Fisher.

    Where every anchor's Fisher is zero the penalty does not care; ``theta_bar`` is then the plain
    mean of the anchors' weights there.
    """
    anchors = list(anchors)
    if not anchors:
        raise ValueError("no anchors")
    thetas = [_weights(a) for a in anchors]
    fishers = [_fisher(a) for a in anchors]
    centre, total = [], []
    for i in range(len(thetas[0])):
        f_sum = sum(f[i] for f in fishers)
        weighted = sum(f[i] * t[i] for f, t in zip(fishers, thetas))
        plain = sum(t[i] for t in thetas) / len(thetas)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre.append(np.where(f_sum > 0, weighted / np.where(f_sum > 0, f_sum, 1.0), plain))
        total.append(f_sum)
    return centre, total


def anchor_spread(anchors, lam) -> float:
    """The summed penalty at its minimum, ``(lam / 2) sum_k F_k (theta_bar - theta_k)**2``: how
    much the anchors disagree, in the Fisher metric. Zero when all anchors share their weights."""
    centre, _ = fisher_weighted_centre(anchors)
    return summed_penalty(centre, anchors, lam)


@dataclass(frozen=True)
class PenaltyParts(FieldAccess):
    """The summed per-task penalty at some weights, split as in the module docstring.

    ``total``: the summed penalty; ``about_centre``: ``(lam / 2) F_sum (theta - theta_bar)**2``;
    ``spread``: :func:`anchor_spread` (``total = about_centre + spread``); ``terms``: each
    anchor's term; ``grad_norm``: the Euclidean norm of the summed gradient. ``parts["total"]``
    still works as ``parts.total`` (older code read a dict).
    """

    total: float
    about_centre: float
    spread: float
    terms: np.ndarray = field(compare=False)
    grad_norm: float

    def __repr__(self) -> str:
        return (f"PenaltyParts(total {self.total:.4g} = about the centre {self.about_centre:.4g} + spread "
                f"{self.spread:.4g}; gradient norm {self.grad_norm:.4g}; {len(self.terms)} anchor terms)")


def penalty_decomposition(weights, anchors, lam) -> PenaltyParts:
    """The summed penalty at ``weights``, split as in the module docstring (a :class:`PenaltyParts`)."""
    lam = check_lam(lam)
    w = _weights(weights)
    centre, f_sum = fisher_weighted_centre(anchors)
    about = 0.5 * lam * sum(float(np.sum(f * (x - c) ** 2)) for x, c, f in zip(w, centre, f_sum))
    terms = anchor_terms(w, anchors, lam)
    grad = summed_gradient(w, anchors, lam)
    return PenaltyParts(total=float(terms.sum()), about_centre=about, spread=anchor_spread(anchors, lam),
                        terms=terms, grad_norm=float(np.sqrt(sum(np.sum(g ** 2) for g in grad))))


def fisher_sampling_error(fisher_small, fisher_full) -> dict:
    """How a Fisher from a subsample differs from the Fisher of all examples.

    ``rel_l1``: ``sum |F_small - F_full| / sum F_full``; ``rel_total``: ``total(F_small) /
    total(F_full) - 1``; ``top_overlap``: the share of the 1 % largest entries of ``F_full`` that
    are also among the 1 % largest of ``F_small``.
    """
    small = np.concatenate([np.ravel(np.asarray(f, np.float64)) for f in getattr(fisher_small, "fisher", fisher_small)])
    full = np.concatenate([np.ravel(np.asarray(f, np.float64)) for f in getattr(fisher_full, "fisher", fisher_full)])
    if small.shape != full.shape:
        raise ValueError("the two Fishers have different sizes")
    total = full.sum()
    if total <= 0:
        raise ValueError("the full Fisher sums to zero")
    k = max(1, len(full) // 100)
    top_full = set(np.argpartition(full, -k)[-k:].tolist())
    top_small = set(np.argpartition(small, -k)[-k:].tolist())
    return {"rel_l1": float(np.abs(small - full).sum() / total), "rel_total": float(small.sum() / total - 1.0),
            "top_overlap": len(top_full & top_small) / k}


# --------------------------------------------------------------------------- during training
class AnchorTermRecorder(keras.callbacks.Callback):
    """Records each anchor's penalty term every ``every`` training batches (and at the end).

    ``records``: one ``{"step", "terms" (array, one per anchor), "loss"}`` per record, where
    ``loss`` is the running training loss Keras reports (task loss plus penalty).
    """

    def __init__(self, anchors, lam, every: int = 10):
        super().__init__()
        self.anchors, self.lam, self.every = list(anchors), check_lam(lam), int(every)
        self.records, self._step = [], 0

    def _record(self, loss):
        self.records.append({"step": self._step, "terms": anchor_terms(self.model, self.anchors, self.lam),
                             "loss": float(loss)})

    def on_train_begin(self, logs=None):
        self._step = 0
        self._record(np.nan)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self._record((logs or {}).get("loss", np.nan))

    def on_train_end(self, logs=None):
        if self.records[-1]["step"] != self._step:
            self._record(np.nan)

    def terms(self) -> np.ndarray:
        """Shape (records, anchors)."""
        return np.array([r["terms"] for r in self.records])


def penalty_only_descent(start, anchors, lam, steps: int, learning_rate: float = 1e-3) -> list:
    """Weights after ``steps`` Adam steps on the summed penalty alone, from ``start`` (a model,
    anchor or list of arrays): where the penalty by itself takes the network, with no new data.
    Returns float32 arrays in the order of the trainable variables."""
    lam = check_lam(lam)
    variables = [tf.Variable(np.asarray(w, np.float32)) for w in _weights(start)]
    penalties = [QuadraticPenalty(a, lam) for a in anchors]
    opt = keras.optimizers.Adam(learning_rate=learning_rate)

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            total = tf.add_n([p(variables) for p in penalties])
        opt.apply_gradients(zip(tape.gradient(total, variables), variables))
        return total

    for _ in range(int(steps)):
        step()
    return [v.numpy() for v in variables]


# --------------------------------------------------------------------------- sequences
def _penalties(form, lam, anchors, online):
    if form == "online":
        return [] if online.anchor is None else [QuadraticPenalty(online.anchor, lam)]
    if not anchors:
        return []
    each = lam / len(anchors) if form == "per_task_mean" else lam
    return [QuadraticPenalty(a, each) for a in anchors]


def run_ewc_sequence(tasks, setup, lam, form: str = "per_task", reset_optimizer: bool = True,
                     fisher_examples: int | None = 1000, first: dict | None = None, probe=None,
                     callbacks_for=None) -> dict:
    """Train ``tasks`` one after another with an EWC penalty of the given ``form``:

    ``"per_task"``       one anchor (theta_k, F_k) per finished task, each with ``lam``;
    ``"per_task_mean"``  the same anchors, each with ``lam / number of anchors``;
    ``"online"``         one running anchor, ``F = sum_k F_k`` (gamma = 1), centred on the latest
                         weights.

    Whatever the form, the per-task anchors and the online anchor are both kept (they cost one
    Fisher computation per task), so that probes can compare them. ``setup`` is an
    ``studies.common.Setup`` (or anything with its fields). ``reset_optimizer=False`` keeps Adam's
    moments from one task to the next. ``probe(i, model, anchors, online_anchor)`` is called
    before task ``i >= 1`` trains and its return values are collected in ``"probes"``;
    ``callbacks_for(i, anchors)`` may return Keras callbacks for task ``i``. ``first`` is
    :func:`ewc_helpers.studies.sequences.train_first_task`'s result.

    A diagnostic: it returns a dict of measurements rather than a :class:`~.common.Result`,
    because it carries every anchor, the weights after each task and the probes. Returns
    ``{"form", "lam", "matrix" (test), "val_matrix", "average_accuracy",
    "backward_transfer", "val_score", "probes", "thetas" (weights after each task), "anchors",
    "online_anchor", "seconds", "model"}``.
    """
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    lam = check_lam(lam)
    tasks = list(tasks)
    started = time.perf_counter()
    set_seed(setup.seed)
    names = [t.name for t in tasks]
    test, val = AccuracyMatrix(names), AccuracyMatrix(names)
    model = build_mlp(num_classes=tasks[0].num_classes, hidden_units=setup.hidden_units,
                      dropout=setup.dropout, optimizer=setup.optimizer, learning_rate=setup.learning_rate)
    anchors, online, probes, thetas = [], OnlineEWC(1.0), [], []
    for i, task in enumerate(tasks):
        if i == 0 and first is not None:
            model.set_weights(first["weights"])
            test.add_row(first["test_row"])
            val.add_row(first["val_row"])
        else:
            if i and probe is not None:
                probes.append(probe(i, model, list(anchors), online.anchor))
            if i and reset_optimizer:
                compile_model(model, setup.optimizer, setup.learning_rate)
            callbacks = callbacks_for(i, list(anchors)) if callbacks_for is not None else ()
            fit_task(model, task, epochs=setup.epochs_per_task, batch_size=setup.batch_size,
                     penalties=_penalties(form, lam, anchors, online), seed=setup.seed + i,
                     callbacks=callbacks or ())
            test.add_row([accuracy(model, t, "test") for t in tasks])
            val.add_row([accuracy(model, t, "val") for t in tasks])
        thetas.append([v.numpy() for v in model.trainable_variables])
        if i < len(tasks) - 1:
            seed = setup.seed + i
            x, y = subsample(*task.arrays("train"), fisher_examples, seed)
            fisher = compute_fisher(model, (x, y), setup.fisher, seed=seed)
            anchors.append(Anchor.from_model(model, fisher, task=task.name))
            online.consolidate(model, fisher, task=task.name)
    model.set_penalties(())
    return {"form": form, "lam": lam, "reset_optimizer": reset_optimizer, "matrix": test, "val_matrix": val,
            "average_accuracy": test.average_accuracy, "backward_transfer": test.backward_transfer,
            "val_score": val.average_accuracy, "probes": probes, "thetas": thetas,
            "anchors": anchors, "online_anchor": online.anchor, "seconds": time.perf_counter() - started,
            "model": model}
