"""Does the optimizer matter? The SGD stability limit of a quadratic penalty (lesson 09).

One gradient-descent step on ``(lam / 2) F (theta - theta*)**2`` multiplies the deviation
``theta - theta*`` by ``1 - lr * lam * F``: plain SGD diverges once ``lr * lam * F_max > 2``, a
fact of arithmetic. Adam rescales each step and does not follow this rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _env  # noqa: F401

import keras

from ..anchors import Anchor
from ..training import TrainingError
from .common import FieldAccess

def sgd_step_factor(lr: float, lam: float, fisher) -> np.ndarray:
    """The factor ``1 - lr * lam * F`` by which one gradient-descent step on the penalty
    ``(lam / 2) F (theta - theta*)**2`` multiplies the deviation ``theta - theta*``. Its size
    exceeds 1 (the deviation grows, with alternating sign) when ``lr * lam * F > 2``."""
    return 1.0 - float(lr) * float(lam) * np.asarray(fisher, dtype=np.float64)


def stiffness(lr: float, lam: float, fisher) -> float:
    """``lr * lam * F_max``: plain SGD on the penalty diverges when this exceeds 2.
    ``fisher`` is an array, a list of arrays (one per variable) or an :class:`Anchor`."""
    arrays = getattr(fisher, "fisher", fisher)
    arrays = arrays if isinstance(arrays, (list, tuple)) else [arrays]
    f_max = max(float(np.max(np.asarray(f, dtype=np.float64))) for f in arrays)
    return float(lr) * float(lam) * f_max


def max_stable_lam(lr: float, fisher, margin: float = 1.0) -> float:
    """The largest ``lam`` with ``lr * lam * F_max <= 2 * margin`` (``margin < 1`` keeps a gap,
    since the task-B loss adds its own curvature)."""
    if not 0 < margin <= 1:
        raise ValueError(f"margin must be in (0, 1]; got {margin}")
    return 2.0 * margin / stiffness(lr, 1.0, fisher)


def quadratic_descent(deviation, lr: float, lam: float, fisher, steps: int) -> np.ndarray:
    """Deviations ``theta - theta*`` after each of ``steps`` gradient-descent steps on the penalty
    alone, shape ``(steps + 1, *deviation.shape)`` (row 0 is the start)."""
    d = np.asarray(deviation, dtype=np.float64)
    factor = sgd_step_factor(lr, lam, fisher)
    out = [d]
    for _ in range(int(steps)):
        d = factor * d
        out.append(d)
    return np.array(out)


class DeviationRecorder(keras.callbacks.Callback):
    """Records, after every training batch, how far the weights are from ``theta*``.

    ``records`` holds one ``{"step", "max_deviation", "stiff_deviation", "loss"}`` per batch:
    ``max |theta - theta*|`` over all weights; ``|theta_k - theta*_k|`` of the stiffest weight ``k``
    (the one with the largest Fisher entry, when ``anchor`` has a Fisher); and the training loss
    Keras reports (a running mean over the epoch).
    """

    def __init__(self, anchor):
        super().__init__()
        self.theta_star = [np.asarray(t) for t in getattr(anchor, "theta", anchor)]
        fisher = getattr(anchor, "fisher", None)
        self.stiffest = None
        if fisher is not None:
            v = int(np.argmax([np.max(f) for f in fisher]))
            self.stiffest = (v, np.unravel_index(int(np.argmax(fisher[v])), np.shape(fisher[v])))
        self.records = []

    def on_train_batch_end(self, batch, logs=None):
        values = [v.numpy() for v in self.model.trainable_variables]
        with np.errstate(invalid="ignore", over="ignore"):
            diffs = [v - t for v, t in zip(values, self.theta_star)]
            dev = max(float(np.max(np.abs(d))) for d in diffs)
            stiff = float(abs(diffs[self.stiffest[0]][self.stiffest[1]])) if self.stiffest else float("nan")
        loss = (logs or {}).get("loss", np.nan)
        self.records.append({"step": len(self.records) + 1, "max_deviation": dev,
                             "stiff_deviation": stiff, "loss": float(loss)})

    def series(self, key: str = "max_deviation") -> np.ndarray:
        return np.array([r[key] for r in self.records], dtype=float)

    def growth_per_step(self, key: str = "stiff_deviation", first: int = 2, last: int = 20) -> float:
        """Geometric mean factor by which ``key`` grew per step from record ``first`` to record
        ``last`` (0-based; ``last`` is lowered to the last finite, non-zero record)."""
        return growth_per_step(self.series(key), first, last)


def growth_per_step(values, first: int = 2, last: int = 20) -> float:
    """Geometric mean of ``|values[k+1] / values[k]|`` for ``first <= k < last`` (``last`` lowered to
    the last finite, non-zero value); NaN when fewer than one step is left."""
    v = np.abs(np.asarray(values, dtype=float))
    ok = np.isfinite(v) & (v > 0)
    if not (first < len(v) and ok[first]):
        return float("nan")
    bad = np.flatnonzero(~ok[first:])
    last = min(int(last), len(v) - 1, first + int(bad[0]) - 1 if bad.size else len(v) - 1)
    if last <= first:
        return float("nan")
    return float((v[last] / v[first]) ** (1.0 / (last - first)))


@dataclass(frozen=True, repr=False)
class StabilityRun(FieldAccess):
    """One EWC run on task B watched for the SGD stability limit (see :func:`stability_run`).

    ``stiffness`` is ``lr * lam * F_max``; ``predicted_growth`` ``|1 - lr * lam * F_max|``, the
    factor by which one SGD step on the penalty alone multiplies the stiffest weight's deviation;
    ``growth`` that factor as measured during training; ``finite`` whether every weight is finite
    at the end; ``stopped`` the error message of a run that diverged (else None); ``deviations``
    ``max |theta - theta_A|`` after every step. Read as attributes; ``run["growth"]`` works too.
    """

    optimizer: str
    lr: float
    lam: float
    stiffness: float
    predicted_growth: float
    growth: float
    finite: bool
    stopped: str | None
    max_deviation: float
    loss: float
    val: dict | None
    deviations: np.ndarray

    @property
    def above_limit(self) -> bool:
        """``lr * lam * F_max > 2``: above the limit plain SGD on the penalty diverges."""
        return self.stiffness > 2

    def __repr__(self) -> str:
        return (f"StabilityRun({self.optimizer} lr {self.lr:g}, lam {self.lam:.3g}: stiffness {self.stiffness:.2f}, "
                f"growth/step {self.growth:.2f} (|1 - stiffness| {self.predicted_growth:.2f}), "
                f"finite {self.finite}, {len(self.deviations)} steps)")


def stability_run(sweeper, lam: float, anchor: Anchor) -> StabilityRun:
    """One EWC run of ``sweeper`` at ``lam``, recording the weights' distance from theta_A.

    A run that diverges stops with a :class:`~ewc_helpers.training.TrainingError` (the loss is no
    longer finite); the deviations recorded up to then are kept and ``"stopped"`` holds the error
    message. Returns a :class:`StabilityRun`.
    """
    rec = DeviationRecorder(anchor)
    try:
        result = sweeper.run("ewc", lam, anchor, callbacks=[rec])
        val, stopped = result.val, None
    except TrainingError as err:
        val, stopped = None, str(err)
    weights = sweeper.model.get_weights()
    lr = sweeper.setup.learning_rate
    k = stiffness(lr, lam, anchor)
    return StabilityRun(optimizer=sweeper.setup.optimizer, lr=lr, lam=float(lam), stiffness=k,
                        predicted_growth=abs(1.0 - k), growth=rec.growth_per_step(),
                        finite=stopped is None and bool(all(np.all(np.isfinite(w)) for w in weights)),
                        stopped=stopped, max_deviation=float(rec.records[-1]["max_deviation"]),
                        loss=rec.records[-1]["loss"], val=val, deviations=rec.series("max_deviation"))
