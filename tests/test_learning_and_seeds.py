"""Learning accuracy beside average accuracy and BWT; sample std over seeds; the EWC_SEED shift."""

from __future__ import annotations

import numpy as np
import pytest

import ewc_helpers  # noqa: F401  (quiet TensorFlow)
from ewc_helpers.evaluation import AccuracyMatrix
from ewc_helpers.studies import common, sensitivity

# a method that "keeps" old tasks by never learning the new ones, and naive training
STUCK = [[0.95, 0.10, 0.10], [0.94, 0.30, 0.12], [0.93, 0.31, 0.25]]
NAIVE = [[0.95, 0.10, 0.10], [0.60, 0.96, 0.12], [0.40, 0.55, 0.97]]


def test_learning_accuracy_is_the_mean_of_the_diagonal():
    stuck, naive = AccuracyMatrix("ABC", STUCK), AccuracyMatrix("ABC", NAIVE)
    assert stuck.learning_accuracy == pytest.approx((0.95 + 0.30 + 0.25) / 3)
    assert naive.learning_accuracy == pytest.approx((0.95 + 0.96 + 0.97) / 3)
    # BWT alone calls the stuck method the better one; learning accuracy shows why
    assert stuck.backward_transfer > naive.backward_transfer
    assert stuck.learning_accuracy < naive.learning_accuracy - 0.4
    assert "learning accuracy 0.50" in stuck.to_text()
    assert stuck.to_dict()["learning_accuracy"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="train every task first"):
        AccuracyMatrix("ABC", STUCK[:2]).learning_accuracy


def _result(matrix, seed_shift=0.0):
    m = AccuracyMatrix("ABC", (np.array(matrix) + seed_shift).tolist())
    return common.Result("online_ewc", 10.0, val={}, test=dict(zip("ABC", m.values[-1])), matrix=m)


def test_summary_rows_and_table_carry_learning_accuracy_with_sample_std():
    runs = [[_result(NAIVE, d)] for d in (0.0, 0.01, 0.02)]
    row = common.summarize(runs)[0]
    diag = np.mean(np.diag(NAIVE))
    assert row["learning"] == pytest.approx(diag + 0.01)
    assert row["learning_std"] == pytest.approx(0.01)  # ddof=1 over (0, .01, .02); ddof=0: 0.0082
    assert row["average_std"] == pytest.approx(0.01)
    assert row["per_seed"]["learning"] == pytest.approx([diag, diag + 0.01, diag + 0.02])
    table = common.format_table([row], ("average", "learning", "bwt"))
    assert "learning acc" in table.splitlines()[0]
    assert f"{diag + 0.01:.3f} ± 0.010" in table
    single = common.summarize(runs[:1])[0]
    assert single["learning_std"] == 0.0 and single["average_std"] == 0.0


def test_sweep_summary_uses_sample_std():
    per_seed = [[common.Result("ewc", 1.0, val={"A": a, "B": 0.5}, test={})] for a in (0.8, 0.9, 1.0)]
    row = sensitivity.sweep_summary(per_seed)[0]
    assert row["A_std"] == pytest.approx(0.1)


def test_ewc_seed_shifts_every_lesson_seed(monkeypatch):
    from ewc_helpers.tasks import make_tasks
    from ewc_helpers.sources import load_mnist

    task = make_tasks(load_mnist("embedded"))["A"]
    monkeypatch.delenv("EWC_SEED", raising=False)
    assert common.lesson_seed() == 0 and common.lesson_setup(task).seed == 0
    monkeypatch.setenv("EWC_SEED", "2")
    assert common.lesson_seed(0) == 2 and common.lesson_seeds(3) == [2, 3, 4]
    assert common.lesson_setup(task).seed == 2
    assert common.lesson_setup(task, seed=1).seed == 3
    monkeypatch.setenv("EWC_SEED", "one")
    with pytest.raises(ValueError, match="EWC_SEED must be a whole number"):
        common.lesson_seed()


def test_conftest_passes_ewc_test_seed_to_the_lessons():
    import os

    assert os.environ["EWC_SEED"] == (os.environ.get("EWC_TEST_SEED", "").strip() or "0")


def test_permuted_suite_states_paired_verdicts_in_words():
    from ewc_helpers.studies import sequences

    def row(label, average, learning):
        return {"label": label, "per_seed": {"average": average, "learning": learning}}

    rows = [row("naive", [0.70, 0.72, 0.71], [0.97, 0.97, 0.96]),
            row("L2", [0.77, 0.79, 0.74], [0.95, 0.94, 0.95]),
            row("online EWC", [0.80, 0.81, 0.80], [0.95, 0.95, 0.95])]
    lines = sequences.paired_comparisons(rows)
    assert lines[0].startswith("average accuracy: online EWC beats naive")
    assert lines[1].startswith("learning accuracy: naive beats online EWC")
    assert lines[2].startswith("average accuracy: no difference detected between online EWC and L2 "
                               "at this margin (±0.020)")
    assert len(lines) == 4


def test_accuracy_matrix_figures_outline_the_diagonal():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.patches import Rectangle
    from ewc_helpers import plots

    m = AccuracyMatrix("ABC", NAIVE)
    for fig in (plots.accuracy_heatmap(m), plots.accuracy_heatmaps({"naive": common.Result(
            "naive", None, val={}, test={}, matrix=m), "stuck": common.Result(
            "naive", None, val={}, test={}, matrix=AccuracyMatrix("ABC", STUCK))})):
        panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
        assert panels
        for ax in panels:
            boxes = [p.get_xy() for p in ax.patches if isinstance(p, Rectangle)]
            assert boxes == [(j - 0.5, j - 0.5) for j in range(3)]
            assert "learning" in ax.get_title()
        assert any("learning accuracy" in t.get_text() for t in fig.texts)
        bold = [t.get_text() for t in panels[0].texts if t.get_fontweight() == "bold"]
        assert len(bold) == 3
        matplotlib.pyplot.close(fig)


def test_compare_at_best_pairs_each_variant_at_its_own_lam_by_seed():
    def r(lam, a, b):
        return common.Result("x", lam, val={"A": a, "B": b}, test={"A": a, "B": b})

    sweeps = {"L2": [[r(1.0, 0.80, 0.80), r(10.0, 0.90, 0.60)], [r(1.0, 0.81, 0.79), r(10.0, 0.90, 0.62)],
                     [r(1.0, 0.79, 0.80), r(10.0, 0.91, 0.60)]],
              "EWC": [[r(5.0, 0.85, 0.80)], [r(5.0, 0.86, 0.80)], [r(5.0, 0.85, 0.81)]]}
    table = sensitivity.sensitivity_table(sweeps)
    assert {row["label"]: row["lam"] for row in table} == {"L2": 1.0, "EWC": 5.0}
    assert sensitivity.scores_at(sweeps["L2"], 1.0) == pytest.approx([0.80, 0.80, 0.795])
    v = sensitivity.compare_at_best(sweeps, table, "EWC", "L2", delta=0.05)
    assert v.beats and v.interval.n == 3 and v.words.startswith("EWC beats L2")
