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

from .data import Task, make_permuted_tasks
from .evaluation import AccuracyMatrix, accuracies, accuracy
from .fisher import compute_fisher, subsample
from .models import build_mlp, compile_model
from .penalties import (Anchor, OnlineEWC, QuadraticPenalty, check_gamma, check_lam, ewc_penalty, l2_penalty,
                        memory_footprint)
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
#: How the sequence methods are named in tables and figures.
SEQUENCE_LABELS = {"naive": "naive", "l2": "L2", "ewc": "EWC (per task)", "online_ewc": "online EWC"}
#: Defaults of the permuted suite (``reproduce --suite permuted`` and notebook 06), chosen so that
#: the whole suite (13 five-task runs, lam sweeps included) takes about 2 minutes on 2 CPU cores
#: with the embedded digits: 5 epochs per task (the article trains 6) and a Fisher from 1,000
#: randomly chosen training examples of the task just learnt.
PERMUTED_EPOCHS = 5
PERMUTED_FISHER_EXAMPLES = 1000
#: Three-point half-decade lam grids for permuted MNIST, centred where seeds 0-2 found the best
#: validation accuracy (notebook 06 shows the sweep). Per-task and online EWC share a grid: with
#: gamma = 1 the online Fisher is the sum of the per-task ones.
SEQUENCE_LAMS = {
    "l2": (0.003, 0.01, 0.03),
    "ewc": (30.0, 100.0, 300.0),
    "online_ewc": (30.0, 100.0, 300.0),
}
#: Wider grids (``reproduce --suite permuted --full-grid``): twice the runs, each end far from the best.
FULL_SEQUENCE_LAMS = {
    "l2": (0.001, 0.003, 0.01, 0.03, 0.1, 0.3),
    "ewc": (3.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
    "online_ewc": (3.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
}


def fisher_sample(task: Task, max_examples: int | None = None, seed: int = 0, split: str = "train"):
    """``(x, y)`` to estimate a task's Fisher from: the whole split, or ``max_examples`` of it
    chosen at random by ``seed`` (:func:`ewc_helpers.fisher.subsample`).
    """
    return subsample(*task.arrays(split), max_examples, seed)


def train_first_task(tasks: list, setup: Setup) -> dict:
    """The first task of a sequence, trained once: no method adds a penalty before the first task,
    so every method can start from these weights (pass the result as ``run_sequence(first=...)``).
    Returns ``{"task", "seed", "weights", "test_row", "val_row"}``.
    """
    tasks = list(tasks)
    set_seed(setup.seed)
    model = new_model(setup, num_classes=tasks[0].num_classes)
    fit_task(model, tasks[0], epochs=setup.epochs_b, batch_size=setup.batch_size, seed=setup.seed)
    return {"task": tasks[0].name, "seed": setup.seed, "weights": model.get_weights(),
            "test_row": [accuracy(model, t, "test") for t in tasks],
            "val_row": [accuracy(model, t, "val") for t in tasks]}


def run_sequence(tasks: list, setup: Setup, method: str, lam: float = 0.0, gamma: float = 1.0,
                 fisher_examples: int | None = PERMUTED_FISHER_EXAMPLES, consolidate_last: bool = True,
                 first: dict | None = None, progress=None) -> dict:
    """Train ``tasks`` one after another with ``method``; return accuracy matrices and memory.

    Every task trains for ``setup.epochs_b`` epochs with a fresh optimizer, so that only the
    weights and what the method stores explicitly carry over from one task to the next:

    ``"naive"``       nothing;
    ``"l2"``          theta* after the latest task (the pull has F = 1, so no Fisher is stored);
    ``"ewc"``         one anchor (theta*, F) per finished task; the penalties add up;
    ``"online_ewc"``  one running anchor: F = gamma * F_old + F_new, centred on the latest weights.
                      It needs only the task just learnt, never an old task's data.

    Each Fisher (``setup.fisher``) is computed on ``fisher_examples`` random training examples of
    the task just learnt. ``memory_history[k]`` is what the method holds after task ``k + 1``,
    ready for the next task; with ``consolidate_last`` (default) the last task is consolidated
    too, so that ``memory`` is what a further task would start with. ``first`` (from
    :func:`train_first_task` with the same tasks and setup) skips training the first task again;
    the results are the same as without it.

    Returns ``{"method", "label", "lam", "gamma", "matrix" (test), "val_matrix", "memory",
    "memory_history", "average_accuracy", "backward_transfer", "val_score", "seconds", "anchors"
    (what is held at the end), "model"}``.
    """
    if method not in SEQUENCE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(SEQUENCE_METHODS)}")
    tasks = list(tasks)
    if not tasks:
        raise ValueError("run_sequence needs at least one task")
    num_classes = {t.num_classes for t in tasks}
    if len(num_classes) != 1:
        raise ValueError(f"every task of a sequence must have the same number of classes; got {num_classes}")
    lam = None if method == "naive" else check_lam(lam)
    online = OnlineEWC(gamma) if method == "online_ewc" else None
    started = time.perf_counter()
    set_seed(setup.seed)
    names = [t.name for t in tasks]
    test, val = AccuracyMatrix(names), AccuracyMatrix(names)
    if first is not None and (first["task"], first["seed"], len(first["test_row"])) != (
            tasks[0].name, setup.seed, len(tasks)):
        raise ValueError("`first` was trained on another first task, seed or number of tasks")
    model = new_model(setup, num_classes=num_classes.pop())
    held, memory = [], []
    for i, task in enumerate(tasks):
        if i == 0 and first is not None:
            model.set_weights(first["weights"])
            test.add_row(first["test_row"])
            val.add_row(first["val_row"])
        else:
            if i:  # a fresh optimizer: Adam's moments are memory of the old task too
                compile_model(model, setup.optimizer, setup.learning_rate)
            fit_task(model, task, epochs=setup.epochs_b, batch_size=setup.batch_size,
                     penalties=[QuadraticPenalty(a, lam) for a in held], seed=setup.seed + i)
            test.add_row([accuracy(model, t, "test") for t in tasks])
            val.add_row([accuracy(model, t, "val") for t in tasks])
        if method != "naive" and (i < len(tasks) - 1 or consolidate_last):
            held = _consolidate(method, model, task, held, online, setup, fisher_examples, seed=setup.seed + i)
        memory.append(memory_footprint(held))
        if progress:
            progress(f"  {SEQUENCE_LABELS[method]}" + (f" lam={lam:g}" if lam is not None else "")
                     + f" after {task.name}: test " + " ".join(f"{v:.2f}" for v in test.rows[-1][: i + 1]))
    model.set_penalties(())
    return {"method": method, "label": SEQUENCE_LABELS[method], "lam": lam,
            "gamma": online.gamma if online is not None else None,
            "matrix": test, "val_matrix": val, "memory": memory[-1], "memory_history": memory,
            "average_accuracy": test.average_accuracy, "backward_transfer": test.backward_transfer,
            "val_score": val.average_accuracy, "seconds": time.perf_counter() - started,
            "anchors": held, "model": model}


def _consolidate(method, model, task, held, online, setup, fisher_examples, seed):
    """What ``method`` holds after finishing ``task`` (a list of anchors)."""
    if method == "l2":
        return [Anchor.from_model(model, None, task=task.name)]  # theta* only; F = 1 is implicit
    x, y = fisher_sample(task, fisher_examples, seed=seed)
    fisher = compute_fisher(model, (x, y), setup.fisher, seed=seed)
    if method == "ewc":
        return held + [Anchor.from_model(model, fisher, task=task.name)]
    return [online.consolidate(model, fisher, task=task.name)]


def sweep_sequence(tasks: list, setup: Setup, method: str, lams, gamma: float = 1.0,
                   fisher_examples: int | None = PERMUTED_FISHER_EXAMPLES, first: dict | None = None,
                   progress=None) -> list:
    """:func:`run_sequence` once per ``lam`` (models dropped to keep memory flat), in grid order."""
    results = []
    for lam in lams:
        r = run_sequence(tasks, setup, method, lam, gamma, fisher_examples, first=first)
        r["model"], r["anchors"] = None, None
        results.append(r)
        if progress:
            progress(f"  {r['label']} lam={lam:g}: validation average {r['val_score']:.3f}, "
                     f"test average {r['average_accuracy']:.3f}")
    return results


def choose_sequence_lam(results) -> dict:
    """The run with the highest average *validation* accuracy over all tasks after the last one
    (ties: the smaller lam). The test split plays no part in the choice."""
    if not results:
        raise ValueError("no sweep results to choose from")
    return max(results, key=lambda r: (round(r["val_score"], 6), -(r["lam"] or 0.0)))


def sequence_record(result: dict) -> dict:
    """A JSON-able copy of a :func:`run_sequence` result (matrices as lists, no model)."""
    out = {k: v for k, v in result.items() if k not in ("model", "anchors", "matrix", "val_matrix")}
    out["matrix"] = result["matrix"].to_dict()
    out["val_matrix"] = result["val_matrix"].to_dict()
    return out


def run_permuted_suite(mnist, setup: Setup, num_tasks: int = 5, seeds: int = 1, gamma: float = 1.0,
                       progress=print, lams: dict | None = None,
                       fisher_examples: int | None = PERMUTED_FISHER_EXAMPLES) -> dict:
    """Permuted MNIST: ``num_tasks`` tasks in sequence with naive, L2, per-task EWC and online EWC.

    For every seed ``s`` in ``0..seeds-1`` the permutations, the initial weights and the shuffles
    come from ``s``, and each penalised method's lam is chosen on validation from
    ``SEQUENCE_LAMS`` (or ``lams``). Each task trains for ``setup.epochs_b`` epochs.

    Returns ``{"table": printable text, "rows": per-method summary (mean and std over seeds),
    "runs": per-seed chosen results and sweeps (JSON-able), ...settings}``.
    """
    if int(num_tasks) != num_tasks or num_tasks < 2:
        raise ValueError(f"a task sequence needs at least 2 tasks; got num_tasks={num_tasks!r}")
    if int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be a positive integer; got {seeds!r}")
    gamma = check_gamma(gamma)
    grids = {**SEQUENCE_LAMS, **(lams or {})}
    say = progress or (lambda *_: None)
    runs = []
    for seed in range(int(seeds)):
        tasks = make_permuted_tasks(mnist, int(num_tasks), seed=seed)
        s = replace(setup, seed=seed)
        say(f"[seed {seed}] {num_tasks} permuted tasks, {s.epochs_b} epochs each")
        first = train_first_task(tasks, s)
        chosen = {"naive": run_sequence(tasks, s, "naive", first=first)}
        chosen["naive"]["model"] = chosen["naive"]["anchors"] = None
        sweeps = {}
        for method in ("l2", "ewc", "online_ewc"):
            sweeps[method] = sweep_sequence(tasks, s, method, grids[method], gamma, fisher_examples,
                                            first, say)
            chosen[method] = choose_sequence_lam(sweeps[method])
        for r in chosen.values():
            say(f"[seed {seed}] {r['label']:<15} average {r['average_accuracy']:.3f}  "
                f"BWT {r['backward_transfer']:+.3f}" + (f"  (lam {r['lam']:g})" if r["lam"] is not None else ""))
        runs.append({"seed": seed, "results": chosen, "sweeps": sweeps})
    rows = summarize_sequences(runs)
    return {
        "suite": "permuted", "table": format_sequence_table(rows, with_std=seeds > 1), "rows": rows,
        "num_tasks": int(num_tasks), "gamma": gamma, "epochs_per_task": setup.epochs_b,
        "fisher_examples": fisher_examples, "lams": {k: list(v) for k, v in grids.items()},
        "runs": [{"seed": r["seed"], "results": {m: sequence_record(x) for m, x in r["results"].items()},
                  "sweeps": {m: [sequence_record(x) for x in xs] for m, xs in r["sweeps"].items()}}
                 for r in runs],
    }


def summarize_sequences(runs: list) -> list:
    """Rows ``{"method", "label", "lam", "average_accuracy", "average_accuracy_std",
    "backward_transfer", "backward_transfer_std", "arrays", "bytes", "n"}`` over seeds.

    ``runs`` is a list of ``{"results": {method: run_sequence result}}``, one per seed.
    """
    rows = []
    for method in runs[0]["results"]:
        rs = [run["results"][method] for run in runs]
        avg = np.array([r["average_accuracy"] for r in rs])
        bwt = np.array([r["backward_transfer"] for r in rs])
        rows.append({"method": method, "label": rs[0]["label"],
                     "lam": [r["lam"] for r in rs if r["lam"] is not None],
                     "average_accuracy": float(avg.mean()), "average_accuracy_std": float(avg.std()),
                     "backward_transfer": float(bwt.mean()), "backward_transfer_std": float(bwt.std()),
                     "arrays": rs[0]["memory"]["arrays"], "bytes": rs[0]["memory"]["bytes"], "n": len(rs)})
    return rows


def format_sequence_table(rows: list, with_std: bool = False) -> str:
    """Average accuracy, backward transfer and memory held per method, as text."""
    def cell(mean, std, sign=""):
        text = f"{mean:{sign}.3f}"
        return f"{text} ± {std:.3f}" if with_std else text

    width = 15 if with_std else 8
    head = (f"{'method':<16}{'lam':>12}  {'avg acc':>{width}}  {'BWT':>{width}}"
            f"  {'arrays held':>11}  {'bytes held':>11}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lam = ",".join(f"{x:g}" for x in sorted(set(r["lam"]))) if r["lam"] else "-"
        lines.append(
            f"{r['label']:<16}{lam:>12}  {cell(r['average_accuracy'], r['average_accuracy_std']):>{width}}"
            f"  {cell(r['backward_transfer'], r['backward_transfer_std'], '+'):>{width}}"
            f"  {r['arrays']:>11,}  {r['bytes']:>11,}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- sensitivity (notebook 05)
# How EWC depends on its Fisher, on lam and on the optimizer, and why it protects task A as much
# (or as little) as it does. Notebook 05 calls these; tests/test_sensitivity.py checks them.
import keras  # noqa: E402  (already loaded, quietly, through .models)
import tensorflow as tf  # noqa: E402

from .penalties import quadratic_penalty  # noqa: E402

#: lam grids per Fisher method ("l2": plain L2), for notebook 05. ``"quick"`` is the grid the
#: committed notebook runs (6 values each, so that it executes in a few minutes on 2 cores);
#: ``"full"`` uses half-decade steps over a wider range. Each reaches both extremes on the
#: embedded digits: at its low end task A is forgotten almost as with naive training, at its high
#: end task B is barely learned. The correct Fishers share a grid; the article's "Fisher" is about
#: 10^5 times larger, so its grid sits about five decades lower (and ends at its alpha = 25).
SENSITIVITY_GRIDS = {
    "quick": {
        "l2": (0.003, 0.03, 0.1, 0.3, 1.0, 10.0),
        "empirical": (30.0, 300.0, 1e3, 3e3, 1e4, 1e5),
        "sampled": (30.0, 300.0, 1e3, 3e3, 1e4, 1e5),
        "exact": (30.0, 300.0, 1e3, 3e3, 1e4, 1e5),
        "article": (1e-4, 1e-3, 0.01, 0.03, 0.3, 25.0),
    },
    "full": {
        "l2": (1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
        "empirical": (10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6),
        "sampled": (10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6),
        "exact": (10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6),
        "article": (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 25.0),
    },
}


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
            epochs: int | None = None, label: str | None = None, keep_model: bool = False,
            callbacks=()) -> Result:
        """One task-B run, as ``train_task_b(model_a, tasks, setup, method, lam, anchor)``.

        ``keep_model=True`` attaches a copy of the trained model to the result (the sweeper's own
        model is reused by the next run)."""
        started = time.perf_counter()
        if method not in ("naive", "l2", "ewc"):
            raise ValueError(f"unknown method {method!r}; choose 'naive', 'l2' or 'ewc'")
        if method == "ewc" and anchor is None:
            raise ValueError("method 'ewc' needs an anchor (theta* and its Fisher)")
        lam = 0.0 if method == "naive" else check_lam(lam)
        theta = anchor.theta if method == "ewc" else self.theta_a
        fisher = anchor.fisher if method == "ewc" else [np.ones_like(t) for t in theta]
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
            callbacks=list(callbacks))
        result = _result(label or method, lam if method != "naive" else None, self.model, self.tasks,
                         history, started)
        result.model = self.copy_model() if keep_model else None
        return result

    def copy_model(self):
        """A new model holding the sweeper's current weights."""
        return new_model(self.setup, weights=self.model.get_weights(), dropout=self.dropout)

    def sweep(self, method: str, lams, anchor: Anchor | None = None) -> list:
        """:meth:`run` once per ``lam``, in grid order."""
        return [self.run(method, lam, anchor) for lam in lams]


def seed_sweeps(tasks: dict, setup: Setup, seeds, grids: dict, dropout: float | None = None,
                article_batches: int = 1000, progress=None) -> dict:
    """For every seed: a task-A model, its Fishers, and a lam sweep on task B per grid.

    ``grids`` maps a label to ``(fisher, lams)``, where ``fisher`` is ``"l2"`` or a Fisher method of
    :func:`~ewc_helpers.fisher.compute_fisher`. Seed ``s`` trains its own task-A model
    (``replace(setup, seed=s)``) and computes its own Fishers on task A's training split (the
    ``"sampled"`` draw seeded by ``s``; the article's from ``article_batches`` batches of the
    shuffled pipeline, as the article draws them). ``dropout`` applies to both phases.

    Returns ``{"seeds", "grids", "sweeps": {label: [[Result per lam] per seed]}, "anchors":
    [{fisher: Anchor} per seed], "a_results": [Result per seed, with its model], "sweepers":
    [LamSweeper per seed]}``.
    """
    say = progress or (lambda *_: None)
    out = {"seeds": [int(s) for s in seeds], "grids": {k: (f, tuple(l)) for k, (f, l) in grids.items()},
           "sweeps": {k: [] for k in grids}, "anchors": [], "a_results": [], "sweepers": []}
    methods = sorted({f for f, _ in grids.values()} - {"l2"})
    for seed in out["seeds"]:
        s = replace(setup, seed=seed)
        a = train_task_a(tasks, s, dropout=dropout)
        anchors = {}
        for fisher_method in methods:
            if fisher_method == "article":
                fisher = compute_fisher(a.model, tasks["A"].dataset("train", seed=seed), "article",
                                        num_batches=article_batches)
            else:
                fisher = compute_fisher(a.model, tasks["A"].arrays("train"), fisher_method, seed=seed)
            anchors[fisher_method] = Anchor.from_model(a.model, fisher, task="A")
        sweeper = LamSweeper(a.model, tasks, s, dropout=dropout)
        for label, (fisher_method, lams) in grids.items():
            method = "l2" if fisher_method == "l2" else "ewc"
            out["sweeps"][label].append(sweeper.sweep(method, lams, anchors.get(fisher_method)))
        out["anchors"].append(anchors)
        out["a_results"].append(a)
        out["sweepers"].append(sweeper)
        say(f"[seed {seed}] task A val {a.val['A']:.3f}; swept {', '.join(grids)}")
    return out


def sweep_summary(per_seed: list, split: str = "val") -> list:
    """Mean and std over seeds at each lam of a sweep.

    ``per_seed`` is a list (one per seed) of equally long lists of :class:`Result` over one lam
    grid. Returns ``[{"lam", "A", "B", "A_std", "B_std", "score", "score_std", "n"}]`` in grid
    order, where ``score`` is the mean of A and B (what :func:`choose_lam` maximises).
    """
    if not per_seed:
        raise ValueError("no sweeps to summarise")
    lams = [r.lam for r in per_seed[0]]
    if any([r.lam for r in rs] != lams for rs in per_seed[1:]):
        raise ValueError("every seed must sweep the same lam grid")
    rows = []
    for i, lam in enumerate(lams):
        a = np.array([getattr(rs[i], split)["A"] for rs in per_seed])
        b = np.array([getattr(rs[i], split)["B"] for rs in per_seed])
        score = (a + b) / 2
        rows.append({"lam": lam, "A": float(a.mean()), "B": float(b.mean()), "A_std": float(a.std()),
                     "B_std": float(b.std()), "score": float(score.mean()),
                     "score_std": float(score.std()), "n": len(per_seed)})
    return rows


def best_row(rows: list) -> dict:
    """The row of :func:`sweep_summary` with the highest mean score (ties: the smaller lam)."""
    if not rows:
        raise ValueError("no rows to choose from")
    return max(rows, key=lambda r: (round(r["score"], 6), -(r["lam"] or 0.0)))


def at_lam(per_seed: list, lam) -> list:
    """The result at ``lam`` of every seed's sweep."""
    return [next(r for r in rs if r.lam == lam) for rs in per_seed]


def sensitivity_table(sweeps: dict, fisher_totals: dict | None = None) -> list:
    """One row per sweep: the lam chosen on validation (mean over seeds), its validation score and
    test accuracies (mean and std over seeds), and ``lam * total(F)``.

    ``sweeps`` maps a label to per-seed sweeps (as in :func:`seed_sweeps`); ``fisher_totals`` maps
    a label to the mean total of its Fisher (the number of weights for L2, whose F = 1).
    """
    rows = []
    for label, per_seed in sweeps.items():
        best = best_row(sweep_summary(per_seed, "val"))
        test = next(r for r in sweep_summary(per_seed, "test") if r["lam"] == best["lam"])
        total = (fisher_totals or {}).get(label)
        rows.append({"label": label, "lam": best["lam"], "val": best["score"], "val_std": best["score_std"],
                     "A": test["A"], "A_std": test["A_std"], "B": test["B"], "B_std": test["B_std"],
                     "test": test["score"], "test_std": test["score_std"],
                     "lam_x_total": best["lam"] * total if total is not None else None})
    return rows


def format_sensitivity_table(rows: list) -> str:
    """:func:`sensitivity_table` as text."""
    head = (f"{'method':<18}{'best lam':>9}{'lam*total(F)':>14}{'val score':>15}"
            f"{'test A':>15}{'test B':>15}")
    lines = [head, "-" * len(head)]
    for r in rows:
        scaled = "-" if r["lam_x_total"] is None else f"{r['lam_x_total']:.2g}"
        lines.append(f"{r['label']:<18}{r['lam']:>9g}{scaled:>14}"
                     f"{r['val']:>9.3f} ±{r['val_std']:.3f}{r['A']:>9.3f} ±{r['A_std']:.3f}"
                     f"{r['B']:>9.3f} ±{r['B_std']:.3f}")
    return "\n".join(lines)


def fisher_total(anchor_or_fisher) -> float:
    """Sum of every entry of a Fisher (or of an anchor's Fisher), in float64."""
    fisher = getattr(anchor_or_fisher, "fisher", anchor_or_fisher)
    return float(sum(np.sum(np.asarray(f, np.float64)) for f in fisher))


def article_alpha_in_exact_units(alpha: float, fisher_article, fisher_exact) -> float:
    """The article's ``alpha`` as a lam for the exact Fisher: ``alpha * total(F_article) /
    total(F_exact)``.

    This is the lam under which the two penalties charge the same for moving every weight by the
    same amount d: ``(lam / 2) * d**2 * total(F)``. (No single factor can match them for every
    move, since the article's Fisher also has a different pattern.)
    """
    exact = fisher_total(fisher_exact)
    if exact <= 0:
        raise ValueError("the exact Fisher sums to zero")
    return float(alpha) * fisher_total(fisher_article) / exact


# ---- the SGD stability limit of a quadratic penalty
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


def stability_run(sweeper, lam: float, anchor: Anchor) -> dict:
    """One EWC run of ``sweeper`` at ``lam``, recording the weights' distance from theta_A.

    Returns ``{"optimizer", "lr", "lam", "stiffness" (lr * lam * F_max), "predicted_growth"
    (|1 - lr * lam * F_max|), "growth" (measured on the stiffest weight), "finite" (every weight),
    "max_deviation" (at the end), "loss" (last reported), "val", "deviations" (per step)}``.
    """
    rec = DeviationRecorder(anchor)
    result = sweeper.run("ewc", lam, anchor, callbacks=[rec])
    weights = sweeper.model.get_weights()
    lr = sweeper.setup.learning_rate
    k = stiffness(lr, lam, anchor)
    return {"optimizer": sweeper.setup.optimizer, "lr": lr, "lam": float(lam), "stiffness": k,
            "predicted_growth": abs(1.0 - k), "growth": rec.growth_per_step(),
            "finite": bool(all(np.all(np.isfinite(w)) for w in weights)),
            "max_deviation": float(rec.records[-1]["max_deviation"]), "loss": rec.records[-1]["loss"],
            "val": result.val, "deviations": rec.series("max_deviation")}


# ---- where the weights moved, and what the Fisher does and does not see
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
    return {name: {"distance": float(np.sqrt(sum(sq[i] for i in idx))),
                   "fisher_weighted": float(sum(fw[i] for i in idx)),
                   "fisher_share": float(sum(fw[i] for i in idx) / total_fw) if total_fw > 0 else 0.0}
            for name, idx in groups.items()}


def fisher_mass(fisher, layers: dict = MLP_LAYERS) -> dict:
    """Each layer's share of the total Fisher (``mass``) and of the weights (``parameters``)."""
    f = [np.asarray(x, np.float64) for x in getattr(fisher, "fisher", fisher)]
    total, count = sum(float(x.sum()) for x in f), sum(x.size for x in f)
    if total <= 0:
        raise ValueError("the Fisher sums to zero")
    return {name: {"mass": sum(float(f[i].sum()) for i in idx) / total,
                   "parameters": sum(f[i].size for i in idx) / count} for name, idx in layers.items()}


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
            return {"incoming": float("nan"), "outgoing": float("nan"), "units": 0}
        return {"incoming": float(incoming[:, m].mean()), "outgoing": float(outgoing[m].mean()),
                "units": int(m.sum())}

    return {"masked": part(mask), "others": part(~mask)}


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
    included. It needs no 101,765 x 101,765 matrix: for softmax outputs the exact Fisher is
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


def mean_loss(model_or_weights, task: Task, split: str = "train") -> float:
    """Mean cross-entropy of the MLP on ``task``'s ``split`` (float64, inference mode)."""
    x, y = task.arrays(split)
    return float(-np.mean(_log_softmax(mlp_logits(model_or_weights, x))[np.arange(len(y)), y]))


def loss_rise(theta_a, theta_b, task: Task, fisher, split: str = "train") -> dict:
    """How much task A's mean loss rose from ``theta_a`` to ``theta_b``: ``"measured"``, and as the
    ``"diagonal"`` and ``"full"`` Fisher quadratic forms at ``theta_a`` predict it (nats)."""
    a, b = _as_weights(theta_a), _as_weights(theta_b)
    x, _ = task.arrays(split)
    q = fisher_quadratic(a, [tb - ta for ta, tb in zip(a, b)], x, fisher)
    return {"measured": mean_loss(b, task, split) - mean_loss(a, task, split),
            "diagonal": q["diagonal"], "full": q["full"]}


def movement_report(model_b, anchor: Anchor, tasks: dict, split: str = "test") -> dict:
    """Everything notebook 05 measures about one task-B model against the task-A anchor (with the
    exact Fisher): distances per layer, the loss rise (measured, full and diagonal Fisher, on task
    A's training split), the hidden units inactive on task A and what became of them, and task A's
    accuracy when one part of the weights is put back to ``theta_A``."""
    x_a, _ = tasks["A"].arrays("train")
    dead = inactive_units(anchor.theta, x_a)
    move = weight_movement(model_b, anchor.theta, anchor.fisher)
    probe = new_model(Setup())
    restored = {}
    for part in ("output", "hidden", "units"):
        probe.set_weights(hybrid_weights(model_b, anchor.theta, part, units=dead))
        restored[part] = accuracy(probe, tasks["A"], split)
    return {"movement": move, "rise": loss_rise(anchor.theta, model_b, tasks["A"], anchor.fisher),
            "dead_units": int(dead.sum()), "unit_changes": unit_changes(model_b, anchor.theta, dead),
            "revived": int((dead & ~inactive_units(model_b, x_a)).sum()),
            "acc_A": accuracy(model_b, tasks["A"], split), "acc_A_restored": restored}
