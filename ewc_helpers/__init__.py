"""ewc_helpers: catastrophic forgetting and Elastic Weight Consolidation (EWC) with Keras 3.

The names a notebook or a script needs come from here::

    from ewc_helpers import load_mnist, make_tasks, build_mlp, fit_task, make_anchor, ewc_penalty

    tasks = make_tasks(load_mnist("embedded"))
    model = build_mlp()
    fit_task(model, tasks["A"], epochs=6)
    anchor = make_anchor(model, tasks["A"], "exact")          # theta_A and its Fisher
    fit_task(model, tasks["B"], epochs=6, penalties=[ewc_penalty(anchor, lam=1000)])

Modules, in the one direction data flows through them::

    sources -> tasks -> models -> fisher -> anchors -> penalties -> training -> evaluation
            -> plots, with the studies (``ewc_helpers.studies``) on top

Each study behind a lesson has its own module in :mod:`ewc_helpers.studies`.

Names load on first use, so ``python -m ewc_helpers --help`` answers without TensorFlow. Importing
this package first keeps TensorFlow's start-up notices out of notebooks (see ``_env``).
"""

from __future__ import annotations

import importlib
import os
import sys

__version__ = "0.2.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    # data
    "load_mnist": "sources", "DataError": "sources", "MNIST": "sources", "write_idx": "sources",
    "Task": "tasks", "make_tasks": "tasks", "make_permuted_tasks": "tasks", "make_pipeline": "tasks",
    "summarize_tasks": "tasks", "make_split_tasks": "split_mnist", "write_standin": "standin",
    # models
    "build_mlp": "models", "PenalizedSequential": "models", "set_seed": "reproducibility",
    # Fisher, anchors and penalties
    "compute_fisher": "fisher", "FisherEstimate": "fisher",
    "Anchor": "anchors", "AnchorError": "anchors",
    "ewc_penalty": "penalties", "l2_penalty": "penalties", "OnlineEWC": "penalties",
    "PenaltyError": "penalties",
    # training and evaluation
    "fit_task": "training", "make_anchor": "training", "fisher_data": "training",
    "TrainingError": "training",
    "accuracy": "evaluation", "accuracies": "evaluation", "AccuracyMatrix": "evaluation",
    "AccuracyHistory": "evaluation", "noise_margin": "evaluation", "correct_answers": "evaluation",
    # statistics that fit the claims: over seeds, and on one shared test set
    "mean_std": "stats", "paired_interval": "stats", "compare_seeds": "stats",
    "compare_on_test_set": "stats", "mcnemar": "stats", "paired_bootstrap": "stats",
    "Verdict": "stats", "verdict": "stats", "MeanStd": "stats", "PairedInterval": "stats",
    "McNemar": "stats",
    # SI and MAS importances (quadratic penalties like EWC's, on the same anchors)
    "PathIntegral": "importance", "si_omega": "importance", "mas_importance": "importance",
    # the scenario map's output layer: task heads and the seen-classes mask
    "build_scenario_mlp": "heads", "ScenarioMLP": "heads", "compile_scenario_model": "heads",
    "head_offsets": "heads", "seen_classes": "heads",
    # replay, and runs of the scenario map (units) on one machine or on Ray
    "ReplayBuffer": "replay", "SharedBudgetBuffer": "replay", "merge_tasks": "replay",
    "Unit": "runner", "run_units": "runner", "ResultsFolder": "runner", "ResultsMismatch": "runner",
}
_SUBPACKAGES = ("plots", "studies")

__all__ = sorted(_EXPORTS) + list(_SUBPACKAGES)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ewc_helpers' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


# Quiet TensorFlow now, unless this import only starts the command line (`python -m ewc_helpers`
# sets argv[0] to "-m" while it imports the package), which loads TensorFlow only when a command
# needs it, so that `--help` stays fast.
if sys.argv[:1] != ["-m"] and os.path.basename(sys.argv[0] if sys.argv else "") != "ewc-helpers":
    from . import _env  # noqa: F401
