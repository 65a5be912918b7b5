"""A local server that speaks the orq.ai Deployments API from a deployments file.

    from orq_notebook.local import LocalServer
    with LocalServer("deployments.yaml") as server:
        server.base_url        # "http://127.0.0.1:PORT": give it to a client as its base URL

It can also replay a recording instead (``LocalServer(replay="answers.jsonl", pace=False)``,
``orq-notebook serve --replay answers.jsonl``): the same answers and stream events as when it
was recorded with ``Client(record=...)`` or ``%orq connect --record`` (see
``orq_notebook.Recording``).

From a shell: ``orq-notebook serve deployments.yaml [--host 127.0.0.1] [--port 8700]
[--api-key KEY] [--allow-env NAME] [--allow-host HOST]`` (the key also from
``ORQ_LOCAL_API_KEY``). It binds 127.0.0.1 by default; with a key, every request needs
``Authorization: Bearer <key>``, without one any request is accepted.

The deployments file (YAML, or JSON when its name ends in ``.json``)::

    strict_variables: false              # optional, for every deployment (see below)
    deployments:
      - key: support-answer              # required, unique; no spaces, `/ \\ ? # %`, `.`, `..`
        id: ...                          # optional; default: a UUID derived from the key
        description: Answers support questions
        variables: {company: Acme}       # defaults for {{company}}
        strict_variables: false          # true: a {{variable}} with no value is a 422
        prompt_config:                   # as in the list endpoint; only `model` is required
          provider: openai               # default openai; any name, as orq's list grows
          model: gpt-4o-mini
          model_type: chat               # default chat; `image` answers with a picture
          model_parameters: {temperature: 0.2, maxTokens: 256}   # camelCase, as on the wire
          messages:
            - {role: system, content: "You answer for {{company}}. Be brief."}
          tools: []
        responder: echo                  # echo | {mock: "fixed text"} |
                                         # {openai: {base_url, model, api_key_env}}
        stream_delay_ms: 0               # pause between streamed chunks
        variants:                        # optional routing on the request's `context`
          - when: {environments: production}
            prompt_config: {model: gpt-4o}   # merged over prompt_config; model_parameters
                                             # key by key, other fields replaced
        faults:                          # optional, for testing clients (see below)
          status: 429                    # 402 | 408 | 422 | 429 | 500 | 502 | 503 | 504 ...
          code: rate_limit_exceeded      # ... with orq's code (default: the status's usual)
          times: 2                       # ... for the first 2 requests (default: always)
          retry_after: 0.5               # seconds: `Retry-After: 0.5`, `retry-after-ms: 500`
          drop_after_chunks: 3           # close a stream's connection after 3 chunks
          delay_ms: 200                  # wait before answering invoke and stream
        created: 2025-05-02T09:14:11Z    # optional; default: the file's mtime
        updated: 2025-06-18T16:40:03Z    # optional; default: mtime of the last change

A mistake in the file gives one message naming the line and the field, and the server does
not start. Editing the file takes effect on the next request (one ``stat`` per request);
a changed entry gets the next version (``v1``, ``v2``, ...). A file broken while serving
makes requests answer 500 with the file's error until it is fixed.
``DELETE /v2/deployments/invalidate/{id}`` re-reads the file and restarts the `faults`
counters. A file is read within bounds (10 MB, 100 levels of nesting, 100,000 values once
YAML aliases are expanded): past them it is refused with one line naming where.

As on orq.ai:

* Variables: ``inputs`` over `variables` fill ``{{names}}``; a name with neither becomes
  empty text and the call succeeds (orq's guide: missing inputs "silently omit prompt
  content with no error"), in get_config too. ``strict_variables: true`` (per deployment or
  for the file) makes it a 422 ``missing_variables`` naming them instead, for tests.
* Errors are orq's: ``{"message", "error": {"code", "message", "doc_url", "details"?}}``;
  a body that cannot be used is 400 ``invalid_request_body``, an unknown key 404
  ``deployment_not_found``, a missing/wrong API key 401 ``authentication_required`` /
  ``invalid_api_key``. Unknown request fields are ignored at every depth.
* Routing: a request's `context` picks the first variant whose `when` matches, else the
  deployment's own `prompt_config`. An entry with `variants` and no `prompt_config` has no
  default: each variant gives a whole `prompt_config`, and a request matching none gets
  orq's 422 ``variant_not_resolved``.
* Image deployments (``model_type: image``) answer ``object: "image"`` with a message
  ``{type: "image", role: "assistant", url}``. Only chat and completion deployments stream
  (orq: "Only supported for completions and chat completions"); streaming any other is a 400
  saying so.

Responders: `echo` answers with the final message list, one ``role: content`` line per
message (then a ``(parameters: ...)`` line) -- for an image deployment, that list drawn into
an SVG ``data:`` URI --, `mock` with fixed text (an image deployment's url), `openai` by
calling ``{base_url}/chat/completions`` of an OpenAI-compatible server (Ollama, vLLM, LM
Studio, OpenAI) with the key from the environment variable named by `api_key_env`, sending
the deployment's `tools` and returning the model's tool calls as a ``tool_calls`` message.
``invoke_options.mock_response`` overrides any responder.

Secrets: a deployments file may come with someone else's notebook, so it may name only the
environment variables (`api_key_env`) and hosts (`base_url`) you allow when starting the
server: ``--allow-env NAME --allow-host HOST``, ``LocalServer(path, allow_env=[...],
allow_hosts=[...])`` or ``ORQ_LOCAL_ALLOW_ENV`` / ``ORQ_LOCAL_ALLOW_HOSTS`` (comma-separated).
Loopback hosts need no allowing; a variable always does. ``server.secrets_summary`` says in
one line which variables go where (``%orq connect --local`` prints it).

Usage (only with ``invoke_options.include_usage``, as the API does) is an approximation:
one token per word or punctuation mark, counted over the text of the final messages (prompt)
and of the answer (completion). An `openai` upstream's own counts are used when it reports them.
"""

from __future__ import annotations

from ._app import DEFAULT_MAX_BODY_BYTES, create_app
from ._reading import DeploymentFileError
from ._server import LocalServer
from ._spec import DeploymentSpec
from ._store import DeploymentStore, StoredDeployment

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DeploymentFileError",
    "DeploymentSpec",
    "DeploymentStore",
    "LocalServer",
    "StoredDeployment",
    "create_app",
]
