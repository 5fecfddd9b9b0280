"""A disk cache of trained task-A models (and of lam sweeps on them), shared by the lessons.

Lessons 02-09 all start from the same task-A model. Training it takes a few seconds on the
embedded digits and most of a minute on full MNIST, so :func:`~.two_tasks.train_task_a` keeps
the trained weights in the user's cache folder and reuses them. The key covers everything that
changes the weights: a fingerprint of task A's training images and labels, every field of the
setup, dropout, epochs, and the TensorFlow, Keras and package versions. Anything else trains
anew.

The lam sweeps of lessons 06-09 are cached the same way (:func:`load_results`), keyed by the
task-A key, the anchor's arrays, the grid and the setup.

``EWC_CACHE=off`` switches the cache off; ``EWC_CACHE=/some/folder`` moves it. The default
folder is ``$XDG_CACHE_HOME/ewc_helpers`` (``~/.cache/ewc_helpers``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ENV_VAR = "EWC_CACHE"


def folder() -> Path:
    """Where cached models live."""
    setting = os.environ.get(ENV_VAR, "").strip()
    if setting and setting.lower() not in ("on", "off", "0", "1"):
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ewc_helpers"


def enabled(cache: bool | None = None) -> bool:
    """``cache`` if given, else on unless ``EWC_CACHE`` is ``off`` or ``0``."""
    if cache is not None:
        return bool(cache)
    return os.environ.get(ENV_VAR, "").strip().lower() not in ("off", "0")


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
    fields = {"task": task.name, "classes": task.classes, "setup": dataclasses.asdict(setup), "extra": extra,
              "versions": [tf.__version__, keras.__version__, __version__]}
    h.update(json.dumps(fields, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def load(digest: str):
    """``{"weights": [...], "history": {...}}`` stored under ``digest``, or None."""
    path = folder() / f"task_a-{digest}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            n = int(archive["num_weights"])
            weights = [archive[f"w{i}"] for i in range(n)]
            history = json.loads(str(archive["history"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # a damaged entry is rebuilt, not trusted
    return {"weights": weights, "history": history}


def store(digest: str, weights, history: dict) -> Path | None:
    """Keep ``weights`` and ``history`` under ``digest`` (atomically); None if the folder is not
    writable, since the cache only saves time."""
    target = folder()
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".task_a-", suffix=".tmp", dir=target)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, num_weights=np.array(len(weights)), history=np.array(json.dumps(history, default=float)),
                     **{f"w{i}": w for i, w in enumerate(weights)})
        path = target / f"task_a-{digest}.npz"
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def clear() -> int:
    """Delete every cached model and result; return how many files were deleted."""
    count = 0
    for pattern in ("task_a-*.npz", "results-*.json"):
        for path in folder().glob(pattern):
            path.unlink()
            count += 1
    return count


# --------------------------------------------------------------------------- sweep results
def results_key(*parts) -> str:
    """A hex digest for any JSON-able description of a computation (arrays are hashed)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, (list, tuple)) and part and all(isinstance(p, np.ndarray) for p in part):
            for p in part:
                h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def load_results(digest: str):
    """JSON results stored under ``digest``, or None."""
    path = folder() / f"results-{digest}.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def store_results(digest: str, results) -> None:
    """Keep JSON-able ``results`` under ``digest`` (atomically; silently skipped if unwritable)."""
    target = folder()
    try:
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".tmp", dir=target)
        with os.fdopen(fd, "w") as fh:
            json.dump(results, fh, default=float)
        os.replace(tmp, target / f"results-{digest}.json")
    except OSError:
        pass
