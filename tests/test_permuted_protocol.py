"""``reproduce --suite permuted --protocol short|hsu2018|vandeven2019``: the published protocols'
permuted-MNIST setup reaches the runner, the JSON records it, and bad combinations are refused.

The runs here are tiny (a fake unit runner, or one real unit on 120 digits): a published-protocol
permuted run takes hours.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from ewc_helpers import __main__ as cli
from ewc_helpers.studies import protocols
from ewc_helpers.studies.protocols import PROTOCOLS, Protocol, permuted_preset


def refused(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reproduce", *argv])
    return exit_info.value.code, capsys.readouterr().err


# --------------------------------------------------------------------------- the presets
def test_hsu2018_permuted_preset_is_its_domain_script():
    """scripts/permuted_MNIST_incremental_domain.sh: MLP1000, Adam lr 1e-4, batch 128, 10 epochs,
    10 permutations; reg_coef L2 0.02, EWC 150, EWC_online 250 (our lam = 2c)."""
    p = permuted_preset("hsu2018")
    assert p["hidden"] == [1000, 1000] and p["optimizer"] == "adam" and p["learning_rate"] == 1e-4
    assert (p["batch_size"], p["epochs"], p["iterations"], p["num_tasks"]) == (128, 10, None, 10)
    assert p["reset_optimizer"] is False and p["fisher_examples"] is None and p["gamma"] == 1.0
    assert p["lams"] == {"l2": [0.004, 0.04, 0.4], "ewc": [30.0, 300.0, 3000.0], "online_ewc": [50.0, 500.0, 5000.0]}
    assert "permuted_MNIST_incremental_domain.sh" in p["source"]["files"]
    assert p["source"]["repository"] == "GT-RIPL/Continual-Learning-Benchmark" and p["lam_notes"] == {}


def test_vandeven2019_permuted_preset_is_its_permmnist_defaults():
    """params/param_values.py, permMNIST: 2 x 1000 units, 5,000 iterations, lr 1e-4, batch 128,
    10 contexts; domain scenario ewc_lambda 100. No L2 strength: the grid's origin is recorded."""
    p = permuted_preset("vandeven2019")
    assert p["hidden"] == [1000, 1000] and p["learning_rate"] == 1e-4 and p["batch_size"] == 128
    assert (p["epochs"], p["iterations"], p["num_tasks"], p["reset_optimizer"]) == (None, 5000, 10, False)
    assert p["lams"]["ewc"] == [10.0, 100.0, 1000.0] == p["lams"]["online_ewc"]
    assert "no L2 strength" in p["lam_notes"]["l2"] and p["lams"]["l2"] == [0.003, 0.01, 0.03]


def test_a_protocol_without_a_permuted_setup_is_refused_naming_what_is_missing():
    bare = Protocol("bare", "no permuted setup")
    with pytest.raises(ValueError, match=r"the bare protocol has no permuted-MNIST setup \(per_setting\['permuted'\]"):
        permuted_preset(bare)
    no_grid = replace(PROTOCOLS["hsu2018"], key="nogrid", grids={})
    with pytest.raises(ValueError, match="nogrid protocol has no lam grid to start from for l2, ewc, online_ewc"):
        permuted_preset(no_grid)


# --------------------------------------------------------------------------- the command line
@pytest.mark.parametrize("extra, named", [
    (["--epochs", "2"], "--epochs"), (["--tasks", "3"], "--tasks"), (["--gamma", "0.9"], "--gamma"),
    (["--full-grid"], "--full-grid"), (["--fisher", "empirical"], "--fisher"),
])
def test_a_published_protocol_refuses_the_options_it_sets(capsys, extra, named):
    code, err = refused(capsys, ["--suite", "permuted", "--protocol", "vandeven2019", *extra])
    assert code == 2 and f"{named} cannot be set with --protocol vandeven2019" in err


def test_permuted_still_refuses_the_scenario_only_options(capsys):
    code, err = refused(capsys, ["--suite", "permuted", "--protocol", "hsu2018", "--settings", "task"])
    assert code == 2 and "--settings applies only to --suite scenarios" in err
    code, err = refused(capsys, ["--suite", "article", "--subset", "100"])
    assert code == 2 and "--subset applies only to --suite scenarios" in err


def test_the_short_protocol_keeps_todays_options(capsys):
    args = cli.build_parser().parse_args(["reproduce", "--suite", "permuted", "--protocol", "short",
                                          "--epochs", "2", "--tasks", "3", "--subset", "500"])
    cli._check_suite_options(args.subparser, args)  # no SystemExit
    assert (args.epochs, args.tasks, args.gamma, args.subset) == (2, 3, 1.0, 500)


def _fake_unit(calls):
    """A run_unit stand-in: records what it was asked and returns a record whose validation score
    peaks at the middle of each grid (so that no search extends)."""
    def run_unit(setting, method, lam, seed, mnist, protocol="short"):
        p = protocols.protocol_for(protocol).for_setting(setting)
        calls.append({"setting": setting, "method": method, "lam": lam, "seed": seed, "protocol": p,
                      "n_train": len(mnist.train)})
        names = [f"perm{i}" for i in range(p.num_permuted_tasks)]
        grid = permuted_preset(protocol)["lams"].get(method) if method != "naive" else None
        score = 0.9 if lam is None else 0.9 - abs(np.log10(lam) - np.log10(grid[1])) / 10
        rows = [[score if j <= i else 0.1 for j in range(len(names))] for i in range(len(names))]
        return {"setting": setting, "method": method, "lam": lam, "seed": seed, "tasks": names,
                "test_matrix": rows, "val_matrix": rows, "test": rows[-1], "val": rows[-1],
                "memory": None if method == "naive" else 1000, "seconds": 0.0, "info": {}}
    return run_unit


def test_the_preset_reaches_the_runner_and_the_json(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(protocols, "run_unit", _fake_unit(calls))
    out = tmp_path / "r.json"
    code = cli.main(["reproduce", "--suite", "permuted", "--protocol", "hsu2018", "--data", "embedded",
                     "--subset", "240", "--json", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "under the hsu2018 protocol: 10 tasks in sequence" in printed and "784-1000-1000-10" in printed
    assert {c["setting"] for c in calls} == {"permuted"} and {c["n_train"] for c in calls} == {240}
    p = calls[0]["protocol"]
    assert (p.hidden, p.learning_rate, p.epochs, p.num_permuted_tasks, p.reset_optimizer) == ((1000, 1000), 1e-4, 10, 10, False)
    tried = {m: sorted(c["lam"] for c in calls if c["method"] == m) for m in ("l2", "ewc", "online_ewc")}
    assert tried == {"l2": [0.004, 0.04, 0.4], "ewc": [30.0, 300.0, 3000.0], "online_ewc": [50.0, 500.0, 5000.0]}
    report = json.loads(out.read_text())
    assert report["protocol"] == json.loads(json.dumps(permuted_preset("hsu2018")))
    assert report["epochs"] == 10 and report["num_tasks"] == 10
    assert [r["lam"] for r in report["rows"]] == [[], [0.04], [300.0], [500.0]]


def test_a_protocol_without_a_permuted_setup_is_one_error_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(PROTOCOLS, "vandeven2019", Protocol("vandeven2019", "no permuted setup here"))
    monkeypatch.setattr(protocols, "run_unit", lambda *a, **k: pytest.fail("ran although refused"))
    code = cli.main(["reproduce", "--suite", "permuted", "--protocol", "vandeven2019", "--data", "embedded",
                     "--subset", "120", "--json", str(tmp_path / "r.json"), "--quiet"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: the vandeven2019 protocol has no")
    assert "permuted-MNIST setup" in lines[0] and not (tmp_path / "r.json").exists()


def test_a_real_unit_trains_the_presets_network(monkeypatch):
    """One real permuted unit under hsu2018 (2 tasks, 1 epoch, 120 digits): L2 holds theta* of
    the 784-1000-1000-10 network, 1,796,010 float32 weights."""
    from ewc_helpers.runner import load_data

    p = PROTOCOLS["hsu2018"]
    tiny = replace(p, num_permuted_tasks=2, per_setting={"permuted": {**p.per_setting["permuted"], "epochs": 1}})
    record = protocols.run_unit("permuted", "l2", 0.04, 0, load_data("embedded", 120), tiny)
    weights = 784 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 * 10 + 10
    assert record["memory"] == 4 * weights and len(record["test_matrix"]) == 2
