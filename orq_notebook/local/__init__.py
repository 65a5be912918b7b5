"""A local server that speaks the orq.ai Deployments API from a deployments file.

    from orq_notebook.local import LocalServer
    with LocalServer("deployments.yaml") as server:
        server.base_url        # "http://127.0.0.1:PORT": give it to a client as its base URL

It can also replay a recording instead (``LocalServer(replay="answers.jsonl", pace=False)``,
``orq-notebook serve --replay answers.jsonl``): the same answers and stream events as when it
was recorded with ``Client(record=...)`` or ``%orq connect --record`` (see
``orq_notebook.Recording``).

From a shell: ``orq-notebook serve deployments.yaml [--host 127.0.0.1] [--port 8700]
[--api-key KEY]`` (or ``ORQ_LOCAL_API_KEY``). It binds 127.0.0.1 by default; with a key,
every request needs ``Authorization: Bearer <key>``, without one any request is accepted.

The deployments file (YAML, or JSON when its name ends in ``.json``)::

    deployments:
      - key: support-answer              # required, unique; no spaces or slashes
        id: ...                          # optional; default: a UUID derived from the key
        description: Answers support questions
        variables: {company: Acme}       # defaults for {{company}}
        prompt_config:                   # as in the list endpoint; only `model` is required
          provider: openai               # default openai; must be a provider the orq SDK knows
          model: gpt-4o-mini
          model_type: chat               # default chat
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
          status: 429                    # 429 | 500 | 503 on invoke and stream ...
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
counters. Unknown providers are refused, not mapped: the official SDK rejects any value
outside its closed enum, and for a local model ``openailike`` is the honest name.

Responders: `echo` answers with the final message list, one ``role: content`` line per
message (then a ``(parameters: ...)`` line), `mock` with fixed text, `openai` by calling
``{base_url}/chat/completions`` of an OpenAI-compatible server (Ollama, vLLM, LM Studio,
OpenAI) with the key from the environment variable named by `api_key_env`, sending the
deployment's `tools` and returning the model's tool calls as a ``tool_calls`` message.
``invoke_options.mock_response`` overrides any responder.

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
