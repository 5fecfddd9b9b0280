"""The article's experiments as plain functions that return results.

The notebooks and ``python -m ewc_helpers reproduce`` both call these. Every sequential method
starts task B from the *same* task-A weights and sees task B in the same order, so differences
between methods come from the method alone. The penalty strength ``lam`` is chosen on the
validation split (highest mean validation accuracy over tasks A and B), never on the test split.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .data import Task
from .evaluation import AccuracyMatrix, accuracies, accuracy
from .fisher import compute_fisher
from .models import build_mlp
from .penalties import Anchor, OnlineEWC, QuadraticPenalty, ewc_penalty, l2_penalty, memory_footprint
from .reproducibility import set_seed
from .training import fit_task, make_anchor

#: The article's published test accuracies (one run each, full MNIST): (task A, task B).
ARTICLE_RESULTS = {
    "multi-task": (0.9724, 0.9742),
    "A only": (0.9850, None),
    "naive": (0.2663, 0.9831),
    "L2": (0.9038, 0.5978),
    "EWC": (0.7678, 0.7087),
}
#: Half-decade grids, wide enough to reach both extremes on the 784-128-5 MLP.
L2_LAMS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
EWC_LAMS = (30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0)
#: The article's EWC recipe: its Fisher, alpha = 25, dropout 0.5, 3 epochs on A and 9 on B.
ARTICLE_EWC_RECIPE = dict(fisher="article", lam=25.0, dropout=0.5, epochs_a=3, epochs_b=9)


@dataclass(frozen=True)
class Setup:
    """One architecture, optimizer and epoch budget shared by every method."""

    epochs_multi: int = 6
    epochs_a: int = 6
    epochs_b: int = 6
    batch_size: int = 128
    hidden_units: int = 128
    dropout: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    fisher: str = "exact"
    seed: int = 0

    def with_epochs(self, epochs: int) -> "Setup":
        return replace(self, epochs_multi=epochs, epochs_a=epochs, epochs_b=epochs)


@dataclass
class Result:
    """Accuracies of one trained model on tasks A and B (validation and test)."""

    method: str
    lam: float | None
    val: dict
    test: dict
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    model: object = field(default=None, repr=False, compare=False)

    @property
    def val_score(self) -> float:
        return float(np.mean(list(self.val.values())))

    def to_dict(self) -> dict:
        d = asdict(replace(self, model=None))
        d.pop("model")
        return d


def new_model(setup: Setup, weights=None, num_classes: int = 5, dropout: float | None = None):
    """The setup's MLP, optionally starting from ``weights`` (with a fresh optimizer)."""
    model = build_mlp(num_classes=num_classes, hidden_units=setup.hidden_units,
                      dropout=setup.dropout if dropout is None else dropout,
                      optimizer=setup.optimizer, learning_rate=setup.learning_rate)
    if weights is not None:
        model.set_weights(weights)
    return model


def _result(method, lam, model, tasks, history, started) -> Result:
    pair = [tasks["A"], tasks["B"]]
    return Result(method, lam, val=accuracies(model, pair, "val"), test=accuracies(model, pair, "test"),
                  history=dict(history.history) if history is not None else {},
                  seconds=time.perf_counter() - started, model=model)


def train_multitask(tasks: dict, setup: Setup, callbacks=()) -> Result:
    """Joint training on A and B interleaved (the ``multi`` task)."""
    started = time.perf_counter()
    set_seed(setup.seed)
    model = new_model(setup)
    history = fit_task(model, tasks["multi"], epochs=setup.epochs_multi, batch_size=setup.batch_size,
                       seed=setup.seed, callbacks=callbacks, validation=True)
    return _result("multi-task", None, model, tasks, history, started)


def train_task_a(tasks: dict, setup: Setup, dropout: float | None = None, epochs: int | None = None,
                 callbacks=()) -> Result:
    """The shared first phase: a fresh MLP trained on task A only."""
    started = time.perf_counter()
    set_seed(setup.seed)
    model = new_model(setup, dropout=dropout)
    history = fit_task(model, tasks["A"], epochs=setup.epochs_a if epochs is None else epochs,
                       batch_size=setup.batch_size, seed=setup.seed, callbacks=callbacks, validation=True)
    return _result("A only", None, model, tasks, history, started)


def penalties_for(method: str, model_a, lam: float = 0.0, anchor: Anchor | None = None) -> list:
    """The penalties that ``method`` ("naive", "l2", "ewc") adds while training task B."""
    if method == "naive":
        return []
    if method == "l2":
        return [l2_penalty(model_a, lam, task="A")]
    if method == "ewc":
        if anchor is None:
            raise ValueError("method 'ewc' needs an anchor (theta* and its Fisher)")
        return [ewc_penalty(anchor, lam)]
    raise ValueError(f"unknown method {method!r}; choose 'naive', 'l2' or 'ewc'")


def train_task_b(model_a, tasks: dict, setup: Setup, method: str = "naive", lam: float = 0.0,
                 anchor: Anchor | None = None, callbacks=(), epochs: int | None = None,
                 dropout: float | None = None, label: str | None = None) -> Result:
    """Continue from ``model_a``'s weights on task B, with the penalty of ``method``."""
    started = time.perf_counter()
    set_seed(setup.seed + 1)
    model = new_model(setup, weights=model_a.get_weights(), dropout=dropout)
    history = fit_task(model, tasks["B"], epochs=setup.epochs_b if epochs is None else epochs,
                       batch_size=setup.batch_size, seed=setup.seed + 1,
                       penalties=penalties_for(method, model_a, lam, anchor), callbacks=callbacks)
    return _result(label or method, lam if method != "naive" else None, model, tasks, history, started)


def sweep_lam(model_a, tasks: dict, setup: Setup, method: str, lams, anchor: Anchor | None = None,
              progress=None) -> list:
    """``train_task_b`` once per ``lam``; returns the results in grid order."""
    results = []
    for lam in lams:
        r = train_task_b(model_a, tasks, setup, method, lam, anchor)
        r.model = None  # keep memory flat across a sweep
        results.append(r)
        if progress:
            progress(f"  {method} lam={lam:g}: val A {r.val['A']:.3f}, val B {r.val['B']:.3f}")
    return results


def choose_lam(results) -> Result:
    """The result with the highest mean validation accuracy over A and B (ties: smaller lam)."""
    if not results:
        raise ValueError("no sweep results to choose from")
    return max(results, key=lambda r: (round(r.val_score, 6), -(r.lam or 0.0)))


def article_ewc_recipe(tasks: dict, setup: Setup) -> Result:
    """Ablation: the article's own EWC setup (its Fisher, alpha = 25, dropout 0.5, 3 + 9 epochs)."""
    recipe = ARTICLE_EWC_RECIPE
    a = train_task_a(tasks, setup, dropout=recipe["dropout"], epochs=recipe["epochs_a"])
    anchor = make_anchor(a.model, tasks["A"], recipe["fisher"])
    return train_task_b(a.model, tasks, setup, "ewc", recipe["lam"], anchor, epochs=recipe["epochs_b"],
                        dropout=recipe["dropout"], label="EWC, article recipe")


def run_article_suite(tasks: dict, setup: Setup, l2_lams=L2_LAMS, ewc_lams=EWC_LAMS,
                      include_recipe: bool = True, progress=print) -> dict:
    """All of the article's experiments for one seed: ``{"results": [...], "sweeps": {...}}``."""
    say = progress or (lambda *_: None)
    out = {"seed": setup.seed, "results": [], "sweeps": {}}

    def keep(r):
        say(f"[seed {setup.seed}] {r.method:<22} test A {r.test['A']:.3f}  test B {r.test['B']:.3f}"
            + (f"  (lam {r.lam:g})" if r.lam is not None else "") + f"  {r.seconds:.1f}s")
        out["results"].append(r)

    keep(train_multitask(tasks, setup))
    a = train_task_a(tasks, setup)
    keep(a)
    keep(train_task_b(a.model, tasks, setup, "naive"))
    l2 = sweep_lam(a.model, tasks, setup, "l2", l2_lams, progress=say)
    out["sweeps"]["L2"] = l2
    best = choose_lam(l2)
    best.method = "L2"
    keep(best)
    anchor = make_anchor(a.model, tasks["A"], setup.fisher, seed=setup.seed)
    ewc = sweep_lam(a.model, tasks, setup, "ewc", ewc_lams, anchor, progress=say)
    out["sweeps"]["EWC"] = ewc
    best = choose_lam(ewc)
    best.method = "EWC"
    keep(best)
    if include_recipe:
        keep(article_ewc_recipe(tasks, setup))
    return out


# --------------------------------------------------------------------------- summaries
def summarize(runs: list) -> list:
    """Rows ``{"method", "A", "B", "A_std", "B_std", "lam", "n"}`` over seeds (mean and std)."""
    rows = []
    methods = [r.method for r in runs[0]["results"]]
    for m in methods:
        rs = [next(r for r in run["results"] if r.method == m) for run in runs]
        a = np.array([r.test["A"] for r in rs])
        b = np.array([r.test["B"] for r in rs])
        lams = [r.lam for r in rs if r.lam is not None]
        rows.append({"method": m, "A": float(a.mean()), "B": float(b.mean()),
                     "A_std": float(a.std()), "B_std": float(b.std()), "lam": lams, "n": len(rs)})
    return rows


def format_table(rows: list, with_std: bool = False) -> str:
    """The results table beside the article's published figures."""
    def cell(mean, std, show):
        if show and mean is not None:
            return f"{mean:.3f} ± {std:.3f}"
        return "-" if mean is None else f"{mean:.3f}"

    width = 15 if with_std else 9
    head = (f"{'method':<22}{'lam':>10}  {'task A':>{width}}  {'task B':>{width}}"
            f"  {'article A':>9}  {'article B':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        art = ARTICLE_RESULTS.get(r["method"], (None, None))
        b_mean = None if r["method"] == "A only" else r["B"]
        lam = ",".join(sorted({f"{x:g}" for x in r["lam"]})) if r["lam"] else "-"
        lines.append(
            f"{r['method']:<22}{lam:>10}  {cell(r['A'], r['A_std'], with_std):>{width}}"
            f"  {cell(b_mean, r['B_std'], with_std):>{width}}"
            f"  {cell(art[0], 0, False):>9}  {cell(art[1], 0, False):>9}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- task sequences
SEQUENCE_METHODS = ("naive", "l2", "ewc", "online_ewc")


def run_sequence(tasks: list, setup: Setup, method: str, lam: float = 0.0, gamma: float = 1.0,
                 fisher_examples: int | None = 1000, progress=None) -> dict:
    """Train ``tasks`` one after another with ``method``; return the accuracy matrix and memory.

    ``"ewc"`` keeps one anchor per finished task; ``"online_ewc"`` keeps a single running anchor
    (``F = gamma * F_old + F_new`` at the latest weights) and so never needs an old task's data
    again; ``"l2"`` keeps the latest weights only.
    """
    if method not in SEQUENCE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(SEQUENCE_METHODS)}")
    set_seed(setup.seed)
    model = new_model(setup, num_classes=tasks[0].num_classes)
    matrix = AccuracyMatrix([t.name for t in tasks])
    anchors, online, stored = [], OnlineEWC(gamma), []
    for i, task in enumerate(tasks):
        if method == "l2" and i:
            penalties = [l2_penalty(model, lam, task=tasks[i - 1].name)]
            stored = [penalties[0].anchor]
        elif method == "ewc":
            penalties = [ewc_penalty(a, lam) for a in anchors]
            stored = anchors
        elif method == "online_ewc" and online.anchor is not None:
            penalties = [online.penalty(lam)]
            stored = [online.anchor]
        else:
            penalties = []
        fit_task(model, task, epochs=setup.epochs_b, batch_size=setup.batch_size,
                 penalties=penalties, seed=setup.seed + i)
        matrix.add_row([accuracy(model, t, "test") for t in tasks])
        if method in ("ewc", "online_ewc") and i < len(tasks) - 1:
            x, y = task.arrays("train")
            fisher = compute_fisher(model, (x, y), setup.fisher, max_examples=fisher_examples, seed=setup.seed)
            if method == "ewc":
                anchors.append(Anchor.from_model(model, fisher, task=task.name))
            else:
                online.consolidate(model, fisher, task=task.name)
        if progress:
            progress(f"  {method} after {task.name}: " + " ".join(f"{v:.2f}" for v in matrix.rows[-1]))
    if method == "ewc":
        stored = anchors
    elif method == "online_ewc":
        stored = [online.anchor]
    return {"method": method, "lam": lam, "gamma": gamma if method == "online_ewc" else None,
            "matrix": matrix, "memory": memory_footprint(stored)}
