"""``reproduce --suite scenarios``: the scenario map under a protocol preset, run as units.

:func:`run_suite` turns ``settings x methods x seeds`` (and, with ``lam_mode="search"``, a lam grid
per penalised method on seed 0's validation data) into :class:`~ewc_helpers.runner.Unit` s, runs
the missing ones through a backend into the results folder, and :func:`report_from_folder` computes
the table and findings from that folder alone, with its provenance. Every table shows average
accuracy, learning accuracy (mean of the accuracy matrix's diagonal: what each task reached right
after training on it) and BWT, so a method that keeps old tasks by not learning new ones shows.

Findings compare methods paired by seed with :func:`ewc_helpers.stats.compare_seeds` (a Student-t
interval over seeds, ddof = 1): "beats" needs the interval to exclude zero, "level with" needs it
inside ``±delta``; anything else is "no difference detected at this margin".
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..runner import ResultsFolder, Unit, run_units, search_lams, suite_identity
from ..stats import compare_seeds
from .common import LABELS, format_table
from .protocols import METHODS, PENALISED, PROTOCOLS, SETTINGS, protocol_for
from .scenarios import PUBLISHED, _with_column, PUBLISHED_VDV

__all__ = ["run_suite", "report_from_folder", "suite_rows", "suite_findings", "load_report", "shipped", "DELTA"]

LABELS = {**LABELS, "si": "SI", "mas": "MAS"}
#: The equivalence margin of the findings: 0.02 of average accuracy (two points), wider than the
#: spread Hsu et al. report for the class-incremental regularisers (at most 0.003) and narrower
#: than any gap between their groups of methods (at least 0.03).
DELTA = 0.02


def chosen_lams(protocol, settings, methods, lam_mode, seed_execute, progress) -> tuple:
    """``({(setting, method): lam}, searches)``: published values, or a search on seed 0."""
    pairs = [(s, m) for s in settings for m in methods if m in PENALISED]
    if lam_mode == "published":
        missing = [f"{s}/{m}" for s, m in pairs if m not in protocol.lams.get(s, {})]
        if missing:
            raise ValueError(f"protocol {protocol.key} publishes no lam for {', '.join(missing)}; "
                             "run them with lam_mode='search' (--lam search)")
        return {(s, m): float(protocol.lams[s][m]) for s, m in pairs}, {}
    grids = {}
    for s, m in pairs:
        grid = protocol.for_setting(s).grids.get(s, {}).get(m) or protocol.grids.get(s, {}).get(m)
        if not grid:
            raise ValueError(f"protocol {protocol.key} has no lam grid for {s}/{m}")
        grids[(s, m)] = grid
    searches = search_lams(grids, 0, seed_execute, progress=progress) if grids else {}
    return {k: v["lam"] for k, v in searches.items()}, searches


def run_suite(data: str, mnist, protocol="short", settings=("task", "domain", "class", "permuted"),
              methods=METHODS, seeds: int = 3, out=None, backend: str = "local", workers: int = 1,
              address: str | None = None, cpus_per_unit: int = 1, lam_mode: str | None = None,
              subset: int | None = None, command: str = "", progress=print) -> dict:
    """Run (or resume) the suite into ``out`` and return :func:`report_from_folder`'s report."""
    protocol = protocol_for(protocol)
    lam_mode = lam_mode or protocol.lam_mode
    if lam_mode not in ("search", "published"):
        raise ValueError(f"lam_mode must be 'search' or 'published'; got {lam_mode!r}")
    bad = [s for s in settings if s not in SETTINGS] + [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"unknown setting(s) or method(s): {', '.join(bad)}")
    if out is None:
        raise ValueError("run_suite needs a results folder (out)")
    started = time.perf_counter()
    folder = ResultsFolder(out, suite_identity(protocol, mnist, subset), command=command)
    job = {"data": data, "subset": subset, "protocol": protocol}

    def execute(units):
        return run_units(units, job, folder, backend, workers, address, cpus_per_unit, progress)

    lams, searches = chosen_lams(protocol, settings, methods, lam_mode, execute, progress)
    units = [Unit(s, m, lams.get((s, m)), seed) for seed in range(int(seeds)) for s in settings for m in methods]
    execute(units)
    report = report_from_folder(out, protocol, settings, methods, seeds, lams)
    report["searches"] = {f"{s}/{m}": {"lam": v["lam"], "tried": {f"{k:g}": x for k, x in v["tried"].items()},
                                       "extended": v["extended"]} for (s, m), v in searches.items()}
    report["lam_mode"] = lam_mode
    report["seconds_this_run"] = time.perf_counter() - started
    return report


def suite_rows(records: list, settings, methods, seeds: int, lams: dict) -> dict:
    """Summary rows per setting (mean and ddof=1 std over seeds) from unit records."""
    by = {(r["setting"], r["method"], r["lam"], r["seed"]): r for r in records}
    rows = {}
    for s in settings:
        rows[s] = []
        for m in methods:
            lam = lams.get((s, m))
            rs = [r for r in (by.get((s, m, lam, seed)) for seed in range(int(seeds))) if r is not None]
            if rs:  # a cell with fewer seeds than asked (an unfinished sweep) shows its n
                rows[s].append(_row(m, lam, rs))
    return rows


def _std(values):
    values = [v for v in values if v is not None]
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _row(method, lam, rs) -> dict:
    avg = [r["average"] for r in rs]
    learning = [r["learning"] for r in rs]
    bwt = [r["bwt"] for r in rs]
    n_tasks = len(rs[0]["test"])
    tasks = [str(k) for k in range(1, n_tasks + 1)]
    test = np.array([r["test"] for r in rs])
    return {"method": method, "label": LABELS.get(method, method), "lam": [] if lam is None else [lam] * len(rs),
            "n": len(rs), "tasks": tasks, "test": dict(zip(tasks, test.mean(0).tolist())),
            "test_std": dict(zip(tasks, [_std(c) for c in test.T])),
            "average": float(np.mean(avg)), "average_std": _std(avg),
            "learning": None if learning[0] is None else float(np.mean(learning)),
            "learning_std": None if learning[0] is None else _std(learning),
            "bwt": None if bwt[0] is None else float(np.mean(bwt)), "bwt_std": None if bwt[0] is None else _std(bwt),
            "per_seed": {"average": avg, "learning": learning, "bwt": bwt}, "seeds": [r["seed"] for r in rs],
            "memory": rs[0]["memory"],
            "seconds": float(np.mean([r["seconds"] for r in rs]))}


def _cmp(rows, a, b, delta):
    """Paired by seed, over the seeds both methods have."""
    by = {r["method"]: r for r in rows}
    va, vb = (dict(zip(by[m]["seeds"], by[m]["per_seed"]["average"])) for m in (a, b))
    common = sorted(set(va) & set(vb))
    if len(common) < 2:
        return None  # no paired interval from fewer than 2 shared seeds
    return compare_seeds({k: va[k] for k in common}, {k: vb[k] for k in common}, delta,
                         names=(LABELS.get(a, a), LABELS.get(b, b)))


def suite_findings(rows: dict, delta: float = DELTA) -> list:
    """Hsu et al.'s orderings (Table 2), each tested on our rows paired by seed:
    ``[{"claim", "source", "holds", "verdicts": [words]}]``. A claim needs at least 2 seeds."""
    out = []
    regs = [m for m in ("l2", "ewc", "online_ewc", "si", "mas")]

    def have(s, *ms):
        return s in rows and set(ms) <= {r["method"] for r in rows[s] if r["n"] > 1}

    def add(claim, verdicts, holds, against, level=False):
        """``against``: the verdict outcomes that contradict the claim; anything else that is not
        ``holds`` leaves it not established (no difference detected at this margin). A ``level``
        claim is an equivalence claim: it holds when every interval lies inside ±delta, even one
        that also excludes zero, and only a difference outside the margin contradicts it."""
        if any(v is None for v in verdicts):
            return  # some pair shares fewer than 2 seeds: no claim
        status = "reproduced" if holds else (
            "contradicted" if any(v.outcome in against and not (level and v.within_margin) for v in verdicts)
            else "not established")
        out.append({"claim": claim, "source": "Hsu et al. 2018, Table 2", "holds": bool(holds), "status": status,
                    "verdicts": [v.words for v in verdicts]})

    present = lambda s: [m for m in regs if have(s, m)]  # noqa: E731
    if have("task", "naive") and present("task"):
        vs = [_cmp(rows["task"], m, "naive", delta) for m in present("task")]
        add("task-incremental: every regulariser beats naive fine-tuning", vs, all(v is not None and v.beats for v in vs),
            ("beaten", "equivalent"))
    if have("task", "replay", "naive"):
        v = _cmp(rows["task"], "replay", "naive", delta)
        add("task-incremental: replay beats naive fine-tuning", [v], v is not None and v.beats, ("beaten", "equivalent"))
    for s in ("domain", "class"):
        if have(s, "replay") and present(s):
            vs = [_cmp(rows[s], "replay", m, delta) for m in present(s)]
            add(f"{s}-incremental: replay beats every regulariser", vs, all(v is not None and v.beats for v in vs), ("beaten", "equivalent"))
    ewcs = [m for m in ("ewc", "online_ewc", "si", "mas") if have("class", m)]
    if have("class", "naive") and ewcs:
        vs = [_cmp(rows["class"], m, "naive", delta) for m in ewcs]
        add(f"class-incremental: EWC, online EWC, SI and MAS are level with naive fine-tuning (within ±{delta:g})",
            vs, all(v is not None and v.within_margin for v in vs), ("beats", "beaten"), level=True)
    for s in rows:
        if have(s, "joint"):
            vs = [_cmp(rows[s], m, "joint", delta) for m in (r["method"] for r in rows[s] if r["n"] > 1) if m != "joint"]
            add(f"{s}: no method beats joint training (the upper bound)", vs, not any(v is not None and v.beats for v in vs), ("beats",))
    return out


def report_from_folder(out, protocol, settings, methods, seeds: int, lams: dict, delta: float = DELTA) -> dict:
    """The suite's table, rows, findings and provenance, from the results folder alone."""
    import json

    protocol = protocol_for(protocol)
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    records = ResultsFolder.__new__(ResultsFolder)
    records.path, records.identity = Path(out), manifest["identity"]
    recs = records.records()
    rows = suite_rows(recs, settings, methods, seeds, lams)
    tables = []
    for s in settings:
        if not rows.get(s):
            continue
        text = format_table(rows[s], ("average", "learning", "bwt", "memory"), published=PUBLISHED.get(s),
                            published_label="Hsu 2018")
        if s in PUBLISHED_VDV:
            text = _with_column(text, "vdVen 2022", [PUBLISHED_VDV[s].get(r["label"]) for r in rows[s]])
        ns = sorted({r["n"] for r in rows[s]})
        tables.append(f"{s} ({protocol.key} protocol), {'/'.join(map(str, ns))} seed(s)"
                      + ("" if ns == [int(seeds)] else f" of {int(seeds)} asked: the sweep is unfinished") + f"\n{text}")
    found = suite_findings(rows, delta)
    table = "\n\n".join(tables)
    table += (f"\n\nHsu et al.'s orderings on these runs (paired by seed, 95% t interval; level = inside ±{delta:g}):\n"
              + "\n".join(f"  {f['status']}: {f['claim']}\n"
                          + "\n".join(f"      {w}" for w in f["verdicts"]) for f in found)
              + ("" if found else "  none tested: an ordering needs at least 2 seeds of both methods"))
    last = manifest["runs"][-1] if manifest.get("runs") else {}
    provenance = {"command": last.get("command"), "date": last.get("date"), "runs": manifest.get("runs", []),
                  "package_version": manifest["identity"].get("package_version"),
                  "protocol": protocol.to_dict(), "protocol_fingerprint": manifest["identity"].get("protocol_fingerprint"),
                  "data": manifest["identity"].get("data")}
    unit_seconds = sum(r["seconds"] for r in recs)
    return {"suite": "scenarios", "protocol": protocol.key, "table": table, "rows": rows, "findings": found,
            "lams": {f"{s}/{m}": lam for (s, m), lam in lams.items()}, "settings": list(settings),
            "methods": list(methods), "seeds": int(seeds), "delta": delta, "provenance": provenance,
            "units": len(recs), "unit_seconds": unit_seconds}


def shipped(name: str) -> Path:
    """A results file or folder that ships inside the package (``ewc_helpers/results/NAME``): the
    suites lesson 11 reads, written by the command in each one's provenance."""
    from importlib.resources import files

    path = Path(str(files("ewc_helpers") / "results" / name))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such results file in this installation of ewc_helpers")
    return path


def load_report(path) -> dict:
    """The report of a finished or unfinished suite, checked against this package before use.

    ``path`` is the JSON that ``reproduce --suite scenarios --json`` wrote, or a results folder
    (``--out``) of a protocol with published lams. Either must have been written by this package
    version and this version of its protocol: anything else raises
    :class:`~ewc_helpers.runner.ResultsMismatch` naming what differs, so a lesson never shows the
    numbers of an older suite as this one's.
    """
    import json

    from .. import __version__
    from ..runner import ResultsMismatch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such results file or folder")
    if path.is_dir():
        manifest = path / "manifest.json"
        if not manifest.is_file():
            raise ResultsMismatch(f"{path}: not a results folder (no manifest.json)")
        identity = json.loads(manifest.read_text())["identity"]
        version, key, fingerprint = (identity.get(k) for k in ("package_version", "protocol", "protocol_fingerprint"))
    else:
        try:
            report = json.loads(path.read_text())
            prov = report["provenance"]
            version, key, fingerprint = prov["package_version"], report["protocol"], prov["protocol_fingerprint"]
        except (ValueError, KeyError, TypeError) as err:
            raise ResultsMismatch(f"{path}: not a scenarios results file ({err})") from None
    if key not in PROTOCOLS:
        raise ResultsMismatch(f"{path}: protocol {key!r} is not one this package knows")
    protocol = protocol_for(key)
    stale = []
    if version != __version__:
        stale.append(f"package version {version} there, {__version__} now")
    if fingerprint != protocol.fingerprint():
        stale.append(f"protocol {key} fingerprint {fingerprint} there, {protocol.fingerprint()} now")
    if stale:
        raise ResultsMismatch(f"{path} was written by another suite ({'; '.join(stale)}); "
                              "re-run the command in its provenance to refresh it")
    if not path.is_dir():
        return report
    if protocol.lam_mode != "published":
        raise ResultsMismatch(f"{path}: protocol {key} chooses lam by search; load the JSON written with --json")
    units = [json.loads(f.read_text())["record"] for f in sorted((path / "units").glob("*.json"))]
    settings = [s for s in SETTINGS if any(u["setting"] == s for u in units)]
    methods = [m for m in METHODS if any(u["method"] == m for u in units)]
    seeds = 1 + max(u["seed"] for u in units)
    lams = {(s, m): float(protocol.lams[s][m]) for s in settings for m in methods if m in PENALISED}
    return report_from_folder(path, protocol, settings, methods, seeds, lams)

