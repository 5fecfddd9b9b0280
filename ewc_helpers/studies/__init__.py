"""The studies behind the lessons, one module each. A lesson imports the study it teaches.

``common``       what every study shares: Setup, Result, choosing lam (search_lam), tables
``toy``          lesson 04: two-parameter logistic regression, where EWC's penalty can be seen
``two_tasks``    lessons 01-05: the A-then-B protocol (multi-task, task A, then task B with a
                 penalty) and a sweeper that trains task B many times from one task-A model
``article``      lesson 05 and ``reproduce``: the article's suite beside its published figures
``sensitivity``  lessons 06-07: which Fisher, and how big lam should be, over several seeds
``movement``     lesson 08: where task B moved the weights, and what the diagonal Fisher misses
``stability``    lesson 09: the SGD stability limit of a quadratic penalty
``sequences``    lesson 10: permuted-MNIST task sequences, per-task and online EWC
``per_task_ewc`` lesson 10: why one anchor per task falls behind one running anchor (issue 13)
``scenarios``    lesson 11: task-, domain- and class-incremental split MNIST; replay and joint
                 training as references

Modules load on first use: ``from ewc_helpers.studies import two_tasks``.
"""

import importlib

_MODULES = ("common", "toy", "two_tasks", "article", "sensitivity", "movement", "stability",
            "sequences", "scenarios", "task_a_cache", "per_task_ewc")


def __getattr__(name):
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ewc_helpers.studies' has no attribute {name!r}")
