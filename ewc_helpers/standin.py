"""An offline stand-in for full MNIST: 60,000 + 10,000 digits made from the 5,000 embedded ones.

As in infinite MNIST (Loosli, Canu & Bottou 2007), every embedded digit (:mod:`.sources`) is copied
several times, each copy under its own small random deformation: one affine map (rotation, shift,
slight scaling) plus an elastic displacement field (Simard, Steinkraus & Platt 2003), resampled
bilinearly, in numpy alone. Training images come from the embedded training digits only and test
images from the embedded test digits only: no test digit is a deformation of a training digit. ::

    write_standin("~/mnist-standin")        # the four MNIST IDX .gz files
    mnist = load_mnist("~/mnist-standin")   # or EWC_DATA=~/mnist-standin
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .sources import (IDX_FILES, MANIFEST, MANIFEST_FORMAT, MIN_TRAIN_PER_DIGIT, MNIST, DataError, Split,
                      file_digest, load_embedded, load_mnist, write_idx)

#: Mild defaults: a rotated, shifted, slightly rescaled and gently warped digit stays the same
#: digit and stays inside the 28x28 frame (MNIST digits fill a 20x20 box centred in it).
DEFAULTS = dict(max_shift=2.0, max_rotation_degrees=10.0, max_scale=0.08, elastic_alpha=15.0,
                elastic_sigma=4.0)
CHUNK = 1000  # images per random stream and per vectorised step (about 50 MB of float32 work)
_SPLIT_CODE = {"train": 0, "test": 1}
_SIZE = 28
_PAD = 4  # canvas margin: room for max_shift and for the distortions before the frame is cut


# --------------------------------------------------------------------------- distortions
def _gaussian_matrix(sigma: float, size: int = _SIZE) -> np.ndarray:
    """The 1-D Gaussian convolution (normalised, radius 4 sigma, mirrored edges) as a matrix G, so
    that ``G @ field @ G.T`` is the separable 2-D Gaussian smoothing of a ``size`` x ``size`` field."""
    radius = max(1, int(np.ceil(4.0 * sigma)))
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    # Row i' of the padded identity is the unit vector of the pixel that edge mirroring puts there.
    padded = np.pad(np.eye(size), ((radius, radius), (0, 0)), mode="symmetric")
    return sum(w * padded[k : k + size] for k, w in enumerate(kernel)).astype(np.float32)


def _check_magnitude(name, value, upper=None):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DataError(f"{name} must be a number; got {value!r}")
    if not np.isfinite(value) or value < 0 or (upper is not None and value >= upper):
        bound = f" and below {upper}" if upper is not None else ""
        raise DataError(f"{name} must be a finite number >= 0{bound}; got {value!r}")
    return float(value)


def distort(images, rng, max_shift=DEFAULTS["max_shift"],
            max_rotation_degrees=DEFAULTS["max_rotation_degrees"], max_scale=DEFAULTS["max_scale"],
            elastic_alpha=DEFAULTS["elastic_alpha"], elastic_sigma=DEFAULTS["elastic_sigma"]):
    """Each image under its own random affine map and elastic field; uint8, same shape as ``images``.

    ``images`` is (N, 28, 28, 1) or (N, 28, 28) uint8. Per image, drawn from ``rng`` (a numpy
    Generator, or a seed for one): a rotation about the centre, uniform in +-``max_rotation_degrees``;
    a scale factor, uniform in 1 +- ``max_scale``; a shift, uniform in +-``max_shift`` pixels per
    axis; and an elastic displacement field, ``elastic_alpha`` times uniform [-1, 1] noise smoothed
    by a Gaussian of standard deviation ``elastic_sigma`` pixels (both axes). Pixels are resampled
    once, by bilinear interpolation, onto a canvas larger than the frame; the 28x28 frame is then
    cut out of it at the whole-pixel part of the shift, shortened where needed so that the ink keeps
    off the outermost pixels (as in MNIST) and no stroke is cut off. ``max_shift`` is at most 4 (the
    digits' margin). The same number of random values is drawn whatever the magnitudes, and with
    every magnitude 0 the images come back unchanged.
    """
    max_shift = _check_magnitude("max_shift", max_shift, upper=_PAD + 0.5)
    max_rot = _check_magnitude("max_rotation_degrees", max_rotation_degrees, upper=180)
    max_scale = _check_magnitude("max_scale", max_scale, upper=1)
    alpha = _check_magnitude("elastic_alpha", elastic_alpha)
    sigma = _check_magnitude("elastic_sigma", elastic_sigma, upper=_SIZE)
    if sigma == 0:
        raise DataError("elastic_sigma must be > 0 (it is the width of the smoothing, in pixels)")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(_check_seed("rng must be a numpy Generator or", rng))
    images, shape = np.asarray(images), np.shape(images)
    if images.ndim == 4 and shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (_SIZE, _SIZE):
        raise DataError(f"distort needs images of shape (N, 28, 28, 1) or (N, 28, 28); got {shape}")
    if images.dtype != np.uint8:
        raise DataError(f"distort needs uint8 images (pixels 0-255); got dtype {images.dtype}")
    n, canvas = len(images), _SIZE + 2 * _PAD

    angle = np.deg2rad(rng.uniform(-max_rot, max_rot, n)).astype(np.float32)
    scale = rng.uniform(1 - max_scale, 1 + max_scale, n).astype(np.float32)
    shift = rng.uniform(-max_shift, max_shift, (n, 2)).astype(np.float32)
    noise = 2 * rng.random((n, 2, canvas, canvas), dtype=np.float32) - 1  # uniform in [-1, 1)
    gauss = _gaussian_matrix(sigma, canvas)
    field = alpha * (gauss @ noise @ gauss.T)  # (n, 2, canvas, canvas): displacement along y, x

    # Resample onto a canvas _PAD pixels wider than the frame on every side, so that nothing is
    # cut off yet. Its pixel p samples the input at c + R(-angle) (p - c - shift) / scale, displaced
    # by the elastic field there; only the sub-pixel part of the shift is resampled.
    whole = np.rint(shift)
    shift -= whole
    centre = (_SIZE - 1) / 2.0
    grid = np.arange(-_PAD, _SIZE + _PAD, dtype=np.float32) - centre
    cos, sin = (np.cos(angle) / scale)[:, None, None], (np.sin(angle) / scale)[:, None, None]
    py = grid[None, :, None] - shift[:, 0, None, None]
    px = grid[None, None, :] - shift[:, 1, None, None]
    src_y = cos * py - sin * px + centre + field[:, 0]
    src_x = sin * py + cos * px + centre + field[:, 1]
    warped = _bilinear(images, src_y, src_x)
    return _crop(warped, whole.astype(np.int64), images).reshape(shape)


def _ink_span(images, axis):
    """First and last row (axis 0) or column (axis 1) holding ink; (0, size - 1) for blank images."""
    ink = images.any(axis=2 - axis)
    size, has = ink.shape[1], ink.any(1)
    return np.where(has, ink.argmax(1), 0), np.where(has, size - 1 - ink[:, ::-1].argmax(1), size - 1)


def _crop(warped, whole, originals):
    """Cut the 28x28 frame out of each canvas, moved by the whole-pixel shift (n, 2). The move is
    shortened where it would put ink on the outermost pixels (or cut it off), unless the original
    itself reaches there; a digit too big for the frame is centred in it."""
    offsets = []
    for axis in (0, 1):
        first, last = _ink_span(warped, axis)  # canvas coordinates
        o_first, o_last = _ink_span(originals, axis)
        top, bottom = np.minimum(1, o_first), np.minimum(1, _SIZE - 1 - o_last)  # margins to keep
        low, high = last - (_SIZE - 1 - bottom), first - top  # window starts keeping the ink inside
        start = np.where(low <= high, np.clip(_PAD - whole[:, axis], low, high), (low + high) // 2)
        offsets.append(np.clip(start, 0, 2 * _PAD))
    n, pos = len(warped), np.arange(_SIZE)
    rows = offsets[0][:, None, None] + pos[None, :, None]
    cols = offsets[1][:, None, None] + pos[None, None, :]
    return warped[np.arange(n)[:, None, None], rows, cols]


def _bilinear(images, src_y, src_x):
    """Sample ``images`` (n, 28, 28) at real coordinates (n, h, w); zero outside the frame."""
    n, side = len(images), _SIZE + 2
    flat = np.zeros((n, side, side), np.float32)
    flat[:, 1:-1, 1:-1] = images  # a one-pixel black border: everything beyond it reads as black
    flat = flat.reshape(-1)
    y = np.clip(src_y + 1, 0, side - 1)
    x = np.clip(src_x + 1, 0, side - 1)
    y0 = np.minimum(np.floor(y), side - 2)
    x0 = np.minimum(np.floor(x), side - 2)
    wy, wx = y - y0, x - x0
    idx = (np.arange(n)[:, None, None] * side * side + y0.astype(np.int64) * side + x0.astype(np.int64))
    top = flat[idx] * (1 - wx) + flat[idx + 1] * wx
    bottom = flat[idx + side] * (1 - wx) + flat[idx + side + 1] * wx
    out = top * (1 - wy) + bottom * wy
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- the stand-in
def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise DataError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    if value < 10:
        raise DataError(f"{name} must be at least 10 (one image per digit); got {value}")
    return int(value)


def _check_seed(prefix, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise DataError(f"{prefix} a non-negative integer seed; got {value!r}")
    return int(value)


def _plan(labels, n, rng, include_originals, split):
    """Which source digit each of ``n`` images copies, and whether it is copy 0 (the original
    itself when ``include_originals``). Balanced per digit, then shuffled."""
    index, copy = [], []  # copy j of an original is its j-th use, in a seeded order
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        if members.size == 0:
            raise DataError(f"the source's {split} split has no digit {digit}; the stand-in needs all ten")
        wanted = n // 10 + (digit < n % 10)
        order = rng.permutation(members)
        j = np.arange(wanted)
        index.append(order[j % members.size])
        copy.append(j // members.size)
    index, copy = np.concatenate(index), np.concatenate(copy)
    perm = rng.permutation(n)
    original = (copy[perm] == 0) if include_originals else np.zeros(n, bool)
    return index[perm], original


def make_standin(n_train=60_000, n_test=10_000, seed=0, source=None, include_originals=True,
                 return_provenance=False, progress=None, **distortion):
    """An MNIST-sized set (``source="idx"``) of distorted embedded digits; deterministic per seed.

    Training images are deformations (:func:`distort`, with ``distortion`` overriding
    :data:`DEFAULTS`) of the source's training digits only, test images of its test digits only.
    Each split has ``n // 10`` images of every digit (the first ``n % 10`` digits get one more),
    spread evenly over that digit's originals, in an order shuffled by ``seed``. With
    ``include_originals`` (the default, as in infinite MNIST) the first copy of each original is
    the original itself: the default stand-in holds the 4,000 embedded training digits and 56,000
    deformations of them, and the 1,000 embedded test digits and 9,000 deformations; below one copy
    per original it is a random subset of originals. ``include_originals=False`` deforms every one.

    ``source``: None (the embedded digits), an :class:`MNIST` or a ``load_mnist`` source. With
    ``return_provenance``, returns ``(mnist, provenance)``: ``provenance["train"]`` indexes each
    image's original in ``source.train`` and ``provenance["train_original"]`` marks the undistorted
    ones (and likewise for "test"). ``progress``, a callable taking one string, hears how far the
    work has got, with an estimate of the time left, about every ten seconds.
    """
    n_train, n_test = _check_count("n_train", n_train), _check_count("n_test", n_test)
    seed = _check_seed("seed must be", seed)
    unknown = set(distortion) - set(DEFAULTS)
    if unknown:
        raise DataError(f"unknown distortion setting(s) {sorted(unknown)}; choose from {sorted(DEFAULTS)}")
    settings = {**DEFAULTS, **distortion}
    if source is None:
        source = load_embedded()
    elif not isinstance(source, MNIST):
        if not isinstance(source, (str, os.PathLike)):
            raise DataError("source must be None, an MNIST or a load_mnist source; "
                            f"got {type(source).__name__}")
        source = load_mnist(source, verbose=False)
    splits, provenance = {}, {}
    done, total, started, last_said = 0, n_train + n_test, time.perf_counter(), [0.0]
    for split, n in (("train", n_train), ("test", n_test)):
        part = getattr(source, split)
        plan_rng = np.random.default_rng([seed, _SPLIT_CODE[split]])
        index, original = _plan(part.labels, n, plan_rng, include_originals, split)
        images = part.images[index]  # a fresh array: distorted in place, chunk by chunk
        for chunk, start in enumerate(range(0, n, CHUNK)):
            if progress is not None:
                done += min(CHUNK, n - start)
                elapsed = time.perf_counter() - started
                if elapsed - last_said[0] >= 10 and done < total:
                    last_said[0] = elapsed
                    progress(f"  {done:,} of {total:,} images made; about {elapsed * (total - done) / done:.0f} s left")
            rng = np.random.default_rng([seed, _SPLIT_CODE[split], 1 + chunk])
            block = slice(start, start + CHUNK)
            warped = distort(images[block], rng, **settings)
            images[block] = np.where(original[block, None, None, None], images[block], warped)
        splits[split] = Split(images, part.labels[index])
        provenance[split], provenance[split + "_original"] = index, original
    described = ", ".join(f"{k}={v:g}" for k, v in settings.items())
    mnist = MNIST(
        train=splits["train"], test=splits["test"], source="idx",
        origin=(f"offline MNIST stand-in, seed {seed}: deformed copies of {source.origin} "
                f"({described}; originals {'included' if include_originals else 'excluded'}); "
                "test images come from its test digits only"),
    )
    return (mnist, provenance) if return_provenance else mnist


class ExistingSetError(DataError):
    """``write_standin`` found files it would replace and was not told to overwrite them."""

    def __init__(self, folder, names, hint="pass overwrite=True to replace them"):
        self.folder, self.names = folder, list(names)
        super().__init__(f"{folder} already holds {', '.join(self.names)}; refusing to replace them "
                         f"({hint})")


DESCRIPTION_FILE = "STANDIN.txt"
_STAGING_PREFIX = ".standin-writing-"
#: Bytes of memory per image while a set is made and written: the uint8 pixels, the same again
#: as the file's bytes, the int64 label and index arrays, and the float32 work of one chunk.
_BYTES_PER_IMAGE = 2 * 28 * 28 + 64
_IDX_MAX = 2**32 - 1  # an IDX header stores each dimension in 32 bits


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (MemAvailable on Linux), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_size(n_train, n_test) -> None:
    """Refuse, before anything is allocated, a set too small for the tasks or too big to hold."""
    if n_train < 10 * MIN_TRAIN_PER_DIGIT:
        raise DataError(f"n_train={n_train:,} is too small for the tasks: every digit needs at least "
                        f"{MIN_TRAIN_PER_DIGIT} training images (one is held out for validation), so "
                        f"at least {10 * MIN_TRAIN_PER_DIGIT}")
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n > _IDX_MAX:
            raise DataError(f"{name}={n:,} cannot be stored: an IDX file holds at most {_IDX_MAX:,} images")
    need, free = (n_train + n_test) * _BYTES_PER_IMAGE, available_memory()
    if free is not None and need > free:
        raise DataError(f"{n_train:,} + {n_test:,} images need about {need / 2**30:,.1f} GiB of memory to make "
                        f"and write, and {free / 2**30:,.1f} GiB are available; ask for fewer images")


def check_folder(folder) -> Path:
    """``folder`` as a Path with ``~`` expanded, or a clear error for one that cannot be a folder."""
    text = os.fspath(folder) if isinstance(folder, (str, os.PathLike)) else None
    if text is None:
        raise DataError(f"folder must be a path; got {type(folder).__name__}")
    if not text.strip():
        raise DataError("the folder is an empty string; give the path of a folder")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # Python 3.11 and 3.12 raise this for an unknown ~user
        path = Path(text)
    if text.startswith("~") and str(path).startswith("~"):
        raise DataError(f"{text}: cannot expand {text.split(os.sep)[0]!r}: no such user or home folder")
    return path


def _writable_staging(folder: Path) -> Path:
    """Create ``folder`` (and parents) and a staging folder in it; a clear error if impossible."""
    try:
        if folder.exists() and not folder.is_dir():
            raise DataError(f"{folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(_STAGING_PREFIX + "*"):  # left by an interrupted write: ours to clear
            shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=folder))
    except DataError:
        raise
    except OSError as err:
        reason = err.strerror or type(err).__name__
        where = f" ({err.filename})" if err.filename and str(err.filename) != str(folder) else ""
        raise DataError(f"cannot write to {folder}: {reason}{where}") from err


def write_standin(folder, n_train=60_000, n_test=10_000, seed=0, overwrite=False, progress=None,
                  **kwargs) -> Path:
    """Write :func:`make_standin` as the four MNIST IDX .gz files in ``folder``; return the folder.

    All or nothing: the files, a ``STANDIN.txt`` that records how the set was made and a manifest
    of their checksums (:data:`~.sources.MANIFEST`) are written in a staging folder inside
    ``folder`` first. The manifest is moved into place first and the files after it, so an
    interrupted write leaves either the old set, whole, or a folder that :func:`load_mnist` refuses
    as incomplete, never a mixed set that loads. Existing IDX files, ``STANDIN.txt`` or manifest are
    replaced only with ``overwrite=True``. The folder is checked (created, writable) and the size
    checked against the tasks and the available memory before anything is computed. ``progress``
    (a callable taking one string) hears about each split. ``load_mnist(folder)`` reads it back.
    """
    folder = check_folder(folder)
    n_train, n_test = _check_count("n_train", n_train), _check_count("n_test", n_test)
    check_size(n_train, n_test)
    names = list(IDX_FILES.values()) + [DESCRIPTION_FILE, MANIFEST]
    if folder.is_dir():
        existing = [n for n in names if (folder / n).exists() or (folder / n).is_symlink()]
        if existing and not overwrite:
            raise ExistingSetError(folder, existing)
    staging = _writable_staging(folder)
    try:
        say = progress or (lambda _msg: None)
        started = time.perf_counter()
        say(f"making {n_train:,} training and {n_test:,} test images ...")
        mnist = make_standin(n_train, n_test, seed, progress=progress, **kwargs)
        say(f"made them in {time.perf_counter() - started:.0f} s; writing the files ...")
        files = {}
        for key, name in IDX_FILES.items():  # keys "train_images", "test_labels", ...
            part, kind = key.split("_")
            array = getattr(getattr(mnist, part), kind)
            write_idx(staging / name, array[..., 0] if kind == "images" else array)
        (staging / DESCRIPTION_FILE).write_text(mnist.describe() + "\n", encoding="utf-8")
        for name in names[:-1]:
            files[name] = {"bytes": (staging / name).stat().st_size, "sha256": file_digest(staging / name)}
        manifest = {"format": MANIFEST_FORMAT, "files": files, "train": n_train, "test": n_test, "seed": seed,
                    "origin": mnist.origin}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        for name in [MANIFEST] + names[:-1]:  # the manifest first: from here a mixed folder is refused
            os.replace(staging / name, folder / name)
    except OSError as err:
        raise DataError(f"cannot write the stand-in to {folder}: {err.strerror or err}") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
