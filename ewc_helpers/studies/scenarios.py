"""Where EWC helps, and where it cannot (lesson 11): the three split-MNIST scenarios and permuted MNIST.

Settings (:data:`SETTINGS`): task-, domain- and class-incremental split MNIST (five digit pairs,
see :mod:`ewc_helpers.split_mnist`) and permuted MNIST with five tasks. Methods (:data:`METHODS`):
naive fine-tuning, L2, EWC with one anchor per task and online EWC (all four through
:func:`.sequences.run_sequence`, sharing the first task's training), replay of a small buffer
(:class:`~ewc_helpers.replay.ReplayBuffer`) and joint training on every task at once, the upper
bound. Each penalised method's lam is chosen on validation data by :func:`.common.search_lam`.

A finding compares two methods measured in the same runs: method a beats method b when its mean
average accuracy over seeds is higher by more than :func:`margin`, the larger of twice the larger
std over seeds and three binomial standard errors of the test split
(:func:`ewc_helpers.evaluation.noise_margin`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..evaluation import AccuracyMatrix, accuracies, noise_margin
from ..models import compile_model
from ..replay import DEFAULT_PER_CLASS, ReplayBuffer, merge_tasks
from ..reproducibility import set_seed
from ..split_mnist import make_split_tasks
from ..tasks import make_permuted_tasks
from ..training import fit_task
from .common import LABELS, Result, Setup, format_table, new_model, search_lam, summarize
from .sequences import output_units, sequence_runner, train_first_task

__all__ = ["Setting", "SETTINGS", "METHODS", "REGULARISERS", "PUBLISHED", "PUBLISHED_VDV", "make_setting_tasks",
           "run_replay", "run_joint", "run_scenario", "run_scenarios_suite", "scenario_table", "margin",
           "compare", "findings", "ewc_wins", "rows_by_method", "compact", "expand", "Finding", "MethodRow",
           "SuiteResults", "read_results"]

METHODS = ("naive", "l2", "ewc", "online_ewc", "replay", "joint")
REGULARISERS = ("l2", "ewc", "online_ewc")


@dataclass(frozen=True)
class Setting:
    """One benchmark: how its tasks are made, its setup and its starting lam grids."""

    key: str
    title: str
    setup: Setup
    grids: dict
    num_tasks: int = 5


#: Split tasks are small (720 training digits each), so a fit is mostly fixed overhead: 4 epochs
#: cost about what 2 do. Permuted tasks hold all 3,600 training digits: 2 epochs each.
SPLIT_SETUP = Setup(epochs_per_task=4, fisher_examples=None)
PERMUTED_SETUP = Setup(epochs_per_task=2, fisher_examples=1000)
#: Starting grids, a decade apart; search_lam adds decades while the best sits at an end.
#: van de Ven et al. (2022) use EWC lam 1e5 (task-), 1e10 (domain-) and 1e9 (class-incremental)
#: with a Fisher that, like ours, is a mean over examples; their networks train far longer.
SETTINGS = {
    "task": Setting("task", "task-incremental split MNIST (one head per task, task known at test time)",
                    SPLIT_SETUP, {"l2": (0.001, 0.01, 0.1), "ewc": (1e2, 1e3, 1e4), "online_ewc": (1e2, 1e3, 1e4)}),
    "domain": Setting("domain", "domain-incremental split MNIST (one shared 2-way head: even or odd)",
                      SPLIT_SETUP, {"l2": (0.1, 1.0, 10.0), "ewc": (1e2, 1e3, 1e4), "online_ewc": (1e2, 1e3, 1e4)}),
    "class": Setting("class", "class-incremental split MNIST (one shared 10-way head)",
                     SPLIT_SETUP, {"l2": (1.0, 10.0, 100.0), "ewc": (1e3, 1e4, 1e5), "online_ewc": (1e3, 1e4, 1e5)}),
    "permuted": Setting("permuted", "permuted MNIST, 5 tasks (one shared 10-way head)",
                        PERMUTED_SETUP, {"l2": (0.01, 0.1, 1.0), "ewc": (10.0, 100.0, 1000.0),
                                         "online_ewc": (10.0, 100.0, 1000.0)}),
}
#: Published average accuracy, Hsu et al. 2018, Table 2 (full MNIST, 2x400 MLP, 10 runs; "naive"
#: is their Adam fine-tuning). Keyed by setting, then by our method label.
PUBLISHED = {
    "task": {"naive": (0.9346,), "L2": (0.9818,), "EWC": (0.9770,), "online EWC": (0.9804,),
             "SI": (0.9856,), "MAS": (0.9922,), "replay": (0.9940,), "joint": (0.9952,)},
    "domain": {"naive": (0.5516,), "L2": (0.6600,), "EWC": (0.5885,), "online EWC": (0.5733,),
               "SI": (0.6476,), "MAS": (0.6857,), "replay": (0.9516,), "joint": (0.9859,)},
    "class": {"naive": (0.1971,), "L2": (0.2252,), "EWC": (0.1980,), "online EWC": (0.1977,),
              "SI": (0.1967,), "MAS": (0.1952,), "replay": (0.9078,), "joint": (0.9753,)},
}
#: van de Ven, Tuytelaars and Tolias 2022, split MNIST, read off a figure (approximate).
PUBLISHED_VDV = {
    "task": {"naive": 0.84, "EWC": 0.99},
    "domain": {"naive": 0.59, "EWC": 0.62, "replay": 0.93, "joint": 0.98},
    "class": {"naive": 0.20, "EWC": 0.20, "replay": 0.90},
}


def make_setting_tasks(setting: str, mnist, seed: int = 0) -> list:
    """The tasks of a setting. The validation hold-out is seed 0's in every setting; ``seed``
    draws the permutations of permuted MNIST (and, in the runs, the weights and shuffles)."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    if setting == "permuted":
        return make_permuted_tasks(mnist, SETTINGS[setting].num_tasks, seed=seed)
    return make_split_tasks(mnist, setting)


# --------------------------------------------------------------------------- the two references
def _start(tasks, setup, first):
    """A model holding the first task (trained now, or taken from ``first``) and its rows."""
    names = [t.name for t in tasks]
    first = first or train_first_task(tasks, setup)
    set_seed(setup.seed)
    model = new_model(setup, weights=first["weights"], num_classes=output_units(tasks))
    return model, AccuracyMatrix(names, [first["test_row"]]), AccuracyMatrix(names, [first["val_row"]])


def run_replay(tasks, setup: Setup, first: dict | None = None, per_class: int = DEFAULT_PER_CLASS,
               ratio: float | None = 1.0, progress=None) -> Result:
    """Every task after the first trains (fresh optimizer, ``setup.epochs_per_task`` epochs) on its
    data mixed with a :class:`~ewc_helpers.replay.ReplayBuffer` of ``per_class`` examples per class
    of every earlier task; see :meth:`ReplayBuffer.mix` for ``ratio``. ``memory`` is the buffer
    after the last task is stored too, as a further task would find it."""
    tasks = list(tasks)
    started = time.perf_counter()
    model, test, val = _start(tasks, setup, first)
    buffer = ReplayBuffer(per_class, seed=setup.seed)
    buffer.add(tasks[0])
    for i, task in enumerate(tasks[1:], start=1):
        compile_model(model, setup.optimizer, setup.learning_rate)
        fit_task(model, buffer.mix(task, ratio, seed=i), epochs=setup.epochs_per_task,
                 batch_size=setup.batch_size, seed=setup.seed + i)
        test.add_row(accuracies(model, tasks, "test"))
        val.add_row(accuracies(model, tasks, "val"))
        buffer.add(task)
        if progress:
            progress(f"  replay after {task.name}: " + " ".join(f"{v:.2f}" for v in test.rows[-1][: i + 1]))
    names = [t.name for t in tasks]
    return Result("replay", None, val=dict(zip(names, val.rows[-1])), test=dict(zip(names, test.rows[-1])),
                  matrix=test, val_matrix=val, memory=buffer.memory(), seconds=time.perf_counter() - started,
                  info={"per_class": per_class, "ratio": ratio})


def run_joint(tasks, setup: Setup) -> Result:
    """The upper bound: one model trained on every task's training data at once, for
    ``setup.epochs_per_task`` epochs (each example seen as often as in a sequence). ``memory`` is
    all the training data it must keep."""
    tasks = list(tasks)
    started = time.perf_counter()
    set_seed(setup.seed)
    model = new_model(setup, num_classes=output_units(tasks))
    union = merge_tasks(tasks)
    fit_task(model, union, epochs=setup.epochs_per_task, batch_size=setup.batch_size, seed=setup.seed)
    held = union.train
    return Result("joint", None, val=accuracies(model, tasks, "val"), test=accuracies(model, tasks, "test"),
                  memory={"examples": len(held), "arrays": 2, "bytes": int(held.images.nbytes + held.labels.nbytes)},
                  seconds=time.perf_counter() - started)


# --------------------------------------------------------------------------- one setting, one seed
def run_scenario(setting: str, mnist, setup: Setup | None = None, seed: int = 0, methods=METHODS,
                 grids: dict | None = None, lams: dict | None = None, progress=None) -> dict:
    """Every method of ``methods`` on one setting with one seed.

    ``setup`` defaults to the setting's; ``grids`` overrides its starting lam grids. A penalised
    method found in ``lams`` runs at that lam only (one chosen earlier); the others' lam is chosen
    here by :func:`.common.search_lam`. Returns ``{"setting", "seed", "results": [Result, in the
    order of methods], "searches": {method: LamSearch}, "extended": [one line per extension]}``.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    spec = SETTINGS[setting]
    setup = (setup or spec.setup).with_seed(seed)
    grids = {**spec.grids, **(grids or {})}
    say = progress or (lambda *_: None)
    tasks = make_setting_tasks(setting, mnist, seed)
    first = train_first_task(tasks, setup)
    results, searches, extended = [], {}, []
    for method in methods:
        if method == "naive":
            r = sequence_runner(tasks, setup, "naive", first=first)(None)
        elif method == "replay":
            r = run_replay(tasks, setup, first)
        elif method == "joint":
            r = run_joint(tasks, setup)
        elif method in (lams or {}):
            r = sequence_runner(tasks, setup, method, first=first)(lams[method])
        else:
            note = lambda m, method=method: say(f"  [{setting}, seed {seed}] {method}: {m}")  # noqa: E731
            search = search_lam(sequence_runner(tasks, setup, method, first=first), grids[method], progress=note)
            searches[method] = search
            extended += [f"{setting}, seed {seed}, {method}: {m}" for m in search.extended]
            r = search.best
        results.append(r)
        say(f"[{setting}, seed {seed}] {r.label:<11} average {r.average_accuracy:.3f}"
            + (f"  (lam {r.lam:g})" if r.lam is not None else "") + f"  {r.seconds:.0f} s")
    return {"setting": setting, "seed": seed, "results": results, "searches": searches, "extended": extended}


# --------------------------------------------------------------------------- the suite
def run_scenarios_suite(mnist, setup: Setup | None = None, seeds: int = 3, progress=print,
                        settings=tuple(SETTINGS), methods=METHODS, grids: dict | None = None) -> dict:
    """Every setting and method over seeds 0..seeds-1: the lesson's table.

    Each penalised method's lam is chosen once per setting, on seed 0's validation data, by
    :func:`.common.search_lam` (from the setting's grid, or ``grids``); the other seeds reuse it,
    which keeps the suite within its time budget (a search costs 3 or more runs per method).

    Returns ``{"suite": "scenarios", "table": text, "rows": {setting: summary rows}, "runs":
    {setting: [per seed, JSON-able]}, "settings": {setting: its title, setup, grids}, "findings":
    [(text, holds)], "extended": [...], "seconds"}``.
    """
    if isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be a positive integer; got {seeds!r}")
    started = time.perf_counter()
    rows, runs, extended, n_test = {}, {}, [], len(mnist.test)
    for setting in settings:
        per_seed = [run_scenario(setting, mnist, setup, 0, methods, grids, progress=progress)]
        chosen = {m: s.best.lam for m, s in per_seed[0]["searches"].items()}
        per_seed += [run_scenario(setting, mnist, setup, seed, methods, lams=chosen, progress=progress)
                     for seed in range(1, int(seeds))]
        rows[setting] = summarize([p["results"] for p in per_seed])
        extended += [line for p in per_seed for line in p["extended"]]
        runs[setting] = [{"seed": p["seed"], "results": [_record(r) for r in p["results"]],
                          "searches": {m: [_record(r) for r in s.results] for m, s in p["searches"].items()}}
                         for p in per_seed]
    table = "\n\n".join(scenario_table(rows[s], s) for s in settings)
    table += "\n\nlam grid extensions (seed 0 chooses lam): " + ("; ".join(extended) if extended else "none")
    found = findings(rows, n_test)
    table += f"\n\npublished orderings, on our runs (margin: 2 std over seeds or 3 binomial SE on {n_test} test digits):\n"
    table += "\n".join(f"  {'reproduced' if f['holds'] else 'NOT reproduced'}: {f['claim']} ({f['detail']})"
                        for f in found)
    wins = ewc_wins(rows, n_test)
    table += "\n  EWC beats both naive and L2 by the margin in: " + (", ".join(wins) if wins else "no setting")
    return {"suite": "scenarios", "table": table, "rows": rows, "runs": runs, "extended": extended,
            "settings": {s: {"title": SETTINGS[s].title, "setup": (setup or SETTINGS[s].setup).__dict__,
                             "grids": {m: list(g) for m, g in SETTINGS[s].grids.items()}} for s in settings},
            "findings": found, "ewc_wins": wins, "n_test": n_test, "seeds": int(seeds),
            "seconds": time.perf_counter() - started}


def _record(r: Result) -> dict:
    d = r.to_dict()
    d["info"] = {k: v for k, v in d.get("info", {}).items() if k not in ("anchors",)}
    return d


def scenario_table(rows: list, setting: str) -> str:
    """One setting's rows: average accuracy, BWT and bytes held, then the published figures
    (Hsu et al. 2018 and van de Ven et al. 2022) where there are any."""
    text = format_table(rows, ("average", "bwt", "memory"), published=PUBLISHED.get(setting),
                        published_label="Hsu 2018")
    if setting in PUBLISHED_VDV:
        text = _with_column(text, "vdVen 2022", [PUBLISHED_VDV[setting].get(r["label"]) for r in rows])
    return f"{SETTINGS[setting].title}, {rows[0]['n']} seed(s)\n{text}"


def _with_column(text: str, head: str, values: list) -> str:
    """A text table of format_table with one more column (the header, its rule, one value per row)."""
    header, rule, *body = text.splitlines()
    width = max(len(head), 6)
    out = [f"{header}  {head:>{width}}", rule + "-" * (width + 2)]
    out += [f"{line}  {'-' if v is None else f'{v:.2f}':>{width}}" for line, v in zip(body, values)]
    return "\n".join(out)


def compact(rows: dict) -> dict:
    """Summary rows as ``{setting: {method: (average, std, bwt, bwt std, lam, bytes)}}``, small
    enough to paste into a lesson; :func:`expand` turns it back into rows."""
    def lam(r):
        return None if not r["lam"] else float(sorted(set(r["lam"]))[0])
    return {s: {r["method"]: tuple(None if v is None else round(v, 4) if isinstance(v, float) else v for v in
                                   (r["average"], r["average_std"], r["bwt"], r["bwt_std"], lam(r), r["memory"]))
                for r in rs} for s, rs in rows.items()}


def expand(summary: dict, n: int) -> dict:
    """Rows that :func:`scenario_table`, :func:`findings` and the plots read, from :func:`compact`'s
    output over ``n`` seeds."""
    out = {}
    for setting, methods in summary.items():
        out[setting] = [{"method": m, "label": LABELS.get(m, m), "n": n, "tasks": [], "test": {}, "test_std": {},
                         "average": avg, "average_std": std, "bwt": bwt, "bwt_std": bwt_std,
                         "lam": [] if lam is None else [lam], "memory": memory}
                        for m, (avg, std, bwt, bwt_std, lam, memory) in methods.items()]
    return out


# --------------------------------------------------------------------------- checked findings
def rows_by_method(rows: list) -> dict:
    return {r["method"]: r for r in rows}


def margin(a: dict, b: dict, n_test: int) -> float:
    """How far apart two summary rows' mean average accuracies must be to count as different: the
    larger of twice the larger std over seeds and 3 binomial standard errors on ``n_test`` digits."""
    return max(2 * max(a["average_std"], b["average_std"]), noise_margin(n_test))


def compare(rows: list, a: str, b: str, n_test: int) -> dict:
    """``{"difference": mean a - mean b, "margin", "beats": difference > margin}``."""
    by = rows_by_method(rows)
    diff, m = by[a]["average"] - by[b]["average"], margin(by[a], by[b], n_test)
    return {"a": a, "b": b, "difference": diff, "margin": m, "beats": diff > m}


def ewc_wins(rows: dict, n_test: int) -> list:
    """The settings where EWC beats both naive and L2 by more than :func:`margin`."""
    return [s for s, r in rows.items() if {"ewc", "naive", "l2"} <= set(rows_by_method(r))
            and compare(r, "ewc", "naive", n_test)["beats"] and compare(r, "ewc", "l2", n_test)["beats"]]


def findings(rows: dict, n_test: int) -> list:
    """The orderings the literature reports, tested on our rows: a list of ``{"claim", "source",
    "holds", "detail"}`` (``detail``: the differences and margins behind the verdict)."""
    out = []

    def have(setting, *methods):
        return setting in rows and set(methods) <= set(rows_by_method(rows[setting]))

    def add(claim, source, comparisons, holds):
        detail = "; ".join(f"{LABELS[c['a']]} - {LABELS[c['b']]} = {c['difference']:+.3f} (margin {c['margin']:.3f})"
                           for c in comparisons)
        out.append({"claim": claim, "source": source, "holds": bool(holds), "detail": detail})

    if have("task", "ewc", "naive"):
        c = compare(rows["task"], "ewc", "naive", n_test)
        add("task-incremental: EWC beats naive fine-tuning", "Hsu 2018; van de Ven 2022", [c], c["beats"])
    for setting in ("domain", "class"):
        if have(setting, "replay", *REGULARISERS):
            cs = [compare(rows[setting], "replay", m, n_test) for m in REGULARISERS]
            add(f"{setting}-incremental: replay beats every regulariser", "Hsu 2018; van de Ven 2022", cs,
                all(c["beats"] for c in cs))
    if have("class", "naive", *REGULARISERS):
        cs = [compare(rows["class"], m, "naive", n_test) for m in REGULARISERS]
        add("class-incremental: no regulariser beats naive fine-tuning", "Hsu 2018; van de Ven 2022; Farquhar and Gal 2018",
            cs, not any(c["beats"] for c in cs))
    if have("permuted", "ewc", "naive", "l2"):
        cs = [compare(rows["permuted"], "ewc", m, n_test) for m in ("naive", "l2")]
        add("permuted MNIST: EWC beats naive fine-tuning and L2", "Kirkpatrick 2017, Fig. 2A", cs,
            all(c["beats"] for c in cs))
    for setting in rows:
        if have(setting, "joint"):
            cs = [compare(rows[setting], m, "joint", n_test) for m in rows_by_method(rows[setting]) if m != "joint"]
            add(f"{setting}: no method beats joint training (the upper bound)", "all", cs,
                not any(c["beats"] for c in cs))
    return out


# --------------------------------------------------------------------------- named results for lesson 11
@dataclass(frozen=True)
class Finding:
    """One published ordering tested on a suite: the ``claim``, its ``source`` and whether it
    ``holds`` on these seeds, with the paired ``verdicts`` it rests on. ``status`` is "reproduced",
    "contradicted" (a paired interval goes against it) or "not established" (the seeds cannot
    decide)."""

    claim: str
    holds: bool
    source: str = ""
    verdicts: tuple = ()
    status: str = ""

    def __repr__(self) -> str:
        return f"Finding({'holds' if self.holds else 'not established'}: {self.claim})"


@dataclass(frozen=True)
class MethodRow:
    """One method in one setting of a suite: mean ``average``, ``learning`` and ``bwt`` over the
    seeds, and ``per_seed[measure]``, a dict ``{seed: value}``."""

    method: str
    label: str
    average: float
    learning: float | None
    bwt: float | None
    per_seed: dict

    def __repr__(self) -> str:
        learning = "-" if self.learning is None else f"{self.learning:.3f}"
        return (f"MethodRow({self.label}: average {self.average:.3f}, learning {learning}, "
                f"over {len(self.per_seed.get('average', {}))} seeds)")


@dataclass(frozen=True)
class SuiteResults:
    """A results file of the scenario suite as named values (read by :func:`read_results`).

    ``table``: the printed table; ``source``, ``train_images``, ``date``, ``package_version`` and
    ``command``: its provenance; ``findings``: :class:`Finding` values; ``rows``: the rows per
    setting as the plots take them; :meth:`row`, :meth:`lam` and :meth:`per_seed` look one up.
    """

    name: str
    table: str = field(repr=False)
    source: str = ""
    train_images: int = 0
    date: str = ""
    package_version: str = ""
    command: str = ""
    findings: tuple = ()
    rows: dict = field(repr=False, default_factory=dict)
    lams: dict = field(repr=False, default_factory=dict)

    def row(self, setting: str, method: str) -> MethodRow:
        if setting not in self.rows:
            raise KeyError(f"no setting {setting!r} in {self.name}; it has {', '.join(self.rows)}")
        for r in self.rows[setting]:
            if r["method"] == method:
                per_seed = {k: dict(zip(r["seeds"], v)) for k, v in r["per_seed"].items()}
                return MethodRow(r["method"], r["label"], r["average"], r.get("learning"), r.get("bwt"), per_seed)
        raise KeyError(f"no method {method!r} in the {setting} setting of {self.name}")

    def per_seed(self, setting: str, method: str, measure: str) -> dict:
        """``{seed: value}`` of ``measure`` ("average", "learning", "bwt") for one method."""
        return self.row(setting, method).per_seed[measure]

    def lam(self, setting: str, method: str) -> float:
        key = f"{setting}/{method}"
        if key not in self.lams:
            raise KeyError(f"{self.name} chose no lam for {key}")
        return self.lams[key]

    def sequential_rows_report_learning(self) -> bool:
        """Every row of a sequential method (not joint training) has a learning accuracy."""
        return all(r["learning"] is not None for rows in self.rows.values() for r in rows if r["method"] != "joint")


def read_results(path, name: str = "") -> SuiteResults:
    """A shipped results file, checked by :func:`.scenario_suite.load_report`, as a :class:`SuiteResults`."""
    from . import scenario_suite

    report = scenario_suite.load_report(path)
    p, data = report["provenance"], report["provenance"]["data"]
    findings = tuple(Finding(f["claim"], bool(f["holds"]), f.get("source", ""), tuple(f.get("verdicts", ())),
                             f.get("status") or ("reproduced" if f["holds"] else "not established"))
                     for f in report["findings"])
    return SuiteResults(name or str(path), report["table"], data["source"], int(data["train"]), p["date"],
                        p["package_version"], p["command"], findings, report["rows"], dict(report["lams"]))
