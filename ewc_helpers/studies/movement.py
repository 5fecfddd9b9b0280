"""Why diagonal EWC protects task A only so much (lesson 08): where task B moved the weights.

Distances from theta_A per layer, the Fisher-weighted distance EWC charges for, the rise of task
A's loss as measured and as the diagonal and the full Fisher predict it, and the hidden units that
are silent on task A. Analyses that explain use the validation split; the test split is for the
final numbers only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..anchors import Anchor
from ..evaluation import accuracy, correct_answers
from ..tasks import Task
from .common import FieldAccess, Setup, new_model



class _Layers(dict):
    """Per-layer results: ``layers.hidden`` or ``layers["hidden"]``, one per layer name."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k}: {v!r}" for k, v in self.items()) + "}"


@dataclass(frozen=True, repr=False, eq=False)
class LayerMove(FieldAccess):
    """How far one layer (or ``total``) moved from ``theta*``: ``distance`` ``||theta - theta*||``,
    ``fisher_weighted`` ``sum F (theta - theta*)**2`` (what EWC charges, times lam / 2) and
    ``fisher_share``, the layer's share of the total ``fisher_weighted``."""

    distance: float
    fisher_weighted: float
    fisher_share: float

    def __repr__(self) -> str:
        return (f"LayerMove(distance={self.distance:.3g}, fisher_weighted={self.fisher_weighted:.3g}, "
                f"fisher_share={self.fisher_share:.1%})")


@dataclass(frozen=True, repr=False, eq=False)
class LayerMass(FieldAccess):
    """One layer's share of the total Fisher (``mass``) and of the weights (``parameters``)."""

    mass: float
    parameters: float

    def __repr__(self) -> str:
        return f"LayerMass(mass={self.mass:.1%}, parameters={self.parameters:.1%})"


@dataclass(frozen=True, repr=False, eq=False)
class LossRise(FieldAccess):
    """The rise of task A's mean loss (nats): ``measured``, and as the ``diagonal`` and the
    ``full`` Fisher quadratic forms predict it."""

    measured: float
    diagonal: float
    full: float

    @property
    def full_over_diagonal(self) -> float:
        """How many times the diagonal's prediction the full Fisher's is."""
        return self.full / self.diagonal if self.diagonal > 0 else float("inf")

    def __repr__(self) -> str:
        return (f"LossRise(measured={self.measured:.4f}, full={self.full:.4f}, diagonal={self.diagonal:.3g}; "
                f"full/diagonal {self.full_over_diagonal:.3g})")


@dataclass(frozen=True, repr=False, eq=False)
class UnitGroup(FieldAccess):
    """Mean absolute change of the incoming and outgoing weights of ``units`` hidden units."""

    incoming: float
    outgoing: float
    units: int

    def __repr__(self) -> str:
        return f"UnitGroup(units={self.units}, incoming={self.incoming:.3g}, outgoing={self.outgoing:.3g})"


@dataclass(frozen=True, repr=False, eq=False)
class UnitChanges(FieldAccess):
    """:class:`UnitGroup` of the units in the mask (``masked``) and of the ``others``."""

    masked: UnitGroup
    others: UnitGroup

    def __repr__(self) -> str:
        return f"UnitChanges(masked={self.masked!r}, others={self.others!r})"


@dataclass(frozen=True, repr=False)
class Restored(FieldAccess):
    """Task A's accuracy (or per-example right/wrong) with one part of the task-B weights put back
    to ``theta_A``: the ``output`` layer, the ``hidden`` layer, or the incoming weights of the
    ``units`` silent on task A."""

    output: object
    hidden: object
    units: object

    def __repr__(self) -> str:
        show = lambda v: f"{v:.3f}" if isinstance(v, float) else f"<{np.size(v)} answers>"
        return f"Restored(output={show(self.output)}, hidden={show(self.hidden)}, units={show(self.units)})"


@dataclass(frozen=True, repr=False)
class MovementReport(FieldAccess):
    """What lesson 08 measures about one task-B model against the task-A anchor (see
    :func:`movement_report`): ``movement`` (per layer and ``total``, :class:`LayerMove`),
    ``rise`` (:class:`LossRise`), ``dead_units`` (silent on task A at ``theta_A``),
    ``unit_changes``, ``revived`` (silent units that fire again after task B), ``acc_A`` and
    ``acc_A_restored`` (:class:`Restored`), and the per-example right/wrong behind them
    (``correct_A``, ``correct_A_restored``) for paired tests."""

    movement: _Layers
    rise: LossRise
    dead_units: int
    unit_changes: UnitChanges
    revived: int
    acc_A: float
    acc_A_restored: Restored
    correct_A: np.ndarray
    correct_A_restored: Restored

    def __repr__(self) -> str:
        return (f"MovementReport(distance={self.movement.total.distance:.3g}, "
                f"fisher_weighted={self.movement.total.fisher_weighted:.3g}, rise={self.rise!r}, "
                f"dead_units={self.dead_units}, acc_A={self.acc_A:.3f}, acc_A_restored={self.acc_A_restored!r})")


#: The MLP's trainable variables in order (hidden kernel, hidden bias, output kernel, output
#: bias), grouped by layer.
MLP_LAYERS = {"hidden": (0, 1), "output": (2, 3)}


def _as_weights(model_or_weights) -> list:
    """float64 arrays from a model (its trainable variables), an Anchor (theta*) or a list."""
    if hasattr(model_or_weights, "trainable_variables"):
        return [np.asarray(v.numpy(), np.float64) for v in model_or_weights.trainable_variables]
    arrays = getattr(model_or_weights, "theta", model_or_weights)
    return [np.asarray(w, np.float64) for w in arrays]


def weight_movement(model_or_weights, theta_star, fisher, layers: dict = MLP_LAYERS) -> dict:
    """How far the weights are from ``theta*``, per layer and in ``"total"``.

    ``distance``: the Euclidean distance ``||theta - theta*||``. ``fisher_weighted``: ``sum F
    (theta - theta*)**2``, what the EWC penalty charges (times lam / 2). ``fisher_share``: the
    layer's share of the total ``fisher_weighted``.
    """
    theta, star = _as_weights(model_or_weights), _as_weights(theta_star)
    f = [np.asarray(x, np.float64) for x in getattr(fisher, "fisher", fisher)]
    if not (len(theta) == len(star) == len(f)):
        raise ValueError("weights, theta* and Fisher must have one array per variable")
    sq = [np.sum((t - s) ** 2) for t, s in zip(theta, star)]
    fw = [np.sum(w * (t - s) ** 2) for t, s, w in zip(theta, star, f)]
    total_fw = float(sum(fw))
    groups = {**layers, "total": tuple(range(len(theta)))}
    return _Layers({name: LayerMove(distance=float(np.sqrt(sum(sq[i] for i in idx))),
                                    fisher_weighted=float(sum(fw[i] for i in idx)),
                                    fisher_share=float(sum(fw[i] for i in idx) / total_fw) if total_fw > 0 else 0.0)
                    for name, idx in groups.items()})


def fisher_mass(fisher, layers: dict = MLP_LAYERS) -> dict:
    """Each layer's share of the total Fisher (``mass``) and of the weights (``parameters``)."""
    f = [np.asarray(x, np.float64) for x in getattr(fisher, "fisher", fisher)]
    total, count = sum(float(x.sum()) for x in f), sum(x.size for x in f)
    if total <= 0:
        raise ValueError("the Fisher sums to zero")
    return _Layers({name: LayerMass(mass=sum(float(f[i].sum()) for i in idx) / total,
                                    parameters=sum(f[i].size for i in idx) / count) for name, idx in layers.items()})


def hidden_preactivations(model_or_weights, x) -> np.ndarray:
    """``x W1 + b1`` of the MLP's hidden layer, shape (N, hidden units), in float64."""
    w = _as_weights(model_or_weights)
    return np.asarray(x, np.float64).reshape(len(x), -1) @ w[0] + w[1]


def inactive_units(model_or_weights, x) -> np.ndarray:
    """Boolean mask of the hidden units whose ReLU is never positive on ``x``.

    On such data these units output 0, so every gradient through them is 0 and so is their whole
    Fisher (incoming and outgoing weights): EWC does not hold them at all."""
    return np.all(hidden_preactivations(model_or_weights, x) <= 0, axis=0)


def unit_changes(model_or_weights, theta_star, mask) -> dict:
    """Mean absolute change of the incoming weights (kernel column and bias) and of the outgoing
    weights (output-kernel row) of the hidden units in ``mask``, and of the other units:
    ``{"masked": {"incoming", "outgoing", "units"}, "others": {...}}``."""
    w, s = _as_weights(model_or_weights), _as_weights(theta_star)
    mask = np.asarray(mask, bool)
    incoming = np.abs(np.vstack([w[0] - s[0], (w[1] - s[1])[None]]))  # (inputs + 1, units)
    outgoing = np.abs(w[2] - s[2])  # (units, classes)

    def part(m):
        if not m.any():
            return UnitGroup(incoming=float("nan"), outgoing=float("nan"), units=0)
        return UnitGroup(incoming=float(incoming[:, m].mean()), outgoing=float(outgoing[m].mean()),
                         units=int(m.sum()))

    return UnitChanges(masked=part(mask), others=part(~mask))


def hybrid_weights(theta_b, theta_a, restore: str, layers: dict = MLP_LAYERS, units=None) -> list:
    """``theta_b`` with one part put back to ``theta_a`` (float32 arrays for ``set_weights``).

    ``restore`` is a layer name of ``layers`` or ``"units"``: the incoming weights and biases of the
    hidden units in the boolean mask ``units``, which makes units that were silent on task A at
    ``theta_a`` silent on it again, whatever their outgoing weights became."""
    out = [np.array(t, np.float32) for t in _as_weights(theta_b)]
    src = [np.asarray(t, np.float32) for t in _as_weights(theta_a)]
    if restore == "units":
        m = np.asarray(units, bool)
        out[0][:, m], out[1][m] = src[0][:, m], src[1][m]
    elif restore in layers:
        for i in layers[restore]:
            out[i] = src[i].copy()
    else:
        raise ValueError(f"restore must be 'units' or one of {sorted(layers)}; got {restore!r}")
    return out


def mlp_logits(model_or_weights, x) -> np.ndarray:
    """Logits of the ReLU MLP (Flatten, Dense, Dense) in float64 numpy."""
    w = _as_weights(model_or_weights)
    return np.maximum(hidden_preactivations(w, x), 0.0) @ w[2] + w[3]


def _log_softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def fisher_quadratic(model_or_weights, delta, x, diagonal_fisher=None) -> dict:
    """Half the exact Fisher's quadratic form at the given weights along the move ``delta``.

    ``"full"``: ``(1/2) delta^T F delta`` with the *whole* Fisher matrix, off-diagonal entries
    included. It needs no (weights x weights) matrix: for softmax outputs the exact Fisher is
    ``mean_n J_n^T (diag p_n - p_n p_n^T) J_n``, so the form needs only ``u_n = J_n delta``, the
    change of example n's logits per unit step along ``delta``, computed in closed form for the
    ReLU MLP. ``"diagonal"`` (with ``diagonal_fisher``): ``(1/2) sum_i F_ii delta_i**2``, all that
    diagonal EWC sees. Both are second-order estimates of the rise of the task's mean loss.
    """
    w, d = _as_weights(model_or_weights), _as_weights(delta)
    flat = np.asarray(x, np.float64).reshape(len(x), -1)
    z = flat @ w[0] + w[1]
    h = np.maximum(z, 0.0)
    p = np.exp(_log_softmax(h @ w[2] + w[3]))
    u = ((z > 0) * (flat @ d[0] + d[1])) @ w[2] + h @ d[2] + d[3]  # (N, classes)
    per_example = np.sum(p * u**2, axis=1) - np.sum(p * u, axis=1) ** 2
    out = {"full": 0.5 * float(per_example.mean())}
    if diagonal_fisher is not None:
        f = [np.asarray(a, np.float64) for a in getattr(diagonal_fisher, "fisher", diagonal_fisher)]
        out["diagonal"] = 0.5 * float(sum(np.sum(fi * di**2) for fi, di in zip(f, d)))
    return out


def exact_diagonal_fisher(model_or_weights, x) -> list:
    """The diagonal of the exact Fisher of the ReLU MLP at the given weights, over the inputs ``x``
    (float64, one array per variable), in closed form: for weight ``i``,
    ``mean_n sum_k p_nk (d log p_nk / d theta_i)**2``, what ``compute_fisher(..., "exact")`` gives
    on the same inputs. :func:`loss_rise` uses it so that the diagonal and the full quadratic form
    are computed on the same examples."""
    w = _as_weights(model_or_weights)
    flat = np.asarray(x, np.float64).reshape(len(x), -1)
    z = flat @ w[0] + w[1]
    on = (z > 0).astype(np.float64)
    h = np.maximum(z, 0.0)
    p = np.exp(_log_softmax(h @ w[2] + w[3]))  # (N, K)
    n = len(flat)
    # d log p_k / d logits = e_k - p; back through the output layer: W2 (e_k - p) on active units
    back = on[:, None, :] * (w[2].T[None, :, :] - (p @ w[2].T)[:, None, :])  # (N, K, hidden)
    a = np.einsum("nk,nkj->nj", p, back ** 2)  # sum_k p_k (dlogp_k/dz_j)^2
    c = p * (1.0 - p)  # sum_k p_k (delta_kj - p_j)^2
    return [(flat ** 2).T @ a / n, a.mean(0), (h ** 2).T @ c / n, c.mean(0)]


def mean_loss(model_or_weights, task: Task, split: str = "train") -> float:
    """Mean cross-entropy of the MLP on ``task``'s ``split`` (float64, inference mode)."""
    x, y = task.arrays(split)
    return float(-np.mean(_log_softmax(mlp_logits(model_or_weights, x))[np.arange(len(y)), y]))


def loss_rise(theta_a, theta_b, task: Task, fisher=None, split: str = "train") -> dict:
    """How much task A's mean loss rose from ``theta_a`` to ``theta_b``: ``"measured"``, and as the
    ``"diagonal"`` and ``"full"`` Fisher quadratic forms at ``theta_a`` predict it (nats).

    All three use the same inputs, ``task``'s ``split``: with ``fisher=None`` (the default) the
    diagonal is the exact Fisher's on those inputs (:func:`exact_diagonal_fisher`); a given
    ``fisher`` (computed elsewhere, e.g. on the training split) is used as it is."""
    a, b = _as_weights(theta_a), _as_weights(theta_b)
    x, _ = task.arrays(split)
    if fisher is None:
        fisher = exact_diagonal_fisher(a, x)
    q = fisher_quadratic(a, [tb - ta for ta, tb in zip(a, b)], x, fisher)
    return LossRise(measured=mean_loss(b, task, split) - mean_loss(a, task, split),
                    diagonal=q["diagonal"], full=q["full"])


def movement_report(model_b, anchor: Anchor, tasks: dict, split: str = "val") -> dict:
    """Everything lesson 08 measures about one task-B model against the task-A anchor (with the
    exact Fisher), all on task A's ``split`` (validation by default: these analyses explain, and
    the test split is kept for final numbers): distances per layer, the loss rise (measured, full
    and diagonal Fisher), the hidden units inactive on task A and what became of them, and task A's
    accuracy when one part of the weights is put back to ``theta_A`` (and ``correct_A_restored``: the
    per-example right/wrong behind each, for paired tests). The loss rise's full and diagonal
    Fisher forms are both computed on the same ``split`` inputs."""
    x_a, _ = tasks["A"].arrays(split)
    dead = inactive_units(anchor.theta, x_a)
    move = weight_movement(model_b, anchor.theta, anchor.fisher)
    probe = new_model(Setup(hidden_units=anchor.theta[0].shape[1], dropout=0.0),
                      num_classes=anchor.theta[-1].shape[0])
    restored, correct = {}, {}
    for part in ("output", "hidden", "units"):
        probe.set_weights(hybrid_weights(model_b, anchor.theta, part, units=dead))
        correct[part] = correct_answers(probe, tasks["A"], split)
        restored[part] = float(np.mean(correct[part]))
    return MovementReport(movement=move, rise=loss_rise(anchor.theta, model_b, tasks["A"], None, split),
                          dead_units=int(dead.sum()), unit_changes=unit_changes(model_b, anchor.theta, dead),
                          revived=int((dead & ~inactive_units(model_b, x_a)).sum()),
                          acc_A=accuracy(model_b, tasks["A"], split), acc_A_restored=Restored(**restored),
                          correct_A=correct_answers(model_b, tasks["A"], split),
                          correct_A_restored=Restored(**correct))
