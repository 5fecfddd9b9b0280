"""Which Fisher, and how big should ``lam`` be (lessons 06 and 07), over several seeds.

:func:`seed_sweeps` trains one task-A model per seed, makes its anchors with every Fisher method
asked for, and sweeps ``lam`` on task B with a :class:`~.two_tasks.LamSweeper`. The summaries are
per ``lam`` (mean and std over seeds), and :func:`sensitivity_table` picks each variant's ``lam``
on validation with the one rule of :func:`~.common.choose_lam`.

Every result is named: :class:`SeedSweeps` (what :func:`seed_sweeps` ran), :class:`SummaryRow`
(one lam of :func:`sweep_summary`) and :class:`TableRow` (one variant of
:func:`sensitivity_table`) have attributes and a readable repr. They also answer ``row["lam"]``
(and ``get``, ``keys``) as the dicts they replace did, so older code keeps working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..fisher import METHODS as FISHER_METHODS
from ..training import make_anchor
from . import task_a_cache
from ..stats import compare_seeds
from .common import Result, Setup, _std, choose_lam, format_table, sweep
from .two_tasks import LamSweeper, train_multitask, train_task_a

#: lam grids per variant (``None``: plain L2, F = 1; otherwise a Fisher method), for lessons
#: 06-09. ``"quick"`` is what the committed lessons run (6 values each, to fit their time budget);
#: ``"full"`` uses half-decade steps over a wider range. Each reaches both extremes on the
#: embedded digits: at its low end task A is forgotten almost as with naive training, at its high
#: end task B is barely learned. The correct Fishers share a grid; the article's "Fisher" is about
#: 10^5 times larger, so its grid sits about five decades lower (and ends at its alpha = 25).
SENSITIVITY_GRIDS = {
    "quick": {
        None: (0.003, 0.03, 0.1, 0.3, 1.0, 10.0),
        "empirical": (30.0, 300.0, 1e3, 3e3, 1e4, 1e5),
        "sampled": (30.0, 300.0, 1e3, 3e3, 1e4, 1e5),
        "exact": (30.0, 300.0, 1e3, 3e3, 1e4, 1e5),
        "article": (1e-4, 1e-3, 0.01, 0.03, 0.3, 25.0),
    },
    "full": {
        None: (1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
        "empirical": (10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6),
        "sampled": (10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6),
        "exact": (10.0, 30.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6),
        "article": (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 25.0),
    },
}


class _Named(Mapping):
    """Mapping access to a dataclass's fields (``row["lam"]`` is ``row.lam``), for older code."""

    def __getitem__(self, key):
        if key not in self._names():
            raise KeyError(f"{key!r}: {type(self).__name__} has {', '.join(self._names())}")
        return getattr(self, key)

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    @classmethod
    def _names(cls) -> tuple:
        return tuple(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True, eq=False)
class SummaryRow(_Named):
    """One lam of a sweep over seeds: mean and sample std (``ddof = 1``) of task A's and task B's
    accuracy, and of ``score``, their mean (what :func:`~.common.choose_lam` maximises)."""

    lam: float
    A: float
    B: float
    A_std: float
    B_std: float
    score: float
    score_std: float
    n: int

    def __repr__(self) -> str:
        return (f"SummaryRow(lam={self.lam:g}: A {self.A:.3f} ± {self.A_std:.3f}, B {self.B:.3f} ± "
                f"{self.B_std:.3f}, score {self.score:.3f} ± {self.score_std:.3f}, {self.n} seeds)")


@dataclass(frozen=True, eq=False)
class TableRow(_Named):
    """One variant of :func:`sensitivity_table`: the lam chosen on validation, its validation
    score, its test accuracies (mean and std over seeds) and ``lam * total(F)`` (None when the
    total is not given)."""

    label: str
    lam: float
    val: float
    val_std: float
    A: float
    A_std: float
    B: float
    B_std: float
    test: float
    test_std: float
    lam_x_total: float | None = None

    def __repr__(self) -> str:
        scale = "" if self.lam_x_total is None else f", lam x total(F) {self.lam_x_total:.3g}"
        return (f"TableRow({self.label}: lam {self.lam:g}, val {self.val:.3f} ± {self.val_std:.3f}, "
                f"test A {self.A:.3f}, B {self.B:.3f}{scale})")


@dataclass(eq=False)
class SeedSweeps(_Named):
    """What :func:`seed_sweeps` ran: per seed, a task-A model, its anchors and one lam sweep per grid.

    ``sweeps[label]`` is a list (one per seed) of lists of :class:`~.common.Result` over the grid;
    ``anchors`` a list (one per seed) of ``{fisher method: Anchor}``; ``a_results`` the task-A
    :class:`~.common.Result` of each seed (with its model); ``sweepers`` each seed's
    :class:`~.two_tasks.LamSweeper`. :meth:`anchor` and :meth:`summary` read them in one call.
    """

    seeds: list
    grids: dict
    sweeps: dict = field(default_factory=dict)
    anchors: list = field(default_factory=list)
    a_results: list = field(default_factory=list)
    sweepers: list = field(default_factory=list)

    def anchor(self, method: str, seed_index: int = 0):
        """The anchor with Fisher ``method`` of the ``seed_index``-th seed."""
        if method not in self.anchors[seed_index]:
            raise KeyError(f"no {method!r} anchor: this run made {', '.join(self.anchors[seed_index]) or 'none'}")
        return self.anchors[seed_index][method]

    def summary(self, split: str = "val") -> dict:
        """``{label: [SummaryRow per lam]}``: :func:`sweep_summary` of every sweep on ``split``."""
        return {label: sweep_summary(per_seed, split) for label, per_seed in self.sweeps.items()}

    def __repr__(self) -> str:
        swept = ", ".join(f"{k} ({len(v[0]) if v else 0} lams)" for k, v in self.sweeps.items())
        return f"SeedSweeps(seeds {self.seeds}; sweeps {swept})"


def seed_sweeps(tasks: dict, setup: Setup, seeds, grids: dict, dropout: float | None = None,
                article_batches: int = 1000, progress=None, cache: bool | None = None) -> SeedSweeps:
    """For every seed: a task-A model, its anchors, and a lam sweep on task B per grid.

    ``grids`` maps a label to ``(fisher, lams)``: ``fisher`` is a Fisher method of
    :func:`~ewc_helpers.fisher.compute_fisher` for EWC, or None for plain L2 (F = 1). Seed ``s``
    trains its own task-A model (``setup.with_seed(s)``) and makes its own anchors with
    :func:`~ewc_helpers.training.make_anchor` (the ``"sampled"`` draw seeded by ``s``; the article's
    Fisher from ``article_batches`` batches of the shuffled pipeline, as the article draws them).
    ``dropout`` applies to both phases. With ``cache`` (default on, see
    :mod:`~.task_a_cache`) each sweep's accuracies are kept on disk and reused by later calls with
    the same task-A model, anchor, grid and setup: a lesson repeats another's sweep in no time.
    Results loaded from the cache carry no model.

    Returns a :class:`SeedSweeps` (``sweeps[label]``: a list of Results per lam, per seed;
    ``anchors``: ``{fisher: Anchor}`` per seed; ``a_results``: the task-A Result per seed, with its
    model; ``sweepers``: a LamSweeper per seed).
    """
    say = progress or (lambda *_: None)
    out = SeedSweeps([int(s) for s in seeds], {k: (f, tuple(l)) for k, (f, l) in grids.items()},
                     sweeps={k: [] for k in grids})
    for name, (fisher_method, _) in grids.items():
        if fisher_method is not None and fisher_method not in FISHER_METHODS:
            raise ValueError(f"grid {name!r}: unknown Fisher method {fisher_method!r}; use one of "
                             f"{', '.join(FISHER_METHODS)}, or None for plain L2")
    methods = sorted({f for f, _ in grids.values()} - {None})
    for seed in out.seeds:
        s = setup.with_seed(seed)
        a = train_task_a(tasks, s, dropout=dropout)
        anchors = {m: make_anchor(a.model, tasks["A"], m, seed=seed, **(
            {"num_batches": article_batches} if m == "article" else {"max_examples": s.fisher_examples}))
            for m in methods}
        sweeper = LamSweeper(a.model, tasks, s, dropout=dropout)
        for label, (fisher_method, lams) in grids.items():
            anchor = anchors.get(fisher_method)
            run = sweeper.runner("l2") if fisher_method is None else sweeper.runner("ewc", anchor)
            out.sweeps[label].append(_cached_sweep(run, lams, cache, a, s, dropout, fisher_method, anchor))
        out.anchors.append(anchors)
        out.a_results.append(a)
        out.sweepers.append(sweeper)
        say(f"[seed {seed}] task A val {a.val['A']:.3f}; swept {', '.join(grids)}")
    return out


def _cached_sweep(run, lams, cache, a_result, setup, dropout, fisher_method, anchor) -> list:
    """``sweep(run, lams)``, or its accuracies from the cache."""
    if not task_a_cache.enabled(cache):
        return sweep(run, lams)
    key = task_a_cache.results_key(
        "sweep", [w for w in a_result.model.get_weights()], dataclasses.asdict(setup), dropout, fisher_method,
        list(map(float, lams)), anchor.fisher if anchor is not None else None)
    stored = task_a_cache.load_results(key)
    if stored is not None:
        return [Result(r["method"], r["lam"], r["val"], r["test"], label=r["label"]) for r in stored]
    results = sweep(run, lams)
    task_a_cache.store_results(key, [{"method": r.method, "lam": r.lam, "val": r.val, "test": r.test,
                                      "label": r.label} for r in results])
    return results


def sweep_summary(per_seed: list, split: str = "val") -> list:
    """Mean and sample std (``ddof = 1``) over seeds at each lam of a sweep.

    ``per_seed`` is a list (one per seed) of equally long lists of :class:`Result` over one lam
    grid. Returns a :class:`SummaryRow` per lam (``lam``, ``A``, ``B``, ``A_std``, ``B_std``,
    ``score``, ``score_std``, ``n``) in grid order, where ``score`` is the mean of A and B (what
    :func:`choose_lam` maximises).
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
        rows.append(SummaryRow(lam=lam, A=float(a.mean()), B=float(b.mean()), A_std=float(_std(a)),
                               B_std=float(_std(b)), score=float(score.mean()),
                               score_std=float(_std(score)), n=len(per_seed)))
    return rows


def best_row(rows: list) -> SummaryRow:
    """The row of :func:`sweep_summary` chosen by :func:`~.common.choose_lam` (the highest mean
    validation score; ties: the smaller lam)."""
    return choose_lam(rows, score=lambda r: r["score"])


def at_lam(per_seed: list, lam) -> list:
    """The result at ``lam`` of every seed's sweep."""
    return [next(r for r in rs if r.lam == lam) for rs in per_seed]


def sensitivity_table(sweeps: dict, fisher_totals: dict | None = None) -> list:
    """One :class:`TableRow` per sweep: the lam chosen on validation (mean over seeds), its validation score and
    test accuracies (mean and std over seeds), and ``lam * total(F)``.

    ``sweeps`` maps a label to per-seed sweeps (as in :func:`seed_sweeps`); ``fisher_totals`` maps
    a label to the mean total of its Fisher (the number of weights for L2, whose F = 1).
    """
    rows = []
    for label, per_seed in sweeps.items():
        best = best_row(sweep_summary(per_seed, "val"))
        test = next(r for r in sweep_summary(per_seed, "test") if r["lam"] == best["lam"])
        total = (fisher_totals or {}).get(label)
        rows.append(TableRow(label=label, lam=best["lam"], val=best["score"], val_std=best["score_std"],
                             A=test["A"], A_std=test["A_std"], B=test["B"], B_std=test["B_std"],
                             test=test["score"], test_std=test["score_std"],
                             lam_x_total=best["lam"] * total if total is not None else None))
    return rows


def format_sensitivity_table(rows: list) -> str:
    """:func:`sensitivity_table` as text (through :func:`~.common.format_table`)."""
    table = [{"label": r["label"], "lam": [r["lam"]], "n": 2, "tasks": ["A", "B"],
              "test": {"A": r["A"], "B": r["B"]}, "test_std": {"A": r["A_std"], "B": r["B_std"]},
              "val": r["val"], "val_std": r["val_std"], "scale": r["lam_x_total"]} for r in rows]
    return format_table(table, ("scale", "val", "tasks"))


def scores_at(per_seed: list, lam, split: str = "test") -> list:
    """Mean accuracy over tasks A and B at ``lam``, one per seed (in seed order): what a paired
    comparison over seeds pairs."""
    return [float(np.mean([r_split[t] for t in ("A", "B")])) for r_split in
            (getattr(r, split) for r in at_lam(per_seed, lam))]


def compare_at_best(sweeps: dict, table: list, a: str, b: str, delta: float, split: str = "test"):
    """:func:`ewc_helpers.stats.compare_seeds` of sweep ``a`` against sweep ``b``, each at the lam
    :func:`sensitivity_table` chose for it on validation, on ``split`` (mean of A and B), paired
    by seed."""
    lam = {r["label"]: r["lam"] for r in table}
    return compare_seeds(scores_at(sweeps[a], lam[a], split), scores_at(sweeps[b], lam[b], split),
                         delta, names=(a, b))


@dataclass(frozen=True)
class References(_Named):
    """Reference points of a trade-off plot, each ``(task A, task B)`` accuracy, mean over seeds:
    naive training on B, the task-A model itself, and joint training on A and B together."""

    naive: tuple
    a_only: tuple
    joint: tuple
    split: str = "val"

    def as_dict(self) -> dict:
        """``{"naive", "A only", "joint"}``: what :func:`ewc_helpers.plots.tradeoff`'s
        ``references`` takes."""
        return {"naive": self.naive, "A only": self.a_only, "joint": self.joint}

    def __repr__(self) -> str:
        return ("References(" + ", ".join(f"{k}: A {a:.3f}, B {b:.3f}" for k, (a, b) in self.as_dict().items())
                + f"; {self.split})")


def reference_points(run: SeedSweeps, tasks: dict, setup: Setup, split: str = "val") -> References:
    """Naive training, the task-A model and joint training (lessons 02, 01) on every seed of
    ``run``, as the mean over seeds of ``(A, B)`` accuracy on ``split``: the points a trade-off
    curve is read against. Naive runs come from each seed's sweeper (the same task-A weights and
    batches as the sweep); the joint model trains once per seed (``setup.with_seed(seed)``)."""
    def mean(results):
        return tuple(float(np.mean([getattr(r, split)[t] for r in results])) for t in ("A", "B"))

    naive = [sw.run("naive") for sw in run.sweepers]
    joint = [train_multitask(tasks, setup.with_seed(seed)) for seed in run.seeds]
    return References(mean(naive), mean(run.a_results), mean(joint), split)


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


