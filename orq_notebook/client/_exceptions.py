"""Every error orq_notebook raises, in one tree.

```
OrqError                          root: `except OrqError` catches everything below
├── MissingAPIKeyError            no key given, none in ORQ_API_KEY
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
├── APIConnectionError            the request never got an answer
│   └── APITimeoutError           ... because a timeout expired
├── StreamError                   a stream broke after it started (`partial_text` keeps what came)
└── MissingDependencyError        an optional extra is not installed (also an ImportError)
```

Exceptions hold plain values only (numbers and strings, no httpx objects), so the display
layer can render them without importing the HTTP stack, and so they pickle.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "InternalServerError",
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


class OrqError(Exception):
    """Base class of every error raised by orq_notebook."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class MissingAPIKeyError(OrqError):
    """Raised at the first request that needs a key when none was configured."""

    def __init__(self, message: str | None = None, *, env_var: str = "ORQ_API_KEY") -> None:
        super().__init__(
            message or f"No API key: set the {env_var} environment variable, or pass api_key=."
        )
        self.env_var = env_var


class APIError(OrqError):
    """The server answered with an error status.

    Attributes:
        status_code: the HTTP status.
        message: one readable sentence taken from the error body.
        body: the raw response body as text (may be empty).
        request_id: the server's request or trace id, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIError):
    """400: the request was malformed."""


class AuthenticationError(APIError):
    """401: the API key is missing, wrong or expired."""


class PermissionDeniedError(APIError):
    """403: the key is valid but may not do this."""


class NotFoundError(APIError):
    """404: no deployment (or other resource) with that key or id."""


class RequestTooLargeError(APIError):
    """413: the request body is larger than the server accepts."""


class UnprocessableEntityError(APIError):
    """422: the request is well-formed but invalid (a missing variable, a wrong type)."""


class RateLimitError(APIError):
    """429: too many requests. `retry_after` is the server's advice in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        body: str = "",
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body, request_id=request_id)
        self.retry_after = retry_after


class InternalServerError(APIError):
    """5xx: the server (or the model provider behind it) failed."""


class UnexpectedResponseError(APIError):
    """A success status whose body we cannot read: wrong content type or malformed JSON."""


class APIConnectionError(OrqError):
    """The request did not get an answer: refused, reset, DNS failure, TLS error."""


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write or pool)."""


class StreamError(OrqError):
    """A stream broke after it had started: dropped connection, malformed event.

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
