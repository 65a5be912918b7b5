"""The orq.ai Deployments API client: `Client`, and `AsyncClient` for event loops.

The I/O and everything without it are in `_base`; the operations themselves
(`client.deployments.*`) are in `_deployments`.

```python
with Client() as client:                      # the key comes from ORQ_API_KEY
    answer = client.deployments.invoke("support-answer", inputs={"question": "Hi"})
```
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from ._base import _AsyncClient, _SyncClient
from ._deployments import AsyncDeployments, Deployments

if TYPE_CHECKING:  # imported on first use: `import orq_notebook` stays as fast as it was
    from ._feedback import AsyncFeedback, Feedback
    from ._files import AsyncFiles, Files

__all__ = ["AsyncClient", "Client"]


class Client(_SyncClient):
    """A client of the orq.ai Deployments API (or of a local server speaking it).

    `Client(api_key=None, base_url=None)`: the key defaults to `ORQ_API_KEY`, the base URL to
    `ORQ_BASE_URL`, else `https://my.orq.ai`. Use it as a context manager, or call `close()`.

    Args:
        environment: sent as `context.environments` with invoke, stream and get_config.
        contact_id: sent as the `X-ORQ-CONTACT-ID` header.
        timeout: seconds per request (connecting gets at most 10); for a stream, between bytes.
        max_retries: retries of 429/502/503/504 and connection errors; 0 disables them.
        transport: an httpx transport, e.g. `httpx.MockTransport` in tests.
        http_client: an `httpx.Client` you own (and close); it keeps its own timeouts.
        env: where to read the environment variables (default `os.environ`).
        record: a recording file (or `Recording`): record every exchange to it, or answer
            from it, by its mode (`rewrite`, `new_episodes`, `none`; see `Recording`).
            Default: `ORQ_RECORD` / `ORQ_REPLAY`; `False` ignores them.
    """

    @functools.cached_property
    def deployments(self) -> Deployments:
        """List, configure, invoke and stream deployments."""
        return Deployments(self)

    @functools.cached_property
    def files(self) -> Files:
        """Upload, list, get and delete files (`file_ids=` of a deployment call)."""
        from ._files import Files

        return Files(self)

    @functools.cached_property
    def feedback(self) -> Feedback:
        """Send and remove feedback on an answer's trace."""
        from ._feedback import Feedback

        return Feedback(self)


class AsyncClient(_AsyncClient):
    """The async twin of `Client`: same arguments, `await` on every call.

    ```python
    async with AsyncClient() as client:
        answer = await client.deployments.invoke("support-answer", inputs={"question": "Hi"})
    ```
    """

    @functools.cached_property
    def deployments(self) -> AsyncDeployments:
        """List, configure, invoke and stream deployments (awaitable)."""
        return AsyncDeployments(self)

    @functools.cached_property
    def files(self) -> AsyncFiles:
        """Upload, list, get and delete files (awaitable)."""
        from ._files import AsyncFiles

        return AsyncFiles(self)

    @functools.cached_property
    def feedback(self) -> AsyncFeedback:
        """Send and remove feedback on an answer's trace (awaitable)."""
        from ._feedback import AsyncFeedback

        return AsyncFeedback(self)
