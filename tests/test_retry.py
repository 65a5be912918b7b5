"""The retry policy: which waits, how long, and when to give up. No real time passes."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given, strategies as st

from orq_notebook.client._retry import (
    RETRY_STATUSES,
    UNSAFE_STATUSES,
    RetryPolicy,
    parse_retry_after,
)


def fixed(value: float) -> RetryPolicy:
    """A policy whose jitter draws `value` every time."""
    return RetryPolicy(max_retries=10, max_elapsed=1000.0, random=lambda: value)


def test_retried_statuses_are_the_ones_that_say_nothing_was_processed() -> None:
    assert {408, 429, 503} == RETRY_STATUSES
    assert {502, 504} == UNSAFE_STATUSES


def test_backoff_doubles_from_the_initial_wait_up_to_the_cap() -> None:
    policy = fixed(0.0)
    delays = [policy.delay(n, elapsed=0.0) for n in range(7)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_jitter_removes_up_to_a_quarter_of_the_wait() -> None:
    assert fixed(0.5).delay(0, elapsed=0.0) == pytest.approx(0.5 * (1 - 0.125))
    assert fixed(0.999999).delay(3, elapsed=0.0) == pytest.approx(4.0 * 0.75, rel=1e-5)


def test_zero_max_retries_disables_retrying() -> None:
    assert RetryPolicy(max_retries=0).delay(0, elapsed=0.0) is None
    assert RetryPolicy(max_retries=0).delay(0, elapsed=0.0, retry_after=1.0) is None


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_retries=2, random=lambda: 0.0)
    assert policy.delay(0, elapsed=0.0) == 0.5
    assert policy.delay(1, elapsed=0.5) == 1.0
    assert policy.delay(2, elapsed=1.5) is None


def test_total_time_is_bounded() -> None:
    policy = RetryPolicy(max_retries=5, max_elapsed=10.0, random=lambda: 0.0)
    assert policy.delay(0, elapsed=9.5) == 0.5  # ends exactly at the bound
    assert policy.delay(0, elapsed=9.6) is None


def test_the_servers_retry_after_wins_and_is_not_capped_by_max_backoff() -> None:
    policy = RetryPolicy(max_retries=3, max_backoff=1.0, random=lambda: 0.0)
    assert policy.delay(0, elapsed=0.0, retry_after=7.0) == 7.0
    assert policy.delay(0, elapsed=0.0, retry_after=0.0) == 0.0


def test_a_retry_after_beyond_the_time_budget_means_giving_up() -> None:
    policy = RetryPolicy(max_retries=3, max_elapsed=60.0)
    assert policy.delay(0, elapsed=0.0, retry_after=3600.0) is None


@pytest.mark.parametrize(
    "kwargs", [{"max_retries": -1}, {"jitter": 1.5}, {"jitter": -0.1}], ids=str
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@given(
    retries=st.integers(0, 19),
    elapsed=st.floats(0, 100),
    draw=st.floats(0, 1, exclude_max=True),
)
def test_every_delay_is_within_the_jittered_backoff_and_the_budget(
    retries: int, elapsed: float, draw: float
) -> None:
    policy = RetryPolicy(max_retries=20, random=lambda: draw)
    delay = policy.delay(retries, elapsed=elapsed)
    base = min(0.5 * 2**retries, 8.0)
    if delay is not None:
        assert 0.75 * base * (1 - 1e-12) <= delay <= base
        assert elapsed + delay <= 60.0
    else:
        assert elapsed + base > 60.0  # retries < max_retries: only the budget can stop


# -- Retry-After --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),  # the precise one wins
        ({"retry-after-ms": "soon", "Retry-After": "9"}, 9.0),
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "whenever"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers)) == expected


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2025, 6, 18, 16, 41, 0, tzinfo=timezone.utc)
    later = format_datetime(datetime(2025, 6, 18, 16, 41, 30, tzinfo=timezone.utc), usegmt=True)
    assert later == "Wed, 18 Jun 2025 16:41:30 GMT"
    assert parse_retry_after(httpx.Headers({"Retry-After": later}), now=now.timestamp()) == 30.0


def test_retry_after_as_a_past_date_means_now() -> None:
    now = datetime(2025, 6, 18, 16, 41, 0, tzinfo=timezone.utc).timestamp()
    headers = httpx.Headers({"Retry-After": "Wed, 18 Jun 2025 16:40:00 -0000"})
    assert parse_retry_after(headers, now=now) == 0.0
