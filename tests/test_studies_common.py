"""ewc_helpers.studies.common: Setup, the one Result type, the one rule that chooses lam
(choose_lam, search_lam with its self-extending grid), sweep, summarize and format_table.

No training: the runs are stand-in functions of lam, so every case is exact and fast."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ewc_helpers.evaluation import AccuracyMatrix
from ewc_helpers.penalties import PenaltyError
from ewc_helpers.studies import common
from ewc_helpers.studies.common import Result, Setup


def two_task(method, lam, a, b, val=None):
    return Result(method, lam, val=val or {"A": a, "B": b}, test={"A": a, "B": b})


def recorder(score):
    """run(lam) -> Result with val_score = score(lam); remembers the lams it was called with."""
    calls = []

    def run(lam):
        calls.append(lam)
        return Result("ewc", lam, val={"A": score(lam)}, test={"A": 0.0})

    return run, calls


# --------------------------------------------------------------------------- Setup and Result
def test_setup_keeps_task_sequence_epochs_apart_from_task_b():
    s = Setup()
    assert (s.epochs_a, s.epochs_b, s.epochs_per_task) == (6, 6, 5)
    s2 = Setup(epochs_b=2)
    assert s2.epochs_per_task == 5  # changing B's budget leaves sequences alone
    e = Setup().with_epochs(3)
    assert (e.epochs_multi, e.epochs_a, e.epochs_b, e.epochs_per_task) == (3, 3, 3, 3)
    assert Setup().with_seed(4).seed == 4 and Setup().with_seed(4).epochs_b == 6


def test_result_scores_labels_and_json():
    r = two_task("ewc", 100.0, 0.8, 0.6, val={"A": 0.9, "B": 0.5})
    assert r.label == "EWC" and r.val_score == pytest.approx(0.7) and r.average_accuracy == pytest.approx(0.7)
    assert r.backward_transfer is None and r.matrix is None
    assert Result("replay", None, {}, {}, label="replay (k=10)").label == "replay (k=10)"
    d = json.loads(json.dumps(r.to_dict()))
    assert d["lam"] == 100.0 and d["val_score"] == pytest.approx(0.7) and d["matrix"] is None and "model" not in d


# --------------------------------------------------------------------------- choose_lam
def test_choose_lam_takes_the_best_validation_score_not_test():
    rs = [two_task("l2", 0.1, 0.9, 0.9, val={"A": 0.5}), two_task("l2", 1.0, 0.1, 0.1, val={"A": 0.6})]
    assert common.choose_lam(rs).lam == 1.0


def test_choose_lam_ties_go_to_the_smaller_lam_in_any_order():
    rs = [Result("ewc", lam, val={"A": 0.8}, test={}) for lam in (30.0, 10.0, 100.0)]
    assert common.choose_lam(rs).lam == 10.0
    assert common.choose_lam(list(reversed(rs))).lam == 10.0
    # Scores equal to 6 decimals are a tie; a real difference is not.
    near = [Result("ewc", 1.0, val={"A": 0.8}, test={}), Result("ewc", 3.0, val={"A": 0.8 + 1e-9}, test={})]
    assert common.choose_lam(near).lam == 1.0
    far = [Result("ewc", 1.0, val={"A": 0.8}, test={}), Result("ewc", 3.0, val={"A": 0.801}, test={})]
    assert common.choose_lam(far).lam == 3.0
    # dict rows with a score function (as the sensitivity tables use)
    rows = [{"lam": 3.0, "score": 0.8}, {"lam": 1.0, "score": 0.8}, {"lam": 9.0, "score": 0.7}]
    assert common.choose_lam(rows, score=lambda r: r["score"])["lam"] == 1.0
    with pytest.raises(ValueError, match="no results to choose lam from"):
        common.choose_lam([])


# --------------------------------------------------------------------------- search_lam
def test_search_lam_never_extends_when_the_best_is_inside():
    run, calls = recorder(lambda lam: -abs(math.log10(lam) - 1))  # best at lam = 10
    notes = []
    search = common.search_lam(run, (1.0, 10.0, 100.0), progress=notes.append)
    assert search.best.lam == 10.0 and sorted(calls) == [1.0, 10.0, 100.0]
    assert search.extended == [] and notes == [] and not search.at_edge
    assert search.lams == [1.0, 10.0, 100.0]


def test_search_lam_extends_at_the_high_end_until_the_best_is_inside():
    run, calls = recorder(lambda lam: -abs(math.log10(lam) - 4))  # best at lam = 1e4
    notes = []
    search = common.search_lam(run, (1.0, 10.0, 100.0), progress=notes.append)
    assert calls == [1.0, 10.0, 100.0, 1e3, 1e4, 1e5]
    assert search.best.lam == 1e4 and not search.at_edge
    assert len(search.extended) == 3 and notes == search.extended  # each extension reported
    assert "lam 100 is the largest value tried: extending the grid to 1000" == search.extended[0]
    assert search.lams == [1.0, 10.0, 100.0, 1e3, 1e4, 1e5]


def test_search_lam_extends_at_the_low_end():
    run, calls = recorder(lambda lam: -abs(math.log10(lam) + 1))  # best at lam = 0.1
    search = common.search_lam(run, (1.0, 10.0))
    assert calls == [1.0, 10.0, 0.1, 0.01]
    assert search.best.lam == pytest.approx(0.1) and not search.at_edge
    assert [n.split(":")[0] for n in search.extended] == ["lam 1 is the smallest value tried",
                                                          "lam 0.1 is the smallest value tried"]


def test_search_lam_stops_at_max_extensions_and_says_the_best_is_still_at_an_edge():
    run, calls = recorder(lambda lam: lam)  # larger is always better
    search = common.search_lam(run, (1.0, 10.0), max_extensions=2)
    assert calls == [1.0, 10.0, 100.0, 1000.0]
    assert search.best.lam == 1000.0 and search.at_edge and len(search.extended) == 2
    run, calls = recorder(lambda lam: lam)
    assert common.search_lam(run, (1.0, 10.0), max_extensions=0).extended == [] and calls == [1.0, 10.0]
    run, calls = recorder(lambda lam: lam)
    common.search_lam(run, (1.0, 10.0))
    assert len(calls) == 2 + common.MAX_EXTENSIONS


def test_search_lam_on_a_single_value_extends_upwards_first():
    """One value is both ends: the grid grows upwards first (the low end needs two values)."""
    run, calls = recorder(lambda lam: -abs(math.log10(lam) - 2))  # best at lam = 100
    search = common.search_lam(run, (10.0,))
    assert calls == [10.0, 100.0, 1000.0] and search.best.lam == 100.0 and not search.at_edge


@pytest.mark.parametrize("grid, error, match", [
    ((), ValueError, "a lam grid needs positive values"),
    ((0.0, 1.0), ValueError, "a lam grid needs positive values"),
    ((-1.0, 1.0), PenaltyError, "lam must be a finite number >= 0"),
    ((float("nan"),), PenaltyError, "lam must be a finite number"),
])
def test_search_lam_bad_grids(grid, error, match):
    run, calls = recorder(lambda lam: 0.0)
    with pytest.raises(error, match=match):
        common.search_lam(run, grid)
    assert calls == []


def test_sweep_runs_in_the_given_order_without_choosing():
    run, calls = recorder(lambda lam: lam)
    notes = []
    out = common.sweep(run, [3.0, 1.0, 2.0], progress=notes.append)
    assert calls == [3.0, 1.0, 2.0] and [r.lam for r in out] == [3.0, 1.0, 2.0]
    assert len(notes) == 3 and "lam=3: validation 3.000" in notes[0]


# --------------------------------------------------------------------------- summarize and format_table
def seq_result(method, lam, last_row, first_diag, memory=None):
    names = ["P1", "P2"]
    m = AccuracyMatrix(names, [[first_diag, 0.1], last_row])
    return Result(method, lam, val=dict(zip(names, last_row)), test=dict(zip(names, last_row)), matrix=m,
                  val_matrix=m, memory=memory)


def test_summarize_two_task_results_over_seeds():
    runs = [[two_task("naive", None, 0.2, 0.9), two_task("ewc", 100.0, 0.7, 0.8)],
            [two_task("naive", None, 0.4, 0.9), two_task("ewc", 300.0, 0.9, 0.6)]]
    rows = common.summarize(runs)
    naive, ewc = rows
    assert (naive["label"], naive["lam"], naive["n"], naive["tasks"]) == ("naive", [], 2, ["A", "B"])
    assert naive["test"]["A"] == pytest.approx(0.3) and naive["test_std"]["A"] == pytest.approx(0.1 * 2 ** 0.5)  # ddof=1
    assert ewc["lam"] == [100.0, 300.0] and ewc["average"] == pytest.approx(0.75)
    assert ewc["average_std"] == pytest.approx(0.0) and ewc["bwt"] is None and ewc["memory"] is None
    text = common.format_table(rows)
    lines = text.splitlines()
    assert "task A" in lines[0] and "task B" in lines[0] and set(lines[1]) == {"-"}
    assert lines[2].startswith("naive") and "0.300 ± 0.141" in lines[2]
    assert lines[3].startswith("EWC") and "100,300" in lines[3]
    one_seed = common.format_table(common.summarize(runs[:1]))
    assert "±" not in one_seed and "0.200" in one_seed  # std only with several seeds
    published = common.format_table(rows, published={"naive": (0.27, 0.98)}, published_label="article")
    assert "article task A" in published.splitlines()[0] and "0.270" in published


def test_summarize_sequence_results_with_matrices():
    runs = [[seq_result("naive", None, [0.3, 0.9], 0.9, {"arrays": 0, "bytes": 0}),
             seq_result("online_ewc", 10.0, [0.6, 0.8], 0.9, {"arrays": 8, "bytes": 800})],
            [seq_result("naive", None, [0.5, 0.9], 0.9, {"arrays": 0, "bytes": 0}),
             seq_result("online_ewc", 10.0, [0.8, 0.8], 0.9, {"arrays": 8, "bytes": 800})]]
    naive, online = common.summarize(runs)
    assert naive["bwt"] == pytest.approx(-0.5) and naive["bwt_std"] == pytest.approx(0.1 * 2 ** 0.5)  # ddof=1
    assert online["bwt"] == pytest.approx(-0.2) and online["memory"] == 800 and naive["memory"] == 0
    text = common.format_table([naive, online], ("average", "bwt", "memory"))
    head, _, l1, l2 = text.splitlines()
    assert "avg acc" in head and "BWT" in head and "bytes held" in head
    assert "-0.500 ± 0.141" in l1 and l2.startswith("online EWC") and "800" in l2


def test_summarize_and_format_table_refuse_bad_input():
    with pytest.raises(ValueError, match="no results to summarise"):
        common.summarize([])
    with pytest.raises(ValueError, match="every seed must report the same methods in the same order"):
        common.summarize([[two_task("naive", None, 0.1, 0.2)], [two_task("ewc", 1.0, 0.1, 0.2)]])
    with pytest.raises(ValueError, match="no rows to format"):
        common.format_table([])
    rows = common.summarize([[two_task("naive", None, 0.1, 0.2)]])
    with pytest.raises(ValueError, match="unknown column 'speed'"):
        common.format_table(rows, ("speed",))
    assert np.isnan(float("nan")) and common._cell(float("nan")) == "-"


def test_seed_clock_says_how_long_the_rest_will_take(monkeypatch):
    """Long suites print, after each seed, the time spent and an estimate of the time left."""
    from ewc_helpers.studies import common

    now = iter([100.0, 160.0, 220.0])
    monkeypatch.setattr(common.time, "perf_counter", lambda: next(now))
    said = []
    clock = common.SeedClock(3, said.append)
    clock.finished(0)
    clock.finished(1)
    assert said == ["[seed 0] finished: 1 of 3 seed(s) in 1m00s; about 2m00s left",
                    "[seed 1] finished: 2 of 3 seed(s) in 2m00s; about 1m00s left"]
