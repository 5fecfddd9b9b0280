"""Anchors: ``theta*`` (the weights after a task) with the diagonal Fisher measured there.

An :class:`Anchor` holds one array of ``theta*`` and one of ``F`` per trainable variable, plus
metadata, and saves to or loads from one ``.npz`` file. The penalties built on anchors live in
:mod:`ewc_helpers.penalties`.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Written into every anchor file, so that a reader can tell an anchor from another archive.
FILE_FORMAT = "ewc_helpers.anchor/1"


class PenaltyError(ValueError):
    """Raised for a penalty, anchor or Fisher that cannot be used."""


class AnchorError(PenaltyError):
    """Raised for an anchor file that cannot be written or read; the message names the file."""



def check_fisher(fisher, shapes=None) -> list:
    """The Fisher as float32 arrays, refusing NaN, inf, negative entries or wrong shapes."""
    arrays = [np.asarray(f, dtype=np.float32) for f in fisher]
    if shapes is not None:
        _check_shapes("Fisher", [a.shape for a in arrays], shapes)
    for i, a in enumerate(arrays):
        if not np.all(np.isfinite(a)):
            raise PenaltyError(f"Fisher entry {i} (shape {a.shape}) holds NaN or inf values")
        if np.any(a < 0):
            raise PenaltyError(
                f"Fisher entry {i} (shape {a.shape}) holds negative values (min {a.min():.3g}); "
                "a diagonal Fisher is a mean of squares and cannot be negative"
            )
    return arrays


def _check_shapes(what, got, expected):
    got, expected = [tuple(s) for s in got], [tuple(s) for s in expected]
    if len(got) != len(expected):
        raise PenaltyError(
            f"{what} has {len(got)} arrays but the model has {len(expected)} trainable variables"
        )
    for i, (g, e) in enumerate(zip(got, expected)):
        if g != e:
            raise PenaltyError(f"{what} array {i} has shape {g}, but model variable {i} has shape {e}")


@dataclass
class Anchor:
    """``theta*`` and its Fisher, one array per trainable variable, plus metadata."""

    theta: list
    fisher: list
    task: str = ""
    method: str = ""
    num_examples: int = 0
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.theta = [np.array(t, dtype=np.float32) for t in self.theta]
        for i, t in enumerate(self.theta):
            if not np.all(np.isfinite(t)):
                raise PenaltyError(f"anchor weights {i} (shape {t.shape}) hold NaN or inf values")
        self.fisher = check_fisher(self.fisher, [t.shape for t in self.theta])
        self.num_examples = int(self.num_examples)

    # ---- construction
    @classmethod
    def from_model(cls, model, fisher=None, task: str = "", method: str | None = None,
                   num_examples: int | None = None, **meta) -> "Anchor":
        """Anchor at the model's current weights. ``fisher=None`` gives F = 1 (the L2 anchor)."""
        theta = [v.numpy() for v in model.trainable_variables]
        if fisher is None:
            fisher, method, num_examples = [np.ones_like(t) for t in theta], method or "l2", 0
        method = method if method is not None else getattr(fisher, "method", "")
        if num_examples is None:
            num_examples = getattr(fisher, "num_examples", 0)
        return cls(theta, list(fisher), task=task, method=method, num_examples=num_examples, meta=meta)

    # ---- facts
    @property
    def shapes(self):
        return [t.shape for t in self.theta]

    @property
    def nbytes(self) -> int:
        """Bytes held: theta* and F."""
        return sum(a.nbytes for a in self.theta) + sum(a.nbytes for a in self.fisher)

    @property
    def num_arrays(self) -> int:
        return len(self.theta) + len(self.fisher)

    def check_model(self, model) -> None:
        _check_shapes("anchor", self.shapes, [v.shape for v in model.trainable_variables])

    # ---- persistence
    def save(self, path) -> Path:
        """Write the anchor to ``path``, a ``.npz`` file (arrays plus JSON metadata); return it.

        Only the file named is written: another suffix is refused rather than changed, and the
        data goes to a temporary file first, so a failed save leaves an existing file intact.
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise AnchorError(f"{path}: anchor files end in .npz; name it {path.with_suffix('.npz').name!r}")
        if path.is_dir():
            raise AnchorError(f"{path}: is a folder; give a file path ending in .npz")
        if not path.parent.is_dir():
            raise AnchorError(f"{path}: folder {path.parent} does not exist")
        arrays = {f"theta_{i}": t for i, t in enumerate(self.theta)}
        arrays.update({f"fisher_{i}": f for i, f in enumerate(self.fisher)})
        info = {"format": FILE_FORMAT, "task": self.task, "method": self.method,
                "num_examples": self.num_examples, "num_variables": len(self.theta), "meta": self.meta}
        try:
            info_text = json.dumps(info)
        except TypeError as err:
            raise AnchorError(f"{path}: the anchor's metadata cannot be written as JSON ({err})") from None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as err:  # a read-only or full folder: name the destination, not the temp file
            raise AnchorError(f"{path}: cannot be written: no file can be created in folder {path.parent} "
                              f"({err.strerror or err})") from None
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, __info__=np.array(info_text), **arrays)
            os.replace(tmp, path)
        except OSError as err:
            raise AnchorError(f"{path}: cannot be written ({err.strerror or err})") from None
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path

    @classmethod
    def load(cls, path) -> "Anchor":
        """Read an anchor written by :meth:`save`. Any fault raises :class:`AnchorError` naming
        the file and what is wrong with it."""
        path = Path(path)
        if not path.is_file():
            raise AnchorError(f"{path}: no such file" if not path.exists() else f"{path}: is not a file")
        if path.stat().st_size == 0:
            raise AnchorError(f"{path}: the file is empty")
        try:
            archive = np.load(path, allow_pickle=False)
            if not hasattr(archive, "files"):  # an .npy file: np.load gives the array itself
                raise AnchorError(f"{path}: holds a single array, not an anchor file (.npz archive)")
            with archive:
                names = set(archive.files)
                if "__info__" not in names:
                    raise AnchorError(f"{path}: is not an anchor file (no metadata record)")
                info = _parse_info(path, archive["__info__"])
                n = info["num_variables"]
                expected = {f"{kind}_{i}" for kind in ("theta", "fisher") for i in range(n)}
                if names - {"__info__"} != expected:
                    extra, missing = sorted(names - {"__info__"} - expected), sorted(expected - names)
                    raise AnchorError(
                        f"{path}: its metadata promises {n} variables (arrays {2 * n}) but the file holds "
                        f"{len(names) - 1} arrays" + (f"; unexpected: {', '.join(extra)}" if extra else "")
                        + (f"; missing: {', '.join(missing)}" if missing else ""))
                theta = [archive[f"theta_{i}"] for i in range(n)]
                fisher = [archive[f"fisher_{i}"] for i in range(n)]
        except AnchorError:
            raise
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, KeyError) as err:
            raise AnchorError(f"{path}: cannot be read as an anchor file ({_reason(err)})") from None
        try:
            return cls(theta, fisher, task=info["task"], method=info["method"],
                       num_examples=info["num_examples"], meta=info.get("meta", {}))
        except PenaltyError as err:
            raise AnchorError(f"{path}: {err}") from None

    def equals(self, other: "Anchor") -> bool:
        return (
            (self.task, self.method, self.num_examples) == (other.task, other.method, other.num_examples)
            and len(self.theta) == len(other.theta)
            and all(np.array_equal(a, b) for a, b in zip(self.theta, other.theta))
            and all(np.array_equal(a, b) for a, b in zip(self.fisher, other.fisher))
        )




def _reason(err) -> str:
    text = str(err)
    if "pickled" in text:
        return "it is not an .npz archive of arrays"
    if isinstance(err, zipfile.BadZipFile):
        return "it is not a complete .npz archive (truncated or not a zip file)"
    if isinstance(err, EOFError):
        return "it ends too early (truncated)"
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _parse_info(path, record) -> dict:
    try:
        info = json.loads(str(record))
    except ValueError:
        raise AnchorError(f"{path}: its metadata record is not valid JSON") from None
    keys = ("task", "method", "num_examples", "num_variables")
    if not isinstance(info, dict) or any(k not in info for k in keys):
        raise AnchorError(f"{path}: its metadata record lacks one of {', '.join(keys)}")
    n = info["num_variables"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise AnchorError(f"{path}: its metadata gives num_variables={n!r}, not a positive integer")
    return info
