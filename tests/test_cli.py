"""The command line, ``python -m ewc_helpers``: fast --help, strict options, and every check that
can fail made before anything is loaded or trained."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ewc_helpers import __main__ as cli
from ewc_helpers import _cli, sources

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("reproduce", "standin", "notebooks")


def run_module(*args, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           **(env_extra or {})}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


@pytest.fixture()
def no_loading(monkeypatch):
    """Fail the test if a command gets as far as loading data (or training)."""
    def fail(*args, **kwargs):
        pytest.fail("the command loaded data although its options were bad")

    monkeypatch.setattr(_cli, "_load", fail)
    monkeypatch.setattr(sources, "load_mnist", fail)
    monkeypatch.setattr(_cli, "load_mnist", fail)


def exit_code_and_error(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    return exit_info.value.code, capsys.readouterr().err


# --------------------------------------------------------------------------- --help
def test_help_answers_without_importing_tensorflow():
    """`python -m ewc_helpers --help`, run for real: -X importtime lists every module imported."""
    proc = run_module("-X", "importtime", "-m", "ewc_helpers", "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "ewc_helpers.__main__" in imported or "argparse" in imported  # the listing did work
    heavy = sorted(m for m in imported if m.split(".")[0] in ("tensorflow", "keras", "tensorflow_datasets"))
    assert heavy == [], heavy[:5]
    assert "usage: python -m ewc_helpers" in proc.stdout
    for command in COMMANDS:
        assert f"python -m ewc_helpers {command}" in proc.stdout  # each command, with an example


def test_help_answers_without_tensorflow_in_sys_modules():
    """The same, asked of sys.modules inside the process that ran --help."""
    code = ("import runpy, sys\n"
            "sys.argv = ['-m', '--help']\n"
            "try:\n"
            "    runpy._run_module_as_main('ewc_helpers')\n"
            "except SystemExit as e:\n"
            "    print('EXIT', e.code)\n"
            "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))[:3])\n")
    proc = run_module("-c", code)
    assert "EXIT 0" in proc.stdout, proc.stderr[-2000:]
    assert "LOADED []" in proc.stdout


def test_help_lists_each_command_with_an_example(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        listed = [line for line in out.splitlines() if line.strip().startswith(command + " ")]
        assert listed, f"{command} is not listed"
        assert f"python -m ewc_helpers {command}" in out, f"no example for {command}"
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert "example:" in text and f"python -m ewc_helpers {command}" in text


def test_help_defaults_match_the_studies():
    from ewc_helpers.studies import common, sequences

    setup = common.Setup()
    assert cli.ARTICLE_EPOCHS == setup.epochs_a == setup.epochs_b == setup.epochs_multi
    assert cli.PERMUTED_EPOCHS == sequences.PERMUTED_SETUP.epochs_per_task
    assert cli.PERMUTED_TASKS == inspect.signature(sequences.run_permuted_suite).parameters["num_tasks"].default


# --------------------------------------------------------------------------- strict options
@pytest.mark.parametrize("argv, word", [
    (["reproduce", "--seed", "3"], "--seed"),  # an abbreviation of --seeds
    (["reproduce", "--sui", "permuted"], "--sui"),
    (["reproduce", "--full", "--suite", "permuted"], "--full"),
    (["standin", "/tmp/x", "--over"], "--over"),
])
def test_abbreviated_options_are_refused(capsys, no_loading, argv, word):
    code, err = exit_code_and_error(capsys, argv)
    assert code == 2
    assert "unrecognized arguments" in err and word in err


# --------------------------------------------------------------------------- --json checked first
def test_json_into_a_missing_folder(capsys, no_loading, tmp_path):
    target = tmp_path / "no" / "such" / "out.json"
    code, err = exit_code_and_error(capsys, ["reproduce", "--data", "embedded", "--json", str(target)])
    assert code == 2
    assert f"--json {target}: folder {target.parent} does not exist" in err
    assert not (tmp_path / "no").exists()


def test_json_that_is_a_folder(capsys, no_loading, tmp_path):
    code, err = exit_code_and_error(capsys, ["reproduce", "--data", "embedded", "--json", str(tmp_path)])
    assert code == 2
    assert f"--json {tmp_path}: is a folder; give a file path" in err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_json_into_a_read_only_folder(capsys, no_loading, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, err = exit_code_and_error(capsys, ["reproduce", "--json", str(folder / "out.json")])
    finally:
        folder.chmod(0o700)
    assert code == 2 and "is not writable" in err


def test_json_into_a_folder_that_is_not_writable(capsys, no_loading, tmp_path, monkeypatch):
    """The same check whoever runs the tests (root may write into a read-only folder)."""
    target = tmp_path / "out.json"
    real_access = os.access
    monkeypatch.setattr(cli.os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    code, err = exit_code_and_error(capsys, ["reproduce", "--data", "embedded", "--json", str(target)])
    assert code == 2
    assert f"--json {target}: folder {tmp_path} is not writable" in err
    assert not target.exists()


def test_json_file_that_is_not_writable(capsys, no_loading, tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")
    monkeypatch.setattr(cli.os, "access", lambda p, mode: False)
    code, err = exit_code_and_error(capsys, ["reproduce", "--json", str(target)])
    assert code == 2 and f"--json {target}: the file is not writable" in err
    assert target.read_text() == "old"


def test_suite_options_are_checked_before_loading(capsys, no_loading):
    code, err = exit_code_and_error(capsys, ["reproduce", "--tasks", "3"])
    assert code == 2 and "--tasks applies only to --suite permuted" in err


# --------------------------------------------------------------------------- --data tfds offline
def test_tfds_offline_and_unprepared_fails_fast_and_writes_nothing(capsys, tmp_path, monkeypatch):
    probes = []
    monkeypatch.setattr(sources, "tfds_is_prepared", lambda data_dir=None: False)
    monkeypatch.setattr(sources, "network_reachable", lambda *a, **k: probes.append(a) or False)
    monkeypatch.setattr(sources, "load_tfds", lambda *a, **k: pytest.fail("tried to download"))
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "results.json"
    code = cli.main(["reproduce", "--data", "tfds", "--json", str(target), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not prepared for TFDS" in err and "cannot be reached" in err
    assert "'embedded'" in err  # what to use instead
    assert len(probes) == 1
    assert os.listdir(tmp_path) == []  # no results file, nothing else


def test_unknown_data_source_exits_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["reproduce", "--data", "mnist-full", "--quiet"]) == 2
    assert "unknown data source 'mnist-full'" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
