"""What the notebook shows: `Result`, Markdown/HTML rendering, streaming views, error lines and
the configuration view.

Layer rule: renders models and errors from `client/` (`_models`, `_exceptions`, `_templating`)
but never imports httpx or the HTTP client itself, so it can be tested without a server.
"""
