"""The statistics of experiments (`experiments/_stats.py`) on data with a known answer.

Reference values: Wilson intervals from Newcombe (1998), "Two-sided confidence intervals for
the single proportion", Statistics in Medicine 17, table I, method 3; Student t quantiles
from the standard tables; the exact tests worked out by hand in the comments.
"""

from __future__ import annotations

import math

import pytest

from orq_notebook.experiments._stats import (
    mcnemar_exact,
    mean_interval,
    sign_flip_test,
    t_quantile,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("passed", "n", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
     (1, 29, 0.0061, 0.1718)],
)  # fmt: skip
def test_wilson_matches_newcombe(passed: int, n: int, low: float, high: float) -> None:
    i = wilson_interval(passed, n)
    assert i.estimate == pytest.approx(passed / n)
    assert i.low == pytest.approx(low, abs=5e-5)
    assert i.high == pytest.approx(high, abs=5e-5)
    assert i.n == n


def test_wilson_stays_inside_0_and_1_and_handles_no_rows() -> None:
    assert wilson_interval(8, 8).high == 1.0 and wilson_interval(8, 8).low > 0.6
    assert wilson_interval(0, 0).estimate is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


@pytest.mark.parametrize(
    ("p", "df", "value"),
    [(0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.975, 3, 3.1824), (0.975, 4, 2.7764),
     (0.975, 10, 2.2281), (0.975, 30, 2.0423), (0.995, 7, 3.4995), (0.95, 12, 1.7823),
     (0.975, 120, 1.9799), (0.025, 5, -2.5706)],
)  # fmt: skip
def test_t_quantiles_match_the_tables(p: float, df: int, value: float) -> None:
    assert t_quantile(p, df) == pytest.approx(value, abs=1e-4)


def test_t_quantile_for_many_degrees_of_freedom_tends_to_the_normal() -> None:
    assert t_quantile(0.975, 5000) == pytest.approx(1.96044, abs=1e-4)
    assert t_quantile(0.975, 1000) == pytest.approx(1.96234, abs=1e-4)


def test_mean_interval_is_the_t_interval() -> None:
    # 1..5: mean 3, s = sqrt(2.5), t(0.975, 4) = 2.776445; half width 2.776445 * s / sqrt(5)
    i = mean_interval([1, 2, 3, 4, 5])
    half = 2.776445 * math.sqrt(2.5) / math.sqrt(5)
    assert i.estimate == 3
    assert i.low == pytest.approx(3 - half, abs=1e-5)
    assert i.high == pytest.approx(3 + half, abs=1e-5)
    assert mean_interval([4.0]).low is None and mean_interval([]).estimate is None


def test_mcnemar_exact() -> None:
    # 1 row worse, 9 better: P(X <= 1) for Binomial(10, 1/2) is 11/1024; two-sided doubles it.
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)  # 0.0625: five rows cannot show it
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # 0.03125: six can
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0


def test_sign_flip_exact_and_sampled() -> None:
    # All five differences positive: only the all-plus and all-minus patterns reach |15|.
    assert sign_flip_test([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)
    assert sign_flip_test([1, -1]) == 1.0
    assert sign_flip_test([0, 0, 0]) == 1.0
    # 1, 1, -1 (plus zeros, which carry nothing): patterns with |sum| >= 1 are all 8.
    assert sign_flip_test([1, 1, -1, 0]) == 1.0
    # Above 16 differences the patterns are sampled (seeded): the exact answer here is
    # 2 / 2**20, which sampling can only bound by 1 / 20,001.
    many = sign_flip_test([1.0] * 20)
    assert many == pytest.approx(1 / 20_001)
    assert sign_flip_test([1.0] * 20) == many  # reproducible
    assert sign_flip_test([1.0, -1.0] * 10) == 1.0


def test_wilson_bounds_are_exact_at_all_and_none_and_hold_the_estimate() -> None:
    # Computed naively, 40 of 40 gave an upper bound a rounding error below 1, which made
    # the picture's error bar negative (found by the real-kernel interrupt test).
    for n in range(1, 301):
        assert wilson_interval(n, n).high == 1.0
        assert wilson_interval(0, n).low == 0.0
        for k in (1, n // 2, n - 1):
            i = wilson_interval(k, n)
            assert i.low is not None and i.high is not None and i.estimate is not None
            assert i.low <= i.estimate <= i.high
