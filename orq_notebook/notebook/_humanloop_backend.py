"""`%%orq` against Humanloop's v4 API: the session's backend after `%orq connect --humanloop`.

The magics build orq-shaped request fields; `humanloop_fields` maps those that have a
Humanloop meaning and refuses the others in one line:

* `inputs`, `metadata` pass through; `context: {"environments": NAME}` becomes `environment`;
* `messages` (the cell, a `--thread`, `--messages`) and `prefix_messages` (`--system`) make it
  a `chat-deployed` call; without any message it is `completion-deployed`;
* `invoke_options.include_usage` is dropped (Humanloop always reports usage);
* `--documents`, `--identity`, `--file-ids`, `--extra-params`, `--mock`,
  `--include-retrievals` and other context keys are orq-only: an `OrqError` names the option.

Answers become the same `Result`s as orq answers (`usage.generation_tokens` shown as
`completion_tokens`; `id` is the Humanloop log id), so display and history are unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from ..client._exceptions import OrqError
from ..display._result import Result
from ..humanloop._client import HumanloopClient, humanloop_settings
from ..humanloop._models import HumanloopResponse
from ..humanloop._streaming import HumanloopStream
from ._backends import StreamPieces

__all__ = [
    "HumanloopPieces",
    "HumanloopRunner",
    "humanloop_fields",
    "humanloop_settings",
    "result_from_response",
]

_ORQ_ONLY = {
    "identity": "--identity",
    "extra_params": "--extra-params",
    "documents": "--documents",
    "file_ids": "--file-ids",
    "mock_response": "--mock",
    "include_retrievals": "--include-retrievals",
}


def _refuse(option: str) -> OrqError:
    return OrqError(
        f"{option} is an orq option: Humanloop's v4 API has no such field "
        "(connected with `%orq connect --humanloop`)."
    )


def _environment(context: Mapping[str, Any]) -> str:
    value = context.get("environments")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if set(context) != {"environments"} or not isinstance(value, str):
        raise OrqError(
            "--context with Humanloop selects an environment only: "
            'write --context \'{"environments": "NAME"}\'.'
        )
    return value


def humanloop_fields(
    fields: Mapping[str, Any],
) -> tuple[list[dict[str, Any]] | None, dict[str, Any]]:
    """`(messages or None, the other deployed-call fields)` for orq-shaped `fields`."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None or name in ("prefix_messages", "messages"):
            continue
        if name in ("inputs", "metadata"):
            out[name] = value
        elif name == "context":
            out["environment"] = _environment(value)
        elif name == "invoke_options":
            for option, given in dict(value).items():
                if option in _ORQ_ONLY and given not in (None, False):
                    raise _refuse(_ORQ_ONLY[option])
        else:
            raise _refuse(_ORQ_ONLY.get(name, f"`{name}`"))
    messages = [
        dict(m) for m in [*(fields.get("prefix_messages") or ()), *(fields.get("messages") or ())]
    ]
    return (messages or None), out


def result_from_response(
    response: HumanloopResponse,
    *,
    key: str,
    sent: list[dict[str, Any]],
    latency: float,
    time_to_first_token: float | None = None,
    partial: bool = False,
    error: str | None = None,
) -> Result:
    """A displayable Result for sample 0 of a Humanloop answer."""
    usage = None
    if response.usage is not None:
        counts = {
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.generation_tokens,
            "total_tokens": response.usage.total_tokens,
        }
        usage = {name: count for name, count in counts.items() if count is not None}
    model = (response.provider_request or {}).get("model")
    return Result(
        response.text,
        deployment=key,
        messages=[*sent, {"role": "assistant", "content": response.text}],
        model=model if isinstance(model, str) else None,
        id=response.id,
        usage=usage or None,
        latency=latency,
        time_to_first_token=time_to_first_token,
        finish_reason=response.finish_reason,
        raw=response.model_dump(mode="json"),
        partial=partial,
        error=error,
    )


class HumanloopPieces(StreamPieces[HumanloopStream]):
    """A `HumanloopStream` as `%%orq` reads it (`_backends.PieceStream`): pieces of sample 0."""

    def __iter__(self) -> Iterator[str]:
        for delta in self.stream:
            if delta.index == 0 and delta.output:
                yield delta.output

    def to_result(
        self,
        *,
        key: str,
        sent: list[dict[str, Any]],
        version: str | None = None,
        error: str | None = None,
    ) -> Result:
        return result_from_response(
            self.stream.to_response(),
            key=key,
            sent=sent,
            latency=self.stream.elapsed,
            time_to_first_token=self.stream.time_to_first_chunk,
            partial=not self.stream.completed,
            error=error,
        )


class HumanloopRunner:
    """Invokes a project (the deployment key) for the session, as orq's deployments are."""

    def __init__(self, client: HumanloopClient) -> None:
        self.client = client

    @classmethod
    def connect(
        cls,
        *,
        api_key: str | None,
        base_url: str,
        environment: str | None,
        timeout: float | None,
        max_retries: int | None,
        record: Any = False,
    ) -> HumanloopRunner:
        """A runner over a new client; the key was resolved when the session connected."""
        client = HumanloopClient(
            api_key=api_key,
            base_url=base_url,
            environment=environment,
            timeout=timeout,
            max_retries=max_retries,
            env={},
            record=record,
        )
        return cls(client)

    def invoke(self, key: str, fields: Mapping[str, Any], *, sent: list[dict[str, Any]]) -> Result:
        messages, given = humanloop_fields(fields)
        start = time.perf_counter()
        if messages is None:
            response = self.client.complete_deployed(project=key, **given)
        else:
            response = self.client.chat_deployed(project=key, messages=messages, **given)
        return result_from_response(
            response, key=key, sent=sent, latency=time.perf_counter() - start
        )

    def open_stream(self, key: str, fields: Mapping[str, Any]) -> HumanloopPieces:
        messages, given = humanloop_fields(fields)
        if messages is None:
            stream = self.client.complete_deployed(project=key, stream=True, **given)
        else:
            stream = self.client.chat_deployed(project=key, messages=messages, stream=True, **given)
        return HumanloopPieces(stream)

    def close(self) -> None:
        self.client.close()
