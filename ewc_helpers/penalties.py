"""Anchors and the quadratic consolidation penalties built on them.

An :class:`Anchor` holds ``theta*`` (the weights after a task), the per-parameter Fisher ``F`` and
metadata. Its penalty is

    ``(lam / 2) * sum_i F_i (theta_i - theta*_i)**2``

EWC uses a Fisher for ``F``. L2 is the same expression with ``F = 1``: the *squared* distance to
``theta*`` (the article's L2 used the unsquared norm, whose gradient is undefined at ``theta*``).
Penalties from several anchors add up (one per earlier task). :class:`OnlineEWC` keeps a single
running anchor instead: ``F = gamma * F_old + F_new``, centred on the latest weights
(Schwarz et al. 2018), so its memory does not grow with the number of tasks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _env  # noqa: F401

import tensorflow as tf


class PenaltyError(ValueError):
    """Raised for a penalty, anchor or Fisher that cannot be used."""


def check_lam(lam) -> float:
    """``lam`` as a float, or a clear error if it is negative or not finite."""
    try:
        value = float(lam)
    except (TypeError, ValueError) as err:
        raise PenaltyError(f"lam must be a number; got {lam!r}") from err
    if not math.isfinite(value) or value < 0:
        raise PenaltyError(f"lam must be a finite number >= 0; got {lam!r}")
    return value


def check_gamma(gamma) -> float:
    """``gamma`` as a float in (0, 1], or a clear error."""
    try:
        value = float(gamma)
    except (TypeError, ValueError) as err:
        raise PenaltyError(f"gamma must be a number in (0, 1]; got {gamma!r}") from err
    if not (0.0 < value <= 1.0):
        raise PenaltyError(f"gamma must be in (0, 1]; got {gamma!r}")
    return value


def check_fisher(fisher, shapes=None) -> list:
    """The Fisher as float32 arrays, refusing NaN, inf, negative entries or wrong shapes."""
    arrays = [np.asarray(f, dtype=np.float32) for f in fisher]
    if shapes is not None:
        _check_shapes("Fisher", [a.shape for a in arrays], shapes)
    for i, a in enumerate(arrays):
        if not np.all(np.isfinite(a)):
            raise PenaltyError(f"Fisher entry {i} (shape {a.shape}) holds NaN or inf values")
        if np.any(a < 0):
            raise PenaltyError(
                f"Fisher entry {i} (shape {a.shape}) holds negative values (min {a.min():.3g}); "
                "a diagonal Fisher is a mean of squares and cannot be negative"
            )
    return arrays


def _check_shapes(what, got, expected):
    got, expected = [tuple(s) for s in got], [tuple(s) for s in expected]
    if len(got) != len(expected):
        raise PenaltyError(
            f"{what} has {len(got)} arrays but the model has {len(expected)} trainable variables"
        )
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            raise PenaltyError(f"{what} array {i} has shape {g}, but model variable {i} has shape {e}")


@dataclass
class Anchor:
    """``theta*`` and its Fisher, one array per trainable variable, plus metadata."""

    theta: list
    fisher: list
    task: str = ""
    method: str = ""
    num_examples: int = 0
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.theta = [np.array(t, dtype=np.float32) for t in self.theta]
        for i, t in enumerate(self.theta):
            if not np.all(np.isfinite(t)):
                raise PenaltyError(f"anchor weights {i} (shape {t.shape}) hold NaN or inf values")
        self.fisher = check_fisher(self.fisher, [t.shape for t in self.theta])
        self.num_examples = int(self.num_examples)

    # ---- construction
    @classmethod
    def from_model(cls, model, fisher=None, task: str = "", method: str | None = None,
                   num_examples: int | None = None, **meta) -> "Anchor":
        """Anchor at the model's current weights. ``fisher=None`` gives F = 1 (the L2 anchor)."""
        theta = [v.numpy() for v in model.trainable_variables]
        if fisher is None:
            fisher, method, num_examples = [np.ones_like(t) for t in theta], method or "l2", 0
        method = method if method is not None else getattr(fisher, "method", "")
        if num_examples is None:
            num_examples = getattr(fisher, "num_examples", 0)
        return cls(theta, list(fisher), task=task, method=method, num_examples=num_examples, meta=meta)

    # ---- facts
    @property
    def shapes(self):
        return [t.shape for t in self.theta]

    @property
    def nbytes(self) -> int:
        """Bytes held: theta* and F."""
        return sum(a.nbytes for a in self.theta) + sum(a.nbytes for a in self.fisher)

    @property
    def num_arrays(self) -> int:
        return len(self.theta) + len(self.fisher)

    def check_model(self, model) -> None:
        _check_shapes("anchor", self.shapes, [v.shape for v in model.trainable_variables])

    # ---- persistence
    def save(self, path) -> Path:
        """Write to one ``.npz`` file (arrays plus JSON metadata); returns the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        arrays = {f"theta_{i}": t for i, t in enumerate(self.theta)}
        arrays.update({f"fisher_{i}": f for i, f in enumerate(self.fisher)})
        info = {"task": self.task, "method": self.method, "num_examples": self.num_examples,
                "num_variables": len(self.theta), "meta": self.meta}
        np.savez(path, __info__=np.array(json.dumps(info)), **arrays)
        return path

    @classmethod
    def load(cls, path) -> "Anchor":
        with np.load(Path(path), allow_pickle=False) as archive:
            if "__info__" not in archive:
                raise PenaltyError(f"{path} is not an anchor file (no metadata record)")
            info = json.loads(str(archive["__info__"]))
            n = info["num_variables"]
            theta = [archive[f"theta_{i}"] for i in range(n)]
            fisher = [archive[f"fisher_{i}"] for i in range(n)]
        return cls(theta, fisher, task=info["task"], method=info["method"],
                   num_examples=info["num_examples"], meta=info.get("meta", {}))

    def equals(self, other: "Anchor") -> bool:
        return (
            (self.task, self.method, self.num_examples) == (other.task, other.method, other.num_examples)
            and len(self.theta) == len(other.theta)
            and all(np.array_equal(a, b) for a, b in zip(self.theta, other.theta))
            and all(np.array_equal(a, b) for a, b in zip(self.fisher, other.fisher))
        )


def quadratic_penalty(variables, theta, fisher, lam):
    """``(lam / 2) * sum F (theta - theta*)**2`` over matching lists of variables and arrays."""
    total = 0.0
    for v, t, f in zip(variables, theta, fisher):
        total = total + tf.reduce_sum(f * tf.square(v - t))
    return 0.5 * lam * total


class QuadraticPenalty:
    """A callable penalty ``(lam / 2) * sum F (theta - theta*)**2`` around one anchor.

    Pass instances to ``model.set_penalties`` (or :func:`ewc_helpers.training.fit_task`).
    """

    def __init__(self, anchor: Anchor, lam):
        self.anchor = anchor
        self.lam = check_lam(lam)
        self._theta = [tf.constant(t) for t in anchor.theta]
        self._fisher = [tf.constant(f) for f in anchor.fisher]

    def check_model(self, model) -> None:
        self.anchor.check_model(model)

    def __call__(self, variables):
        return quadratic_penalty(variables, self._theta, self._fisher, self.lam)

    def gradient(self, variables) -> list:
        """The analytic gradient ``lam * F * (theta - theta*)`` as numpy arrays."""
        return [self.lam * f * (np.asarray(v) - t)
                for v, t, f in zip(variables, self.anchor.theta, self.anchor.fisher)]

    def __repr__(self):
        return f"{type(self).__name__}(task={self.anchor.task!r}, method={self.anchor.method!r}, lam={self.lam:g})"


def ewc_penalty(anchor: Anchor, lam) -> QuadraticPenalty:
    """The EWC penalty around ``anchor`` (its Fisher weights each parameter)."""
    return QuadraticPenalty(anchor, lam)


def l2_penalty(model_or_anchor, lam, task: str = "") -> QuadraticPenalty:
    """The L2 pull towards the current weights of a model (or an anchor's theta*): F = 1."""
    if isinstance(model_or_anchor, Anchor):
        theta = model_or_anchor.theta
        task = task or model_or_anchor.task
        anchor = Anchor(theta, [np.ones_like(t) for t in theta], task=task, method="l2")
    else:
        anchor = Anchor.from_model(model_or_anchor, None, task=task)
    return QuadraticPenalty(anchor, lam)


def article_l2_penalty(model_or_anchor):
    """The article's L2 term, ``0.5 * sum_v ||theta_v - theta*_v||``: a norm, not its square, no lam.

    Kept only to demonstrate its flaw: at ``theta = theta*`` (the very first step on task B) the
    gradient of a Euclidean norm is 0/0, which TensorFlow evaluates to NaN, and the NaN spreads into
    every weight. Use :func:`l2_penalty` for the correct squared distance.
    """
    if isinstance(model_or_anchor, Anchor):
        theta = model_or_anchor.theta
    else:
        theta = [v.numpy() for v in model_or_anchor.trainable_variables]
    consts = [tf.constant(t) for t in theta]

    def penalty(variables):
        return 0.5 * tf.add_n([tf.norm(v - t) for v, t in zip(variables, consts)])

    return penalty


class OnlineEWC:
    """A single running anchor: ``F = gamma * F_old + F_new``, centred on the latest weights.

    After each task call :meth:`consolidate` with the model and that task's Fisher; then use
    :meth:`penalty` while training the next task. The memory held (``theta*`` and one ``F``) stays
    the same however many tasks have been seen. With ``gamma = 1`` the running Fisher is the sum
    of the per-task Fishers.
    """

    def __init__(self, gamma=1.0):
        self.gamma = check_gamma(gamma)
        self.anchor: Anchor | None = None
        self.tasks: list = []

    def consolidate(self, model, fisher, task: str = "") -> Anchor:
        new = check_fisher(fisher, [v.shape for v in model.trainable_variables])
        if self.anchor is None:
            running = new
        else:
            self.anchor.check_model(model)
            running = [self.gamma * old + f for old, f in zip(self.anchor.fisher, new)]
        self.tasks.append(task)
        self.anchor = Anchor(
            [v.numpy() for v in model.trainable_variables], running,
            task="+".join(t for t in self.tasks if t), method=f"online(gamma={self.gamma:g})",
            num_examples=getattr(fisher, "num_examples", 0),
        )
        return self.anchor

    def penalty(self, lam) -> QuadraticPenalty:
        if self.anchor is None:
            raise PenaltyError("OnlineEWC has no anchor yet: call consolidate() after the first task")
        return QuadraticPenalty(self.anchor, lam)


def _held_arrays(anchor: Anchor) -> list:
    """The arrays a method must store for ``anchor``: theta* and F, or theta* alone for an L2
    anchor, whose F = 1 is a constant rather than data."""
    if anchor.method == "l2" and all(np.all(f == 1) for f in anchor.fisher):
        return list(anchor.theta)
    return list(anchor.theta) + list(anchor.fisher)


def memory_footprint(anchors) -> dict:
    """Number of stored arrays and bytes held by a collection of anchors.

    An EWC or online-EWC anchor holds theta* and its Fisher (two arrays per trainable variable);
    an L2 anchor holds theta* only (one array per variable), since its F = 1 need not be stored.
    """
    held = [arr for a in anchors if a is not None for arr in _held_arrays(a)]
    return {"arrays": len(held), "bytes": sum(int(arr.nbytes) for arr in held)}
