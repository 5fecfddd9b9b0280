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

import math

import numpy as np

from . import _env  # noqa: F401

import tensorflow as tf

from .anchors import Anchor, AnchorError, PenaltyError, check_fisher  # noqa: F401


def check_lam(lam) -> float:
    """``lam`` as a float, or a clear error if it is negative, not finite or not a number (a bool
    such as ``True`` is refused, not read as 1)."""
    if isinstance(lam, (bool, np.bool_)) or isinstance(lam, str):
        raise PenaltyError(f"lam must be a number; got {lam!r} ({type(lam).__name__})")
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


#: The largest ``lam * F_max`` a penalty accepts. Beyond it the penalty's gradient
#: ``lam * F * (theta - theta*)`` for a deviation of order 1e3 exceeds about 1e18, and Adam's
#: running mean of squared gradients overflows float32 (largest value about 3.4e38): every weight
#: turns into NaN. Useful strengths lie many decades below.
MAX_STIFFNESS = 1e15


def check_stiffness(lam: float, anchor: Anchor) -> None:
    """Refuse a ``lam`` so large that training in float32 would overflow (see MAX_STIFFNESS)."""
    f_max = max((float(np.max(f)) for f in anchor.fisher if f.size), default=0.0)
    if lam * f_max > MAX_STIFFNESS:
        raise PenaltyError(
            f"lam={lam:g} is too large for this anchor: lam times the largest Fisher entry "
            f"({f_max:.3g}) is {lam * f_max:.3g}, and gradients that large overflow float32 when the "
            f"optimizer squares them, turning every weight into NaN; use lam <= {MAX_STIFFNESS / f_max:.3g}")


def quadratic_penalty(variables, theta, fisher, lam, lam_fisher=None):
    """``(lam / 2) * sum F (theta - theta*)**2`` over matching lists of variables and arrays.

    Its gradient, ``lam F (theta - theta*)`` per variable, is written out (``tf.custom_gradient``)
    rather than derived by the tape: the difference ``d = theta - theta*`` and ``g = lam F d`` are
    computed once and serve both the value ``0.5 sum g d`` and the gradient, about half the passes
    over the weights that autodiff of the squared difference takes (see docs/speed.md).
    ``lam_fisher``, the products ``lam F`` when already at hand (a QuadraticPenalty keeps them),
    saves one more pass.
    Only first derivatives are written out: a tape around another tape (a Hessian of the penalty)
    would see none of the second; the exact second derivative is ``lam F`` on the diagonal.
    """
    variables = [tf.convert_to_tensor(v) for v in variables]
    theta = [tf.convert_to_tensor(t, tf.float32) for t in theta]
    if lam_fisher is None:
        lam_fisher = [lam * tf.convert_to_tensor(f, tf.float32) for f in fisher]

    @tf.custom_gradient
    def penalty(*values):
        diffs = [v - t for v, t in zip(values, theta)]
        grads = [lf * d for lf, d in zip(lam_fisher, diffs)]
        value = 0.5 * tf.add_n([tf.reduce_sum(g * d) for g, d in zip(grads, diffs)])

        def gradient(upstream):
            return [upstream * g for g in grads]

        return value, gradient

    return penalty(*variables)


class QuadraticPenalty:
    """A callable penalty ``(lam / 2) * sum F (theta - theta*)**2`` around one anchor.

    Pass instances to ``model.set_penalties`` (or :func:`ewc_helpers.training.fit_task`).
    """

    def __init__(self, anchor: Anchor, lam):
        if not isinstance(anchor, Anchor):
            raise PenaltyError(f"a penalty needs an Anchor (see make_anchor); got {type(anchor).__name__}")
        self.anchor = anchor
        self.lam = check_lam(lam)
        check_stiffness(self.lam, anchor)
        self._theta = [tf.constant(t) for t in anchor.theta]
        self._fisher = [tf.constant(f) for f in anchor.fisher]
        # lam * F, multiplied once here rather than in every train step.
        self._lam_fisher = [tf.constant(np.float32(self.lam) * f) for f in anchor.fisher]

    def check_model(self, model) -> None:
        self.anchor.check_model(model)

    def __call__(self, variables):
        variables = list(variables)
        if len(variables) != len(self._theta):
            raise PenaltyError(
                f"the penalty needs all {len(self._theta)} trainable variables of the anchored model "
                f"(got {len(variables)}): pass model.trainable_variables")
        for i, (v, t) in enumerate(zip(variables, self.anchor.theta)):
            if tuple(v.shape) != t.shape:
                raise PenaltyError(f"variable {i} has shape {tuple(v.shape)} but the anchor's has {t.shape}: "
                                   "is this the model the anchor was made from?")
        return quadratic_penalty(variables, self._theta, self._fisher, self.lam, self._lam_fisher)

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
