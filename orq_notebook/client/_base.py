"""What every client shares and does without I/O: `_BaseClient`.

URLs, headers, bodies, the checks before sending, parsing, the map from status to exception and
the retry decisions. The blocking and async twins in `_io` add only the I/O. The orq client
(`_client`) and the Humanloop client build on them.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from .._version import __version__
from ._checks import (
    check_messages,
    check_values,
    invalid_request,
    key_or_id,
    not_json,
    optional_text,
    seconds,
    validated,
    whole_number,
)
from ._config import API_KEY_ENV, CONNECT_TIMEOUT, Settings, mask
from ._deadline import Deadline
from ._error_body import one_line, parse_error_body
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ArgumentTypeError,
    InvalidArgumentError,
    MissingAPIKeyError,
    OrqError,
    RateLimitError,
    UnexpectedResponseError,
    error_class_for_status,
)
from ._models import REQUEST_FIELDS, InvokeRequest
from ._notices import OnRetry, RetryNotice, announce
from ._redact import Redactor, filter_logs
from ._retry import RetryPolicy, parse_retry_after, retry_reason

if TYPE_CHECKING:
    from ._cassette import Recording

__all__ = ["JSON_TYPE", "SSE_TYPE", "USER_AGENT", "_BaseClient", "body_text"]

logger = logging.getLogger("orq_notebook")

USER_AGENT = f"orq-notebook/{__version__}"
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"
_ModelT = TypeVar("_ModelT", bound=BaseModel)
_HttpT = TypeVar("_HttpT", httpx.Client, httpx.AsyncClient)
_TransportT = TypeVar("_TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)
_UNSAFE_NOTE = (
    " Not retried: the generation may already have run (and been billed); pass "
    "retry_unsafe=True to retry such failures."
)


class _BaseClient(Generic[_HttpT, _TransportT]):
    """What both twins share; no I/O here. `_humanloop` changes only the hooks
    `_resolve_settings`, `_auth_headers`, `_key_env` and `_service`, and reuses the rest."""

    _key_env: ClassVar[str] = API_KEY_ENV  # named in the hints of 401 errors
    _service: ClassVar[str] = "an orq.ai API"  # "Is {base_url} <_service>?"
    _http_types: ClassVar[tuple[type, type]] = (httpx.Client, httpx.BaseTransport)

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        environment: str | None = None,
        contact_id: str | None = None,
        timeout: float | None = None,
        idle_timeout: float | None = None,
        max_retries: int | None = None,
        retry_unsafe: bool = False,
        on_retry: OnRetry | None = None,
        transport: _TransportT | None = None,
        http_client: _HttpT | None = None,
        env: Mapping[str, str] | None = None,
        record: Recording | str | os.PathLike[str] | Literal[False] | None = None,
    ) -> None:
        owner = f"{type(self).__name__}()"
        texts = {
            "api_key": api_key,
            "base_url": base_url,
            "environment": environment,
            "contact_id": contact_id,
        }
        self._check_arguments(owner, texts, env)
        seconds(owner, "timeout", timeout)
        seconds(owner, "idle_timeout", idle_timeout)
        if max_retries is not None:
            whole_number(owner, "max_retries", max_retries, minimum=0)
        if not isinstance(retry_unsafe, bool):
            raise ArgumentTypeError(f"{owner} argument retry_unsafe takes True or False.")
        if on_retry is not None and not callable(on_retry):
            raise ArgumentTypeError(f"{owner} argument on_retry takes a function of a notice.")
        if transport is not None and http_client is not None:
            raise InvalidArgumentError("Pass transport= or http_client=, not both.")
        # The recording hook: `record=` (else ORQ_RECORD / ORQ_REPLAY) wraps the transport.
        self._recording = _recording_for(record, env)
        if self._recording is not None and http_client is not None:
            raise InvalidArgumentError(
                "record= needs a client that owns its connections: not http_client=."
            )
        http_type, transport_type = self._http_types
        if http_client is not None and not isinstance(http_client, http_type):
            raise ArgumentTypeError(
                f"{owner} argument http_client takes an {http_type.__module__}."
                f"{http_type.__name__}, not {type(http_client).__name__}."
            )
        if transport is not None and not isinstance(transport, transport_type):
            raise ArgumentTypeError(
                f"{owner} argument transport takes an httpx.{transport_type.__name__}, not "
                f"{type(transport).__name__}."
            )
        self.settings = self._resolve_settings(
            api_key,
            base_url,
            environment=environment,
            contact_id=contact_id,
            timeout=timeout,
            idle_timeout=idle_timeout,
            max_retries=max_retries,
            retry_unsafe=retry_unsafe,
            env=env,
        )
        self.settings = dataclasses.replace(self.settings, recording=self._recording)
        _check_url(owner, self.settings.base_url)
        self.on_retry = on_retry
        self._retry = RetryPolicy(max_retries=self.settings.max_retries)
        self._clock: Callable[[], float] = time.monotonic
        self._redact = Redactor(self.settings.api_key)
        if self._redact:
            filter_logs()
        self._owns_http = http_client is None
        self._http: _HttpT = http_client or self._new_http(transport, self._timeouts())

    @staticmethod
    def _check_arguments(owner: str, texts: Mapping[str, object], env: object) -> None:
        for name, value in texts.items():
            optional_text(owner, name, value)
        if env is not None and not isinstance(env, Mapping):
            raise ArgumentTypeError(f"{owner} argument env takes a mapping such as os.environ.")
        contact = texts.get("contact_id")
        if isinstance(contact, str) and not (contact.isascii() and contact.isprintable()):
            raise InvalidArgumentError(
                f"{owner} argument contact_id is sent as a header: ASCII letters, digits and "
                "punctuation only."
            )

    def _resolve_settings(self, *args: Any, **kwargs: Any) -> Settings:
        return Settings.resolve(*args, **kwargs)

    def _new_http(self, transport: _TransportT | None, timeout: httpx.Timeout) -> _HttpT:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.settings.base_url!r}, "
            f"api_key={mask(self.settings.api_key)})"
        )

    # -- deadlines -----------------------------------------------------------------------------

    def _timeouts(self) -> httpx.Timeout:
        """httpx's per-read timeouts: never shorter than a window of a deadline (which is
        what bounds a call; see `_deadline`)."""
        limit = self.settings.timeout
        return httpx.Timeout(
            max(limit, self.settings.idle_timeout), connect=min(CONNECT_TIMEOUT, limit)
        )

    def _deadline(
        self,
        timeout: float | None,
        idle_timeout: float | None = None,
        *,
        streaming: bool = False,
        owner: str = "the call's",
    ) -> Deadline:
        limit = seconds(owner, "timeout", timeout) or self.settings.timeout
        idle = seconds(owner, "idle_timeout", idle_timeout) or self.settings.idle_timeout
        return Deadline(limit, idle if streaming else None, clock=self._clock, streaming=streaming)

    # -- requests ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: dict[str, Any] | None = None,
        accept: str = JSON_TYPE,
        deadline: Deadline | None = None,
    ) -> httpx.Request:
        extra: dict[str, Any] = {}
        if deadline is not None and self._owns_http:  # a caller's http_client keeps its own
            read = max(deadline.first, deadline.idle or 0.0)
            connect = min(CONNECT_TIMEOUT, deadline.first)
            default = self._http.timeout
            if read != default.read or connect != default.connect:  # else the client's own
                extra["timeout"] = httpx.Timeout(read, connect=connect)
        return self._http.build_request(
            method,
            self.settings.base_url + path,
            params=params,
            json=body,
            headers=self._headers(accept),
            **extra,
        )

    def _invoke_request(
        self,
        operation: str,
        path: str,
        key: str,
        fields: Mapping[str, Any],
        *,
        stream: bool,
        deadline: Deadline | None = None,
    ) -> httpx.Request:
        key = key_or_id(key, f"{operation}() key")
        for name in fields:
            if name not in REQUEST_FIELDS:
                raise ArgumentTypeError(
                    f"{operation}() got an unexpected keyword argument {name!r}" + _hint(name)
                )
        for name in ("messages", "prefix_messages"):
            if fields.get(name) is not None:
                check_messages(fields[name], name)
        checked = check_values(fields)
        # As the official SDK does: `stream` is always sent, false except when streaming.
        request = validated(lambda: InvokeRequest(key=key, stream=stream, **checked))
        try:
            body = request.to_wire()
        except ValueError:  # PydanticSerializationError, or "Maximum serialization depth"
            raise invalid_request(not_json(checked)) from None
        if self.settings.environment is not None:
            # The client's environment wins over one in the call's context, as in the SDK.
            body.setdefault("context", {})["environments"] = self.settings.environment
        accept = SSE_TYPE if stream else JSON_TYPE
        return self._request("POST", path, body=body, accept=accept, deadline=deadline)

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        key = (self.settings.api_key or "").strip()
        if key:
            if not (key.isascii() and key.isprintable()):
                raise InvalidArgumentError(
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
            return model.model_validate_json(body_text(response))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "body"
            raise self._unexpected(
                response, f"it is not a valid {model.__name__} ({where}: {error['msg']})"
            ) from None

    def _parse_dict(self, response: httpx.Response) -> dict[str, Any]:
        """A JSON object body, for answers with no model of their own (feedback removal)."""
        self._check_json(response)
        try:
            data = json.loads(body_text(response))
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self._unexpected(response, "its body is not a JSON object")
        return data

    def _parse_optional(self, response: httpx.Response, model: type[_ModelT]) -> _ModelT | None:
        """As `_parse`, but `204 No Content` is None (as the official SDK answers it)."""
        if response.status_code == 204:
            return None
        return self._parse(response, model)

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
        if response.status_code == 204:
            return self._unexpected(response, "204 No Content is no stream: nothing to read")
        return self._unexpected(response, f"{_content_type(response)} is not {SSE_TYPE}")

    def _request_id(self, response: httpx.Response) -> str | None:
        found = response.headers.get("x-request-id") or response.headers.get("x-trace-id")
        # Shown in widgets and error lines: bounded, one line, and never an echoed key.
        return one_line(self._redact(found), 120) if found else None

    def _status_error(self, response: httpx.Response) -> APIError:
        status, body = response.status_code, self._redact(body_text(response))
        said = parse_error_body(body)
        message = said.message
        if message is None:
            request = response.request
            message = f"{request.method} {request.url.path} failed with HTTP {status}"
            message += f" {response.reason_phrase}." if response.reason_phrase else "."
        message = _sentence(one_line(message))
        if status == 401 and not self.settings.api_key:
            message += (
                f" No API key was sent: set the {self._key_env} environment variable, "
                "or pass api_key= to the client."
            )
        elif status == 401:
            message += f" Check the API key ({self._key_env} or api_key=)."
        fields: dict[str, Any] = {
            "status_code": status,
            "body": body,
            "request_id": self._request_id(response),
            "code": said.code,
            "details": _plain(said.details),
            "doc_url": said.doc_url,
        }
        cls = error_class_for_status(status)
        if cls is RateLimitError:
            return RateLimitError(
                message, retry_after=parse_retry_after(response.headers), **fields
            )
        return cls(message, **fields)

    def _unexpected(self, response: httpx.Response, why: str) -> UnexpectedResponseError:
        request = response.request
        try:
            body = self._redact(body_text(response))
        except (httpx.ResponseNotRead, httpx.DecodingError):
            body = ""
        return UnexpectedResponseError(
            f"The answer to {request.method} {request.url.path} (HTTP {response.status_code}) "
            f"cannot be read: {why}. Is {self.settings.base_url} {self._service}?",
            status_code=response.status_code,
            body=body,
            request_id=self._request_id(response),
        )

    def _undecodable(self, response: httpx.Response, exc: Exception) -> UnexpectedResponseError:
        detail = one_line(str(exc), 120) or type(exc).__name__
        return self._unexpected(response, f"its body is not what its encoding says ({detail})")

    def _transport_error(
        self,
        exc: Exception,
        request: httpx.Request,
        deadline: Deadline | None = None,
        *,
        unsafe_refused: bool = False,
    ) -> OrqError:
        """Any failure of the transport (every httpx error, not only connection errors) as an
        `OrqError` with one readable line."""
        where = f"{request.method} {request.url}"
        if deadline is not None and deadline.expired:
            return APITimeoutError(
                f"{where} timed out: {deadline.describe()}. The server may be slow or stuck; "
                "pass a larger timeout= if the answer needs longer."
            )
        note = _UNSAFE_NOTE if unsafe_refused and self._retry.max_retries else ""
        if isinstance(exc, httpx.ConnectTimeout):
            return APITimeoutError(f"{where} timed out while connecting.{note}")
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(
                f"{where} timed out ({type(exc).__name__}). The server may be busy: try again, "
                f"or give the client a larger timeout=.{note}"
            )
        if isinstance(exc, httpx.TooManyRedirects):
            why = "TooManyRedirects: it redirected again and again, a redirect loop?"
        elif isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            why = f"the URL cannot be used ({type(exc).__name__}: {one_line(str(exc), 120)})"
        else:
            why = f"{type(exc).__name__}: {one_line(str(exc), 200) or 'no detail'}"
        return APIConnectionError(
            self._redact(
                f"{where} got no complete answer ({why}). Check the base URL and that the "
                f"server is running.{note}"
            )
        )

    # -- retries -----------------------------------------------------------------------------

    def _retry_delay(
        self,
        request: httpx.Request,
        outcome: httpx.Response | Exception,
        retries: int,
        started: float,
        *,
        generation: bool,
        deadline: Deadline | None = None,
    ) -> tuple[float | None, bool]:
        """(seconds to wait before the next attempt, or None: give up; whether a retry was
        refused only because the request may already have generated)."""
        status = outcome.status_code if isinstance(outcome, httpx.Response) else None
        logger.debug("%s %s -> %s", request.method, request.url, status or type(outcome).__name__)
        if deadline is not None and deadline.expired:
            return None, False
        unsafe = self.settings.retry_unsafe
        if isinstance(outcome, httpx.Response):
            if outcome.is_success:
                return None, False
            why, refused = retry_reason(outcome.status_code, generation=generation, unsafe=unsafe)
            retry_after = parse_retry_after(outcome.headers)
        else:
            why, refused = retry_reason(outcome, generation=generation, unsafe=unsafe)
            retry_after = None
        if why is None:
            return None, refused
        delay = self._retry.delay(retries, elapsed=self._clock() - started, retry_after=retry_after)
        if delay is not None:
            logger.debug(
                "retrying %s %s in %.2fs after %s", request.method, request.url, delay, why
            )
            notice = RetryNotice(
                attempt=retries + 2,
                wait=delay,
                reason=why,
                status_code=status,
                retry_after=retry_after,
                method=request.method,
                path=request.url.path,
            )
            announce(notice, self.on_retry)
        return delay, False


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


def _check_url(owner: str, url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading the port is what refuses "http://h:99999"
    except ValueError as exc:
        raise InvalidArgumentError(f"{owner} base_url {url!r} is not a valid URL: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError(
            f"{owner} base_url takes an http:// or https:// URL such as https://my.orq.ai, "
            f"not {url!r}."
        )


def _plain(value: Any) -> Any:
    """Error details as plain JSON data (they are kept on an exception that must pickle)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return None


def body_text(response: httpx.Response) -> str:
    """The body as text. A charset that is unknown, or wrong for the bytes (`utf-16` on
    ASCII), falls back to UTF-8, which JSON is by definition (RFC 8259); a byte that is not
    UTF-8 becomes U+FFFD."""
    try:
        return response.text
    except (UnicodeError, LookupError):
        return response.content.decode("utf-8", "replace")


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
