"""Wire models of the orq.ai Deployments API.

Field names are exactly the wire names (snake_case, except the camelCase model parameters,
which stay a plain dict). Response models are tolerant: unknown fields are kept, because the
API grows. Request models are strict: a typo in what we send is an error before sending.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "FEEDBACK_PRODUCTS",
    "AssistantMessage",
    "Choice",
    "ConfigMessage",
    "ContentPart",
    "Deployment",
    "DeploymentConfig",
    "DeploymentList",
    "DeploymentVersion",
    "DeploymentVersionList",
    "DeveloperMessage",
    "Document",
    "FilePart",
    "Identity",
    "ImageURLPart",
    "InputAudioPart",
    "Invocation",
    "InvocationChunk",
    "InvokeOptions",
    "InvokeRequest",
    "Message",
    "PromptConfig",
    "ResponseMessage",
    "Retrieval",
    "RetrievalMetadata",
    "SystemMessage",
    "Telemetry",
    "TextPart",
    "Thread",
    "Tool",
    "ToolCall",
    "ToolMessage",
    "Usage",
    "UserMessage",
    "VersionPromptConfig",
]

JSON = Any


class _Response(BaseModel):
    """Base of what we read: unknown fields are kept (the API grows), nothing is forbidden."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Request(BaseModel):
    """Base of what we send: unknown fields are rejected before anything leaves the machine."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---------------------------------------------------------------------------------------------
# Content parts and request messages (what `messages` / `prefix_messages` accept)


class CacheControl(_Request):
    """Anthropic prompt caching: `{"type": "ephemeral", "ttl": "5m" | "1h"}`."""

    type: Literal["ephemeral"] = "ephemeral"
    ttl: Literal["5m", "1h"] | None = None


class TextPart(_Request):
    type: Literal["text"] = "text"
    text: str
    cache_control: CacheControl | None = None


class ImageURL(_Request):
    url: str
    detail: Literal["low", "high", "auto"] | None = None


class ImageURLPart(_Request):
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL
    cache_control: CacheControl | None = None


class InputAudio(_Request):
    data: str
    format: Literal["mp3", "wav"]


class InputAudioPart(_Request):
    type: Literal["input_audio"] = "input_audio"
    input_audio: InputAudio


class FileData(_Request):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    file_data: str | None = None
    uri: str | None = None
    mime_type: str | None = Field(default=None, alias="mimeType")
    filename: str | None = None
    file_id: str | None = None


class FilePart(_Request):
    type: Literal["file"] = "file"
    file: FileData
    cache_control: CacheControl | None = None


class RefusalPart(_Request):
    type: Literal["refusal"] = "refusal"
    refusal: str | None = None


class ReasoningPart(_Request):
    type: Literal["reasoning"] = "reasoning"
    reasoning: str
    signature: str


class RedactedReasoningPart(_Request):
    type: Literal["redacted_reasoning"] = "redacted_reasoning"
    data: str


ContentPart = Annotated[
    TextPart
    | ImageURLPart
    | InputAudioPart
    | FilePart
    | RefusalPart
    | ReasoningPart
    | RedactedReasoningPart,
    Field(discriminator="type"),
]
# What each role may carry (reference §7.1): user sends media, assistant replays its own output.
UserContentPart = Annotated[
    TextPart | ImageURLPart | InputAudioPart | FilePart, Field(discriminator="type")
]
AssistantContentPart = Annotated[
    TextPart | RefusalPart | ReasoningPart | RedactedReasoningPart, Field(discriminator="type")
]


class ToolCallFunction(_Request):
    name: str | None = None
    arguments: str | None = None


class ToolCall(_Request):
    id: str
    type: Literal["function"] = "function"
    function: ToolCallFunction
    thought_signature: str | None = None
    extra_content: dict[str, Any] | None = None


class SystemMessage(_Request):
    role: Literal["system"] = "system"
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(_Request):
    role: Literal["developer"] = "developer"
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(_Request):
    role: Literal["user"] = "user"
    content: str | list[UserContentPart]
    name: str | None = None


class AssistantMessage(_Request):
    role: Literal["assistant"] = "assistant"
    content: str | list[AssistantContentPart] | None = None
    refusal: str | None = None
    name: str | None = None
    audio: dict[str, Any] | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None


class ToolMessage(_Request):
    role: Literal["tool"] = "tool"
    content: str | list[TextPart]
    # The key must be present on the wire even when its value is null.
    tool_call_id: str | None
    cache_control: CacheControl | None = None


Message = Annotated[
    SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage,
    Field(discriminator="role"),
]


# ---------------------------------------------------------------------------------------------
# The shared request body of invoke / stream / get_config


class Identity(_Request):
    id: str
    display_name: str | None = None
    email: str | None = None
    metadata: list[dict[str, Any]] | None = None
    logo_url: str | None = None
    tags: list[str] | None = None


class DocumentMetadata(_Request):
    file_name: str | None = None
    file_type: str | None = None
    page_number: float | None = None


class Document(_Request):
    text: str
    metadata: DocumentMetadata | None = None


class InvokeOptions(_Request):
    include_retrievals: bool | None = None
    include_usage: bool | None = None
    mock_response: str | None = None


class Thread(_Request):
    id: str
    tags: list[str] | None = None


class InvokeRequest(_Request):
    """The body of `/invoke`, `/stream` and `/get_config`; only `key` is required."""

    key: str
    stream: bool | None = None
    inputs: dict[str, JSON] | None = None
    context: dict[str, JSON] | None = None
    prefix_messages: list[Message] | None = None
    messages: list[Message] | None = None
    file_ids: list[str] | None = None
    metadata: dict[str, JSON] | None = None
    identity: Identity | None = None
    documents: list[Document] | None = None
    invoke_options: InvokeOptions | None = None
    thread: Thread | None = None
    knowledge_filter: dict[str, JSON] | None = None
    extra_params: dict[str, JSON] | None = None
    chain_id: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    deployment_id: str | None = None
    deployment_variant_id: str | None = None

    def to_wire(self) -> dict[str, JSON]:
        """The JSON body: unset optional fields are left out, wire names kept."""
        body: dict[str, JSON] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        # A tool message's `tool_call_id` key is required on the wire even when it is null.
        # An assistant's `content: null`, when given, is sent as given (as the SDK does).
        for field in ("prefix_messages", "messages"):
            for model, message in zip(getattr(self, field) or (), body.get(field, ()), strict=True):
                if message.get("role") == "tool":
                    message.setdefault("tool_call_id", None)
                elif message.get("role") == "assistant" and "content" in model.model_fields_set:
                    message.setdefault("content", None)
        return body


REQUEST_FIELDS: frozenset[str] = frozenset(InvokeRequest.model_fields) - {"key", "stream"}


# ---------------------------------------------------------------------------------------------
# Responses


class ToolFunction(_Response):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Response):
    type: str = "function"
    function: ToolFunction
    display_name: str | None = None
    id: float | None = None


class ConfigMessage(_Response):
    """A message of a deployment's prompt (get_config and list); nine roles are possible."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class PromptConfig(_Response):
    tools: list[Tool] = []
    model: str
    model_type: str
    model_parameters: dict[str, Any] = {}
    provider: str
    messages: list[ConfigMessage] = []


class Deployment(_Response):
    """One entry of `GET /v2/deployments`."""

    id: str
    created: str
    updated: str
    key: str
    description: str = ""
    prompt_config: PromptConfig
    version: str


class DeploymentList(_Response):
    """One page of deployments, newest first."""

    object: str = "list"
    data: list[Deployment]
    has_more: bool


class VersionPromptConfig(_Response):
    """The prompt of one saved version (`list_versions`)."""

    model: str
    model_db_id: str | None = None
    model_type: str
    model_parameters: dict[str, Any] = {}
    provider: str
    messages: list[ConfigMessage] = []
    integration_id: str | None = None
    version: str | None = None


class DeploymentVersion(_Response):
    """One saved version of a deployment (`GET /v2/deployments/{key}/versions`), drafts too.

    `id` is the wire's `_id`; `status` is `live`, `draft`, `pending` or `published`.
    """

    id: str = Field(alias="_id")
    deployment_id: str
    variant_id: str
    prompt_config: VersionPromptConfig
    fallbacks: list[dict[str, Any]] = []
    tools: list[Tool] = []
    variables: list[dict[str, Any]] = []
    timestamp: str
    version: str
    description: str = ""
    status: str
    user_id: str | None = None
    notes: str | None = None


class DeploymentVersionList(_Response):
    """One page of a deployment's versions, newest first."""

    object: str = "list"
    data: list[DeploymentVersion]
    has_more: bool


class DeploymentConfig(_Response):
    """The resolved configuration of a deployment (`POST /v2/deployments/get_config`).

    `parameters` keeps the camelCase wire names (`maxTokens`, `responseFormat`, ...).
    """

    id: str
    provider: str
    model: str
    type: str | None = None
    version: str
    messages: list[ConfigMessage]
    parameters: dict[str, Any]
    tools: list[dict[str, Any]] | None = None


class Telemetry(_Response):
    trace_id: str
    span_id: str


class ResponseToolCallFunction(_Response):
    name: str
    arguments: str


class ResponseToolCall(_Response):
    id: str | None = None
    index: float | None = None
    type: str = "function"
    function: ResponseToolCallFunction


class ResponseMessage(_Response):
    """`choices[].message`; `type` is `content`, `tool_calls` or `image`."""

    type: str
    role: str
    content: str | None = None
    tool_calls: list[ResponseToolCall] | None = None
    url: str | None = None
    reasoning: str | None = None
    reasoning_signature: str | None = None
    redacted_reasoning: str | None = None


class Choice(_Response):
    index: float
    message: ResponseMessage
    finish_reason: str | None = None


class RetrievalMetadata(_Response):
    file_name: str
    page_number: float | None
    file_type: str
    search_score: float
    rerank_score: float | None = None


class Retrieval(_Response):
    document: str
    metadata: RetrievalMetadata


class Usage(_Response):
    """Token counts. orq documents two spellings: `prompt_tokens` / `completion_tokens` (the
    SDK's) and `input_tokens` / `output_tokens` (the invoke docs' sample); both are read, and
    the `prompt_*` / `completion_*` names always hold the counts."""

    total_tokens: float | None = None
    prompt_tokens: float | None = None
    completion_tokens: float | None = None
    prompt_tokens_details: dict[str, Any] | None = None
    completion_tokens_details: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _either_spelling(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("input_tokens" in data or "output_tokens" in data):
            data = dict(data)
            if data.get("prompt_tokens") is None and data.get("input_tokens") is not None:
                data["prompt_tokens"] = data["input_tokens"]
            if data.get("completion_tokens") is None and data.get("output_tokens") is not None:
                data["completion_tokens"] = data["output_tokens"]
        return data


class Invocation(_Response):
    """The answer of `POST /v2/deployments/invoke`; every stream chunk has this shape too."""

    id: str
    created: str
    object: str
    model: str
    provider: str
    is_final: bool
    telemetry: Telemetry
    choices: list[Choice]
    integration_id: str | None = None
    finalized: str | None = None
    system_fingerprint: str | None = None
    retrievals: list[Retrieval] | None = None
    provider_response: Any = None
    usage: Usage | None = None

    @property
    def text(self) -> str:
        """The text of the first choice (`""` when the answer is a tool call or an image)."""
        if not self.choices:
            return ""
        return self.choices[0].message.content or ""

    @property
    def image_url(self) -> str | None:
        """The picture's URL (or `data:` URI) when an image model answered, else None."""
        if not self.choices:
            return None
        message = self.choices[0].message
        return message.url if message.type == "image" and message.url else None

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None

    @property
    def trace_id(self) -> str:
        return self.telemetry.trace_id


class InvocationChunk(Invocation):
    """One streamed event. `content` is the new piece of text, not the text so far."""

    @property
    def content(self) -> str:
        return self.text


# `product` of `POST /v2/feedback`, as SDK 4.17.13 has it (orq-api-additions §3.2).
FEEDBACK_PRODUCTS = (
    *("remoteconfigs", "deployments", "experiments", "playgrounds", "spreadsheets"),
    *("spreadsheet_run", "llm_evaluator", "knowledge", "router", "workflows"),
    *("external_events", "agents", "memory-stores", "generic", "evaluators", "otel"),
    *("ai-chat", "mcp_gateway"),
)
