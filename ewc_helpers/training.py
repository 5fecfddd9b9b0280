"""Training a task through the ordinary ``model.fit``, with or without consolidation penalties."""

from __future__ import annotations

from .data import Task
from .fisher import compute_fisher
from .penalties import Anchor


def fit_task(model, task: Task, *, epochs: int = 6, batch_size: int = 128, penalties=(),
             seed: int = 0, callbacks=(), validation: bool = False, verbose: int = 0):
    """Train ``model`` on ``task``'s training split with ``model.fit``; return the History.

    ``penalties`` (see :mod:`ewc_helpers.penalties`) are added to the loss for this call; an
    empty sequence trains on the task loss alone. With ``validation=True`` the task's validation
    split is passed as ``validation_data``. The shuffle order is drawn from ``seed``.
    """
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer; got {epochs!r}")
    if not hasattr(model, "set_penalties"):
        if penalties:
            raise TypeError("penalties need a model built by ewc_helpers.models (PenalizedSequential)")
    else:
        model.set_penalties(penalties)
    val = task.dataset("val", batch_size=1024, shuffle=False) if validation else None
    return model.fit(
        task.dataset("train", batch_size=batch_size, seed=seed),
        epochs=int(epochs), validation_data=val, callbacks=list(callbacks), verbose=verbose,
        shuffle=False,  # the pipeline already reshuffles every epoch, from `seed`
    )


def make_anchor(model, task: Task, method: str = "empirical", *, split: str = "train",
                max_examples: int | None = None, seed: int = 0, **fisher_kwargs) -> Anchor:
    """Anchor at the model's current weights, with the Fisher of ``method`` on ``task``.

    ``method="l2"`` gives the F = 1 anchor of plain L2 (no Fisher is computed).
    """
    if method == "l2":
        return Anchor.from_model(model, None, task=task.name)
    x, y = task.arrays(split)
    fisher = compute_fisher(model, (x, y), method, max_examples=max_examples, seed=seed, **fisher_kwargs)
    return Anchor.from_model(model, fisher, task=task.name)
