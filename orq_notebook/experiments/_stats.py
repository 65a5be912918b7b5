"""The statistics an experiment reports: intervals for one run, paired tests for two.

Standard library only (scipy would be the obvious library, but it is far too heavy for a
notebook extension's core install); every formula is the textbook one, named below, and
`tests/test_experiment_stats.py` checks each against published values.

* **Pass rates: the Wilson score interval** (Wilson 1927). Unlike the plain `p ± z·√(p(1-p)/n)`
  it stays inside [0, 1] and keeps its coverage for small n and rates near 0 or 1, which is
  where experiments live (8 rows, 7 passing).
* **Mean scores: the Student t interval**, `mean ± t(1-α/2, n-1) · s/√n`. The t quantile
  comes from the exact distribution function for whole degrees of freedom (Abramowitz &
  Stegun 26.7.3/4), inverted by bisection.
* **Pass/fail between two runs: the exact McNemar test.** Only the rows whose outcome changed
  carry information; under "no difference" a change is equally likely in either direction, so
  the two-sided p-value is `min(1, 2·P(X ≤ min(b, c)))` for X ~ Binomial(b + c, 1/2).
* **Scores between two runs: the paired sign-flip permutation test** on the per-row
  differences: under "no difference" each difference is as likely to have the other sign.
  Exact (all 2^n sign patterns) up to 16 non-zero differences; above that 20,000 random
  patterns from a fixed seed, so a result is reproducible, with the usual (k+1)/(N+1) estimate.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Interval",
    "mcnemar_exact",
    "mean_interval",
    "sign_flip_test",
    "t_quantile",
    "wilson_interval",
]

_EXACT_FLIPS = 16
_RANDOM_FLIPS = 20_000


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence interval (`low`, `high` are None when undefined)."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int

    def __str__(self) -> str:
        if self.estimate is None:
            return "—"
        if self.low is None or self.high is None:
            return f"{self.estimate:.3g}"
        return f"{self.estimate:.3g} [{self.low:.3g}, {self.high:.3g}]"


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence!r}")
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(passed: int, n: int, confidence: float = 0.95) -> Interval:
    """The pass rate `passed / n` with its Wilson score interval."""
    if n < 0 or not 0 <= passed <= n:
        raise ValueError(f"need 0 <= passed <= n, got passed={passed}, n={n}")
    if n == 0:
        return Interval(None, None, None, 0)
    z = _z(confidence)
    p = passed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # At 0 or n passes the bound is exactly 0 or 1; computed, it can miss by a rounding error.
    low = 0.0 if passed == 0 else max(0.0, centre - half)
    high = 1.0 if passed == n else min(1.0, centre + half)
    return Interval(p, min(low, p), max(high, p), n)


def _t_central(t: float, df: int) -> float:
    """P(|T| <= t) for t >= 0: the exact finite series of Abramowitz & Stegun 26.7.3/4."""
    theta = math.atan(t / math.sqrt(df))
    c2, term = math.cos(theta) ** 2, 1.0
    if df % 2:  # odd: 2/pi * (theta + sin(theta) cos(theta) * (1 + 2/3 c2 + 2*4/(3*5) c2^2 ...))
        total = 1.0 if df > 1 else 0.0
        for k in range(1, (df - 1) // 2):
            term *= 2 * k / (2 * k + 1) * c2
            total += term
        return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)
    total = 1.0  # even: sin(theta) * (1 + 1/2 c2 + 1*3/(2*4) c2^2 + ...)
    for k in range(1, df // 2):
        term *= (2 * k - 1) / (2 * k) * c2
        total += term
    return math.sin(theta) * total


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t distribution with `df` degrees of freedom.

    Found by bisection on the exact distribution function (to 1e-10); above 1,000 degrees of
    freedom the Cornish-Fisher expansion (A&S 26.7.5), exact to far better than that there.
    """
    if df < 1:
        raise ValueError(f"df must be at least 1, not {df!r}")
    if not 0 < p < 1:
        raise ValueError(f"p must be between 0 and 1, not {p!r}")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    if df > 1000:
        x = statistics.NormalDist().inv_cdf(p)
        g1 = (x**3 + x) / 4
        g2 = (5 * x**5 + 16 * x**3 + 3 * x) / 96
        return x + g1 / df + g2 / df**2
    central = 2 * p - 1  # P(|T| <= t) for the quantile t
    low, high = 0.0, 1.0
    while _t_central(high, df) < central:
        high *= 2
    while high - low > 1e-10 * max(1.0, high):
        mid = (low + high) / 2
        if _t_central(mid, df) < central:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """The mean of `values` with its t interval (no interval for fewer than two values)."""
    n = len(values)
    if n == 0:
        return Interval(None, None, None, 0)
    mean = statistics.fmean(values)
    if n == 1:
        return Interval(mean, None, None, 1)
    _z(confidence)  # the same check of `confidence`
    half = t_quantile(0.5 + confidence / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def mcnemar_exact(worse: int, better: int) -> float:
    """Two-sided exact McNemar p-value from the two counts of changed rows."""
    if worse < 0 or better < 0:
        raise ValueError("counts must not be negative")
    n = worse + better
    if n == 0:
        return 1.0
    k = min(worse, better)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)
    return min(1.0, 2 * tail)


def sign_flip_test(differences: Sequence[float], *, seed: int = 0) -> float:
    """Two-sided p-value that the mean paired difference is zero (see the module docstring)."""
    diffs = [d for d in differences if d != 0]
    n = len(diffs)
    if n == 0:
        return 1.0
    observed = abs(sum(diffs))
    tolerance = 1e-9 * max(1.0, observed)
    if n <= _EXACT_FLIPS:
        hits = sum(
            abs(sum(s * d for s, d in zip(signs, diffs, strict=True))) >= observed - tolerance
            for signs in itertools.product((1, -1), repeat=n)
        )
        return hits / (1 << n)
    rng = random.Random(seed)
    hits = 0
    for _ in range(_RANDOM_FLIPS):
        total = sum(d if rng.random() < 0.5 else -d for d in diffs)
        hits += abs(total) >= observed - tolerance
    return (hits + 1) / (_RANDOM_FLIPS + 1)
