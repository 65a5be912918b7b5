"""orq_notebook: orq.ai prompt deployments from Jupyter, and from plain Python.

`%load_ext orq_notebook` registers `%orq` / `%%orq`. In Python: `Client`, `AsyncClient`,
content parts for messages (`image`, `file_part`, `user_message`), `run_batch`,
`run_experiment`, the `Playground` and `Compare` widgets, a local deployments server
(`orq_notebook.local.LocalServer`) for offline work, and `Recording`s of exchanges that
replay offline (`Client(record=FILE)`, `LocalServer(replay=FILE)`).

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
    from .client._cassette import Recording
    from .client._content import AttachmentError, file_part, image, user_message
    from .client._feedback import FeedbackRecord
    from .client._files import File, FileList
    from .display._result import Result
    from .experiments._catalog import Evaluator
    from .experiments._compare import Comparison
    from .experiments._result import ExperimentResult
    from .experiments._run import arun_experiment, run_experiment
    from .humanloop._client import AsyncHumanloopClient, HumanloopClient
    from .notebook._apps import Compare, Playground

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncHumanloopClient",
    "AsyncInvocationStream",
    "AttachmentError",
    "AuthenticationError",
    "BadRequestError",
    "BatchResult",
    "Client",
    "Compare",
    "Comparison",
    "Deployment",
    "DeploymentConfig",
    "DeploymentList",
    "Evaluator",
    "ExperimentResult",
    "FeedbackRecord",
    "File",
    "FileList",
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
    "Recording",
    "RequestTooLargeError",
    "Result",
    "StreamError",
    "UnexpectedResponseError",
    "UnprocessableEntityError",
    "__version__",
    "arun_batch",
    "arun_experiment",
    "file_part",
    "image",
    "load_ipython_extension",
    "run_batch",
    "run_experiment",
    "unload_ipython_extension",
    "user_message",
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
    "Recording": ".client._cassette",
    "AttachmentError": ".client._content",
    "file_part": ".client._content",
    "image": ".client._content",
    "user_message": ".client._content",
    "FeedbackRecord": ".client._feedback",
    "File": ".client._files",
    "FileList": ".client._files",
    "Comparison": ".experiments._compare",
    "Evaluator": ".experiments._catalog",
    "ExperimentResult": ".experiments._result",
    "arun_experiment": ".experiments._run",
    "run_experiment": ".experiments._run",
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
