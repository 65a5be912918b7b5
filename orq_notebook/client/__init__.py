"""The API client: orq's Deployments API over HTTP, for scripts, services and notebooks alike.

`Client` / `AsyncClient` (`_client`) over a shared base with no I/O (`_base`), the operations
(`_deployments`), the wire models (`_models`), SSE streams (`_streaming`, `_response_stream`),
retries (`_retry`), the error tree (`_exceptions`), settings from the environment (`_config`)
and orq's `{{variable}}` templating (`_templating`).

Layer rule: the bottom of the package. It imports nothing else of ours (but `_version`), and never
IPython, ipywidgets, the display side or the local server.
"""
