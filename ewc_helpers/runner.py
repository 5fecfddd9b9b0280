"""Units of work, the backends that run them, and the results folder that survives interruption.

A suite is a set of independent, seeded **units**: ``(setting, method, lam, seed)``
(:class:`Unit`). A unit's result is a function of the unit, the protocol and the data alone, so
units can run in any order, in any process, on any machine.

**Backends.** ``"local"`` runs the units one after another in this process. ``"ray"`` hands them
to Ray (an optional dependency: ``pip install "ewc-helpers[ray]"``): it joins a running cluster
(``address``) or starts a local Ray instance with ``workers`` CPUs, and asks ``cpus_per_unit``
CPUs (and a GPU where the cluster has one) per unit. TensorFlow in each Ray worker is limited to
``cpus_per_unit`` threads, so N workers do not oversubscribe the cores. No scheduling of our own:
Ray places the units.

**Results folder** (``out``). Each unit's record is written, atomically, as soon as it finishes:
``units/<setting>__<method>__lam<lam>__seed<seed>.json``. ``manifest.json`` holds the folder's
identity (package version, protocol and its fingerprint, data source and data fingerprint) and
every command run into it, with its date. A re-run with the same identity skips the units already
written, so an interrupted sweep loses at most the units in flight. A folder (or a unit file)
written under another identity is refused with an error that names what differs: nothing is
reused silently.

:func:`search_lams` chooses lam on validation through the same backend, with the rule and the
self-extending grid of :func:`ewc_helpers.studies.common.search_lam`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Unit", "ResultsFolder", "ResultsMismatch", "run_units", "search_lams", "data_identity",
           "limit_threads", "BACKENDS"]

BACKENDS = ("local", "ray")
MAX_EXTENSIONS = 3
#: How often to try starting a local Ray instance (each try waits up to Ray's own 30 s).
RAY_START_ATTEMPTS = 3


class ResultsMismatch(RuntimeError):
    """A results folder or unit file written by another version, protocol or data source."""


@dataclass(frozen=True, order=True)
class Unit:
    setting: str
    method: str
    lam: float | None
    seed: int

    @property
    def name(self) -> str:
        lam = "-" if self.lam is None else f"{self.lam:.6g}"
        return f"{self.setting}__{self.method}__lam{lam}__seed{self.seed}"

    def __str__(self) -> str:
        return (f"{self.setting}/{self.method}" + ("" if self.lam is None else f" lam={self.lam:g}")
                + f" seed {self.seed}")


def limit_threads(n: int) -> None:
    """Limit TensorFlow to ``n`` intra-op and 1 inter-op threads (before it runs any op)."""
    n = int(n)
    for var in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already ran an op in this process: its pools are fixed
        pass


def suite_identity(protocol, mnist, subset=None) -> dict:
    """What a results folder's units depend on: package version, protocol, data."""
    from . import __version__

    return {"package_version": __version__, "protocol": protocol.key,
            "protocol_fingerprint": protocol.fingerprint(), "data": data_identity(mnist, subset)}


def data_identity(mnist, subset=None) -> dict:
    """Source, origin and a fingerprint of the pixels and labels (plus the subset taken)."""
    h = hashlib.sha256()
    for split in (mnist.train, mnist.test):
        h.update(split.images.tobytes())
        h.update(split.labels.tobytes())
    return {"source": mnist.source, "origin": str(mnist.origin), "fingerprint": h.hexdigest()[:16],
            "train": len(mnist.train), "test": len(mnist.test), "subset": subset}


# --------------------------------------------------------------------------- results folder
class ResultsFolder:
    """Per-unit records under ``path/units/`` plus ``path/manifest.json`` (see the module doc)."""

    def __init__(self, path, identity: dict, command: str = ""):
        self.path = Path(path)
        self.identity = json.loads(json.dumps(identity, sort_keys=True))
        if self.path.exists() and not self.path.is_dir():
            raise ResultsMismatch(f"{self.path} exists and is not a folder")
        (self.path / "units").mkdir(parents=True, exist_ok=True)
        manifest = self.path / "manifest.json"
        runs = []
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text())
            except ValueError:
                raise ResultsMismatch(f"{manifest}: is not valid JSON; move the folder aside or choose another --out") from None
            self._check(old.get("identity"), str(manifest))
            runs = old.get("runs", [])
        runs.append({"command": command, "date": _now()})
        self.runs = runs
        _write_json(manifest, {"identity": self.identity, "runs": runs})

    def _check(self, other, where: str) -> None:
        if other == self.identity:
            return
        other = other or {}
        diff = sorted(k for k in set(other) | set(self.identity) if other.get(k) != self.identity.get(k))
        detail = "; ".join(f"{k}: {other.get(k)!r} there, {self.identity.get(k)!r} now" for k in diff)
        raise ResultsMismatch(f"{where} was written by another run ({detail}); its units are not reused. "
                              "Choose another --out folder, or move this one aside.")

    def file(self, unit: Unit) -> Path:
        return self.path / "units" / f"{unit.name}.json"

    def read(self, unit: Unit) -> dict | None:
        f = self.file(unit)
        if not f.exists():
            return None
        try:
            data = json.loads(f.read_text())
        except ValueError:
            return None  # a unit cut off while being written is run again
        self._check(data.get("identity"), str(f))
        return data["record"]

    def write(self, unit: Unit, record: dict) -> None:
        _write_json(self.file(unit), {"identity": self.identity, "unit": asdict(unit), "record": record,
                                      "date": _now()})

    def records(self) -> list:
        out = []
        for f in sorted((self.path / "units").glob("*.json")):
            data = json.loads(f.read_text())
            self._check(data.get("identity"), str(f))
            out.append(data["record"])
        return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_json(path: Path, data) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# --------------------------------------------------------------------------- progress
class Progress:
    def __init__(self, total: int, done: int, say):
        self.total, self.done, self.say = total, done, say or (lambda *_: None)
        self.started, self.new = time.perf_counter(), 0

    def update(self, running: int, note: str = "") -> None:
        elapsed = time.perf_counter() - self.started
        left = self.total - self.done - running
        eta = "?" if not self.new else _clock(elapsed / self.new * (self.total - self.done))
        self.say(f"[units {self.done}/{self.total} done, {running} running, {left} left; "
                 f"elapsed {_clock(elapsed)}, ETA {eta}]" + (f" {note}" if note else ""))


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


# --------------------------------------------------------------------------- workers
_DATA_CACHE: dict = {}


def load_data(data: str, subset: int | None = None):
    """MNIST from ``data`` (a load_mnist source), cut to ``subset`` training and ``subset // 6``
    test images when given (the first ones of a seeded permutation, so every digit is present)."""
    key = (data, subset)
    if key not in _DATA_CACHE:
        from .sources import MNIST, load_mnist

        mnist = load_mnist(data, verbose=False)
        if subset:
            import numpy as np

            rng = np.random.default_rng(0)
            tr = np.sort(rng.permutation(len(mnist.train))[: int(subset)])
            te = np.sort(rng.permutation(len(mnist.test))[: max(1, int(subset) // 6)])
            mnist = MNIST(mnist.train.take(tr), mnist.test.take(te), mnist.source, f"{mnist.origin} (subset {subset})")
        _DATA_CACHE.clear()
        _DATA_CACHE[key] = mnist
    return _DATA_CACHE[key]


def _execute(unit: Unit, job: dict) -> dict:
    """Run one unit in this process (what a Ray worker calls)."""
    if job.get("threads"):
        limit_threads(job["threads"])
    from .studies.protocols import run_unit

    mnist = load_data(job["data"], job.get("subset"))
    return run_unit(unit.setting, unit.method, unit.lam, unit.seed, mnist, job["protocol"])


def run_units(units, job: dict, folder: ResultsFolder, backend: str = "local", workers: int = 1,
              address: str | None = None, cpus_per_unit: int = 1, progress=print) -> dict:
    """Run every unit of ``units`` not yet in ``folder``; return ``{unit: record}`` for all of them.

    ``job``: ``{"data": load_mnist source, "subset": None or n, "protocol": Protocol}``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    units = list(dict.fromkeys(units))  # the caller's order, without repeats
    results = {u: folder.read(u) for u in units}
    todo = [u for u in units if results[u] is None]
    bar = Progress(len(units), len(units) - len(todo), progress)
    if not todo:
        return results
    if backend == "local":
        for u in todo:
            record = folder.read(u)  # another process sharing the folder may have run it meanwhile
            if record is None:
                bar.update(1, f"running {u}")
                record = _execute(u, job)
                folder.write(u, record)
            results[u] = record
            bar.done += 1
            bar.new += 1
        bar.update(0, "finished")
        return results
    return _run_ray(todo, results, job, folder, workers, address, cpus_per_unit, bar)


def _run_ray(todo, results, job, folder, workers, address, cpus_per_unit, bar):
    try:
        import ray
    except ImportError:
        raise RuntimeError("--backend ray needs Ray: pip install 'ewc-helpers[ray]' (or pip install ray)") from None
    started_here = not ray.is_initialized()
    if started_here:
        env = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTRAOP_THREADS": str(cpus_per_unit),
               "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": str(cpus_per_unit), "PYTHONWARNINGS": "ignore"}
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + os.pathsep + os.environ.get("PYTHONPATH", "")
        kwargs = {"runtime_env": {"env_vars": env}, "include_dashboard": False, "log_to_driver": False,
                  "logging_level": "ERROR"}
        for attempt in range(RAY_START_ATTEMPTS):
            try:
                if address:
                    ray.init(address=address, **kwargs)
                else:
                    ray.init(num_cpus=int(workers) * int(cpus_per_unit), **kwargs)
                break
            except Exception as err:  # Ray gives a raylet 30 s to register: too short on a busy machine
                slow = "timed out during startup" in str(err) or "Timed out while waiting for GCS" in str(err)
                if not slow or attempt == RAY_START_ATTEMPTS - 1:
                    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                    raise RuntimeError(f"could not start {where} ({str(err).splitlines()[0]}); the units done "
                                       f"so far are kept in {folder.path}: run the same command again to resume, "
                                       "or use --backend local") from None
                ray.shutdown()
                bar.say(f"Ray did not start in time ({err}); trying again")
    try:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        remote = ray.remote(num_cpus=int(cpus_per_unit), num_gpus=gpus, max_retries=2)(_execute)
        job = {**job, "threads": int(cpus_per_unit)}
        job_ref = ray.put(job)
        pending = {remote.remote(u, job_ref): u for u in todo}
        capacity = int(workers) if not address else max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_unit))
        bar.update(min(len(pending), capacity), "submitted to Ray")
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            u = pending.pop(ready[0])
            record = ray.get(ready[0])
            folder.write(u, record)
            results[u] = record
            bar.done += 1
            bar.new += 1
            bar.update(min(len(pending), capacity), f"finished {u} ({record['seconds']:.0f} s)")
    finally:
        if started_here:
            ray.shutdown()
    return results


# --------------------------------------------------------------------------- lam search
def _choose(records: dict):
    """The lam with the highest validation score (rounded to 6 digits), ties to the smaller lam."""
    return max(records, key=lambda lam: (round(records[lam]["val_score"], 6), -lam))


def search_lams(pairs: dict, seed: int, execute, max_extensions: int = MAX_EXTENSIONS, progress=print) -> dict:
    """Choose lam on validation for every ``(setting, method) -> grid`` of ``pairs`` at ``seed``.

    ``execute(units) -> {unit: record}`` runs a round of units (through a backend); every pair's
    grid runs in the same round, then each pair whose best lam is at an end adds a value a decade
    beyond it (at most ``max_extensions`` per end), as :func:`ewc_helpers.studies.common.search_lam`
    does. Returns ``{(setting, method): {"lam", "tried": {lam: val_score}, "extended": [notes]}}``.
    """
    say = progress or (lambda *_: None)
    tried = {k: sorted({float(x) for x in g}) for k, g in pairs.items()}
    for k, g in tried.items():
        if not g or g[0] <= 0 or not all(math.isfinite(x) for x in g):
            raise ValueError(f"{k}: a lam grid needs positive finite values; got {pairs[k]!r}")
    added = {k: {"low": 0, "high": 0} for k in pairs}
    notes = {k: [] for k in pairs}
    records = {k: {} for k in pairs}
    open_pairs = set(pairs)
    while open_pairs:
        want = [Unit(s, m, lam, seed) for (s, m) in open_pairs for lam in tried[(s, m)] if lam not in records[(s, m)]]
        done = execute(want)
        for u, r in done.items():
            records[(u.setting, u.method)][u.lam] = r
        for k in list(open_pairs):
            best, lams = _choose(records[k]), sorted(records[k])
            if best == lams[0] and len(lams) > 1 and added[k]["low"] < max_extensions:
                end, new = "low", lams[0] / 10
            elif best == lams[-1] and added[k]["high"] < max_extensions:
                end, new = "high", lams[-1] * 10
            else:
                open_pairs.discard(k)
                continue
            added[k][end] += 1
            note = (f"{k[0]}/{k[1]}: lam {best:g} is the {'smallest' if end == 'low' else 'largest'} value tried: "
                    f"extending the grid to {new:g}")
            say(note)
            notes[k].append(note)
            tried[k].append(new)
    return {k: {"lam": _choose(records[k]), "tried": {lam: r["val_score"] for lam, r in sorted(records[k].items())},
                "extended": notes[k]} for k in pairs}


def command_line() -> str:
    return " ".join(["python -m ewc_helpers"] + sys.argv[1:]) if sys.argv and sys.argv[0] else ""
