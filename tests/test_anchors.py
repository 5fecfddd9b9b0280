"""Anchor files (ewc_helpers.anchors): a save writes only the .npz named, atomically, and every
damaged or foreign file is refused on load with an AnchorError naming the file and the fault."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from ewc_helpers.anchors import FILE_FORMAT, Anchor, AnchorError, PenaltyError, check_fisher

SHAPES = [(6, 4), (4,), (4, 3), (3,)]


def make_anchor(seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    theta = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    fisher = [rng.gamma(0.5, 1.0, size=s).astype(np.float32) for s in SHAPES]
    return Anchor(theta, fisher, task="A", method="exact", num_examples=50, **kwargs)


@pytest.fixture()
def saved(tmp_path):
    anchor = make_anchor()
    return anchor, anchor.save(tmp_path / "anchor.npz")


def write_archive(path, info, arrays):
    with open(path, "wb") as fh:
        np.savez(fh, __info__=np.array(info if isinstance(info, str) else json.dumps(info)), **arrays)
    return path


def info(n):
    return {"format": FILE_FORMAT, "task": "A", "method": "exact", "num_examples": 50, "num_variables": n, "meta": {}}


# --------------------------------------------------------------------------- saving
def test_round_trip(saved):
    anchor, path = saved
    assert path.name == "anchor.npz"
    assert Anchor.load(path).equals(anchor)
    assert sorted(os.listdir(path.parent)) == ["anchor.npz"]  # no temporary file left behind


def test_save_refuses_another_suffix_and_writes_nothing(tmp_path):
    anchor = make_anchor()
    with pytest.raises(AnchorError, match=r"x\.bin: anchor files end in \.npz; name it 'x\.npz'"):
        anchor.save(tmp_path / "x.bin")
    assert os.listdir(tmp_path) == []  # neither x.bin nor x.npz
    # An existing x.npz is left exactly as it was.
    existing = make_anchor(seed=1).save(tmp_path / "x.npz")
    before = existing.read_bytes()
    with pytest.raises(AnchorError, match=r"x\.bin"):
        anchor.save(tmp_path / "x.bin")
    assert existing.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["x.npz"]


def test_save_into_a_folder_or_a_missing_folder(tmp_path):
    anchor = make_anchor()
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(AnchorError, match=r"dir\.npz: is a folder"):
        anchor.save(tmp_path / "dir.npz")
    with pytest.raises(AnchorError, match=r"folder .*missing does not exist"):
        anchor.save(tmp_path / "missing" / "a.npz")


def test_a_failed_save_leaves_the_existing_file_intact(saved, monkeypatch):
    _, path = saved
    before = path.read_bytes()

    def broken_savez(fh, **arrays):
        fh.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(AnchorError, match=r"anchor\.npz: cannot be written \(No space left on device\)"):
        make_anchor(seed=2).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == ["anchor.npz"]  # the temporary file is gone
    # Metadata that JSON cannot hold is refused before anything is written.
    with pytest.raises(AnchorError, match=r"anchor\.npz: the anchor's metadata cannot be written as JSON"):
        make_anchor(seed=3, meta={"model": object()}).save(path)
    assert path.read_bytes() == before


# --------------------------------------------------------------------------- loading damaged or foreign files
def test_load_an_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(AnchorError, match=rf"{path}: the file is empty"):
        Anchor.load(path)


def test_load_a_missing_file_or_a_folder(tmp_path):
    with pytest.raises(AnchorError, match=r"nope\.npz: no such file"):
        Anchor.load(tmp_path / "nope.npz")
    with pytest.raises(AnchorError, match=rf"{tmp_path}: is not a file"):
        Anchor.load(tmp_path)


@pytest.mark.parametrize("keep", [0.5, 0.9, 30])
def test_load_a_truncated_file(saved, keep):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if keep < 1 else keep])
    with pytest.raises(AnchorError, match=rf"{path}: cannot be read as an anchor file"):
        Anchor.load(path)


def test_load_random_bytes(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(AnchorError, match=rf"{path}: cannot be read as an anchor file"):
        Anchor.load(path)


def test_load_a_single_array_file(tmp_path):
    path = tmp_path / "theta.npy"
    np.save(path, np.zeros((3, 3), np.float32))
    with pytest.raises(AnchorError, match=rf"{path}: holds a single array, not an anchor file"):
        Anchor.load(path)


@pytest.mark.parametrize("how", ["pickle", "object_array"])
def test_load_a_pickled_file_without_unpickling_it(tmp_path, how):
    path = tmp_path / "anchor.npz"
    if how == "pickle":
        path.write_bytes(pickle.dumps(make_anchor()))
    else:
        np.save(open(path, "wb"), np.array([make_anchor()], dtype=object), allow_pickle=True)
    with pytest.raises(AnchorError, match=rf"{path}: cannot be read as an anchor file \((it is not an .npz|.*pickle)"):
        Anchor.load(path)


def test_metadata_promising_fewer_variables_than_the_file_holds(saved):
    anchor, path = saved
    arrays = {f"theta_{i}": t for i, t in enumerate(anchor.theta)}
    arrays.update({f"fisher_{i}": f for i, f in enumerate(anchor.fisher)})
    write_archive(path, info(2), arrays)  # 4 variables' arrays, metadata says 2
    with pytest.raises(AnchorError, match=rf"{path}: its metadata promises 2 variables \(arrays 4\) but the file "
                                          r"holds 8 arrays; unexpected: fisher_2, fisher_3, theta_2, theta_3"):
        Anchor.load(path)


def test_metadata_promising_more_variables_than_the_file_holds(saved):
    anchor, path = saved
    arrays = {"theta_0": anchor.theta[0], "theta_1": anchor.theta[1],
              "fisher_0": anchor.fisher[0], "fisher_1": anchor.fisher[1]}
    write_archive(path, info(4), arrays)  # 4 arrays, metadata promises 4 variables (8 arrays)
    with pytest.raises(AnchorError, match=rf"{path}: its metadata promises 4 variables \(arrays 8\) but the file "
                                          r"holds 4 arrays; missing: fisher_2, fisher_3, theta_2, theta_3"):
        Anchor.load(path)


@pytest.mark.parametrize("record, message", [
    ("{not json", "its metadata record is not valid JSON"),
    (json.dumps(["a", "list"]), "its metadata record lacks one of task, method, num_examples, num_variables"),
    (json.dumps({k: v for k, v in info(4).items() if k != "method"}), "lacks one of"),
    (json.dumps({**info(4), "num_variables": "4"}), "num_variables='4', not a positive integer"),
    (json.dumps({**info(4), "num_variables": 0}), "num_variables=0, not a positive integer"),
])
def test_bad_metadata(saved, record, message):
    anchor, path = saved
    arrays = {f"theta_{i}": t for i, t in enumerate(anchor.theta)}
    arrays.update({f"fisher_{i}": f for i, f in enumerate(anchor.fisher)})
    write_archive(path, record, arrays)
    with pytest.raises(AnchorError, match=rf"{path}: .*{message}"):
        Anchor.load(path)


def test_a_file_whose_fisher_is_negative_or_shapes_disagree(saved):
    anchor, path = saved
    fisher = [f.copy() for f in anchor.fisher]
    fisher[1][0] = -1.0
    arrays = {f"theta_{i}": t for i, t in enumerate(anchor.theta)}
    arrays.update({f"fisher_{i}": f for i, f in enumerate(fisher)})
    write_archive(path, info(4), arrays)
    with pytest.raises(AnchorError, match=rf"{path}: Fisher entry 1 .*negative values"):
        Anchor.load(path)
    arrays["fisher_1"] = np.ones(5, np.float32)
    write_archive(path, info(4), arrays)
    with pytest.raises(AnchorError, match=rf"{path}: Fisher array 1 has shape \(5,\), but model variable 1 has shape \(4,\)"):
        Anchor.load(path)


def test_anchor_errors_are_penalty_errors():
    """Code that catches PenaltyError (every unusable anchor or penalty) catches file faults too."""
    assert issubclass(AnchorError, PenaltyError) and issubclass(PenaltyError, ValueError)
    with pytest.raises(PenaltyError, match="negative"):
        check_fisher([np.array([-1.0])])
