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

from ._deployments import AsyncDeployments, Deployments
from ._io import _AsyncClient, _SyncClient

if TYPE_CHECKING:  # imported on first use: `import orq_notebook` stays as fast as it was
    from ._feedback import AsyncFeedback, Feedback
    from ._files import AsyncFiles, Files

__all__ = ["AsyncClient", "Client"]


class Client(_SyncClient):
    """A client of the orq.ai Deployments API (or of a local server speaking it).

    `Client(api_key=None, base_url=None)`: the key defaults to `ORQ_API_KEY`, the base URL to
    `ORQ_BASE_URL`, else `https://my.orq.ai`. Use it as a context manager, or call `close()`.

    Args:
        environment: sent as `context.environments` with invoke, stream and get_config; it
            replaces an `environments` in the call's own `context`, as in the official SDK.
        contact_id: sent as the `X-ORQ-CONTACT-ID` header.
        timeout: the deadline of one answer, in seconds (default 600, as the SDK): the whole
            answer of a call, or the first chunk of a stream. Connecting gets at most 10 s.
            However slowly the bytes come, a call ends at its deadline (`APITimeoutError`).
        idle_timeout: the longest silence between two chunks of a stream (default 300 s).
        max_retries: retries of what the service cannot have started: connection failures,
            408, 429 (after its `Retry-After`) and 503; 0 disables them. See `retry_unsafe`.
        retry_unsafe: also retry a generation that may have run (a connection dropped after
            the answer started, a read timeout, 502, 504); each such retry may bill again.
        on_retry: called with a `RetryNotice` (wait in seconds, reason) before each retry.
        transport: an httpx transport, e.g. `httpx.MockTransport` in tests.
        http_client: an `httpx.Client` you own (and close); it keeps its own timeouts.
        env: where to read the environment variables (default `os.environ`).
        record: a recording file (or `Recording`): record every exchange to it, or answer
            from it, by its mode (`rewrite`, `new_episodes`, `none`; see `Recording`).
            Default: `ORQ_RECORD` / `ORQ_REPLAY`; `False` ignores them.

    Every error raised is an `OrqError`: a bad argument is also a TypeError or ValueError.
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
