"""What every study shares: the setup, the one result type, choosing ``lam``, and summary tables.

* :class:`Setup` fixes one architecture, optimizer and epoch budget for every method of a study.
* :class:`Result` is what any trained model of any study is reported as: accuracies per task on
  the validation and test splits (and, for a task sequence, the accuracy matrices).
* :func:`search_lam` is the one rule that chooses ``lam``: the highest mean validation accuracy
  over the tasks (ties go to the smaller ``lam``), on a grid that extends itself by a decade while
  the chosen value sits at an edge. The test split plays no part.
* :func:`summarize` and :func:`format_table` turn results over seeds into mean ± std rows and text.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..evaluation import AccuracyMatrix
from ..models import build_mlp
from ..penalties import check_lam

#: Method keys (what code compares) and the labels tables and figures show.
LABELS = {
    "multitask": "multi-task", "a_only": "A only", "naive": "naive", "l2": "L2", "ewc": "EWC",
    "online_ewc": "online EWC", "article_recipe": "EWC, article recipe", "replay": "replay",
    "joint": "joint",
}
#: How many decades :func:`search_lam` may add beyond either end of a grid.
MAX_EXTENSIONS = 3


@dataclass(frozen=True)
class Setup:
    """One architecture, optimizer and epoch budget shared by every method of a study.

    ``epochs_a`` / ``epochs_b``: the two phases of the A-then-B protocol; ``epochs_multi``: joint
    training on A and B; ``epochs_per_task``: every task of a sequence. ``fisher`` is the Fisher
    method of EWC and ``fisher_examples`` how many training examples of a task it uses (None: all).
    """

    epochs_multi: int = 6
    epochs_a: int = 6
    epochs_b: int = 6
    epochs_per_task: int = 5
    batch_size: int = 128
    hidden_units: int = 128
    dropout: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    fisher: str = "exact"
    fisher_examples: int | None = None
    seed: int = 0

    def with_epochs(self, epochs: int) -> "Setup":
        """Every phase and every task trained for ``epochs`` epochs."""
        return replace(self, epochs_multi=epochs, epochs_a=epochs, epochs_b=epochs, epochs_per_task=epochs)

    def with_seed(self, seed: int) -> "Setup":
        return replace(self, seed=int(seed))


#: The epoch budget of the lessons is set in optimizer steps, so that a lesson takes about as long
#: on 60,000 digits as on the 5,000 embedded ones: the reference is ``REFERENCE_EPOCHS`` epochs
#: over ``REFERENCE_EXAMPLES`` training examples (one embedded task: 1,800 digits).
REFERENCE_EPOCHS, REFERENCE_EXAMPLES = 6, 1800


def scaled_epochs(n_train: int, epochs: int = REFERENCE_EPOCHS, reference_examples: int = REFERENCE_EXAMPLES,
                  batch_size: int = 128) -> int:
    """Epochs over ``n_train`` examples that take about as many optimizer steps as ``epochs`` epochs
    over ``reference_examples`` would (at least one, at most ``epochs``)."""
    if isinstance(n_train, bool) or int(n_train) != n_train or n_train < 1:
        raise ValueError(f"n_train must be a positive number of examples; got {n_train!r}")
    steps = epochs * math.ceil(reference_examples / batch_size)
    return int(min(epochs, max(1, round(steps / math.ceil(int(n_train) / batch_size)))))


#: The environment variable that shifts every seed a lesson uses (``conftest.py`` sets it from
#: ``EWC_TEST_SEED``, so that ``EWC_TEST_SEED=1 python -m pytest`` re-runs the course on other seeds).
SEED_ENV_VAR = "EWC_SEED"


class SeedClock:
    """Progress across the seeds of a long suite: after each seed, how long it took and about how
    long the rest will take (the mean time per seed so far, times the seeds left)."""

    def __init__(self, seeds: int, say):
        self.seeds, self.say, self.done = int(seeds), say, 0
        self.started = time.perf_counter()

    def finished(self, seed) -> None:
        from ..runner import _clock

        self.done += 1
        spent = time.perf_counter() - self.started
        left = self.seeds - self.done
        self.say(f"[seed {seed}] finished: {self.done} of {self.seeds} seed(s) in {_clock(spent)}"
                 + (f"; about {_clock(spent / self.done * left)} left" if left else ""))


def seed_offset() -> int:
    """The shift ``EWC_SEED`` gives every lesson seed (0 when unset)."""
    text = os.environ.get(SEED_ENV_VAR, "").strip()
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{SEED_ENV_VAR} must be a whole number >= 0 (the shift of every lesson "
                         f"seed); got {text!r}")
    return value


def lesson_seed(seed: int = 0) -> int:
    """Seed ``seed`` of a lesson, shifted by ``EWC_SEED``: ``lesson_seed(0)`` is the lesson's first."""
    return int(seed) + seed_offset()


def lesson_seeds(n: int) -> list:
    """The ``n`` seeds of a lesson that runs over several: ``[lesson_seed(0), ..., lesson_seed(n-1)]``."""
    return [lesson_seed(s) for s in range(int(n))]


def lesson_setup(task, epochs: int = REFERENCE_EPOCHS, reference_examples: int = REFERENCE_EXAMPLES,
                 **fields) -> Setup:
    """The lessons' :class:`Setup` for data the size of ``task``'s training split: every phase
    trained for :func:`scaled_epochs` epochs (6 on the embedded digits, 1 on full MNIST). Its
    ``seed`` (0 unless given) is shifted by ``EWC_SEED`` (see :func:`lesson_seed`)."""
    fields["seed"] = lesson_seed(fields.get("seed", 0))
    setup = Setup(**fields)
    n = len(task.split("train"))
    return setup.with_epochs(scaled_epochs(n, epochs, reference_examples, setup.batch_size))


def new_model(setup: Setup, weights=None, num_classes: int = 5, dropout: float | None = None):
    """The setup's MLP, optionally starting from ``weights`` (with a fresh optimizer)."""
    model = build_mlp(num_classes=num_classes, hidden_units=setup.hidden_units,
                      dropout=setup.dropout if dropout is None else dropout,
                      optimizer=setup.optimizer, learning_rate=setup.learning_rate)
    if weights is not None:
        model.set_weights(weights)
    return model


@dataclass
class Result:
    """One trained model of a study, whatever the study.

    ``val`` and ``test`` map each task's name to its accuracy at the end. A task sequence also
    keeps ``matrix`` and ``val_matrix`` (:class:`~ewc_helpers.evaluation.AccuracyMatrix`: accuracy
    on every task after each task) and ``memory`` (what the method holds for the next task).
    ``method`` is a key of :data:`LABELS` and never changes; ``label`` is what a table shows.
    """

    method: str
    lam: float | None
    val: dict
    test: dict
    label: str = ""
    matrix: AccuracyMatrix | None = None
    val_matrix: AccuracyMatrix | None = None
    memory: dict | None = None
    history: dict = field(default_factory=dict)
    seconds: float = 0.0
    info: dict = field(default_factory=dict)
    model: object = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        self.label = self.label or LABELS.get(self.method, self.method)

    @property
    def val_score(self) -> float:
        """Mean validation accuracy over the tasks: what :func:`choose_lam` maximises."""
        return float(np.mean(list(self.val.values())))

    @property
    def average_accuracy(self) -> float:
        """Mean test accuracy over the tasks at the end."""
        return float(np.mean(list(self.test.values())))

    @property
    def backward_transfer(self) -> float | None:
        return self.matrix.backward_transfer if self.matrix is not None else None

    @property
    def learning_accuracy(self) -> float | None:
        """Mean test accuracy on each task right after training on it (None for two-task results)."""
        return self.matrix.learning_accuracy if self.matrix is not None else None

    def to_dict(self) -> dict:
        """A JSON-able copy (matrices as dicts, no model)."""
        d = asdict(replace(self, model=None, matrix=None, val_matrix=None))
        d.pop("model")
        for key in ("matrix", "val_matrix"):
            d[key] = getattr(self, key).to_dict() if getattr(self, key) is not None else None
        d.update(val_score=self.val_score, average_accuracy=self.average_accuracy,
                 backward_transfer=self.backward_transfer)
        return d


# --------------------------------------------------------------------------- choosing lam
def choose_lam(results, score=None):
    """The result with the highest mean validation accuracy (ties: the smaller lam).

    This is the one rule every study uses. ``score`` reads the score of one item (default: its
    ``val_score``); an item's lam is its ``lam`` attribute or key.
    """
    results = list(results)
    if not results:
        raise ValueError("no results to choose lam from")
    score = score or (lambda r: r.val_score)

    def lam(r):
        value = r["lam"] if isinstance(r, dict) else r.lam
        return value or 0.0

    return max(results, key=lambda r: (round(score(r), 6), -lam(r)))


@dataclass
class LamSearch:
    """The outcome of :func:`search_lam`: every run in lam order, the chosen one, and the grid
    extensions made (``extended``: one line per added value, empty when the grid sufficed)."""

    results: list
    best: Result
    extended: list

    @property
    def lams(self) -> list:
        return [r.lam for r in self.results]

    @property
    def at_edge(self) -> bool:
        """True when the chosen lam is still an end of the (extended) grid."""
        return self.best.lam in (self.lams[0], self.lams[-1])


def search_lam(run, grid, *, max_extensions: int = MAX_EXTENSIONS, progress=None) -> LamSearch:
    """Run ``run(lam) -> Result`` over ``grid`` and choose lam on validation by :func:`choose_lam`.

    While the chosen lam is the smallest or largest value tried, one more value a decade beyond
    that end is tried, up to ``max_extensions`` times per end; each extension is reported through
    ``progress`` and kept in ``LamSearch.extended``. ``run`` may return extra runs' worth of
    information in its result, but must set ``result.lam``.
    """
    lams = sorted({check_lam(x) for x in grid})
    if not lams or lams[0] <= 0:
        raise ValueError(f"a lam grid needs positive values; got {list(grid)!r}")
    say = progress or (lambda *_: None)
    results = {lam: run(lam) for lam in lams}
    extended, added = [], {"low": 0, "high": 0}
    while True:
        best = choose_lam(results.values())
        ordered = sorted(results)
        if best.lam == ordered[0] and added["low"] < max_extensions and len(ordered) > 1:
            end, new = "low", ordered[0] / 10
        elif best.lam == ordered[-1] and added["high"] < max_extensions:
            end, new = "high", ordered[-1] * 10
        else:
            break
        added[end] += 1
        note = f"lam {best.lam:g} is the {'smallest' if end == 'low' else 'largest'} value tried: extending the grid to {new:g}"
        say(note)
        extended.append(note)
        results[new] = run(new)
    ordered = [results[k] for k in sorted(results)]
    return LamSearch(ordered, choose_lam(ordered), extended)


def sweep(run, lams, progress=None) -> list:
    """``run(lam)`` once per value, in the order given (no choice, no extension)."""
    say = progress or (lambda *_: None)
    out = []
    for lam in lams:
        r = run(lam)
        out.append(r)
        say(f"  {r.label} lam={lam:g}: validation {r.val_score:.3f}")
    return out


# --------------------------------------------------------------------------- tables over seeds
def _std(values, axis=None):
    """Sample standard deviation over seeds (``ddof = 1``); 0 for a single seed, whose tables show
    no spread (``n`` says how many seeds)."""
    values = np.asarray(values, dtype=float)
    n = values.shape[0] if axis == 0 else values.size
    return np.std(values, axis=axis, ddof=1) if n > 1 else np.zeros_like(np.mean(values, axis=axis))


def summarize(runs: list) -> list:
    """Mean and sample std (``ddof = 1``) over seeds, one row per method.

    ``runs`` holds one list of :class:`Result` per seed, the methods in the same order. A row has
    ``method``, ``label``, ``lam`` (the values chosen), ``n``, ``tasks``, ``test`` and ``test_std``
    (per task), ``average`` and ``average_std``, ``learning`` and ``learning_std`` (learning
    accuracy: the mean of each task's accuracy right after training on it), ``bwt`` and ``bwt_std``
    (None for two-task results), ``per_seed`` (average, learning and BWT of every seed, in seed
    order, for paired comparisons with :func:`ewc_helpers.stats.compare_seeds`), and ``memory`` (bytes held after the last task, if the method reports it).
    """
    if not runs or not runs[0]:
        raise ValueError("no results to summarise")
    rows = []
    for k, first in enumerate(runs[0]):
        rs = [seed_results[k] for seed_results in runs]
        if any(r.method != first.method or r.label != first.label for r in rs):
            raise ValueError("every seed must report the same methods in the same order")
        tasks = list(first.test)
        test = np.array([[r.test[t] for t in tasks] for r in rs])
        avg = np.array([r.average_accuracy for r in rs])
        bwt = [r.backward_transfer for r in rs]
        learning = [r.learning_accuracy for r in rs]
        rows.append({
            "method": first.method, "label": first.label, "lam": [r.lam for r in rs if r.lam is not None],
            "n": len(rs), "tasks": tasks, "test": dict(zip(tasks, test.mean(0).tolist())),
            "test_std": dict(zip(tasks, _std(test, axis=0).tolist())),
            "average": float(avg.mean()), "average_std": float(_std(avg)),
            "learning": None if learning[0] is None else float(np.mean(learning)),
            "learning_std": None if learning[0] is None else float(_std(learning)),
            "bwt": None if bwt[0] is None else float(np.mean(bwt)),
            "bwt_std": None if bwt[0] is None else float(_std(bwt)),
            "per_seed": {"average": avg.tolist(), "learning": learning, "bwt": bwt},
            "memory": None if first.memory is None else first.memory.get("bytes"),
        })
    return rows


def _cell(mean, std=None, sign=""):
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    return f"{mean:{sign}.3f}" + (f" ± {std:.3f}" if std is not None else "")


def format_table(rows: list, columns=("tasks",), published: dict | None = None,
                 published_label: str = "published", with_std: bool | None = None) -> str:
    """Rows of :func:`summarize` as a text table.

    ``columns`` picks what follows the method and its lam: ``"tasks"`` (test accuracy per task),
    ``"average"``, ``"learning"`` (learning accuracy), ``"bwt"`` and ``"memory"``. ``published`` maps a method label to published
    figures (a tuple, one per column of ``columns`` that is per task or average), shown after ours
    and headed ``published_label``. ``with_std`` defaults to showing std when there is more than
    one seed.
    """
    if not rows:
        raise ValueError("no rows to format")
    std = rows[0]["n"] > 1 if with_std is None else with_std
    heads, getters = [], []
    for col in columns:
        if col == "tasks":
            for t in rows[0]["tasks"]:
                heads.append(f"task {t}")
                getters.append(lambda r, t=t: _cell(r["test"].get(t), r["test_std"].get(t) if std else None))
        elif col == "average":
            heads.append("avg acc")
            getters.append(lambda r: _cell(r["average"], r["average_std"] if std else None))
        elif col == "learning":
            heads.append("learning acc")
            getters.append(lambda r: _cell(r["learning"], r["learning_std"] if std and r["learning"] is not None else None))
        elif col == "bwt":
            heads.append("BWT")
            getters.append(lambda r: _cell(r["bwt"], r["bwt_std"] if std and r["bwt"] is not None else None, "+"))
        elif col == "val":
            heads.append("val score")
            getters.append(lambda r: _cell(r["val"], r.get("val_std") if std else None))
        elif col == "scale":
            heads.append("lam*total(F)")
            getters.append(lambda r: "-" if r.get("scale") is None else f"{r['scale']:.2g}")
        elif col == "memory":
            heads.append("bytes held")
            getters.append(lambda r: "-" if r["memory"] is None else f"{r['memory']:,}")
        else:
            raise ValueError(f"unknown column {col!r}; choose tasks, average, learning, bwt, memory, val or scale")
    label_w = max(8, *(len(r["label"]) for r in rows)) + 2
    lams = [",".join(f"{x:g}" for x in sorted(set(r["lam"]))) if r["lam"] else "-" for r in rows]
    lam_w = max(5, *(len(x) for x in lams))
    cells = [[g(r) for g in getters] for r in rows]
    widths = [max(len(h), *(len(c[k]) for c in cells)) for k, h in enumerate(heads)]
    pub_n = len(next(iter(published.values()))) if published else 0
    pub_heads = [f"{published_label} {h}" for h in heads[:pub_n]]
    pub_cells = [[_cell(v) for v in (published.get(r["label"]) or (None,) * pub_n)] for r in rows] if published else []
    pub_w = [max(len(h), *(len(c[k]) for c in pub_cells)) for k, h in enumerate(pub_heads)]
    head = (f"{'method':<{label_w}}{'lam':>{lam_w}}" + "".join(f"  {h:>{w}}" for h, w in zip(heads, widths))
            + "".join(f"  {h:>{w}}" for h, w in zip(pub_heads, pub_w)))
    lines = [head, "-" * len(head)]
    for i, r in enumerate(rows):
        line = f"{r['label']:<{label_w}}{lams[i]:>{lam_w}}" + "".join(f"  {c:>{w}}" for c, w in zip(cells[i], widths))
        if published:
            line += "".join(f"  {c:>{w}}" for c, w in zip(pub_cells[i], pub_w))
        lines.append(line)
    return "\n".join(lines)


class FieldAccess:
    """Named study results: attribute access first, and ``result["name"]`` / ``keys()`` too, for
    code written when the results were dicts. Equal to the same kind of result, or to that dict,
    with the same values."""

    def __getitem__(self, key: str):
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def keys(self):
        from dataclasses import fields

        return [f.name for f in fields(self)]

    def __eq__(self, other):
        mine = {k: self[k] for k in self.keys()}
        if isinstance(other, dict):
            return mine == other
        return type(other) is type(self) and mine == {k: other[k] for k in other.keys()}

    __hash__ = None
