"""The front door: ``from ewc_helpers import ...`` gives every public name, loaded on first use."""

from __future__ import annotations

import importlib

import pytest

import ewc_helpers

#: The names the issue asks the front door for.
ESSENTIAL = ("load_mnist", "make_tasks", "make_permuted_tasks", "build_mlp", "set_seed", "fit_task",
             "compute_fisher", "make_anchor", "Anchor", "ewc_penalty", "l2_penalty", "OnlineEWC",
             "accuracy", "AccuracyMatrix")


def test_star_import_gives_every_name_of_all():
    namespace = {}
    exec("from ewc_helpers import *", namespace)
    missing = [name for name in ewc_helpers.__all__ if name not in namespace]
    assert missing == []
    for name in ewc_helpers.__all__:
        assert namespace[name] is getattr(ewc_helpers, name)


def test_the_essential_names_are_exported():
    assert set(ESSENTIAL) <= set(ewc_helpers.__all__)
    assert len(set(ewc_helpers.__all__)) == len(ewc_helpers.__all__)


@pytest.mark.parametrize("name", sorted(ewc_helpers._EXPORTS))
def test_each_name_is_the_defining_modules_object(name):
    module = importlib.import_module(f"ewc_helpers.{ewc_helpers._EXPORTS[name]}")
    assert getattr(ewc_helpers, name) is getattr(module, name)
    assert name in dir(ewc_helpers)


def test_subpackages_and_unknown_names():
    from ewc_helpers.studies import common

    assert ewc_helpers.studies.common is common
    assert ewc_helpers.plots.__name__ == "ewc_helpers.plots"
    with pytest.raises(AttributeError, match="module 'ewc_helpers' has no attribute 'experiments'"):
        ewc_helpers.experiments  # the old module is gone, and says so
    with pytest.raises(ImportError, match="cannot import name .data. from .ewc_helpers."):
        from ewc_helpers import data  # noqa: F401
    with pytest.raises(AttributeError, match="module 'ewc_helpers.studies' has no attribute 'nope'"):
        ewc_helpers.studies.nope


def test_every_study_module_loads():
    from ewc_helpers import studies

    for name in studies._MODULES:
        assert getattr(studies, name).__name__ == f"ewc_helpers.studies.{name}"


#: Names of the newer modules a student or researcher writes: SI and MAS importances, the task
#: heads and seen-classes mask, the statistics' result types, replay buffers and the unit runner.
NEWER = {"PathIntegral": "importance", "si_omega": "importance", "mas_importance": "importance",
         "build_scenario_mlp": "heads", "ScenarioMLP": "heads", "compile_scenario_model": "heads",
         "head_offsets": "heads", "seen_classes": "heads", "MeanStd": "stats", "PairedInterval": "stats",
         "McNemar": "stats", "Verdict": "stats", "compare_seeds": "stats", "ReplayBuffer": "replay",
         "SharedBudgetBuffer": "replay", "merge_tasks": "replay", "Unit": "runner", "run_units": "runner",
         "ResultsFolder": "runner", "ResultsMismatch": "runner"}


@pytest.mark.parametrize("name", sorted(NEWER))
def test_the_newer_modules_names_come_from_the_front_door(name):
    namespace = {}
    exec(f"from ewc_helpers import {name}", namespace)
    assert namespace[name] is getattr(importlib.import_module(f"ewc_helpers.{NEWER[name]}"), name)
    assert name in ewc_helpers.__all__


def test_the_command_lines_import_of_the_package_still_loads_no_tensorflow():
    """`python -m ewc_helpers` imports the package with argv[0] == "-m": no TensorFlow then, with
    the new names listed (they load on first use)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("import sys\nsys.argv[:] = ['-m']\nimport ewc_helpers\n"
            f"assert set({sorted(NEWER)!r}) <= set(ewc_helpers.__all__)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
