"""A two-parameter toy where EWC can be seen: two logistic-regression tasks on 2-D points.

The model is ``p(y = 1 | x) = sigmoid(w1 * x1 + w2 * x2)``, with no bias, so that its two weights
are the two axes of a picture. Task A's inputs spread far along ``x1`` and barely along ``x2``,
so task A's loss is steep along ``w1`` and nearly flat along ``w2``: its Fisher is strongly
anisotropic. Task B's inputs are round, and its teacher lies away from task A's diagonally.

For logistic regression the exact Fisher, ``mean p (1 - p) x x^T``, equals the Hessian of the mean
loss, so the Laplace approximation of task A is the quadratic bowl that fits its loss at
``theta_A``. Everything is numpy with exact gradients; :func:`run` takes a fraction of a second.
Losses are means over the examples, so the Bayesian ``lam`` is ``N_A / N_B`` (Huszar 2018: ``lam``
takes the place of ``N_A`` when task B's loss is a sum).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ToyTask", "ToyRun", "PathEnd", "make_tasks", "loss", "grad", "fisher", "fit", "minimize",
           "descend", "principal_axes", "move_angle", "matched_l2_lam", "run", "METHODS"]

METHODS = ("naive", "L2", "EWC")
#: The teachers that label the points (task B's lies away from task A's along both axes).
TEACHER_A = np.array([0.5, -0.5])
TEACHER_B = np.array([-1.0, 2.5])


@dataclass
class ToyTask:
    """``x``: (N, 2) inputs; ``y``: (N,) labels in {0, 1}."""

    name: str
    x: np.ndarray
    y: np.ndarray


def _rotation(degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def make_tasks(seed: int = 0, n: int = 200, spread=(3.0, 0.25), angle: float = 0.0) -> dict:
    """Tasks ``"A"`` and ``"B"``, ``n`` points each, drawn from ``seed``.

    Task A's inputs have standard deviation ``spread[0]`` along one axis and ``spread[1]`` along
    the other, turned by ``angle`` degrees (0: along ``x1`` and ``x2``). Task B's are round with
    standard deviation 1. Labels are drawn from each task's logistic teacher, so the optimum of
    each loss is finite.
    """
    rng = np.random.default_rng(seed)
    turn = _rotation(angle)
    x_a = rng.normal(size=(n, 2)) * np.asarray(spread, float) @ turn.T
    x_b = rng.normal(size=(n, 2))
    tasks = {}
    for name, x, teacher in (("A", x_a, turn @ TEACHER_A), ("B", x_b, TEACHER_B)):
        p = 1.0 / (1.0 + np.exp(-x @ teacher))
        tasks[name] = ToyTask(name, x, (rng.random(n) < p).astype(float))
    return tasks


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for large |z|


def loss(w, task: ToyTask) -> np.ndarray:
    """Mean cross-entropy at ``w`` (shape (2,)) or at each row of ``w`` (shape (..., 2))."""
    z = np.asarray(w, float) @ task.x.T  # (..., N)
    return np.mean(np.logaddexp(0.0, z) - task.y * z, axis=-1)


def grad(w, task: ToyTask) -> np.ndarray:
    """Exact gradient of :func:`loss` at ``w``: ``mean (p - y) x``."""
    p = _sigmoid(task.x @ np.asarray(w, float))
    return (p - task.y) @ task.x / len(task.y)


def fisher(w, task: ToyTask, kind: str = "exact", diagonal: bool = False) -> np.ndarray:
    """The 2x2 Fisher at ``w``: ``"exact"`` ``mean p(1-p) x x^T`` (also the loss's Hessian) or
    ``"empirical"`` ``mean (y - p)^2 x x^T`` (squared gradients with the data's own labels).
    ``diagonal=True`` keeps only its diagonal, as EWC does."""
    p = _sigmoid(task.x @ np.asarray(w, float))
    if kind == "exact":
        weight = p * (1.0 - p)
    elif kind == "empirical":
        weight = (task.y - p) ** 2
    else:
        raise ValueError(f"kind must be 'exact' or 'empirical'; got {kind!r}")
    f = (task.x * weight[:, None]).T @ task.x / len(task.y)
    return np.diag(np.diag(f)) if diagonal else f


def minimize(task: ToyTask, anchor=None, penalty=None, lam: float = 0.0, w0=None, tol: float = 1e-12):
    """Newton's method on ``loss(w) + lam/2 (w - anchor)^T penalty (w - anchor)``: the exact end
    point that a long enough descent reaches."""
    w = np.zeros(2) if w0 is None else np.array(w0, float)
    anchor = np.zeros(2) if anchor is None else np.asarray(anchor, float)
    penalty = np.zeros((2, 2)) if penalty is None else np.asarray(penalty, float)

    def objective(v):
        return loss(v, task) + 0.5 * lam * (v - anchor) @ penalty @ (v - anchor)

    for _ in range(100):
        g = grad(w, task) + lam * penalty @ (w - anchor)
        step = np.linalg.solve(fisher(w, task) + lam * penalty + 1e-12 * np.eye(2), g)
        while objective(w - step) > objective(w) and np.linalg.norm(step) > tol:
            step = step / 2  # damped Newton: never go uphill
        w = w - step
        if np.linalg.norm(step) < tol:
            break
    return w


def fit(task: ToyTask) -> np.ndarray:
    """The weights that minimise ``task``'s loss (training it alone)."""
    return minimize(task)


def descend(task: ToyTask, start, anchor=None, penalty=None, lam: float = 0.0,
            lr: float = 1.0, steps: int = 500) -> np.ndarray:
    """Full-batch gradient descent on ``task`` from ``start`` with the quadratic penalty
    ``lam/2 (w - anchor)^T penalty (w - anchor)``; returns the path, shape (steps + 1, 2)."""
    anchor = np.asarray(start if anchor is None else anchor, float)
    penalty = np.zeros((2, 2)) if penalty is None else np.asarray(penalty, float)
    path = [np.array(start, float)]
    for _ in range(steps):
        w = path[-1]
        path.append(w - lr * (grad(w, task) + lam * penalty @ (w - anchor)))
    return np.array(path)


def principal_axes(f) -> tuple:
    """Eigenvalues (largest first) and unit eigenvectors (columns) of a 2x2 Fisher."""
    values, vectors = np.linalg.eigh(f)
    return values[::-1], vectors[:, ::-1]


def move_angle(start, end, axis) -> float:
    """Angle in degrees (0 to 90) between the move ``end - start`` and the line along ``axis``."""
    d = np.asarray(end, float) - np.asarray(start, float)
    cos = abs(d @ axis) / (np.linalg.norm(d) * np.linalg.norm(axis) + 1e-300)
    return float(np.degrees(np.arccos(np.clip(cos, 0.0, 1.0))))


def matched_l2_lam(task_b: ToyTask, theta_a, target_loss_b: float, lo=1e-6, hi=1e6) -> float:
    """The L2 ``lam`` whose end point has task-B loss ``target_loss_b`` (bisection on log lam; that
    loss rises with lam from B's optimum to its value at ``theta_a``)."""
    eye = np.eye(2)
    for _ in range(80):
        mid = np.sqrt(lo * hi)
        end = minimize(task_b, theta_a, eye, mid, w0=theta_a)
        lo, hi = (mid, hi) if loss(end, task_b) < target_loss_b else (lo, mid)
    return float(np.sqrt(lo * hi))


@dataclass(frozen=True)
class PathEnd:
    """Where one method's path on task B ended, and what it cost: read as attributes
    (``run.summary["EWC"].loss_A``); ``end["loss_A"]`` works too."""

    end: np.ndarray
    loss_A: float
    loss_B: float
    angle_to_stiff_axis: float
    fisher_cost: float
    distance: float

    def __getitem__(self, key: str):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __repr__(self) -> str:
        return (f"PathEnd(end={np.round(self.end, 2).tolist()}, loss_A={self.loss_A:.3f}, "
                f"loss_B={self.loss_B:.3f}, angle_to_stiff_axis={self.angle_to_stiff_axis:.0f})")


@dataclass
class ToyRun:
    """Everything :func:`run` computed; ``summary[method]`` is a :class:`PathEnd`, the measures of
    each path's end."""

    tasks: dict
    theta_a: np.ndarray
    theta_b: np.ndarray
    joint: np.ndarray
    fisher_full: np.ndarray
    fisher_diag: np.ndarray
    lams: dict
    paths: dict
    lr: float
    summary: dict = field(default_factory=dict)

    @property
    def stiff_axis(self) -> np.ndarray:
        """Unit vector along which task A's (full) Fisher is largest."""
        return principal_axes(self.fisher_full)[1][:, 0]


def run(seed: int = 0, lam=None, use_diagonal: bool = True, kind: str = "exact", steps: int = 500,
        **task_kwargs) -> ToyRun:
    """Train task A alone, then task B from ``theta_A`` three ways: naive, L2, EWC.

    EWC uses ``lam`` (default ``N_A / N_B``, the Bayesian value for mean losses) and the diagonal
    of task A's Fisher of ``kind`` (the full 2x2 Fisher with ``use_diagonal=False``). L2's ``lam``
    is chosen so that L2 ends at the same task-B loss as EWC, so their task-A losses compare at
    equal progress on B. All three descend with one learning rate for ``steps`` steps.
    """
    tasks = make_tasks(seed, **task_kwargs)
    task_a, task_b = tasks["A"], tasks["B"]
    theta_a, theta_b = fit(task_a), fit(task_b)
    joint = minimize(ToyTask("A+B", np.vstack([task_a.x, task_b.x]), np.concatenate([task_a.y, task_b.y])))
    full = fisher(theta_a, task_a, kind)
    diag = np.diag(np.diag(full))
    ewc_matrix = diag if use_diagonal else full
    lam_ewc = len(task_a.y) / len(task_b.y) if lam is None else float(lam)
    ewc_end = minimize(task_b, theta_a, ewc_matrix, lam_ewc, w0=theta_a)
    lam_l2 = matched_l2_lam(task_b, theta_a, float(loss(ewc_end, task_b)))
    penalties = {"naive": (np.zeros((2, 2)), 0.0), "L2": (np.eye(2), lam_l2), "EWC": (ewc_matrix, lam_ewc)}
    # One learning rate, safe for the stiffest objective: 1 / (bound on B's curvature + penalty's).
    curvature_b = 0.25 * np.linalg.eigvalsh(task_b.x.T @ task_b.x / len(task_b.y))[-1]
    lr = 1.0 / max(curvature_b + k * np.linalg.eigvalsh(m)[-1] for m, k in penalties.values())
    paths = {name: descend(task_b, theta_a, theta_a, m, lam, lr, steps) for name, (m, lam) in penalties.items()}
    result = ToyRun(tasks, theta_a, theta_b, joint, full, diag, {"L2": lam_l2, "EWC": lam_ewc}, paths, lr)
    axis = result.stiff_axis
    for name, path in paths.items():
        move = path[-1] - theta_a
        result.summary[name] = PathEnd(
            end=path[-1],
            loss_A=float(loss(path[-1], task_a)),
            loss_B=float(loss(path[-1], task_b)),
            angle_to_stiff_axis=float(move_angle(theta_a, path[-1], axis)),
            fisher_cost=float(0.5 * move @ full @ move),
            distance=float(np.linalg.norm(move)),
        )
    return result
