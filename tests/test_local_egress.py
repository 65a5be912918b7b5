"""A deployments file cannot send a secret anywhere without the user's say-so (issue 19, 5).

The file names hosts (`responder.openai.base_url`) and environment variables
(`api_key_env`, whose value goes to that host as the bearer key). It may name only what the
user allowed when starting the server -- `LocalServer(allow_env=, allow_hosts=)`,
`orq-notebook serve --allow-env/--allow-host`, `ORQ_LOCAL_ALLOW_ENV/_HOSTS` -- loopback hosts
excepted. The "remote" upstream here is a real server on this machine's non-loopback address,
so a refusal is seen to send nothing, and an allowed call is seen to arrive with the key.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orq_notebook.local import DeploymentFileError, DeploymentStore, LocalServer
from orq_notebook.local._server import ServerThread
from orq_notebook.notebook import _session
from tests.test_local_cli import Serving

ROOT = Path(__file__).resolve().parents[1]
SECRET = "sk-orq-user-secret-4242"


def _outward_address() -> str | None:
    """This machine's address on its default route (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


class Upstream:
    """An OpenAI-compatible server that records the Authorization header of each call."""

    def __init__(self, host: str) -> None:
        self.seen: list[str | None] = []

        async def completions(request: Request) -> JSONResponse:
            self.seen.append(request.headers.get("authorization"))
            return JSONResponse({"choices": [{"message": {"content": "from upstream"}}]})

        app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
        self.thread = ServerThread(app, host=host)
        self.thread.start()
        self.url = f"{self.thread.url}/v1"


@pytest.fixture(scope="module")
def remote() -> Iterator[Upstream]:
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    upstream = Upstream(address)
    yield upstream
    upstream.thread.stop()


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ORQ_API_KEY", SECRET)
    return SECRET


def deployments(tmp_path: Path, base_url: str, env: str | None = "ORQ_API_KEY") -> Path:
    key = f", api_key_env: {env}" if env else ""
    path = tmp_path / "deployments.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            deployments:
              - key: safe
                prompt_config: {{model: m}}
              - key: exfiltrate
                prompt_config: {{model: m}}
                responder: {{openai: {{base_url: "{base_url}"{key}}}}}
            """
        ),
        encoding="utf-8",
    )
    return path


@pytest.mark.timeout(30)
def test_the_issues_example_is_refused_and_sends_nothing(
    tmp_path: Path, remote: Upstream, secret: str
) -> None:
    host = httpx.URL(remote.url).host
    path = deployments(tmp_path, remote.url)
    server = LocalServer(path)
    with pytest.raises(DeploymentFileError) as info:
        server.start()
    message = str(info.value)
    assert message.startswith(f"{path}, line 6: deployments[1].responder.openai.api_key_env: ")
    assert f"sends the environment variable ORQ_API_KEY to {host}" in message
    assert f"--allow-env ORQ_API_KEY --allow-host {host}" in message
    assert f"ORQ_LOCAL_ALLOW_ENV=ORQ_API_KEY, ORQ_LOCAL_ALLOW_HOSTS={host}" in message
    assert "allow_env=['ORQ_API_KEY'], allow_hosts=" in message
    assert "\n" not in message and secret not in message
    assert not server.running and remote.seen == []


@pytest.mark.timeout(30)
def test_allowed_by_argument_the_key_goes_there(
    tmp_path: Path, remote: Upstream, secret: str
) -> None:
    path = deployments(tmp_path, remote.url)
    host = httpx.URL(remote.url).host
    with LocalServer(path, allow_env=["ORQ_API_KEY"], allow_hosts=[host]) as server:
        assert server.secrets_summary == (
            f"The deployments file sends $ORQ_API_KEY to {remote.url} (deployment exfiltrate)."
        )
        response = httpx.post(
            f"{server.base_url}/v2/deployments/invoke", json={"key": "exfiltrate"}
        )
        assert response.json()["choices"][0]["message"]["content"] == "from upstream"
    assert remote.seen[-1] == f"Bearer {secret}"


@pytest.mark.timeout(30)
def test_allowed_by_the_environment(
    tmp_path: Path, remote: Upstream, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = deployments(tmp_path, remote.url)
    monkeypatch.setenv("ORQ_LOCAL_ALLOW_ENV", "OTHER, ORQ_API_KEY")
    with pytest.raises(DeploymentFileError, match=r"the file calls [\d.]+, which you have not"):
        LocalServer(path).start()  # the variable is allowed now, the host not yet
    monkeypatch.setenv("ORQ_LOCAL_ALLOW_HOSTS", remote.url)  # a URL names its host
    with LocalServer(path) as server:
        assert "sends $ORQ_API_KEY" in server.secrets_summary


@pytest.mark.timeout(30)
def test_a_host_alone_needs_allowing_too(tmp_path: Path, remote: Upstream) -> None:
    # No key goes along, but the prompt and the notebook's inputs would.
    path = deployments(tmp_path, remote.url, env=None)
    host = httpx.URL(remote.url).host
    with pytest.raises(DeploymentFileError) as info:
        DeploymentStore.from_file(path)
    assert f"deployments[1].responder.openai.base_url: the file calls {host}, which" in str(
        info.value
    )
    assert "--allow-env" not in str(info.value)
    store = DeploymentStore.from_file(path, allow_hosts=[host])
    assert store.secrets_summary == (
        f"The deployments file calls {remote.url} without a key (deployment exfiltrate)."
    )


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("https://api.openai.com@evil.example/v1", "evil.example"),  # userinfo, not the host
        ("http://0.0.0.0:9/v1", "0.0.0.0"),  # reaches this machine, but not loopback by name
        ("http://127.1:9/v1", "127.1"),
        ("http://localhost.evil.example/v1", "localhost.evil.example"),
        ("http://EVIL.Example/v1", "evil.example"),
        ("http://[2001:db8::1]:9/v1", "2001:db8::1"),
    ],
)
def test_hosts_are_what_the_url_connects_to(tmp_path: Path, base_url: str, host: str) -> None:
    path = deployments(tmp_path, base_url, env=None)
    with pytest.raises(DeploymentFileError, match=f"the file calls {host}, which"):
        DeploymentStore.from_file(path, allow_hosts=["api.openai.com"])


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:9/v1", "http://localhost:11434/v1", "http://[::1]:9/v1"]
)
def test_loopback_needs_no_allowing_but_a_variable_does(
    tmp_path: Path, base_url: str, secret: str
) -> None:
    assert DeploymentStore.from_file(deployments(tmp_path, base_url, env=None)).get("exfiltrate")
    with pytest.raises(DeploymentFileError, match="sends the environment variable ORQ_API_KEY"):
        DeploymentStore.from_file(deployments(tmp_path, base_url))
    store = DeploymentStore.from_file(deployments(tmp_path, base_url), allow_env=["ORQ_API_KEY"])
    assert store.secrets_summary.startswith("The deployments file sends $ORQ_API_KEY to ")


@pytest.mark.timeout(30)
def test_an_edit_while_serving_cannot_slip_a_secret_in(
    tmp_path: Path, remote: Upstream, secret: str
) -> None:
    path = deployments(tmp_path, "http://127.0.0.1:9/v1", env=None)
    with LocalServer(path) as server, httpx.Client(base_url=server.base_url) as client:
        assert client.post("/v2/deployments/invoke", json={"key": "safe"}).status_code == 200
        seen = len(remote.seen)
        deployments(tmp_path, remote.url)
        for _ in range(2):
            response = client.post("/v2/deployments/invoke", json={"key": "exfiltrate"})
            assert response.status_code == 500
            assert "which you have not allowed" in response.json()["message"]
            assert secret not in response.text
        assert len(remote.seen) == seen


@pytest.mark.timeout(60)
def test_the_cli_refuses_in_one_line_and_serves_when_allowed(
    tmp_path: Path, remote: Upstream, secret: str
) -> None:
    path = deployments(tmp_path, remote.url)
    host = httpx.URL(remote.url).host
    refused = subprocess.run(
        [sys.executable, "-m", "orq_notebook", "serve", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "--allow-env ORQ_API_KEY --allow-host" in refused.stderr
    assert secret not in refused.stderr
    allowed = subprocess.Popen(
        [
            *(sys.executable, "-m", "orq_notebook", "serve", str(path), "--port", "0"),
            *("--allow-env", "ORQ_API_KEY", "--allow-host", host),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert allowed.stdout is not None
    banner = [allowed.stdout.readline() for _ in range(3)]
    assert banner[1] == (
        f"The deployments file sends $ORQ_API_KEY to {remote.url} (deployment exfiltrate).\n"
    )
    code, stderr = Serving(allowed, "".join(banner), "").stop(signal.SIGINT)
    assert code == 0 and secret not in "".join(banner) + stderr


def test_a_bad_port_or_host_for_local_server_is_a_clear_value_error(tmp_path: Path) -> None:
    path = deployments(tmp_path, "http://127.0.0.1:9/v1", env=None)
    for port in (99999, -1, 1.5, "8700", True):
        with pytest.raises(ValueError, match="port must be a whole number from 0 to 65535"):
            LocalServer(path, port=port)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="host must be a host name"):
        LocalServer(path, host="")
    with pytest.raises(ValueError, match="a DeploymentStore keeps its own allowances"):
        LocalServer(DeploymentStore.from_file(path), allow_env=["X"])


@pytest.mark.timeout(60)
def test_connect_local_says_which_secrets_go_where(
    tmp_path: Path, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell = InteractiveShell.instance()
    _session.set_session(_session.Session())
    shell.run_line_magic("load_ext", "orq_notebook")
    try:
        path = deployments(tmp_path, "http://127.0.0.1:9/v1")
        with capture_output() as refused:
            try:
                shell.run_line_magic("orq", f"connect --local {path}")
            except Exception as exc:  # UsageError: one line
                print(f"{type(exc).__name__}: {exc}")
        assert "UsageError: " in refused.stdout and refused.stdout.count("\n") == 1
        assert "--allow-env ORQ_API_KEY" in refused.stdout and secret not in refused.stdout
        monkeypatch.setenv("ORQ_LOCAL_ALLOW_ENV", "ORQ_API_KEY")
        with capture_output() as connected:
            shell.run_line_magic("orq", f"connect --local {path}")
        lines = connected.stdout.splitlines()
        assert lines[-1] == (
            "The deployments file sends $ORQ_API_KEY to http://127.0.0.1:9/v1 "
            "(deployment exfiltrate)."
        )
        safe = tmp_path / "safe.yaml"
        safe.write_text("deployments: [{key: a, prompt_config: {model: m}}]\n", encoding="utf-8")
        with capture_output() as quiet:
            shell.run_line_magic("orq", f"connect --local {safe}")
        assert "deployments file sends" not in quiet.stdout  # nothing leaves: nothing said
    finally:
        shell.run_line_magic("unload_ext", "orq_notebook")  # stops the local server
        _session.set_session(None)
