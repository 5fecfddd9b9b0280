"""Statistics that fit the claims the course makes: spread over seeds, paired comparisons, verdicts.

Two kinds of comparison appear in the lessons and the suites:

* **Across seeds** (``reproduce --seeds N``, the multi-seed tables). :func:`mean_std` gives the
  mean and the sample standard deviation (``ddof = 1``). :func:`paired_interval` compares two
  methods *paired by seed* (the same seed gives both methods the same initial weights and batch
  order), with a Student-t interval for the mean difference; :func:`compare_seeds` turns that
  interval into a :class:`Verdict`.
* **On one shared test set** (a single-seed lesson run, both models scored on the same test
  digits). :func:`mcnemar` is the exact (binomial) McNemar test on the discordant digits, and
  :func:`paired_bootstrap` a seeded bootstrap over test examples of the accuracy difference;
  :func:`compare_on_test_set` combines them into a :class:`Verdict`. Such a verdict speaks for the
  test split's noise only, not for the spread between training seeds.

A :class:`Verdict` says

* ``"beats"`` only when the interval for ``a - b`` excludes zero (lies above it; ``"beaten"``
  when it lies below, and on a shared test set also only when McNemar's p is below ``1 -
  confidence``);
* ``"equivalent"`` (within ``±delta``) only when the whole interval lies inside ``±delta``, with
  ``delta`` stated in its words;
* otherwise ``"no difference detected"``: "no difference detected at this margin" is all the
  data allow.

Its ``words`` attribute is a sentence a lesson can print as its finding::

    v = compare_seeds(online, l2, delta=0.02, names=("online EWC", "L2"))
    print(v.words)
    # no difference detected between online EWC and L2 at this margin (±0.020): mean difference
    # +0.029, 95% interval [-0.012, +0.070], paired over 3 seeds

NumPy, and SciPy for the t quantile (scipy >= 1.10 is a declared dependency); nothing here loads TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "MeanStd", "mean_std", "PairedInterval", "paired_interval", "McNemar", "mcnemar",
    "paired_bootstrap", "Verdict", "verdict", "compare_seeds", "compare_on_test_set",
]


# --------------------------------------------------------------------------- helpers
def _values(values, what: str) -> np.ndarray:
    """``values`` as a 1-D float array, refusing empty, non-numeric and non-finite input."""
    if isinstance(values, dict):
        values = list(values.values())
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be numbers; got {values!r}") from err
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat list of numbers; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} holds a value that is not finite: {arr.tolist()}")
    return arr


def _paired(a, b, names) -> tuple:
    """Two equally long arrays, paired position by position, or by key when both are dicts."""
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)):
            raise ValueError("pair two dicts keyed by seed, or two lists in the same seed order; "
                             "got one dict and one list")
        if set(a) != set(b):
            raise ValueError(f"{names[0]} and {names[1]} were run on different seeds: "
                             f"{sorted(a)} against {sorted(b)}")
        keys = sorted(a)
        a, b = [a[k] for k in keys], [b[k] for k in keys]
    x, y = _values(a, names[0]), _values(b, names[1])
    if x.shape != y.shape:
        raise ValueError(f"paired values need the same length: {names[0]} has {x.size}, "
                         f"{names[1]} has {y.size}")
    return x, y


def _check_confidence(confidence: float) -> None:
    if not (0 < confidence < 1):
        raise ValueError(f"confidence must lie strictly between 0 and 1; got {confidence!r}")


def _t_quantile(q: float, df: int) -> float:
    from scipy import stats as sps  # imported here: only the across-seed interval needs it

    return float(sps.t.ppf(q, df))


# --------------------------------------------------------------------------- across seeds
class MeanStd(NamedTuple):
    """Mean and sample standard deviation (``ddof = 1``) of ``n`` values; ``str`` gives
    ``0.797 ± 0.018``. Unpacks as ``mean, std``."""

    mean: float
    std: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.std:.3f}"


def mean_std(values) -> MeanStd:
    """Mean and sample standard deviation (``ddof = 1``, the unbiased variance) over seeds.

    ``values`` is a list of numbers (or a dict ``{seed: value}``). A single value has a mean but no
    spread: its std is reported as ``nan`` rather than a misleading 0."""
    arr = _values(values, "the values")
    std = float(np.std(arr, ddof=1)) if arr.size > 1 else float("nan")
    return MeanStd(float(np.mean(arr)), std)


@dataclass(frozen=True)
class PairedInterval:
    """A confidence interval for the mean of ``a - b``; ``low``/``high`` are its ends."""

    diff: float
    low: float
    high: float
    n: int
    confidence: float
    basis: str

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def within(self, delta: float) -> bool:
        """True when the whole interval lies strictly inside ``±delta``."""
        return -delta < self.low and self.high < delta

    def __str__(self) -> str:
        pct = f"{100 * self.confidence:g}%"
        return f"{self.diff:+.3f} ({pct} interval [{self.low:+.3f}, {self.high:+.3f}], {self.basis})"


def paired_interval(a, b, confidence: float = 0.95, names=("a", "b")) -> PairedInterval:
    """Student-t interval for the mean of the per-seed differences ``a[s] - b[s]``.

    ``a`` and ``b`` are the two methods' results on the same seeds: two lists in the same seed
    order, or two dicts keyed by seed (paired by key). The interval is
    ``mean(d) ± t_{n-1, (1+confidence)/2} · std(d, ddof=1) / sqrt(n)``, the paired t-test's."""
    _check_confidence(confidence)
    x, y = _paired(a, b, names)
    n = x.size
    if n < 2:
        raise ValueError(f"a paired interval over seeds needs at least 2 seeds; got {n}")
    d = x - y
    mean = float(np.mean(d))
    half = _t_quantile((1 + confidence) / 2, n - 1) * float(np.std(d, ddof=1)) / math.sqrt(n)
    return PairedInterval(mean, mean - half, mean + half, n, confidence, f"paired over {n} seeds")


# --------------------------------------------------------------------------- one shared test set
def _correct(values, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array of right/wrong per test example; "
                         f"got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.all(np.isin(arr, (0, 1))):
            raise ValueError(f"{what} must hold only True/False (or 1/0), one per test example")
        arr = arr.astype(bool)
    return arr


def _paired_correct(correct_a, correct_b, names) -> tuple:
    a, b = _correct(correct_a, names[0]), _correct(correct_b, names[1])
    if a.shape != b.shape:
        raise ValueError(f"both models must be scored on the same test examples: {names[0]} has "
                         f"{a.size}, {names[1]} has {b.size}")
    return a, b


class McNemar(NamedTuple):
    """Exact McNemar test. ``a_only``: examples only ``a`` gets right; ``b_only``: only ``b``."""

    a_only: int
    b_only: int
    p_value: float


def _binom_two_sided_p(k: int, n: int) -> float:
    """Two-sided exact binomial p for ``k`` of ``n`` at p = 1/2: ``min(1, 2 P[X <= min(k, n-k)])``,
    summed in exact integer arithmetic."""
    if n == 0:
        return 1.0
    m = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(m + 1))
    return min(1.0, 2 * tail / (1 << n))  # exact integers, one correctly rounded division


def mcnemar(correct_a, correct_b, names=("a", "b")) -> McNemar:
    """Exact McNemar test that two models scored on the same test examples are equally accurate.

    ``correct_a`` and ``correct_b`` say, per test example, whether each model got it right. Only
    the discordant examples count: under the null hypothesis each is ``a``'s alone with
    probability 1/2, so the p-value is the two-sided binomial tail ``2 P[X <= min(b, c)]`` for
    ``X ~ Binomial(b + c, 1/2)`` (1 when no example is discordant)."""
    a, b = _paired_correct(correct_a, correct_b, names)
    a_only = int(np.sum(a & ~b))
    b_only = int(np.sum(~a & b))
    return McNemar(a_only, b_only, _binom_two_sided_p(a_only, a_only + b_only))


def paired_bootstrap(correct_a, correct_b, seed: int = 0, n_boot: int = 10_000,
                     confidence: float = 0.95, names=("a", "b")) -> PairedInterval:
    """Seeded paired bootstrap (percentile interval) of ``accuracy(a) - accuracy(b)`` on one
    shared test set.

    Each resample draws the test examples with replacement and scores both models on the same
    draw. Only the discordant examples change the difference, so a resample is drawn as the
    multinomial counts of (only ``a`` right, only ``b`` right, the rest): the same distribution
    as resampling the examples, without an ``n_boot x n`` index array. ``seed`` fixes the draws."""
    _check_confidence(confidence)
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 100:
        raise ValueError(f"n_boot must be a whole number of resamples, at least 100; got {n_boot!r}")
    a, b = _paired_correct(correct_a, correct_b, names)
    n = a.size
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, [a_only / n, b_only / n, (n - a_only - b_only) / n], size=int(n_boot))
    diffs = (counts[:, 0] - counts[:, 1]) / n
    tail = (1 - confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return PairedInterval(float(np.mean(a) - np.mean(b)), float(low), float(high), n, confidence,
                          f"paired bootstrap over {n:,} examples")


# --------------------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class Verdict:
    """What a comparison of ``a`` with ``b`` allows one to say.

    ``outcome`` is ``"beats"`` (the interval for ``a - b`` lies above zero), ``"beaten"`` (below
    zero), ``"equivalent"`` (inside ``±delta``) or ``"no difference detected"``; ``words`` is the
    sentence to print. ``beats``, ``beaten`` and ``equivalent`` are the outcome as booleans."""

    a: str
    b: str
    outcome: str
    interval: PairedInterval
    delta: float
    words: str
    p_value: float | None = None

    @property
    def beats(self) -> bool:
        return self.outcome == "beats"

    @property
    def beaten(self) -> bool:
        return self.outcome == "beaten"

    @property
    def equivalent(self) -> bool:
        return self.outcome == "equivalent"

    @property
    def within_margin(self) -> bool:
        """True when the whole interval lies inside ``±delta``: the two are equivalent at this
        margin, whether or not the interval also excludes zero (a difference can be detectable
        and still smaller than the margin)."""
        return self.interval.within(self.delta)

    @property
    def diff(self) -> float:
        return self.interval.diff

    def __str__(self) -> str:
        return self.words

    def __repr__(self) -> str:
        return f"Verdict({self.words!r})"


def verdict(interval: PairedInterval, delta: float, names=("a", "b"),
            p_value: float | None = None) -> Verdict:
    """The :class:`Verdict` an interval for ``a - b`` supports at the equivalence margin ``delta``.

    ``p_value``, when given (McNemar's on a shared test set), must also be below
    ``1 - confidence`` for "beats"/"beaten"; it is quoted in the words."""
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta, the equivalence margin, must be a positive number; got {delta!r}")
    a, b = (str(n) for n in names)
    alpha = 1 - interval.confidence
    significant = p_value is None or p_value < alpha
    pct = f"{100 * interval.confidence:g}%"
    numbers = (f"difference {interval.diff:+.3f}, {pct} interval "
               f"[{interval.low:+.3f}, {interval.high:+.3f}], {interval.basis}")
    if p_value is not None:
        numbers += f", McNemar p = {p_value:.2g}"
    if interval.low > 0 and significant:
        outcome = "beats"
        words = f"{a} beats {b}: {numbers}"
    elif interval.high < 0 and significant:
        outcome = "beaten"
        words = f"{b} beats {a}: {numbers}"
    elif interval.within(delta):
        outcome = "equivalent"
        words = (f"{a} and {b} are equivalent within ±{delta:.3f} (the whole interval lies inside "
                 f"it): {numbers}")
    else:
        outcome = "no difference detected"
        words = f"no difference detected between {a} and {b} at this margin (±{delta:.3f}): {numbers}"
    if outcome in ("beats", "beaten") and interval.within(delta):
        words += f"; the difference is smaller than ±{delta:.3f}"
    return Verdict(a, b, outcome, interval, float(delta), words, p_value)


def compare_seeds(a, b, delta: float, names=("a", "b"), confidence: float = 0.95) -> Verdict:
    """Verdict on two methods' results paired by seed (lists in seed order, or dicts by seed)."""
    return verdict(paired_interval(a, b, confidence, names), delta, names)


def compare_on_test_set(correct_a, correct_b, delta: float, names=("a", "b"), seed: int = 0,
                        confidence: float = 0.95, n_boot: int = 10_000) -> Verdict:
    """Verdict on two models scored on the same test examples: the paired bootstrap interval of
    the accuracy difference, and the exact McNemar test (both must agree for "beats")."""
    interval = paired_bootstrap(correct_a, correct_b, seed, n_boot, confidence, names)
    return verdict(interval, delta, names, p_value=mcnemar(correct_a, correct_b, names).p_value)
