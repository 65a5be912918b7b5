"""orq_notebook: orq.ai prompt deployments from Jupyter, and from plain Python.

`%load_ext orq_notebook` registers `%orq` / `%%orq`. In Python: `Client`, `AsyncClient`,
`run_batch`, the `Playground` and `Compare` widgets, and a local deployments server
(`orq_notebook.local.LocalServer`) for offline work.

Importing this package imports neither IPython nor ipywidgets: the notebook parts load
when first used, so `%load_ext` and scripts stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .client._client import AsyncClient, Client
from .client._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MissingAPIKeyError,
    MissingDependencyError,
    NotFoundError,
    OrqError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    StreamError,
    UnexpectedResponseError,
    UnprocessableEntityError,
)
from .client._models import (
    Deployment,
    DeploymentConfig,
    DeploymentList,
    Invocation,
    InvocationChunk,
)
from .client._streaming import AsyncInvocationStream, InvocationStream

if TYPE_CHECKING:
    from .batch._api import arun_batch, run_batch
    from .batch._result import BatchResult
    from .display._result import Result
    from .humanloop._client import AsyncHumanloopClient, HumanloopClient
    from .notebook._apps import Compare, Playground

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncHumanloopClient",
    "AsyncInvocationStream",
    "AuthenticationError",
    "BadRequestError",
    "BatchResult",
    "Client",
    "Compare",
    "Deployment",
    "DeploymentConfig",
    "DeploymentList",
    "HumanloopClient",
    "InternalServerError",
    "Invocation",
    "InvocationChunk",
    "InvocationStream",
    "MissingAPIKeyError",
    "MissingDependencyError",
    "NotFoundError",
    "OrqError",
    "PermissionDeniedError",
    "Playground",
    "RateLimitError",
    "RequestTooLargeError",
    "Result",
    "StreamError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
    "__version__",
    "arun_batch",
    "load_ipython_extension",
    "run_batch",
    "unload_ipython_extension",
]

# Names whose modules pull in ipywidgets or tqdm, or that few users need: imported on first
# access, so `import orq_notebook` (and `%load_ext`) stays fast.
_LAZY = {
    "AsyncHumanloopClient": ".humanloop._client",
    "HumanloopClient": ".humanloop._client",
    "Compare": ".notebook._apps",
    "Playground": ".notebook._apps",
    "BatchResult": ".batch._result",
    "arun_batch": ".batch._api",
    "run_batch": ".batch._api",
    "Result": ".display._result",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orq_notebook' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # The public API only: not `annotations`, `TYPE_CHECKING` or the folders.
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """Called by `%load_ext orq_notebook`: registers `%orq` and `%%orq`."""
    from .notebook._magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Called by `%unload_ext orq_notebook`: stops a local server the session started."""
    from .notebook._magics import unload_ipython_extension as unload

    unload(ipython)
