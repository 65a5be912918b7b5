"""What every client shares: `_BaseClient` (no I/O) and its blocking and async I/O twins.

`_BaseClient` does everything that needs no socket (URLs, headers, bodies, parsing, the map from
status to exception, retry decisions); `_SyncClient` and `_AsyncClient` add only the I/O. The
orq client (`_client`) and the Humanloop client build on them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError
from pydantic_core import (
    InitErrorDetails,
    PydanticCustomError,
    PydanticSerializationError,
    to_jsonable_python,
)

from .._version import __version__
from ._config import API_KEY_ENV, Settings, mask
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    MissingAPIKeyError,
    OrqError,
    RateLimitError,
    UnexpectedResponseError,
    error_class_for_status,
)
from ._models import REQUEST_FIELDS, InvokeRequest
from ._retry import RETRY_STATUSES, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._cassette import Recording

__all__ = ["JSON_TYPE", "SSE_TYPE", "USER_AGENT", "_AsyncClient", "_BaseClient", "_SyncClient"]

logger = logging.getLogger("orq_notebook")

USER_AGENT = f"orq-notebook/{__version__}"
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"
_ModelT = TypeVar("_ModelT", bound=BaseModel)
_HttpT = TypeVar("_HttpT", httpx.Client, httpx.AsyncClient)
_TransportT = TypeVar("_TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)
# Transport failures worth another attempt; the others (a bad URL scheme, a local protocol
# error) would fail the same way again.
_RETRY_ERRORS = (
    httpx.ConnectError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.TimeoutException,
)


class _BaseClient(Generic[_HttpT, _TransportT]):
    """What both twins share; no I/O here. `_humanloop` changes only the hooks
    `_resolve_settings`, `_auth_headers`, `_key_env` and `_service`, and reuses the rest."""

    _key_env: ClassVar[str] = API_KEY_ENV  # named in the hints of 401 errors
    _service: ClassVar[str] = "an orq.ai API"  # "Is {base_url} <_service>?"

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        environment: str | None = None,
        contact_id: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        transport: _TransportT | None = None,
        http_client: _HttpT | None = None,
        env: Mapping[str, str] | None = None,
        record: Recording | str | os.PathLike[str] | Literal[False] | None = None,
    ) -> None:
        if transport is not None and http_client is not None:
            raise ValueError("Pass transport= or http_client=, not both.")
        # The recording hook: `record=` (else ORQ_RECORD / ORQ_REPLAY) wraps the transport.
        self._recording = _recording_for(record, env)
        if self._recording is not None and http_client is not None:
            raise ValueError("record= needs a client that owns its connections: not http_client=.")
        self.settings = self._resolve_settings(
            api_key,
            base_url,
            environment=environment,
            contact_id=contact_id,
            timeout=timeout,
            max_retries=max_retries,
            env=env,
        )
        self.settings = dataclasses.replace(self.settings, recording=self._recording)
        self._retry = RetryPolicy(max_retries=self.settings.max_retries)
        self._clock: Callable[[], float] = time.monotonic
        self._owns_http = http_client is None
        timeouts = httpx.Timeout(self.settings.timeout, connect=min(10.0, self.settings.timeout))
        self._http: _HttpT = http_client or self._new_http(transport, timeouts)

    def _resolve_settings(self, *args: Any, **kwargs: Any) -> Settings:
        return Settings.resolve(*args, **kwargs)

    def _new_http(self, transport: _TransportT | None, timeout: httpx.Timeout) -> _HttpT:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.settings.base_url!r}, "
            f"api_key={mask(self.settings.api_key)})"
        )

    # -- requests ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: dict[str, Any] | None = None,
        accept: str = JSON_TYPE,
    ) -> httpx.Request:
        return self._http.build_request(
            method,
            self.settings.base_url + path,
            params=params,
            json=body,
            headers=self._headers(accept),
        )

    def _invoke_request(
        self, operation: str, path: str, key: str, fields: Mapping[str, Any], *, stream: bool
    ) -> httpx.Request:
        for name in fields:
            if name not in REQUEST_FIELDS:
                raise TypeError(
                    f"{operation}() got an unexpected keyword argument {name!r}" + _hint(name)
                )
        # As the official SDK does: `stream` is always sent, false except when streaming.
        request = InvokeRequest(key=key, stream=stream, **fields)
        try:
            body = request.to_wire()
        except ValueError:  # PydanticSerializationError, or "Maximum serialization depth"
            raise _not_json(fields) from None
        if self.settings.environment is not None:
            context = body.setdefault("context", {})
            context.setdefault("environments", self.settings.environment)
        return self._request("POST", path, body=body, accept=SSE_TYPE if stream else JSON_TYPE)

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        key = (self.settings.api_key or "").strip()
        if key:
            if not (key.isascii() and key.isprintable()):
                raise OrqError(
                    "The API key holds a character an HTTP header cannot carry (a line break or "
                    "a non-ASCII character); copy the key again."
                )
            headers.update(self._auth_headers(key))
        elif _is_orq_host(self.settings.base_url) and not self._offline:
            raise MissingAPIKeyError(env_var=API_KEY_ENV)
        if self.settings.contact_id:
            headers["X-ORQ-CONTACT-ID"] = self.settings.contact_id
        return headers

    @property
    def _offline(self) -> bool:  # replaying a recording: nothing is sent, no key is needed
        return self._recording is not None and self._recording.offline

    def _auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": key if key[:7].lower() == "bearer " else f"Bearer {key}"}

    # -- responses ---------------------------------------------------------------------------

    def _parse(self, response: httpx.Response, model: type[_ModelT]) -> _ModelT:
        self._check_json(response)
        try:
            # `text`, not `content`: a byte that is not UTF-8 becomes U+FFFD, as it does in a
            # stream, instead of making the whole answer unreadable.
            return model.model_validate_json(response.text)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "body"
            raise self._unexpected(
                response, f"it is not a valid {model.__name__} ({where}: {error['msg']})"
            ) from None

    def _parse_dict(self, response: httpx.Response) -> dict[str, Any]:
        self._check_json(response)
        try:
            data = json.loads(response.text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self._unexpected(response, "its body is not a JSON object")
        return data

    def _check_empty(self, response: httpx.Response) -> None:
        if not response.is_success:
            raise self._status_error(response)

    def _check_json(self, response: httpx.Response) -> None:
        if not response.is_success:
            raise self._status_error(response)
        if _media_type(response) != JSON_TYPE:
            raise self._unexpected(response, f"{_content_type(response)} is not JSON")

    def _stream_is_ok(self, response: httpx.Response) -> bool:
        return response.is_success and _media_type(response) == SSE_TYPE

    def _stream_error(self, response: httpx.Response) -> APIError:
        if not response.is_success:
            return self._status_error(response)
        return self._unexpected(response, f"{_content_type(response)} is not {SSE_TYPE}")

    def _status_error(self, response: httpx.Response) -> APIError:
        status, body = response.status_code, self._redact(response.text)
        message = _error_message(body)
        if message is None:
            request = response.request
            message = f"{request.method} {request.url.path} failed with HTTP {status}"
            message += f" {response.reason_phrase}." if response.reason_phrase else "."
        message = self._redact(_sentence(message))
        if status == 401 and not self.settings.api_key:
            message += (
                f" No API key was sent: set the {self._key_env} environment variable, "
                "or pass api_key= to the client."
            )
        elif status == 401:
            message += f" Check the API key ({self._key_env} or api_key=)."
        request_id = response.headers.get("x-request-id") or response.headers.get("x-trace-id")
        cls = error_class_for_status(status)
        if cls is RateLimitError:
            return RateLimitError(
                message,
                status_code=status,
                body=body,
                request_id=request_id,
                retry_after=parse_retry_after(response.headers),
            )
        return cls(message, status_code=status, body=body, request_id=request_id)

    def _unexpected(self, response: httpx.Response, why: str) -> UnexpectedResponseError:
        request = response.request
        return UnexpectedResponseError(
            f"The answer to {request.method} {request.url.path} (HTTP {response.status_code}) "
            f"cannot be read: {why}. Is {self.settings.base_url} {self._service}?",
            status_code=response.status_code,
            body=self._redact(response.text),
            request_id=response.headers.get("x-request-id"),
        )

    def _connection_error(
        self, exc: httpx.TransportError, request: httpx.Request
    ) -> APIConnectionError:
        where = f"{request.method} {request.url}"
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"{where} timed out ({type(exc).__name__}). The server may be busy: try again, "
                "or give the client a larger timeout=."
            )
        return APIConnectionError(
            self._redact(
                f"{where} got no answer ({type(exc).__name__}: {exc}). Check the base URL "
                "and that the server is running."
            )
        )

    def _redact(self, text: str) -> str:
        key = (self.settings.api_key or "").strip()
        # A server that echoes the key must not carry it into our messages. Keys too short to
        # be secret (test keys like "k") would mangle ordinary words, so they are left alone.
        return text.replace(key, "<redacted>") if len(key) >= 8 else text

    # -- retries -----------------------------------------------------------------------------

    def _retry_delay(
        self,
        request: httpx.Request,
        outcome: httpx.Response | Exception,
        retries: int,
        started: float,
    ) -> float | None:
        if isinstance(outcome, httpx.Response):
            logger.debug("%s %s -> %d", request.method, request.url, outcome.status_code)
            if outcome.status_code not in RETRY_STATUSES:
                return None
            retry_after, why = parse_retry_after(outcome.headers), f"HTTP {outcome.status_code}"
        else:
            logger.debug("%s %s -> %s", request.method, request.url, type(outcome).__name__)
            if not isinstance(outcome, _RETRY_ERRORS):
                return None
            retry_after, why = None, type(outcome).__name__
        delay = self._retry.delay(retries, elapsed=self._clock() - started, retry_after=retry_after)
        if delay is not None:
            logger.debug(
                "retrying %s %s in %.2fs after %s", request.method, request.url, delay, why
            )
        return delay


class _SyncClient(_BaseClient[httpx.Client, httpx.BaseTransport]):
    """The blocking I/O of a client: connections, sending with retries, opening streams."""

    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _new_http(
        self, transport: httpx.BaseTransport | None, timeout: httpx.Timeout
    ) -> httpx.Client:
        # Redirects are followed, as the official SDK does; httpx drops the key across hosts.
        if self._recording is not None:
            from ._recording import RecordingTransport

            transport = RecordingTransport(transport, self._recording)
        return httpx.Client(transport=transport, timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        """Close the connections (not those of an `http_client=` passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        started, retries = self._clock(), 0
        while True:
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = self._retry_delay(request, exc, retries, started)
                if delay is None:
                    raise self._connection_error(exc, request) from exc
            else:
                delay = self._retry_delay(request, response, retries, started)
                if delay is None:
                    return response
                response.close()
            self._sleep(delay)
            retries += 1

    def _open_stream(self, request: httpx.Request) -> httpx.Response:
        response = self._send(request, stream=True)
        if self._stream_is_ok(response):
            return response
        try:
            response.read()
        except httpx.TransportError as exc:
            raise self._connection_error(exc, request) from exc
        finally:
            response.close()
        raise self._stream_error(response)


class _AsyncClient(_BaseClient[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """The async I/O of a client: connections, sending with retries, opening streams."""

    _sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)

    def _new_http(
        self, transport: httpx.AsyncBaseTransport | None, timeout: httpx.Timeout
    ) -> httpx.AsyncClient:
        if self._recording is not None:
            from ._recording import AsyncRecordingTransport

            transport = AsyncRecordingTransport(transport, self._recording)
        return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=True)

    async def aclose(self) -> None:
        """Close the connections (not those of an `http_client=` passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        started, retries = self._clock(), 0
        while True:
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                delay = self._retry_delay(request, exc, retries, started)
                if delay is None:
                    raise self._connection_error(exc, request) from exc
            else:
                delay = self._retry_delay(request, response, retries, started)
                if delay is None:
                    return response
                await response.aclose()
            await self._sleep(delay)
            retries += 1

    async def _open_stream(self, request: httpx.Request) -> httpx.Response:
        response = await self._send(request, stream=True)
        if self._stream_is_ok(response):
            return response
        try:
            await response.aread()
        except httpx.TransportError as exc:
            raise self._connection_error(exc, request) from exc
        finally:
            await response.aclose()
        raise self._stream_error(response)


# -- helpers -----------------------------------------------------------------------------------


def _recording_for(
    record: Recording | str | os.PathLike[str] | Literal[False] | None,
    env: Mapping[str, str] | None,
) -> Recording | None:
    # Recordings load only when asked for, so `import orq_notebook` stays as fast as it was.
    environ = os.environ if env is None else env
    if record is False or (record is None and not environ.keys() & {"ORQ_RECORD", "ORQ_REPLAY"}):
        return None
    from ._cassette import recording_for

    return recording_for(record, env)


def _hint(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(REQUEST_FIELDS), n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; the request fields are {', '.join(sorted(REQUEST_FIELDS))}."


def _not_json(fields: Mapping[str, Any]) -> ValidationError:
    """A ValidationError naming the first value with no JSON form (an `object()`, a socket, a
    list nested hundreds deep).

    The free-form fields (`inputs`, `metadata`, ...) accept any value when validated; such a
    value fails only when the body is serialized, and should fail the same way as a wrong type.
    """
    found = None
    for name, value in fields.items():
        found = _unserializable(value, (name,))
        if found is not None:
            break
    loc, value, error = found or (("body",), None, "it cannot be written as JSON")
    if error is None:
        message = (
            "Input should be a JSON value (text, number, bool, null, list or dict), not {kind}"
        )
    else:
        message = "Input cannot be sent as JSON: {error}"
    details: InitErrorDetails = {
        "type": PydanticCustomError(
            "json_value", message, {"kind": type(value).__name__, "error": str(error)}
        ),
        "loc": loc,
        "input": value,
    }
    return ValidationError.from_exception_data("InvokeRequest", [details])


def _unserializable(
    value: Any, loc: tuple[str | int, ...]
) -> tuple[tuple[str | int, ...], Any, str | None] | None:
    """Where `value` fails to serialize: (loc, value, None) for a value of an unknown type,
    (loc, value, why) when the whole value fails (too deep); None when it serializes."""
    try:
        to_jsonable_python(value)
        return None
    except PydanticSerializationError:
        pass  # an unknown type somewhere below: find it
    except (ValueError, RecursionError) as exc:
        return loc, value, str(exc)
    children: list[tuple[str | int, Any]] = []
    if isinstance(value, Mapping):
        children = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        children = list(enumerate(value))
    for name, item in children:
        found = _unserializable(item, (*loc, name))
        if found is not None:
            return found
    return loc, value, None


def _is_orq_host(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    return host == "orq.ai" or host.endswith(".orq.ai")


def _media_type(response: httpx.Response) -> str:
    content_type: str = response.headers.get("content-type", "")
    return content_type.partition(";")[0].strip().lower()


def _content_type(response: httpx.Response) -> str:
    media_type = _media_type(response)
    return f"content type {media_type!r}" if media_type else "no content type"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _error_message(body: str) -> str | None:
    """The message of an error body, whichever documented shape it has.

    `{"message": ...}`, `{"error": {"message": ..., "code": ...}}`, `{"error": "...", "code": 404}`
    and `{"detail": ...}` (a string, or a list of validation errors).
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for name in ("message", "error", "detail"):
        found = _message_in(data.get(name))
        if found:
            return found
    return None


def _message_in(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        message = _message_in(value.get("message")) or _message_in(value.get("msg"))
        loc = value.get("loc")
        if message and isinstance(loc, list) and loc:
            return f"{'.'.join(str(part) for part in loc)}: {message}"
        return message
    if isinstance(value, list):
        return "; ".join(m for m in map(_message_in, value) if m) or None
    return None
