"""A disk cache of trained task-A models (and of lam sweeps on them), shared by the lessons.

Lessons 02-09 all start from the same task-A model. Training it takes a few seconds on the
embedded digits and most of a minute on full MNIST, so :func:`~.two_tasks.train_task_a` keeps
the trained weights in the user's cache folder and reuses them. The key covers everything that
changes the weights: a fingerprint of task A's training images and labels, every field of the
setup, dropout, epochs, and the TensorFlow, Keras and package versions. Anything else trains
anew.

The lam sweeps of lessons 06-09 are cached the same way (:func:`load_results`), keyed by the
task-A key, the anchor's arrays, the grid and the setup.

Every entry describes itself (its key, what was hashed into it, the versions and the weights'
shapes) and is checked against the request when it is loaded; an entry that does not fit, or that
holds non-finite numbers, is computed again, with one line saying so. :func:`clear` deletes only
the entries this module wrote.

``EWC_CACHE=off`` (or ``0``, ``false``, ``no``) switches the cache off; ``EWC_CACHE=/some/folder`` moves it. The default
folder is ``$XDG_CACHE_HOME/ewc_helpers`` (``~/.cache/ewc_helpers``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ENV_VAR = "EWC_CACHE"
#: Spellings of ``EWC_CACHE`` that switch the cache off, and that leave it on in its default folder.
OFF = ("off", "0", "false", "no", "n", "none", "disable", "disabled")
ON = ("on", "1", "true", "yes", "y", "enable", "enabled")
#: Marks every entry this module writes (inside the entry), so that :func:`clear` deletes only those.
MARK = "ewc_helpers task-A cache v2"
_ENTRY_NAME = re.compile(r"^(task_a-[0-9a-f]{32}\.npz|results-[0-9a-f]{32}\.json)$")
_TEMP_NAME = re.compile(r"^\.(task_a|results)-[A-Za-z0-9_]{8}\.tmp$")  # tempfile.mkstemp's names
#: What :func:`key` and :func:`results_key` hashed, by digest: an entry must describe the same.
_REQUESTS: dict = {}


def folder() -> Path:
    """Where cached models live."""
    setting = os.environ.get(ENV_VAR, "").strip()
    if setting and setting.lower() not in OFF + ON:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ewc_helpers"


def enabled(cache: bool | None = None) -> bool:
    """``cache`` if given, else on unless ``EWC_CACHE`` is one of :data:`OFF` (off, 0, false, no, ...)."""
    if cache is not None:
        return bool(cache)
    return os.environ.get(ENV_VAR, "").strip().lower() not in OFF


def _normal(obj):
    """``obj`` as plain JSON values (what an entry read back from disk holds)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _rebuild(path: Path, reason: str) -> None:
    print(f"ewc_helpers cache: {path.name} {reason}; computing it again", flush=True)


def key(task, setup, **extra) -> str:
    """A hex digest naming one trained model: the task's training data, the setup, ``extra``."""
    import keras
    import tensorflow as tf

    from .. import __version__

    h = hashlib.sha256()
    train = task.split("train")
    for array in (train.images, train.labels, task.permutation):
        if array is not None:
            h.update(np.ascontiguousarray(array).tobytes())
    data = h.hexdigest()
    fields = {"task": task.name, "classes": task.classes, "setup": dataclasses.asdict(setup), "extra": extra,
              "versions": [tf.__version__, keras.__version__, __version__]}
    h.update(json.dumps(fields, sort_keys=True, default=str).encode())
    digest = h.hexdigest()[:32]
    _REQUESTS[digest] = _normal({**fields, "data": data})
    return digest


def _check_request(digest, meta):
    """Why an entry's description does not fit the request it is loaded for, or None."""
    if not isinstance(meta, dict) or meta.get("mark") != MARK:
        return "was not written by this version of the cache (it does not describe itself)"
    if meta.get("key") != digest:
        return f"holds the entry of another key ({str(meta.get('key'))[:12]}...)"
    wanted = _REQUESTS.get(digest)
    if wanted is not None and meta.get("request") != wanted:
        differ = sorted(k for k in set(wanted) | set(meta.get("request") or {})
                        if (meta.get("request") or {}).get(k) != wanted.get(k))
        return f"was computed for another {', '.join(differ) or 'request'}"
    return None


def load(digest: str, shapes=None):
    """``{"weights": [...], "history": {...}}`` stored under ``digest``, or None.

    The entry is checked first: it must describe the same request (its key, task, setup, data and
    versions), hold as many finite weight arrays as it says, of the shapes it recorded (and of
    ``shapes``, when given). Anything else is not used: one line says so, and None makes the caller
    compute it again (and overwrite the entry)."""
    path = folder() / f"task_a-{digest}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"])) if "meta" in archive.files else None
            problem = _check_request(digest, meta)
            if problem is None:
                n = int(archive["num_weights"])
                weights = [archive[f"w{i}"] for i in range(n)]
                history = json.loads(str(archive["history"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        _rebuild(path, f"cannot be read ({type(err).__name__})")
        return None  # a damaged entry is rebuilt, not trusted
    if problem is None:
        got = [list(w.shape) for w in weights]
        if got != meta.get("shapes") or (shapes is not None and got != [list(s) for s in shapes]):
            problem = f"holds weights of shapes {got}, not those of this model"
        elif not all(np.issubdtype(w.dtype, np.number) and np.all(np.isfinite(w)) for w in weights):
            problem = "holds weights that are not finite numbers (NaN or inf)"
        elif not isinstance(history, dict):
            problem = "holds no training history"
    if problem:
        _rebuild(path, problem)
        return None
    return {"weights": weights, "history": history}


def _temp(target: Path, prefix: str, mode: str):
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target)
    return os.fdopen(fd, mode), tmp


def store(digest: str, weights, history: dict) -> Path | None:
    """Keep ``weights`` and ``history`` under ``digest`` (atomically), with a description of the
    request; None if the folder is not writable, since the cache only saves time."""
    target = folder()
    weights = [np.asarray(w) for w in weights]
    meta = {"mark": MARK, "key": digest, "request": _REQUESTS.get(digest), "shapes": [list(w.shape) for w in weights]}
    tmp = None
    try:
        target.mkdir(parents=True, exist_ok=True)
        fh, tmp = _temp(target, ".task_a-", "wb")
        with fh:
            np.savez(fh, num_weights=np.array(len(weights)), history=np.array(json.dumps(history, default=float)),
                     meta=np.array(json.dumps(meta, default=str)), **{f"w{i}": w for i, w in enumerate(weights)})
        path = target / f"task_a-{digest}.npz"
        os.replace(tmp, path)
        return path
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return None


def _is_own_entry(path: Path) -> bool:
    """Whether ``path`` is an entry this cache wrote (this version's, or the unmarked older one)."""
    try:
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
            return {"num_weights.npy", "history.npy"} <= names
        data = json.loads(path.read_text())
    except (OSError, ValueError, zipfile.BadZipFile):
        return False
    if isinstance(data, dict):
        return data.get("mark") == MARK
    return bool(data) and isinstance(data, list) and all(  # the older, unmarked sweep entries
        isinstance(r, dict) and {"method", "lam", "val", "test"} <= set(r) for r in data)


def clear() -> int:
    """Delete the entries this cache wrote (and temp files left by interrupted writes); return how
    many files were deleted. Other files in the folder, whatever their names, are left alone."""
    count = 0
    where = folder()
    if not where.is_dir():
        return 0
    for path in sorted(where.iterdir()):
        if path.is_symlink() or not path.is_file():
            continue
        if _TEMP_NAME.match(path.name) or (_ENTRY_NAME.match(path.name) and _is_own_entry(path)):
            path.unlink()
            count += 1
    return count


# --------------------------------------------------------------------------- sweep results
def results_key(*parts) -> str:
    """A hex digest for any JSON-able description of a computation (arrays are hashed)."""
    from .. import __version__

    h, described = hashlib.sha256(), []
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
            described.append("sha256:" + hashlib.sha256(np.ascontiguousarray(part).tobytes()).hexdigest())
        elif isinstance(part, (list, tuple)) and part and all(isinstance(p, np.ndarray) for p in part):
            inner = hashlib.sha256()
            for p in part:
                h.update(np.ascontiguousarray(p).tobytes())
                inner.update(np.ascontiguousarray(p).tobytes())
            described.append("sha256:" + inner.hexdigest())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
            described.append(part)
    versions = [__version__] + [getattr(sys.modules.get(m), "__version__", None) for m in ("keras", "tensorflow")]
    h.update(json.dumps(versions).encode())
    digest = h.hexdigest()[:32]
    _REQUESTS[digest] = _normal({"parts": described, "versions": versions})
    return digest


def _finite_numbers(obj) -> bool:
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return True
    if isinstance(obj, (int, float)):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite_numbers(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite_numbers(v) for v in obj)
    return False


def load_results(digest: str):
    """JSON results stored under ``digest``, or None (checked as :func:`load` checks a model: the
    entry must describe this request, hold a non-empty list of finite numbers, and a sweep's lam
    values must be the grid it was asked for)."""
    path = folder() / f"results-{digest}.json"
    if not path.is_file():
        return None
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        _rebuild(path, f"cannot be read ({type(err).__name__})")
        return None
    problem = _check_request(digest, entry if isinstance(entry, dict) else None)
    results = entry.get("results") if problem is None else None
    if problem is None:
        if not isinstance(results, list) or not results:
            problem = "holds no results"
        elif not _finite_numbers(results):
            problem = "holds numbers that are not finite (NaN or inf)"
        elif all(isinstance(r, dict) and "lam" in r for r in results):
            lams = [r["lam"] for r in results]
            grids = [p for p in (entry.get("request") or {}).get("parts", []) if isinstance(p, list)]
            if grids and not any(lams == g for g in grids):
                problem = f"holds a sweep over lam {lams}, not over the grid asked for"
    if problem:
        _rebuild(path, problem)
        return None
    return results


def store_results(digest: str, results) -> None:
    """Keep JSON-able ``results`` under ``digest`` (atomically, with a description of the request;
    silently skipped if unwritable)."""
    target = folder()
    entry = {"mark": MARK, "key": digest, "request": _REQUESTS.get(digest), "results": results}
    tmp = None
    try:
        target.mkdir(parents=True, exist_ok=True)
        fh, tmp = _temp(target, ".results-", "w")
        with fh:
            json.dump(entry, fh, default=float)
        os.replace(tmp, target / f"results-{digest}.json")
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
