"""Lesson 08's loss-rise forms: the diagonal and the full Fisher on the same inputs."""

from __future__ import annotations

import numpy as np

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
from ewc_helpers import build_mlp, compute_fisher, fisher_data, fit_task, load_mnist, make_tasks
from ewc_helpers.studies import movement


def test_closed_form_diagonal_is_compute_fishers_exact_fisher_on_the_same_inputs():
    tasks = make_tasks(load_mnist("embedded"))
    model = build_mlp()
    fit_task(model, tasks["A"], epochs=1)
    x, _ = tasks["A"].arrays("val")
    ours = movement.exact_diagonal_fisher(model, x)
    ref = compute_fisher(model, fisher_data(tasks["A"], "exact", split="val"), "exact")
    for a, b in zip(ours, ref):
        assert np.abs(a - np.asarray(b)).max() < 1e-5 * np.abs(a).max()
    # loss_rise with no Fisher given uses that diagonal, on the split it measures
    theta_a = [v.numpy() for v in model.trainable_variables]
    theta_b = [t + 0.01 for t in theta_a]
    rise = movement.loss_rise(theta_a, theta_b, tasks["A"], split="val")
    want = 0.5 * sum(float(np.sum(f * 0.01 ** 2)) for f in ours)
    assert abs(rise["diagonal"] - want) < 1e-6 * want
