"""The two-weight toy of lesson 04 (ewc_helpers.studies.toy), its figure, and the lesson's
from-scratch GradientTape Fisher checked against compute_fisher."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ewc_helpers.studies import toy

SEEDS = range(8)
TOY_FILE = Path(toy.__file__)


@pytest.fixture(scope="module")
def runs():
    return {seed: toy.run(seed) for seed in SEEDS}


def _central_difference(f, w, eps=1e-6):
    return np.array([(f(w + eps * e) - f(w - eps * e)) / (2 * eps) for e in np.eye(2)])


# --------------------------------------------------------------------------- the model
@pytest.mark.parametrize("seed", [0, 5])
def test_gradient_matches_finite_differences(seed):
    tasks = toy.make_tasks(seed)
    rng = np.random.default_rng(seed)
    for task in tasks.values():
        for w in rng.normal(scale=2.0, size=(4, 2)):
            numeric = _central_difference(lambda v: toy.loss(v, task), w)
            assert np.allclose(toy.grad(w, task), numeric, atol=1e-7)


def test_loss_evaluates_a_grid_of_weights_at_once():
    task = toy.make_tasks(0)["A"]
    grid = np.random.default_rng(1).normal(size=(3, 5, 2))
    expected = np.array([[toy.loss(w, task) for w in row] for row in grid])
    assert np.allclose(toy.loss(grid, task), expected)


@pytest.mark.parametrize("kind", ["exact", "empirical"])
def test_fisher_matches_a_brute_force_loop(kind):
    task = toy.make_tasks(3)["A"]
    w = np.array([0.4, -1.2])
    total = np.zeros((2, 2))
    for x, y in zip(task.x, task.y):
        p1 = 1.0 / (1.0 + np.exp(-(w @ x)))
        # gradient of log p(label | x) is (label - p1) x; exact: expectation over label ~ model
        labels = [(1.0, p1), (0.0, 1.0 - p1)] if kind == "exact" else [(y, 1.0)]
        for label, weight in labels:
            g = (label - p1) * x
            total += weight * np.outer(g, g)
    brute = total / len(task.y)
    assert np.allclose(toy.fisher(w, task, kind), brute, rtol=1e-10, atol=1e-12)
    assert np.allclose(toy.fisher(w, task, kind, diagonal=True), np.diag(np.diag(brute)), rtol=1e-10)


def test_exact_fisher_is_the_hessian_of_the_loss():
    task = toy.make_tasks(2)["B"]
    w = np.array([-0.3, 1.1])
    hessian = _central_difference(lambda v: toy.grad(v, task), w)
    assert np.allclose(toy.fisher(w, task), hessian, rtol=1e-6, atol=1e-9)


def test_unknown_fisher_kind_is_refused():
    with pytest.raises(ValueError, match="exact"):
        toy.fisher(np.zeros(2), toy.make_tasks(0)["A"], "batched")


def test_data_is_seeded_and_task_a_is_anisotropic():
    a, b = toy.make_tasks(4), toy.make_tasks(4)
    assert np.array_equal(a["A"].x, b["A"].x) and np.array_equal(a["B"].y, b["B"].y)
    assert not np.array_equal(a["A"].x, toy.make_tasks(5)["A"].x)
    sd = a["A"].x.std(axis=0)
    assert sd[0] > 5 * sd[1]
    turned = toy.make_tasks(4, angle=90)["A"].x.std(axis=0)
    assert turned[1] > 5 * turned[0]


# --------------------------------------------------------------------------- optimisation
def test_minimize_finds_a_stationary_point_of_the_penalised_loss():
    task = toy.make_tasks(1)["B"]
    anchor, penalty, lam = np.array([0.5, -0.5]), np.diag([2.0, 0.1]), 0.7
    w = toy.minimize(task, anchor, penalty, lam, w0=anchor)
    assert np.allclose(toy.grad(w, task) + lam * penalty @ (w - anchor), 0.0, atol=1e-10)


def test_descent_converges_to_newtons_end_point(runs):
    r = runs[0]
    matrices = {"naive": (np.zeros((2, 2)), 0.0), "L2": (np.eye(2), r.lams["L2"]),
                "EWC": (r.fisher_diag, r.lams["EWC"])}
    for name, (m, lam) in matrices.items():
        end = toy.minimize(r.tasks["B"], r.theta_a, m, lam, w0=r.theta_a)
        assert np.allclose(r.paths[name][-1], end, atol=1e-3), name
        assert np.allclose(r.paths[name][0], r.theta_a)


def test_matched_l2_lam_gives_ewcs_task_b_loss(runs):
    for r in runs.values():
        assert abs(r.summary["L2"]["loss_B"] - r.summary["EWC"]["loss_B"]) < 1e-6


def test_move_angle():
    assert toy.move_angle([0, 0], [0, 3], [1, 0]) == pytest.approx(90.0)
    assert toy.move_angle([1, 1], [-1, 1], [1, 0]) == pytest.approx(0.0)
    assert toy.move_angle([0, 0], [1, 1], [1, 0]) == pytest.approx(45.0)


# --------------------------------------------------------------------------- the lesson's findings
@pytest.mark.parametrize("seed", SEEDS)
def test_paths_behave_as_the_lesson_says(runs, seed):
    r = runs[seed]
    s = r.summary
    assert np.allclose(s["naive"]["end"], r.theta_b, atol=1e-3)
    assert s["naive"]["loss_A"] > max(s["L2"]["loss_A"], s["EWC"]["loss_A"])
    assert s["EWC"]["loss_A"] < s["L2"]["loss_A"]  # at the same task-B loss
    assert s["EWC"]["loss_B"] < toy.loss(r.theta_a, r.tasks["B"])  # EWC still learns B
    assert s["EWC"]["angle_to_stiff_axis"] > 45
    assert s["L2"]["angle_to_stiff_axis"] < s["EWC"]["angle_to_stiff_axis"]
    near = {m: np.linalg.norm(s[m]["end"] - r.joint) for m in s}
    assert near["EWC"] < min(near["L2"], near["naive"])


def test_large_lam_freezes_and_small_lam_forgets():
    frozen, loose = toy.run(0, lam=1e3).summary["EWC"], toy.run(0, lam=1e-3).summary["EWC"]
    r = toy.run(0)
    assert np.linalg.norm(frozen["end"] - r.theta_a) < 0.05
    assert np.linalg.norm(loose["end"] - r.theta_b) < 0.05


def test_a_tilted_task_a_makes_diagonal_ewc_no_better_than_l2():
    diagonal, full = toy.run(0, angle=45), toy.run(0, angle=45, use_diagonal=False)
    assert abs(diagonal.summary["EWC"]["loss_A"] - diagonal.summary["L2"]["loss_A"]) < 0.01
    assert full.summary["EWC"]["loss_A"] < full.summary["L2"]["loss_A"]


def test_the_toy_does_not_import_tensorflow():
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('toy', {str(TOY_FILE)!r})\n"
            "module = sys.modules['toy'] = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(module)\n"
            "module.run(0)\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------- the figure
def test_figure_draws_every_path_with_named_axes(runs):
    import matplotlib.pyplot as plt

    from ewc_helpers import plots

    fig = plots.toy_paths(runs[0])
    ax = fig.axes[0]
    assert ax.get_xlabel().endswith("w1") and ax.get_ylabel().endswith("w2")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for name in ("naive", "L2", "EWC"):
        assert any(label.startswith(name) for label in labels)
    fig.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    assert legend_box.x0 >= ax.get_window_extent().x1  # outside the data
    assert legend_box.x1 <= fig.bbox.x1 + 1  # and not cut off
    plt.close(fig)


# --------------------------------------------------------------------------- GradientTape Fisher
def _tape_fisher(model, x, y, exact=False):
    import tensorflow as tf

    variables = model.trainable_variables
    sums = [np.zeros(v.shape, np.float64) for v in variables]
    for x_n, y_n in zip(x, y):
        with tf.GradientTape(persistent=True) as tape:
            log_probs = tf.nn.log_softmax(model(x_n[None], training=False))[0]
            terms = [log_probs[c] for c in range(log_probs.shape[0])]
        weights = np.exp(log_probs.numpy()) if exact else np.eye(len(terms))[int(y_n)]
        for c, term in enumerate(terms):
            if weights[c]:
                grads = tape.gradient(term, variables)
                sums = [s + weights[c] * np.square(g.numpy()) for s, g in zip(sums, grads)]
        del tape
    return [s / len(y) for s in sums]


@pytest.mark.parametrize("method", ["empirical", "exact"])
def test_gradienttape_fisher_of_a_tiny_model_equals_compute_fisher(tasks, method):
    from ewc_helpers import build_mlp, compute_fisher, fisher_data, set_seed

    set_seed(0)
    model = build_mlp(hidden_units=8)
    x, y = fisher_data(tasks["A"], method, max_examples=40)
    by_hand = _tape_fisher(model, x, y, exact=method == "exact")
    library = compute_fisher(model, (x, y), method)
    scale = max(float(np.max(f)) for f in library)
    assert scale > 0
    for h, f in zip(by_hand, library):
        assert h.shape == f.shape
        assert np.allclose(h, f, rtol=0, atol=1e-5 * scale)


def test_path_ends_are_named_results():
    end = toy.run(0).summary["EWC"]
    assert isinstance(end, toy.PathEnd)
    assert end.loss_A == end["loss_A"] and "loss_A=" in repr(end)
    with pytest.raises(KeyError):
        end["no_such_measure"]
