"""Task sequences (lesson 10): several tasks one after another, naive, L2, per-task and online EWC.

Every task trains for ``setup.epochs_per_task`` epochs with a fresh optimizer, so that only the
weights and what a method stores explicitly carry over from one task to the next:

``"naive"``       nothing;
``"l2"``          theta* after the latest task (the pull has F = 1, so no Fisher is stored);
``"ewc"``         one anchor (theta*, F) per finished task; the penalties add up;
``"online_ewc"``  one running anchor: F = gamma * F_old + F_new, centred on the latest weights
                  (Schwarz et al. 2018). It needs only the task just learnt.

Each Fisher (``setup.fisher``) is computed by :func:`~ewc_helpers.training.make_anchor` on
``setup.fisher_examples`` random training examples of the task just learnt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from ..anchors import Anchor
from ..evaluation import AccuracyMatrix, accuracies
from ..models import compile_model
from ..penalties import OnlineEWC, QuadraticPenalty, check_gamma, check_lam, memory_footprint
from ..reproducibility import set_seed
from ..tasks import make_permuted_tasks
from ..training import fit_task, make_anchor
from .common import FieldAccess, Result, SeedClock, Setup, format_table, new_model, search_lam, summarize
from ..stats import compare_seeds

SEQUENCE_METHODS = ("naive", "l2", "ewc", "online_ewc")
#: The permuted suite's setup: 5 epochs per task and a Fisher from 1,000 random training examples
#: of the task just learnt, so that the suite takes about 2 minutes on 2 cores (embedded digits).
PERMUTED_SETUP = Setup(epochs_per_task=5, fisher_examples=1000)
#: The equivalence margin of the suite's paired comparisons: two methods whose paired interval
#: over seeds lies inside ±0.02 differ by less than two test digits in a hundred, which these
#: tables do not count as a difference worth a claim.
EQUIVALENCE_DELTA = 0.02
#: Starting grids (half-decade steps); search_lam extends them while the best is at an end.
SEQUENCE_LAMS = {"l2": (0.003, 0.01, 0.03), "ewc": (30.0, 100.0, 300.0), "online_ewc": (30.0, 100.0, 300.0)}
FULL_SEQUENCE_LAMS = {
    "l2": (0.001, 0.003, 0.01, 0.03, 0.1, 0.3),
    "ewc": (3.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
    "online_ewc": (3.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
}


def _check_tasks(tasks) -> list:
    tasks = list(tasks)
    if not tasks:
        raise ValueError("a task sequence needs at least one task")
    if len({t.num_classes for t in tasks}) != 1:
        raise ValueError("every task of a sequence must have the same number of classes; got "
                         f"{sorted({t.num_classes for t in tasks})}")
    return tasks


def output_units(tasks) -> int:
    """Output units the sequence's model needs: every task's head must fit."""
    heads = [max(t.classes) + 1 for t in tasks if t.classes is not None]
    return int(max([tasks[0].num_classes, *heads]))


@dataclass
class FirstTask(FieldAccess):
    """The first task of a sequence, trained once (:func:`train_first_task`): its name, the seed,
    the weights after it and the test and validation accuracy on every task of the sequence then.
    ``first["weights"]`` still works as ``first.weights`` (older code read a dict)."""

    task: str
    seed: int
    weights: list = field(repr=False)
    test_row: list = field(default_factory=list)
    val_row: list = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"FirstTask({self.task}, seed {self.seed}, test accuracy after it: "
                + " ".join(f"{v:.3f}" for v in self.test_row) + ")")


@dataclass(frozen=True)
class Held:
    """What a method holds after one task: ``arrays`` stored and their ``bytes``."""

    arrays: int
    bytes: int

    @property
    def megabytes(self) -> float:
        return self.bytes / 1e6

    def __repr__(self) -> str:
        return f"Held({self.arrays} arrays, {self.megabytes:.2f} MB)"


def memory_held(result: Result) -> list:
    """What ``result``'s method held after each task of its sequence, as :class:`Held` values
    (``result.info["memory_history"]`` as named values)."""
    history = result.info.get("memory_history")
    if history is None:
        raise ValueError(f"{result.label} has no memory history: it was not run by run_sequence")
    return [Held(int(h["arrays"]), int(h["bytes"])) for h in history]


def train_first_task(tasks, setup: Setup) -> FirstTask:
    """The first task of a sequence, trained once: no method adds a penalty before the first task,
    so every method can start from these weights (``run_sequence(..., first=...)``). Returns a
    :class:`FirstTask` (``task``, ``seed``, ``weights``, ``test_row``, ``val_row``)."""
    tasks = _check_tasks(tasks)
    set_seed(setup.seed)
    model = new_model(setup, num_classes=output_units(tasks))
    fit_task(model, tasks[0], epochs=setup.epochs_per_task, batch_size=setup.batch_size, seed=setup.seed)
    return FirstTask(tasks[0].name, setup.seed, model.get_weights(),
                     accuracies(model, tasks, "test"), accuracies(model, tasks, "val"))


def run_sequence(tasks, setup: Setup, method: str, lam: float | None = None, gamma: float = 1.0,
                 first: dict | None = None, consolidate_last: bool = True, progress=None) -> Result:
    """Train ``tasks`` one after another with ``method``; return a :class:`~.common.Result` whose
    ``matrix`` and ``val_matrix`` hold the accuracy on every task after each task.

    ``result.memory`` is what the method holds after the last task, ready for the next one
    (``info["memory_history"]``: after each task); with ``consolidate_last`` the last task is
    consolidated too. ``first`` (from :func:`train_first_task`, same tasks and setup) skips
    training the first task again; the results are the same as without it. ``info["anchors"]``
    holds the anchors kept at the end.
    """
    if method not in SEQUENCE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(SEQUENCE_METHODS)}")
    tasks = _check_tasks(tasks)
    lam = None if method == "naive" else check_lam(0.0 if lam is None else lam)
    online = OnlineEWC(check_gamma(gamma)) if method == "online_ewc" else None
    started = time.perf_counter()
    set_seed(setup.seed)
    names = [t.name for t in tasks]
    test, val = AccuracyMatrix(names), AccuracyMatrix(names)
    if first is not None and (first["task"], first["seed"], len(first["test_row"])) != (
            tasks[0].name, setup.seed, len(tasks)):
        raise ValueError("`first` was trained on another first task, seed or number of tasks")
    model = new_model(setup, num_classes=output_units(tasks))
    held, memory = [], []
    for i, task in enumerate(tasks):
        if i == 0 and first is not None:
            model.set_weights(first["weights"])
            test.add_row(first["test_row"])
            val.add_row(first["val_row"])
        else:
            if i:  # a fresh optimizer: Adam's moments are memory of the old task too
                compile_model(model, setup.optimizer, setup.learning_rate)
            fit_task(model, task, epochs=setup.epochs_per_task, batch_size=setup.batch_size,
                     penalties=[QuadraticPenalty(a, lam) for a in held], seed=setup.seed + i)
            test.add_row(accuracies(model, tasks, "test"))
            val.add_row(accuracies(model, tasks, "val"))
        if method != "naive" and (i < len(tasks) - 1 or consolidate_last):
            held = _consolidate(method, model, task, held, online, setup, seed=setup.seed + i)
        memory.append(memory_footprint(held))
        if progress:
            progress(f"  {method}" + (f" lam={lam:g}" if lam is not None else "") + f" after {task.name}: "
                     + " ".join(f"{v:.2f}" for v in test.rows[-1][: i + 1]))
    model.set_penalties(())
    return Result(method, lam, val=dict(zip(names, val.rows[-1])), test=dict(zip(names, test.rows[-1])),
                  matrix=test, val_matrix=val, memory=memory[-1], seconds=time.perf_counter() - started,
                  info={"gamma": online.gamma if online else None, "memory_history": memory,
                        "anchors": held}, model=model)


def _consolidate(method, model, task, held, online, setup, seed) -> list:
    """What ``method`` holds after finishing ``task`` (a list of anchors)."""
    if method == "l2":
        return [Anchor.from_model(model, None, task=task.name)]  # theta* only; F = 1 is implicit
    anchor = make_anchor(model, task, setup.fisher, max_examples=setup.fisher_examples, seed=seed)
    if method == "ewc":
        return held + [anchor]
    return [online.consolidate(model, anchor.fisher, task=task.name)]


def sequence_runner(tasks, setup: Setup, method: str, gamma: float = 1.0, first: dict | None = None):
    """``lam -> Result`` for :func:`~.common.search_lam` (models and anchors dropped)."""
    def run(lam):
        r = run_sequence(tasks, setup, method, lam, gamma, first=first)
        r.model = None
        r.info["anchors"] = None
        return r
    return run


def paired_comparisons(rows: list, of: str = "online EWC", delta: float = EQUIVALENCE_DELTA) -> list:
    """One sentence per other method and measure: what the paired-by-seed interval of ``of`` minus
    that method allows one to say about average and learning accuracy
    (see :func:`ewc_helpers.stats.verdict`)."""
    first = next(r for r in rows if r["label"] == of)
    out = []
    for r in rows:
        if r is first:
            continue
        for key, what in (("average", "average accuracy"), ("learning", "learning accuracy")):
            v = compare_seeds(first["per_seed"][key], r["per_seed"][key], delta, names=(of, r["label"]))
            out.append(f"{what}: {v.words}")
    return out


def run_permuted_suite(mnist, setup: Setup = PERMUTED_SETUP, num_tasks: int = 5, seeds: int = 1,
                       gamma: float = 1.0, lams: dict | None = None, progress=print) -> dict:
    """Permuted MNIST: ``num_tasks`` tasks in sequence with naive, L2, per-task EWC and online EWC.

    For every seed ``s`` in ``0..seeds-1`` the permutations, the initial weights and the shuffles
    come from ``s``, and each penalised method's lam is chosen on validation by
    :func:`~.common.search_lam`, starting from ``SEQUENCE_LAMS`` (or ``lams``).

    Returns ``{"table", "rows", "runs" (JSON-able, per seed), "extended" (grid extensions)...}``.
    """
    if isinstance(num_tasks, bool) or int(num_tasks) != num_tasks or num_tasks < 2:
        raise ValueError(f"a task sequence needs at least 2 tasks; got num_tasks={num_tasks!r}")
    if isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be a positive integer; got {seeds!r}")
    gamma = check_gamma(gamma)
    grids = {**SEQUENCE_LAMS, **(lams or {})}
    say = progress or (lambda *_: None)
    runs, records, extended = [], [], []
    clock = SeedClock(seeds, say)
    for seed in range(int(seeds)):
        tasks = make_permuted_tasks(mnist, int(num_tasks), seed=seed)
        s = replace(setup, seed=seed)
        say(f"[seed {seed}] {num_tasks} permuted tasks, {s.epochs_per_task} epochs each")
        first = train_first_task(tasks, s)
        chosen = [sequence_runner(tasks, s, "naive", first=first)(None)]
        searches = {}
        for method in ("l2", "ewc", "online_ewc"):
            search = search_lam(sequence_runner(tasks, s, method, gamma, first), grids[method],
                                progress=lambda m, method=method: say(f"  [seed {seed}] {method}: {m}"))
            searches[method] = search
            extended += [f"seed {seed}, {method}: {m}" for m in search.extended]
            chosen.append(search.best)
        seed_done(seed, chosen, searches, runs, records, say)
        clock.finished(seed)
    rows, comparisons, table = suite_table(runs)
    return {"suite": "permuted", "table": table, "rows": rows, "comparisons": comparisons,
            "equivalence_delta": EQUIVALENCE_DELTA,
            "num_tasks": int(num_tasks), "gamma": gamma, "epochs_per_task": setup.epochs_per_task,
            "fisher_examples": setup.fisher_examples, "lams": {k: list(v) for k, v in grids.items()},
            "extended": extended, "runs": records}


def seed_done(seed: int, chosen: list, searches: dict, runs: list, records: list, say) -> None:
    """One seed of a permuted suite is done: print each method's line, keep its results in ``runs``
    and its JSON record (results and every lam tried) in ``records``."""
    for r in chosen:
        say(f"[seed {seed}] {r.label:<12} average {r.average_accuracy:.3f}  learning {r.learning_accuracy:.3f}"
            f"  BWT {r.backward_transfer:+.3f}" + (f"  (lam {r.lam:g})" if r.lam is not None else ""))
    runs.append(chosen)
    records.append({"seed": seed, "results": [r.to_dict() for r in chosen],
                    "searches": {m: [r.to_dict() for r in x.results] for m, x in searches.items()}})


def suite_table(runs: list) -> tuple:
    """``(rows, comparisons, table)`` of a permuted suite over its seeds' runs; the paired
    comparisons need at least 2 seeds."""
    rows = summarize(runs)
    comparisons = paired_comparisons(rows) if len(runs) > 1 else []
    table = format_table(rows, ("average", "learning", "bwt", "memory"))
    if comparisons:
        table += "\n" + "\n".join(comparisons)
    return rows, comparisons, table
