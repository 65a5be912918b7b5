"""A batch's feedback column, sent in bulk to the live local server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orq_notebook import Client, run_batch
from orq_notebook.local import LocalServer

pytestmark = pytest.mark.timeout(60)


def stored(server: LocalServer) -> dict[str, list[tuple[str, Any]]]:
    data = httpx.get(f"{server.base_url}/v2/feedback", timeout=10).json()["data"]
    by_trace: dict[str, list[tuple[str, Any]]] = {}
    for item in data:
        by_trace.setdefault(item["trace_id"], []).append((item["property"], item["value"]))
    return by_trace


def test_a_rating_column_goes_on_each_rows_trace(serve_deployments: Any) -> None:
    server = serve_deployments(
        """
        deployments:
          - {key: a, prompt_config: {model: m}, responder: {mock: Fine.}}
        """
    )
    rows = [{"n": i} for i in range(5)]
    with Client(base_url=server.base_url) as client:
        result = run_batch("a", rows, client=client, progress=False)
    traces = [r.invocation.trace_id for r in result]  # type: ignore[union-attr]
    df = result.to_pandas()
    df["rating"] = ["good", "bad", None, float("nan"), "good"]

    report = result.send_feedback(df["rating"])  # through the run's own client
    assert (report.sent, report.no_value, report.failed) == ([0, 1, 4], [2, 3], {})
    assert repr(report) == "<FeedbackReport 'rating': 3 sent, 2 without a value>"
    got = stored(server)
    assert [got.get(t) for t in traces] == [
        [("rating", ["good"])],
        [("rating", ["bad"])],
        None,
        None,
        [("rating", ["good"])],
    ]

    # A dict by row index, another property; a value the API refuses fails alone.
    report = result.send_feedback({0: "Say it warmly.", 1: 3.5, 2: ["x"]}, property="correction")
    assert report.sent == [0] and set(report.failed) == {1, 2}
    assert "correction takes a string" in report.failed[1]
    assert stored(server)[traces[0]][-1] == ("correction", "Say it warmly.")

    with pytest.raises(ValueError, match="3 values for 5 rows"):
        result.send_feedback(["good"] * 3)
    with pytest.raises(ValueError, match="No row with index 9"):
        result.send_feedback({9: "good"})


def test_rows_without_an_answer_are_left_out(serve_deployments: Any) -> None:
    server = serve_deployments(
        """
        deployments:
          - {key: a, prompt_config: {model: m}, responder: {mock: Fine.}}
          - {key: broken, prompt_config: {model: m}, responder: echo, faults: {status: 500}}
        """
    )
    with Client(base_url=server.base_url, max_retries=0) as client:
        result = run_batch("a", [{"n": 1}], client=client, progress=False)
        # A row that fails on its own (a batch for an unknown key now fails up front, whole).
        failed = run_batch("broken", [{"n": 1}], client=client, progress=False)
    assert failed.rows[0].status == "failed"
    report = failed.send_feedback(lambda row: "good")
    assert (report.sent, report.no_answer) == ([], [0])
    assert result.send_feedback(lambda row: "bad").sent == [0]
