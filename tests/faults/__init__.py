"""Fault injection for the hardening tests: a misbehaving HTTP server on loopback.

`FaultServer` (raw asyncio, in a daemon thread, 127.0.0.1 only, stops by itself) speaks just
enough of the Deployments API to be reached by every layer of orq_notebook — `Client`,
`AsyncClient`, the `%orq` magics (`%orq connect --url`) and `run_batch` — and then breaks the
answer the way networks, proxies and servers do: the connection drops after N chunks,
malformed SSE (bad JSON, a non-UTF-8 byte, a 10 MB line, no `[DONE]`), a stall longer than
the read timeout, 429 with `Retry-After`, 500 with a HonoAPIError body, 502/503 bursts,
200 with the wrong content type, a close before the headers.

It complements the local server's own `faults:` block (status, times, retry_after,
drop_after_chunks, delay_ms), which a well-formed ASGI app can produce; these cannot.
"""

from __future__ import annotations

from ._server import Fault, FaultServer, Logged
from ._wire import ANSWER, PIECES, raw_request

__all__ = ["ANSWER", "PIECES", "Fault", "FaultServer", "Logged", "raw_request"]
