"""orq_notebook: orq.ai prompt deployments from Jupyter, and from plain Python.

`%load_ext orq_notebook` registers `%orq` / `%%orq`. In Python: `Client`, `AsyncClient`,
`run_batch`, the `Playground` and `Compare` widgets, and a local deployments server
(`orq_notebook.local.LocalServer`) for offline work.

Importing this package imports neither IPython nor ipywidgets: the notebook parts load
when first used, so `%load_ext` and scripts stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._client import AsyncClient, Client
from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    MissingAPIKeyError,
    NotFoundError,
    OrqError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    StreamError,
    UnexpectedResponseError,
    UnprocessableEntityError,
)
from ._models import Deployment, DeploymentConfig, DeploymentList, Invocation, InvocationChunk
from ._streaming import AsyncInvocationStream, InvocationStream
from ._version import __version__

if TYPE_CHECKING:
    from ._apps import Compare, Playground
    from ._batch import BatchResult, arun_batch, run_batch
    from ._humanloop import AsyncHumanloopClient, HumanloopClient
    from ._result import Result

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
    "AsyncHumanloopClient": "._humanloop",
    "HumanloopClient": "._humanloop",
    "Compare": "._apps",
    "Playground": "._apps",
    "BatchResult": "._batch",
    "arun_batch": "._batch",
    "run_batch": "._batch",
    "Result": "._result",
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
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """Called by `%load_ext orq_notebook`: registers `%orq` and `%%orq`."""
    from ._magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Called by `%unload_ext orq_notebook`: stops a local server the session started."""
    from ._magics import unload_ipython_extension as unload

    unload(ipython)
