"""Every error orq_notebook raises, in one tree.

```
OrqError                          root: `except OrqError` catches everything below
├── MissingAPIKeyError            no key given, none in ORQ_API_KEY
├── InvalidArgumentError          a value refused before sending (also a ValueError)
│   └── InvalidRequestError       a request field the API would refuse (`field`, `errors`)
├── ArgumentTypeError             an argument of the wrong type (also a TypeError)
├── APIError                      the server answered with an error status
│   ├── BadRequestError           400
│   ├── AuthenticationError       401
│   ├── PermissionDeniedError     403
│   ├── NotFoundError             404
│   ├── RequestTooLargeError      413
│   ├── UnprocessableEntityError  422
│   ├── RateLimitError            429 (`retry_after` in seconds, when the server said)
│   ├── InternalServerError       5xx
│   └── UnexpectedResponseError   a 2xx answer we cannot read (wrong content type, bad JSON)
├── APIConnectionError            the request never got a whole answer
│   └── APITimeoutError           ... because a timeout or a deadline expired
├── StreamError                   a stream broke after it started (`partial_text` keeps what came)
└── MissingDependencyError        an optional extra is not installed (also an ImportError)
```

Exceptions hold plain values only (numbers, strings, lists and dicts of them; no httpx
objects), so the display layer can render them without importing the HTTP stack, and every one
of them pickles with its attributes (to a `ProcessPoolExecutor` and back).
"""

from __future__ import annotations

from typing import Any

from ._hints import hint_for

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ArgumentTypeError",
    "AuthenticationError",
    "BadRequestError",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidRequestError",
    "MissingAPIKeyError",
    "MissingDependencyError",
    "NotFoundError",
    "OrqError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "StreamError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
]


def _rebuild(cls: type[OrqError], args: tuple[Any, ...], state: dict[str, Any]) -> OrqError:
    """Unpickle an error without calling its `__init__` (whose keywords pickle cannot pass)."""
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class OrqError(Exception):
    """Base class of every error raised by orq_notebook."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class MissingAPIKeyError(OrqError):
    """Raised at the first request that needs a key when none was configured."""

    def __init__(self, message: str | None = None, *, env_var: str = "ORQ_API_KEY") -> None:
        super().__init__(
            message or f"No API key: set the {env_var} environment variable, or pass api_key=."
        )
        self.env_var = env_var


class InvalidArgumentError(OrqError, ValueError):
    """A value the client refuses before sending anything: an empty or `..` id, a negative
    timeout, an infinity in the inputs. Also a `ValueError`."""


class InvalidRequestError(InvalidArgumentError):
    """A request field the API would refuse (a wrong type, a message of the wrong shape).

    Attributes:
        field: where the first problem is, dotted (`messages.0.role`, `inputs`).
        errors: every problem as `{"loc": [...], "msg": str, "type": str}`.
    """

    def __init__(
        self, message: str, *, field: str = "", errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.errors = errors or []


class ArgumentTypeError(OrqError, TypeError):
    """An argument of the wrong type (`Client(timeout="5")`), or an unknown keyword argument.
    Also a `TypeError`."""


class APIError(OrqError):
    """The server answered with an error status.

    Attributes:
        status_code: the HTTP status.
        message: one readable line taken from the error body (bounded; see `body`).
        body: the raw response body as text (may be empty).
        request_id: the server's request or trace id, when it sent one.
        code: orq's error code (`deployment_not_found`, `quota_exceeded`, ...), when given.
        details: the error's details (e.g. `{"expired_at": ...}`), when given.
        doc_url: the page of orq's docs about this error, when given.
        hint: what the status or code usually means and what to do (see `hint`).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: str = "",
        request_id: str | None = None,
        code: str | None = None,
        details: Any = None,
        doc_url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.code = code
        self.details = details
        self.doc_url = doc_url

    @property
    def hint(self) -> str | None:
        """One sentence on what the error usually means and what to do, or None.

        Derived from orq's error `code` when the server sent one, else from the status:
        402 means the workspace is out of quota, `provider_credential_invalid` that the
        workspace's key for the model provider (not your orq.ai key) was refused, ...
        """
        return hint_for(self.code, self.status_code, self.details)

    def __repr__(self) -> str:
        code = f", code={self.code!r}" if self.code else ""
        return (
            f"{type(self).__name__}(status_code={self.status_code}{code}, message={self.message!r})"
        )


class BadRequestError(APIError):
    """400: the request was malformed (orq: `invalid_request_body`, `unsupported_engine`)."""


class AuthenticationError(APIError):
    """401: the API key is missing, wrong or expired."""


class PermissionDeniedError(APIError):
    """403: the key is valid but may not do this."""


class NotFoundError(APIError):
    """404: no deployment (or other resource) with that key or id."""


class RequestTooLargeError(APIError):
    """413: the request body is larger than the server accepts."""


class UnprocessableEntityError(APIError):
    """422: the request is well-formed but cannot be served (orq: `variant_not_resolved`,
    `model_configuration_missing`, `provider_credential_invalid`, a failed guardrail)."""


class RateLimitError(APIError):
    """429: too many requests. `retry_after` is the server's advice in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        body: str = "",
        request_id: str | None = None,
        code: str | None = None,
        details: Any = None,
        doc_url: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            body=body,
            request_id=request_id,
            code=code,
            details=details,
            doc_url=doc_url,
        )
        self.retry_after = retry_after


class InternalServerError(APIError):
    """5xx: the server (or the model provider behind it) failed."""


class UnexpectedResponseError(APIError):
    """A success status whose body we cannot read: wrong content type, malformed JSON, a body
    that is not what its encoding says, or pages that never end."""


class APIConnectionError(OrqError):
    """The request did not get a whole answer: refused, reset, DNS failure, TLS error, a
    redirect loop, or a connection dropped after the answer started."""


class APITimeoutError(APIConnectionError):
    """The request timed out: connecting, or the answer did not come within its deadline."""


class StreamError(OrqError):
    """A stream broke after it had started: dropped connection, malformed event, a silence
    longer than the stream's deadline.

    `partial_text` holds the text received before the failure, so nothing is lost.
    """

    def __init__(self, message: str, *, partial_text: str = "") -> None:
        super().__init__(message)
        self.partial_text = partial_text


class MissingDependencyError(OrqError, ImportError):
    """A feature needs an optional package: the message says which extra installs it."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs {package}: pip install 'orq-notebook[{extra}]' "
            f"(or pip install {package})."
        )
        self.package = package
        self.extra = extra


_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for_status(status_code: int) -> type[APIError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status_code, APIError)
