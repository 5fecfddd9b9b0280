"""Units, the results folder (resume, provenance, no silent reuse), lam search, and Ray = local."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from ewc_helpers import runner
from ewc_helpers.runner import ResultsFolder, ResultsMismatch, Unit, run_units, search_lams

IDENTITY = {"package_version": "0", "protocol": "short", "protocol_fingerprint": "abc", "data": {"source": "x"}}


def _fake(calls, fail_after=None):
    def execute(unit, job):
        if fail_after is not None and len(calls) >= fail_after:
            raise KeyboardInterrupt  # Ctrl-C in the middle of a sweep
        calls.append(unit)
        return {"setting": unit.setting, "method": unit.method, "lam": unit.lam, "seed": unit.seed,
                "val_score": 1.0 - abs(np.log10(unit.lam or 1) - 2) / 10, "seconds": 0.0}
    return execute


def test_an_interrupted_sweep_resumes_with_only_the_missing_units(tmp_path, monkeypatch):
    units = [Unit("task", "naive", None, s) for s in range(4)]
    calls = []
    monkeypatch.setattr(runner, "_execute", _fake(calls, fail_after=2))
    with pytest.raises(KeyboardInterrupt):
        run_units(units, {}, ResultsFolder(tmp_path, IDENTITY), progress=None)
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == [f"{u.name}.json" for u in units[:2]]
    calls.clear()
    monkeypatch.setattr(runner, "_execute", _fake(calls))
    lines = []
    out = run_units(units, {}, ResultsFolder(tmp_path, IDENTITY, command="again"), progress=lines.append)
    assert calls == units[2:]
    assert set(out) == set(units) and all(out[u]["seed"] == u.seed for u in units)
    assert any("2/4 done" in line and "left" in line and "ETA" in line for line in lines)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [r["command"] for r in manifest["runs"]] == ["", "again"] and manifest["identity"] == IDENTITY


def test_units_of_another_version_protocol_or_data_are_never_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_execute", _fake([]))
    run_units([Unit("task", "naive", None, 0)], {}, ResultsFolder(tmp_path, IDENTITY), progress=None)
    for key, value in (("package_version", "1"), ("protocol", "hsu2018"), ("data", {"source": "y"})):
        with pytest.raises(ResultsMismatch, match=f"{key}: .* there, .* now"):
            ResultsFolder(tmp_path, {**IDENTITY, key: value})
    # A unit file copied in from another run is refused too, not read.
    other = tmp_path / "other"
    folder = ResultsFolder(other, {**IDENTITY, "protocol_fingerprint": "zzz"})
    folder.write(Unit("task", "naive", None, 1), {"seed": 1})
    (other / "units" / "task__naive__lam-__seed1.json").rename(tmp_path / "units" / "task__naive__lam-__seed1.json")
    with pytest.raises(ResultsMismatch, match="protocol_fingerprint"):
        ResultsFolder(tmp_path, IDENTITY).read(Unit("task", "naive", None, 1))


def test_lam_search_extends_its_grid_through_the_backend(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "_execute", _fake(calls))
    folder = ResultsFolder(tmp_path, IDENTITY)
    found = search_lams({("task", "ewc"): (0.1, 1.0, 10.0)}, 0,
                        lambda units: run_units(units, {}, folder, progress=None), progress=None)
    # The fake validation score peaks at lam 100: one decade beyond the grid's top.
    assert found[("task", "ewc")]["lam"] == 100.0
    assert sorted(found[("task", "ewc")]["tried"]) == [0.1, 1.0, 10.0, 100.0, 1000.0]
    assert len(found[("task", "ewc")]["extended"]) == 2


def test_learning_accuracy_is_the_mean_of_the_diagonal():
    from ewc_helpers.evaluation import AccuracyMatrix
    from ewc_helpers.studies.protocols import _record

    m = AccuracyMatrix(["a", "b", "c"], [[0.9, 0.1, 0.1], [0.5, 0.8, 0.1], [0.4, 0.6, 0.7]])
    r = _record("task", "naive", None, 0, m, m, None, 0.0, {})
    assert r["learning"] == pytest.approx(0.8)
    assert r["average"] == pytest.approx((0.4 + 0.6 + 0.7) / 3)
    assert r["bwt"] == pytest.approx(((0.4 - 0.9) + (0.6 - 0.8)) / 2)


def test_shared_budget_buffer_divides_its_examples_between_tasks():
    from ewc_helpers.replay import SharedBudgetBuffer
    from ewc_helpers.sources import load_mnist
    from ewc_helpers.split_mnist import make_split_tasks

    tasks = make_split_tasks(load_mnist("embedded", verbose=False), "class")
    buf = SharedBudgetBuffer(90, seed=0)
    buf.add(tasks[0])
    assert len(buf) == 90
    first = buf.stored.digits.copy()
    buf.add(tasks[1])
    buf.add(tasks[2])
    assert len(buf) == 90 and [len(p) for p in buf._parts] == [30, 30, 30]
    assert np.array_equal(buf._parts[0].digits, first[:30])  # the first task keeps its first draws


def test_ray_gives_the_same_numbers_bit_for_bit(tmp_path):
    """Two small units (600 digits, a 16-unit network, one epoch) in this process and on a local
    Ray instance with 2 workers: every accuracy must be equal, not close."""
    pytest.importorskip("ray")
    from ewc_helpers.studies.protocols import PROTOCOLS

    protocol = replace(PROTOCOLS["hsu2018"], epochs=1, hidden=(16,))
    job = {"data": "embedded", "subset": 600, "protocol": protocol}
    units = [Unit("task", "si", 600.0, 0), Unit("class", "replay", None, 1)]
    local = run_units(units, job, ResultsFolder(tmp_path / "local", IDENTITY), progress=None)
    ray = run_units(units, job, ResultsFolder(tmp_path / "ray", IDENTITY), backend="ray", workers=2, progress=None)
    for u in units:
        assert ray[u]["test_matrix"] == local[u]["test_matrix"]
        assert ray[u]["val_matrix"] == local[u]["val_matrix"]


def test_the_command_line_checks_the_scenario_options(capsys):
    from ewc_helpers.__main__ import main

    for argv, message in ((["--suite", "article", "--protocol", "hsu2018"], "--protocol applies only to --suite scenarios"),
                          (["--suite", "scenarios", "--workers", "2"], "--workers and --address apply only to --backend ray"),
                          (["--suite", "scenarios", "--methods", "ewc,foo"], "expected a comma-separated list")):
        with pytest.raises(SystemExit):
            main(["reproduce", *argv])
        assert message in capsys.readouterr().err


def test_reproduce_scenarios_resumes_from_its_folder_and_refuses_another_protocol(tmp_path, capsys):
    from ewc_helpers.__main__ import main

    out = tmp_path / "res"
    argv = ["reproduce", "--suite", "scenarios", "--data", "embedded", "--subset", "600", "--settings", "task",
            "--methods", "naive,joint", "--seeds", "2", "--out", str(out), "--json", str(tmp_path / "r.json")]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert len(list((out / "units").glob("*.json"))) == 4
    (out / "units" / "task__naive__lam-__seed1.json").unlink()  # as if killed before that unit finished
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert "3/4 done, 1 running" in again and again.count("running task/") == 1
    table = lambda text: text[text.index("task (short protocol)"): text.index("finished in")]  # noqa: E731
    assert table(again) == table(first)  # the re-run unit gives the same numbers
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["provenance"]["protocol"]["key"] == "short" and report["provenance"]["data"]["subset"] == 600
    assert "learning acc" in report["table"] and len(report["provenance"]["runs"]) == 2
    assert main(argv[:-2] + ["--protocol", "hsu2018"]) == 2
    assert "protocol: 'short' there, 'hsu2018' now" in capsys.readouterr().err


def test_findings_say_reproduced_not_established_or_contradicted_from_paired_seeds():
    from ewc_helpers.studies.scenario_suite import _row, suite_findings

    def rec(avg, seed):
        return {"average": avg, "learning": 0.99, "bwt": -0.01, "test": [avg] * 5, "seconds": 1.0,
                "memory": None, "seed": seed}

    def row(method, values):
        return _row(method, None, [rec(v, s) for s, v in enumerate(values)])

    clear = [row("naive", [0.90, 0.91, 0.92]), row("ewc", [0.97, 0.98, 0.985]), row("replay", [0.99, 0.99, 0.995])]
    noisy = [row("naive", [0.85, 0.97, 0.92]), row("ewc", [0.97, 0.98, 0.985]), row("replay", [0.80, 0.81, 0.80])]
    status = {f["claim"]: f["status"] for f in suite_findings({"task": clear})}
    assert status["task-incremental: every regulariser beats naive fine-tuning"] == "reproduced"
    status = {f["claim"]: f["status"] for f in suite_findings({"task": noisy})}
    assert status["task-incremental: every regulariser beats naive fine-tuning"] == "not established"
    assert status["task-incremental: replay beats naive fine-tuning"] in ("contradicted", "not established")
    one_seed = {"task": [row("naive", [0.9]), row("ewc", [0.99])]}
    assert suite_findings(one_seed) == []  # no claim from a single seed


def test_level_claim_is_an_equivalence_claim_even_when_the_small_difference_is_detectable():
    """Hsu et al.'s "level with naive" holds when every paired interval lies inside ±delta, even one
    that also excludes zero; only a difference beyond the margin contradicts it."""
    from ewc_helpers.studies.scenario_suite import _row, suite_findings

    def row(method, values):
        return _row(method, None, [{"average": v, "learning": 0.98, "bwt": -0.9, "test": [v] * 5, "seconds": 1.0,
                                    "memory": None, "seed": s} for s, v in enumerate(values)])

    claim = "class-incremental: EWC, online EWC, SI and MAS are level with naive fine-tuning (within ±0.02)"
    small = [row("naive", [0.195, 0.196, 0.197]), row("si", [0.191, 0.1915, 0.193])]  # -0.004, detectable
    found = {f["claim"]: f for f in suite_findings({"class": small})}
    assert "naive beats SI" in found[claim]["verdicts"][0]  # the words still say what was detected
    assert found[claim]["status"] == "reproduced"
    large = [row("naive", [0.195, 0.196, 0.197]), row("si", [0.291, 0.292, 0.294])]
    assert {f["claim"]: f["status"] for f in suite_findings({"class": large})}[claim] == "contradicted"
