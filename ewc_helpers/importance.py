"""Two more per-parameter importances for the quadratic penalty: SI and MAS.

Both give an array per trainable variable that plays the role of EWC's Fisher in an
:class:`~ewc_helpers.anchors.Anchor`, so :class:`~ewc_helpers.penalties.QuadraticPenalty` applies
``(lam / 2) * sum_i Omega_i (theta_i - theta*_i)**2`` unchanged.

* **Synaptic Intelligence** (Zenke, Poole and Ganguli 2017). While a task trains, every optimizer
  step adds ``-g_i * delta_i`` to ``w_i`` (``g``: the gradient of the task loss alone,
  ``delta``: the change the step made): :class:`PathIntegral`, which
  :class:`~ewc_helpers.heads.ScenarioMLP` updates inside its train step. After the task,
  ``Omega_i += w_i / (Delta_i**2 + xi)`` with ``Delta_i`` the parameter's total change over the
  task and ``xi`` the damping; ``w`` restarts at 0 (:func:`si_omega`). As in Hsu et al.'s
  ``agents/regularization.py`` (class ``SI``) the importances add up over tasks around one anchor
  at the latest weights. A path integral can come out negative for a parameter (a step against
  its gradient); an anchor's importance must be >= 0, so such entries are set to 0 and counted.
* **Memory Aware Synapses** (Aljundi et al. 2018): the absolute gradient of the squared outputs,
  ``|d mean_k f_k(x)**2 / d theta|``, averaged over batches of the task's training data
  (:func:`mas_importance`; with ``batch_size=1`` it is Aljundi's per-example form, the squared L2
  norm of the output divided by the number of output units; Hsu et al. use the training batches).
  ``classes`` restricts the outputs to a head, as the Fisher's ``classes`` does.
"""

from __future__ import annotations

import numpy as np

from . import _env  # noqa: F401

import tensorflow as tf

__all__ = ["PathIntegral", "si_omega", "mas_importance"]


class PathIntegral:
    """The running ``w = -sum_steps g * delta`` of one task, and the weights it started from."""

    def __init__(self, model):
        variables = model.trainable_variables
        self.w = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
        self.start = [v.numpy().copy() for v in variables]

    def accumulate(self, grads, before, after) -> None:
        """Add ``-g * (after - before)`` (called inside the compiled train step)."""
        for w, g, b, a in zip(self.w, grads, before, after):
            if g is not None:
                w.assign_sub(g * (a - b))

    def values(self) -> list:
        return [w.numpy().astype(np.float64) for w in self.w]

    def restart(self, model) -> None:
        """Zero ``w`` and take the model's current weights as the next task's start."""
        for w in self.w:
            w.assign(tf.zeros_like(w))
        self.start = [v.numpy().copy() for v in model.trainable_variables]


def si_omega(w, start, end, damping: float = 0.1, previous=None):
    """``previous + w / ((end - start)**2 + damping)`` per array, negatives set to 0.

    Returns ``(omega as float32 arrays, number of entries set to 0)``."""
    if not damping > 0:
        raise ValueError(f"the SI damping must be positive; got {damping!r}")
    out, clipped = [], 0
    for k, (wk, s, e) in enumerate(zip(w, start, end)):
        add = np.asarray(wk, np.float64) / ((np.asarray(e, np.float64) - np.asarray(s, np.float64)) ** 2 + damping)
        total = add if previous is None else np.asarray(previous[k], np.float64) + add
        clipped += int(np.sum(total < 0))
        out.append(np.maximum(total, 0.0).astype(np.float32))
    return out, clipped


def mas_importance(model, x, classes=None, batch_size: int = 128, previous=None) -> list:
    """Mean over batches of ``|gradient of mean(f(x)**2)|``, ``f`` the logits (of ``classes``
    only, when given), batches of ``batch_size`` taken in order; plus ``previous`` when given."""
    x = np.asarray(x, np.float32)
    if len(x) == 0:
        raise ValueError("MAS needs at least one example")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    variables = model.trainable_variables
    index = None if classes is None else tf.constant(list(classes), tf.int32)

    @tf.function(reduce_retracing=True, autograph=False)
    def step(xb):
        with tf.GradientTape() as tape:
            out = model(xb, training=False)
            if index is not None:
                out = tf.gather(out, index, axis=1)
            loss = tf.reduce_mean(tf.square(out))
        return [tf.abs(g) for g in tape.gradient(loss, variables)]

    totals = [np.zeros(v.shape, np.float64) for v in variables]
    batches = 0
    for i in range(0, len(x), int(batch_size)):
        for t, g in zip(totals, step(tf.constant(x[i: i + int(batch_size)]))):
            t += g.numpy()
        batches += 1
    out = [t / batches for t in totals]
    if previous is not None:
        out = [o + np.asarray(p, np.float64) for o, p in zip(out, previous)]
    return [o.astype(np.float32) for o in out]
