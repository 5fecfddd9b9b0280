"""The offline MNIST stand-in (``ewc_helpers.standin``): deterministic, balanced, split-pure, mild,
and written as an IDX folder that ``load_mnist`` reads. Small sizes only: the file runs in seconds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from ewc_helpers import sources, standin
from ewc_helpers.sources import IDX_FILES, MANIFEST, MNIST, DataError, Split, load_mnist
from ewc_helpers.standin import DEFAULTS, distort, make_standin, write_standin


def correlation(a, b):
    """Pearson correlation of paired images, one value per pair."""
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def outer_ring(images):
    """Which images have any ink on their outermost rows or columns."""
    x = images[..., 0] > 0
    return x[:, 0].any(1) | x[:, -1].any(1) | x[:, :, 0].any(1) | x[:, :, -1].any(1)


@pytest.fixture(scope="module")
def small(embedded_mnist):
    return make_standin(250, 120, seed=3, source=embedded_mnist, return_provenance=True)


# --------------------------------------------------------------------------- determinism, shape
def test_same_seed_same_arrays_other_seed_other_arrays(embedded_mnist, small):
    mnist, _ = small
    again = make_standin(250, 120, seed=3, source=embedded_mnist)
    other = make_standin(250, 120, seed=4, source=embedded_mnist)
    for part in ("train", "test"):
        assert np.array_equal(getattr(mnist, part).images, getattr(again, part).images)
        assert np.array_equal(getattr(mnist, part).labels, getattr(again, part).labels)
        assert not np.array_equal(getattr(mnist, part).images, getattr(other, part).images)


def test_shapes_dtypes_balance_and_shuffling(small):
    mnist, _ = small
    assert isinstance(mnist, MNIST) and mnist.source == "idx" and "stand-in" in mnist.origin
    assert mnist.train.images.shape == (250, 28, 28, 1) and mnist.test.images.shape == (120, 28, 28, 1)
    assert mnist.train.images.dtype == np.uint8 and mnist.train.labels.dtype == np.int64
    assert np.bincount(mnist.train.labels, minlength=10).tolist() == [25] * 10
    assert np.bincount(mnist.test.labels, minlength=10).tolist() == [12] * 10
    # not sorted by digit: the order is shuffled
    assert np.any(np.diff(mnist.train.labels) < 0) and np.any(np.diff(mnist.test.labels) < 0)


def test_uneven_counts_are_as_equal_as_possible(embedded_mnist):
    mnist = make_standin(23, 17, seed=0, source=embedded_mnist, include_originals=False)
    assert np.bincount(mnist.train.labels, minlength=10).tolist() == [3, 3, 3] + [2] * 7
    assert np.bincount(mnist.test.labels, minlength=10).tolist() == [2] * 7 + [1] * 3


# --------------------------------------------------------------------------- provenance
def test_provenance_labels_and_originals(embedded_mnist, small):
    mnist, prov = small
    for part in ("train", "test"):
        source, made = getattr(embedded_mnist, part), getattr(mnist, part)
        assert np.array_equal(made.labels, source.labels[prov[part]])
        kept = prov[part + "_original"]
        # fewer images per digit than originals (25 of 400, 12 of 100): a subset of the originals
        assert kept.all() and len(np.unique(prov[part])) == len(made)
        assert np.array_equal(made.images, source.images[prov[part]])
    # 450 and 150 per digit: each original once undistorted, then 50 distorted copies per digit
    many, prov = make_standin(4500, 1500, seed=1, source=embedded_mnist, return_provenance=True)
    for part in ("train", "test"):
        source, made, kept = getattr(embedded_mnist, part), getattr(many, part), prov[part + "_original"]
        assert kept.sum() == len(source) and len(np.unique(prov[part][kept])) == len(source)
        assert np.array_equal(made.images[kept], source.images[prov[part][kept]])
        changed = (made.images[~kept] != source.images[prov[part][~kept]]).any(axis=(1, 2, 3))
        assert changed.all()


def test_test_images_come_from_test_digits_only(embedded_mnist):
    """Provenance-free check: the source's test digits are dimmed to at most 100, its training
    digits are not. Bilinear resampling only averages pixels, so a stand-in image brighter than 100
    can only come from a training digit, and a dim one only from a test digit."""
    dim = np.round(embedded_mnist.test.images.astype(np.float64) * 100 / 255).astype(np.uint8)
    source = MNIST(embedded_mnist.train, Split(dim, embedded_mnist.test.labels), "embedded", "marked")
    mnist = make_standin(3000, 1200, seed=2, source=source, include_originals=False)
    assert mnist.test.images.max(axis=(1, 2, 3)).max() <= 100
    assert (mnist.train.images.max(axis=(1, 2, 3)) > 100).all()


# --------------------------------------------------------------------------- the distortions
def test_zero_magnitudes_return_the_input_exactly(embedded_mnist):
    x = embedded_mnist.test.images
    out = distort(x, np.random.default_rng(0), max_shift=0, max_rotation_degrees=0, max_scale=0,
                  elastic_alpha=0)
    assert out.dtype == np.uint8 and out.shape == x.shape and np.array_equal(out, x)
    flat = distort(x[:5, :, :, 0], 0, 0, 0, 0, 0)  # (N, 28, 28) in, (N, 28, 28) out
    assert np.array_equal(flat, x[:5, :, :, 0])


def test_distortions_are_mild(embedded_mnist):
    """A distorted digit must stay closer to its own original than another writer's version of the
    same digit is: the bound is the median correlation between two different originals of a digit.
    Strong settings (rotations to 30 degrees, 30% scaling, large elastic fields) fail this."""
    x, y = embedded_mnist.test.images, embedded_mnist.test.labels
    rng = np.random.default_rng(0)
    others = [np.flatnonzero((y == y[i]) & (np.arange(len(y)) != i)) for i in range(len(y))]
    partner = np.array([rng.choice(o) for o in others])  # another writer's same digit
    between_writers = np.median(correlation(x, x[partner]))
    mild = distort(x, np.random.default_rng(1))
    assert np.median(correlation(mild, x)) > between_writers + 0.1
    strong = distort(x, np.random.default_rng(1), max_rotation_degrees=30, max_scale=0.3, elastic_alpha=40)
    assert np.median(correlation(strong, x)) < between_writers
    # the same digit changes, not in place: most copies differ from their original by some pixels
    assert np.mean((mild != x).any(axis=(1, 2, 3))) > 0.99


def test_no_stroke_is_cut_off_and_ink_is_kept(embedded_mnist):
    x = embedded_mnist.test.images
    out = distort(x, np.random.default_rng(7))
    inside = ~outer_ring(x)
    # originals that keep off the outermost pixels stay off them, as in MNIST (nothing clipped)
    assert not outer_ring(out[inside]).any()
    ink = out.reshape(len(x), -1).sum(1) / x.reshape(len(x), -1).sum(1)
    assert 0.9 < np.median(ink) < 1.1 and ink.min() > 0.5


def test_default_distortion_settings_are_used(embedded_mnist):
    a = make_standin(30, 10, seed=5, source=embedded_mnist, include_originals=False)
    b = make_standin(30, 10, seed=5, source=embedded_mnist, include_originals=False, **DEFAULTS)
    c = make_standin(30, 10, seed=5, source=embedded_mnist, include_originals=False, max_shift=0)
    assert np.array_equal(a.train.images, b.train.images)
    assert not np.array_equal(a.train.images, c.train.images)


# --------------------------------------------------------------------------- IDX folder
def test_write_standin_round_trips_and_refuses_to_overwrite(tmp_path, embedded_mnist):
    folder = write_standin(tmp_path / "new" / "standin", n_train=50, n_test=20, seed=9)
    assert sorted(p.name for p in folder.glob("*.gz")) == sorted(IDX_FILES.values())
    loaded = load_mnist(folder, verbose=False)
    expected = make_standin(50, 20, seed=9, source=embedded_mnist)
    for part in ("train", "test"):
        assert np.array_equal(getattr(loaded, part).images, getattr(expected, part).images)
        assert np.array_equal(getattr(loaded, part).labels, getattr(expected, part).labels)
    with pytest.raises(DataError, match="refusing to replace.*overwrite=True"):
        write_standin(folder, n_train=50, n_test=20, seed=10)
    assert np.array_equal(load_mnist(folder, verbose=False).train.images, expected.train.images)
    write_standin(folder, n_train=60, n_test=20, seed=10, overwrite=True)
    assert len(load_mnist(folder, verbose=False).train) == 60
    assert sorted(p.name for p in folder.iterdir()) == sorted([*IDX_FILES.values(), "STANDIN.txt", MANIFEST])


def test_write_standin_rejects_a_file_as_folder(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(DataError, match="not a folder"):
        write_standin(path, n_train=50, n_test=10)
    with pytest.raises(DataError, match="cannot write to .*Not a directory"):
        write_standin(path / "below", n_train=50, n_test=10)


# --------------------------------------------------------------------------- all or nothing (issue 20)
def _mixed_set(tmp_path):
    """A stand-in of seed 1 whose training images were then replaced by those of seed 2: what an
    --overwrite killed half-way used to leave."""
    a, b = tmp_path / "a", tmp_path / "b"
    write_standin(a, n_train=60, n_test=20, seed=1)
    write_standin(b, n_train=60, n_test=20, seed=2)
    name = IDX_FILES["train_images"]
    shutil.copyfile(b / name, a / name)
    return a


def test_a_mixed_set_is_refused_by_the_loader(tmp_path):
    folder = _mixed_set(tmp_path)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz does not match .*mixed or incomplete"):
        load_mnist(folder, verbose=False)


def test_an_incomplete_set_is_refused_by_the_loader(tmp_path):
    folder = write_standin(tmp_path / "s", n_train=60, n_test=20, seed=1)
    (folder / "STANDIN.txt").unlink()
    with pytest.raises(DataError, match="incomplete: STANDIN.txt is missing"):
        load_mnist(folder, verbose=False)


def test_a_failed_write_leaves_the_old_set_whole(tmp_path, monkeypatch):
    folder = write_standin(tmp_path / "s", n_train=60, n_test=20, seed=1)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    calls = []

    def failing_write_idx(path, array):  # the third file cannot be written: a full disk
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return sources.write_idx(path, array)

    monkeypatch.setattr(standin, "write_idx", failing_write_idx)
    with pytest.raises(DataError, match="No space left"):
        write_standin(folder, n_train=70, n_test=20, seed=2, overwrite=True)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert len(load_mnist(folder, verbose=False).train) == 60


def test_the_manifest_moves_first(tmp_path, monkeypatch):
    """Killed after the first rename, the folder is refused rather than loaded as a mix."""
    folder = write_standin(tmp_path / "s", n_train=60, n_test=20, seed=1)
    real_replace, moved = os.replace, []

    def replace_then_die(src, dst):
        if moved:
            raise KeyboardInterrupt  # stands for kill -9 between two renames
        moved.append(Path(dst).name)
        return real_replace(src, dst)

    monkeypatch.setattr(standin.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        write_standin(folder, n_train=70, n_test=20, seed=2, overwrite=True)
    monkeypatch.undo()
    assert moved == [MANIFEST]
    with pytest.raises(DataError, match="mixed or incomplete"):
        load_mnist(folder, verbose=False)


def test_a_users_own_standin_txt_is_not_replaced(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "STANDIN.txt").write_text("my notes")
    with pytest.raises(DataError, match="already holds STANDIN.txt"):
        write_standin(folder, n_train=50, n_test=10)
    assert (folder / "STANDIN.txt").read_text() == "my notes"


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_train=10), "n_train=10 is too small for the tasks"),
    (dict(n_train=49), "at least 50"),
    (dict(n_train=10**12), "an IDX file holds at most"),
    (dict(n_train=4 * 10**9), "GiB of memory"),
])
def test_sizes_are_refused_before_anything_is_made(tmp_path, monkeypatch, kwargs, message):
    monkeypatch.setattr(standin, "make_standin", lambda *a, **k: pytest.fail("computed before refusing"))
    monkeypatch.setattr(standin, "available_memory", lambda: 8 * 2**30)
    with pytest.raises(DataError, match=message):
        write_standin(tmp_path / "s", **{"n_test": 10, **kwargs})
    assert not (tmp_path / "s").exists()


def test_an_unwritable_folder_is_refused_before_anything_is_made(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        target = Path("/proc/ewc-standin")  # root may write anywhere but here
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        target = ro / "s"
    monkeypatch.setattr(standin, "make_standin", lambda *a, **k: pytest.fail("computed before refusing"))
    with pytest.raises(DataError, match=f"cannot write to {target}"):
        write_standin(target, n_train=50, n_test=10)


@pytest.mark.parametrize("folder, message", [
    ("", "empty string"),
    ("~no-such-user-ewc/x", "cannot expand '~no-such-user-ewc'"),
])
def test_impossible_folder_names(folder, message):
    with pytest.raises(DataError, match=message):
        write_standin(folder, n_train=50, n_test=10)


def test_a_too_small_folder_is_refused_when_loaded(tmp_path, embedded_mnist):
    small = make_standin(30, 10, seed=0, source=embedded_mnist)  # 3 per digit: no room for validation
    for key, name in IDX_FILES.items():
        part, kind = key.split("_")
        array = getattr(getattr(small, part), kind)
        sources.write_idx(tmp_path / name, array[..., 0] if kind == "images" else array)
    with pytest.raises(DataError, match="too small for the tasks: the train split holds 3 images of digit"):
        load_mnist(tmp_path, verbose=False)


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("kwargs, message", [
    (dict(n_train=9), "n_train must be at least 10"),
    (dict(n_test=0), "n_test must be at least 10"),
    (dict(n_train=100.0), "n_train must be an integer"),
    (dict(n_test=True), "n_test must be an integer"),
    (dict(n_train="60000"), "n_train must be an integer"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(seed=1.5), "seed must be a non-negative integer"),
    (dict(rotation=5), r"unknown distortion setting\(s\) \['rotation'\]"),
    (dict(max_rotation_degrees=-1), "max_rotation_degrees must be a finite number >= 0"),
    (dict(max_shift=5), "max_shift must be .* below 4.5"),
    (dict(elastic_sigma=0.0), "elastic_sigma must be > 0"),
    (dict(elastic_alpha=float("nan")), "elastic_alpha must be a finite number"),
    (dict(source=42), "source must be None, an MNIST"),
])
def test_bad_arguments_raise_data_error(embedded_mnist, kwargs, message):
    kwargs = {"n_train": 10, "n_test": 10, "source": embedded_mnist, **kwargs}
    with pytest.raises(DataError, match=message):
        make_standin(**kwargs)


def test_distort_rejects_bad_images_and_rng(embedded_mnist):
    x = embedded_mnist.test.images[:4]
    with pytest.raises(DataError, match=r"shape \(N, 28, 28, 1\)"):
        distort(x[:, :27], np.random.default_rng(0))
    with pytest.raises(DataError, match="uint8"):
        distort(x.astype(np.float32), np.random.default_rng(0))
    with pytest.raises(DataError, match="numpy Generator"):
        distort(x, "seed")


def test_source_missing_a_digit_is_named(embedded_mnist):
    train = embedded_mnist.train.take(embedded_mnist.train.labels != 7)
    source = MNIST(train, embedded_mnist.test, "embedded", "no sevens")
    with pytest.raises(DataError, match="train split has no digit 7"):
        make_standin(20, 10, source=source)


def test_a_long_make_reports_progress_with_time_left(embedded_mnist, monkeypatch):
    clock = iter(range(0, 10_000, 11))  # every look at the clock: 11 s later
    monkeypatch.setattr(standin.time, "perf_counter", lambda: float(next(clock)))
    monkeypatch.setattr(standin, "CHUNK", 10)
    said = []
    make_standin(50, 20, seed=0, source=embedded_mnist, progress=said.append)
    assert said and all("of 70 images made; about" in s and s.endswith("s left") for s in said)
