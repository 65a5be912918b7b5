"""What a deployments file may send off this machine: only what the user allowed.

A deployments file is someone else's text as often as one's own (it comes with a notebook),
and `responder: {openai: {base_url, api_key_env}}` names a server to call and an environment
variable whose value goes there as the bearer key. So the file may name only

* hosts the user allowed: ``orq-notebook serve --allow-host HOST``,
  ``LocalServer(allow_hosts=[...])`` or ``ORQ_LOCAL_ALLOW_HOSTS=host,host``; loopback hosts
  (``localhost``, ``127.0.0.0/8``, ``::1``) need no allowing;
* environment variables the user allowed: ``--allow-env NAME``,
  ``LocalServer(allow_env=[...])`` or ``ORQ_LOCAL_ALLOW_ENV=NAME,NAME``, loopback or not.

The three ways add up. Anything else refuses the whole file, with one line naming the
variable or host and how to allow it; the check runs on every load, so an edit made while the
server runs cannot slip one in. `summary()` says in one line which secrets go where.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx

__all__ = ["ALLOW_ENV_VAR", "ALLOW_HOSTS_VAR", "Egress", "host_of", "is_loopback"]

ALLOW_ENV_VAR = "ORQ_LOCAL_ALLOW_ENV"
ALLOW_HOSTS_VAR = "ORQ_LOCAL_ALLOW_HOSTS"


def _names(values: str | Iterable[str] | None) -> list[str]:
    if values is None:
        return []
    items = values.split(",") if isinstance(values, str) else list(values)
    return [str(v).strip() for v in items if str(v).strip()]


def host_of(url_or_host: str) -> str:
    """The host a URL connects to (`http://a@b.example/x` -> `b.example`), lowercased; a
    bare host is returned as it is. Raises `ValueError` for a URL that cannot be parsed."""
    text = url_or_host.strip()
    if "://" not in text:
        return text.lower().strip("[]")
    try:
        return httpx.URL(text).host.lower()
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValueError(f"{url_or_host!r} is not a valid URL: {exc}") from None


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address; a name that merely resolves to one is not."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


@dataclass(frozen=True)
class Egress:
    """The environment variables and hosts a deployments file may use (see the module doc)."""

    allow_env: frozenset[str] = frozenset()
    allow_hosts: frozenset[str] = frozenset()

    @classmethod
    def resolve(
        cls,
        allow_env: str | Iterable[str] | None = None,
        allow_hosts: str | Iterable[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Egress:
        """What the caller allowed, plus `ORQ_LOCAL_ALLOW_ENV` / `ORQ_LOCAL_ALLOW_HOSTS`.
        A host may be given as a URL (`https://api.openai.com/v1`)."""
        env = os.environ if environ is None else environ
        names = _names(allow_env) + _names(env.get(ALLOW_ENV_VAR))
        hosts = _names(allow_hosts) + _names(env.get(ALLOW_HOSTS_VAR))
        return cls(frozenset(names), frozenset(host_of(h) for h in hosts))

    def refusal(self, base_url: str, api_key_env: str | None) -> tuple[str, str] | None:
        """(field, problem) when a responder calling `base_url` with the key in `api_key_env`
        is not allowed; the field is `api_key_env` or `base_url`."""
        host = host_of(base_url)
        env_ok = api_key_env is None or api_key_env in self.allow_env
        host_ok = is_loopback(host) or host in self.allow_hosts
        if env_ok and host_ok:
            return None
        flags, assignments, arguments = [], [], []
        if not env_ok:
            flags.append(f"--allow-env {api_key_env}")
            assignments.append(f"{ALLOW_ENV_VAR}={api_key_env}")
            arguments.append(f"allow_env=[{api_key_env!r}]")
        if not host_ok:
            flags.append(f"--allow-host {host}")
            assignments.append(f"{ALLOW_HOSTS_VAR}={host}")
            arguments.append(f"allow_hosts=[{host!r}]")
        if not env_ok:
            what = f"sends the environment variable {api_key_env} to {host}"
        else:
            what = f"calls {host}"
        how = (
            f"{' '.join(flags)} when starting the server (or set {', '.join(assignments)}; in "
            f"Python: LocalServer(..., {', '.join(arguments)}))"
        )
        field = "base_url" if env_ok else "api_key_env"
        return field, f"the file {what}, which you have not allowed: allow it with {how}"

    @staticmethod
    def summary(uses: Sequence[tuple[str, str, str | None]]) -> str:
        """One line saying which secrets go where, from (deployment key, base_url,
        api_key_env) triples; empty when the file calls no other server."""
        if not uses:
            return ""
        grouped: dict[tuple[str | None, str], list[str]] = {}
        for key, base_url, env in uses:
            grouped.setdefault((env, base_url), []).append(key)
        parts = []
        for (env, base_url), keys in grouped.items():
            who = f"deployment{'s' if len(keys) > 1 else ''} {', '.join(keys)}"
            if env:
                parts.append(f"sends ${env} to {base_url} ({who})")
            else:
                parts.append(f"calls {base_url} without a key ({who})")
        return "The deployments file " + "; ".join(parts) + "."
