"""Humanloop's v4 `completion-deployed` / `chat-deployed` on the wire (the secondary backend).

Written field by field from `shared/reference/humanloop-v4-api.md` (§2, §3, §6). Requests are
strict: an unknown field or a value of the wrong type is refused before anything is sent, and
only the fields a caller set are sent. Responses are tolerant: every field may be missing,
unknown ones are kept (`model_extra`), because the 0.4-era and 2024-era servers differed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
)

__all__ = [
    "CHAT_FIELDS",
    "COMPLETION_FIELDS",
    "ChatDeployedRequest",
    "ChatMessage",
    "CompletionDeployedRequest",
    "HumanloopResponse",
    "HumanloopUsage",
    "Sample",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: only the fields that were set (`None` counts as not set)."""
        body: dict[str, Any] = self.model_dump(mode="json", exclude_unset=True)
        return {name: value for name, value in body.items() if value is not None}


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _DeployedRequest(_Request):
    """The fields `completion-deployed` and `chat-deployed` share (reference §2, §6)."""

    project: StrictStr | None = None
    project_id: StrictStr | None = None
    session_id: StrictStr | None = None
    session_reference_id: StrictStr | None = None
    parent_id: StrictStr | None = None
    parent_reference_id: StrictStr | None = None
    inputs: dict[str, Any] | None = None
    source: StrictStr | None = None
    metadata: dict[str, Any] | None = None
    save: StrictBool | None = None
    source_datapoint_id: StrictStr | None = None
    provider_api_keys: dict[str, StrictStr] | None = None
    num_samples: StrictInt | None = Field(default=None, ge=1)
    stream: StrictBool | None = None
    user: StrictStr | None = None
    seed: StrictInt | None = None  # deprecated by Humanloop: the seed belongs in the config
    return_inputs: StrictBool | None = None
    environment: StrictStr | None = None


class CompletionDeployedRequest(_DeployedRequest):
    """The body of `POST /completion-deployed`."""

    logprobs: StrictInt | None = None
    suffix: StrictStr | None = None


class ChatMessage(_Request):
    """One message of `chat-deployed`'s `messages` (OpenAI-shaped; reference §6)."""

    role: Literal["user", "assistant", "system", "tool"]
    content: StrictStr | list[dict[str, Any]] | None = None
    name: StrictStr | None = None
    tool_call_id: StrictStr | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatDeployedRequest(_DeployedRequest):
    """The body of `POST /chat-deployed`: no `logprobs`/`suffix`; `messages` is required."""

    messages: list[ChatMessage]
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        body = super().to_wire()
        # A message's explicit `content: null` (an assistant turn of tool calls) is kept.
        body["messages"] = [m.model_dump(mode="json", exclude_unset=True) for m in self.messages]
        return body


#: Request fields a caller may pass (`stream` is the method's own argument, `messages` chat's).
COMPLETION_FIELDS = frozenset(CompletionDeployedRequest.model_fields) - {"stream"}
CHAT_FIELDS = frozenset(ChatDeployedRequest.model_fields) - {"stream", "messages"}


class HumanloopUsage(_Response):
    """Token counts, reported once for the whole response (top level, not per sample)."""

    prompt_tokens: int | None = None
    generation_tokens: int | None = None
    total_tokens: int | None = None


class Sample(_Response):
    """One generation (`data[i]`, a `DataResponse`); in a stream, one event's delta of it.

    `output` is the text with surrounding whitespace stripped, `raw_output` as the provider
    sent it; in a stream event `output` is only the new piece. Chat adds `messages` (the
    rendered input messages) and `output_message` (the assistant message).
    """

    id: str = ""
    index: int = 0
    output: str = ""
    raw_output: str | None = None
    inputs: dict[str, Any] | None = None
    finish_reason: str | None = None
    model_config_id: str | None = None
    tool_results: list[dict[str, Any]] | None = None
    messages: list[dict[str, Any]] | None = None
    output_message: dict[str, Any] | None = None

    @field_validator("output", mode="before")
    @classmethod
    def _no_null_output(cls, value: Any) -> Any:
        return "" if value is None else value


class HumanloopResponse(_Response):
    """A `CompletionResponse` / `ChatResponse` (reference §3; chat adds `tool_choice`)."""

    data: list[Sample] = Field(default_factory=list)
    provider_responses: list[Any] = Field(default_factory=list)
    project_id: str | None = None
    num_samples: int | None = None
    logprobs: int | None = None
    suffix: str | None = None
    user: str | None = None
    usage: HumanloopUsage | None = None
    metadata: dict[str, Any] | None = None
    provider_request: dict[str, Any] | None = None
    session_id: str | None = None
    tool_choice: Any = None

    @property
    def text(self) -> str:
        """The first sample's `output` (`""` when there is none)."""
        return self.data[0].output if self.data else ""

    @property
    def finish_reason(self) -> str | None:
        return self.data[0].finish_reason if self.data else None

    @property
    def id(self) -> str | None:
        """The first sample's log id (`data_…`), for feedback; None without samples."""
        return self.data[0].id or None if self.data else None
