"""ewc_helpers.stats against SciPy and against cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from ewc_helpers import stats


# --------------------------------------------------------------------------- mean and std
def test_mean_std_uses_ddof_1():
    m = stats.mean_std([0.1, 0.2, 0.3])
    assert m.mean == pytest.approx(0.2)
    assert m.std == pytest.approx(0.1)  # sqrt(((-.1)^2 + 0 + .1^2) / 2); ddof=0 would give 0.0816
    mean, std = m
    assert std == pytest.approx(np.std([0.1, 0.2, 0.3], ddof=1))
    assert str(m) == "0.200 ± 0.100"


def test_mean_std_of_one_value_has_no_spread_and_bad_input_is_named():
    assert math.isnan(stats.mean_std([0.5]).std)
    with pytest.raises(ValueError, match="empty"):
        stats.mean_std([])
    with pytest.raises(ValueError, match="not finite"):
        stats.mean_std([0.5, float("nan")])


# --------------------------------------------------------------------------- paired over seeds
def test_paired_interval_matches_scipy_paired_t():
    rng = np.random.default_rng(3)
    a = rng.normal(0.80, 0.02, 7)
    b = a - rng.normal(0.01, 0.01, 7)
    got = stats.paired_interval(a, b)
    ci = sps.ttest_rel(a, b).confidence_interval(0.95)
    assert got.diff == pytest.approx(np.mean(a - b))
    assert got.low == pytest.approx(ci.low)
    assert got.high == pytest.approx(ci.high)
    assert got.n == 7


def test_paired_interval_by_hand():
    # d = (0.02, 0.04, 0.06): mean 0.04, sd 0.02, se 0.02/sqrt(3); t_{2, 0.975} = 4.302653
    got = stats.paired_interval([0.82, 0.84, 0.86], [0.80, 0.80, 0.80])
    half = 4.302652729911275 * 0.02 / math.sqrt(3)
    assert (got.low, got.high) == pytest.approx((0.04 - half, 0.04 + half))


def test_pairing_is_by_seed_not_by_position_for_dicts():
    a = {0: 0.9, 1: 0.8, 2: 0.7}
    b = {2: 0.69, 0: 0.89, 1: 0.79}  # another order: a - b = 0.01 on every seed
    got = stats.paired_interval(a, b)
    assert got.diff == pytest.approx(0.01)
    assert got.high - got.low == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="different seeds"):
        stats.paired_interval({0: 0.9, 1: 0.8}, {0: 0.9, 2: 0.8})
    with pytest.raises(ValueError, match="at least 2 seeds"):
        stats.paired_interval([0.9], [0.8])
    with pytest.raises(ValueError, match="same length"):
        stats.paired_interval([0.9, 0.8], [0.8, 0.7, 0.6])


def test_verdict_beats_only_when_the_interval_excludes_zero():
    # d = (0.02, 0.04, 0.06) on 3 seeds: half-width 0.0497 > 0.04, so the interval holds zero
    assert stats.compare_seeds([0.82, 0.84, 0.86], [0.80] * 3, delta=0.01).outcome != "beats"
    v = stats.compare_seeds([0.83, 0.84, 0.85], [0.80, 0.80, 0.80], delta=0.01, names=("EWC", "L2"))
    assert v.outcome == "beats" and v.beats and not v.equivalent
    assert v.words.startswith("EWC beats L2: difference +0.040")
    assert "paired over 3 seeds" in v.words
    assert repr(v) == f"Verdict({v.words!r})"
    w = stats.compare_seeds([0.80, 0.80, 0.80], [0.83, 0.84, 0.85], delta=0.01, names=("EWC", "L2"))
    assert w.outcome == "beaten" and w.words.startswith("L2 beats EWC")


def test_the_readme_case_is_no_difference_detected():
    # a mean difference of +0.029 whose interval crosses zero is not a win
    v = stats.compare_seeds([0.80, 0.83, 0.76], [0.77, 0.76, 0.77], delta=0.02, names=("online", "L2"))
    assert v.interval.low < 0 < v.interval.high
    assert v.outcome == "no difference detected"
    assert v.words.startswith("no difference detected between online and L2 at this margin (±0.020)")


def test_equivalent_only_when_the_interval_lies_inside_delta():
    a = [0.801, 0.799, 0.802, 0.798]
    b = [0.800, 0.800, 0.801, 0.799]
    v = stats.compare_seeds(a, b, delta=0.01)
    assert v.equivalent and "equivalent within ±0.010" in v.words
    narrow = stats.compare_seeds(a, b, delta=0.0005)  # the same interval, a tighter margin
    assert narrow.outcome == "no difference detected"
    with pytest.raises(ValueError, match="delta"):
        stats.compare_seeds(a, b, delta=0)


# --------------------------------------------------------------------------- one shared test set
def _pair(a_only, b_only, both, neither):
    a = [True] * a_only + [False] * b_only + [True] * both + [False] * neither
    b = [False] * a_only + [True] * b_only + [True] * both + [False] * neither
    return np.array(a), np.array(b)


def test_mcnemar_by_hand_and_against_scipy_binomtest():
    a, b = _pair(1, 5, 40, 4)
    got = stats.mcnemar(a, b)
    assert (got.a_only, got.b_only) == (1, 5)
    assert got.p_value == pytest.approx(2 * (1 + 6) / 2**6)  # 2 P[X <= 1] = 2 (C(6,0) + C(6,1)) / 2^6
    for a_only, b_only in [(0, 0), (3, 3), (7, 20), (120, 80), (900, 1010)]:
        a, b = _pair(a_only, b_only, 10, 10)
        want = 1.0 if a_only + b_only == 0 else sps.binomtest(a_only, a_only + b_only, 0.5).pvalue
        assert stats.mcnemar(a, b).p_value == pytest.approx(want, rel=1e-9)


def test_paired_bootstrap_is_seeded_and_agrees_with_scipy():
    a, b = _pair(60, 25, 800, 115)  # 1,000 test examples, a ahead by 0.035
    one = stats.paired_bootstrap(a, b, seed=1)
    assert one == stats.paired_bootstrap(a, b, seed=1)
    assert one.diff == pytest.approx(0.035)
    ref = sps.bootstrap((a.astype(float), b.astype(float)), lambda x, y: np.mean(x) - np.mean(y),
                        paired=True, vectorized=False, n_resamples=4000, method="percentile",
                        random_state=np.random.default_rng(0)).confidence_interval
    assert one.low == pytest.approx(ref.low, abs=0.004)
    assert one.high == pytest.approx(ref.high, abs=0.004)
    # the normal approximation of the same interval: diff ± 1.96 sqrt((b + c - n d^2) / n^2)
    n, d = 1000, 0.035
    se = math.sqrt((60 + 25) / n - d**2) / math.sqrt(n)
    assert one.low == pytest.approx(d - 1.96 * se, abs=0.004)


def test_compare_on_test_set_words_and_the_mcnemar_requirement():
    a, b = _pair(60, 25, 800, 115)
    v = stats.compare_on_test_set(a, b, delta=0.01, names=("EWC", "naive"))
    assert v.beats and "McNemar p = " in v.words and "paired bootstrap over 1,000 examples" in v.words
    same = stats.compare_on_test_set(*_pair(4, 4, 900, 92), delta=0.03, names=("x", "y"))
    assert same.equivalent
    with pytest.raises(ValueError, match="same test examples"):
        stats.compare_on_test_set(a, b[:-1], delta=0.01)
    with pytest.raises(ValueError, match="True/False"):
        stats.mcnemar(np.array([0, 2, 1]), np.array([1, 1, 1]))


def test_names_are_at_the_front_door():
    import ewc_helpers

    for name in ("mean_std", "paired_interval", "compare_seeds", "compare_on_test_set", "mcnemar",
                 "paired_bootstrap", "Verdict", "verdict"):
        assert getattr(ewc_helpers, name) is getattr(stats, name)
