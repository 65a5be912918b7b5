"""`orq-notebook serve`: a real subprocess (`python -m orq_notebook`) for serving and
signals; `main()` in-process for what needs no server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orq_notebook._cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "deployments.yaml"


class Serving:
    def __init__(self, process: subprocess.Popen[str], banner: str, base_url: str) -> None:
        self.process, self.banner, self.base_url = process, banner, base_url

    def stop(self, sig: signal.Signals) -> tuple[int, str]:
        self.process.send_signal(sig)
        _, stderr = self.process.communicate(timeout=20)
        return self.process.returncode, stderr


def start_serving(path: Path) -> Serving:
    """`python -m orq_notebook serve PATH --port 0` with a key, once its banner is out."""
    env = {**os.environ, "ORQ_LOCAL_API_KEY": "cli-secret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "orq_notebook", "serve", str(path), "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("Base URL: "):
            break
    base_url = banner[-1].removeprefix("Base URL: ").strip()
    assert base_url.startswith("http://127.0.0.1:"), "".join(banner)
    banner += [process.stdout.readline() for _ in range(6)]
    return Serving(process, "".join(banner), base_url)


@pytest.fixture
def serve() -> Iterator[Serving]:
    serving = start_serving(FIXTURE)
    yield serving
    if serving.process.poll() is None:
        serving.process.kill()
        serving.process.communicate()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serves_then_stops_cleanly_on_a_signal(serve: Serving, sig: signal.Signals) -> None:
    assert "serving 6 deployment(s)" in serve.banner
    assert f"export ORQ_BASE_URL={serve.base_url}" in serve.banner
    assert "Press Ctrl+C to stop." in serve.banner
    with httpx.Client(base_url=serve.base_url) as client:
        assert client.get("/v2/deployments").status_code == 401
        headers = {"Authorization": "Bearer cli-secret"}
        response = client.post("/v2/deployments/invoke", json={"key": "fixed"}, headers=headers)
        assert response.json()["choices"][0]["message"]["content"].startswith("You can return")
    code, stderr = serve.stop(sig)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.rstrip().endswith("orq-notebook: stopped.")
    assert "POST /v2/deployments/invoke" in stderr  # the access log
    assert "cli-secret" not in serve.banner + stderr


WORDS = " ".join(f"w{i}" for i in range(400))  # 20 s when read to the end
SLOW = f"""\
deployments:
  - key: slow
    prompt_config: {{model: m}}
    responder: {{mock: "{WORDS}"}}
    stream_delay_ms: 50
"""


@pytest.mark.timeout(60)
def test_ctrl_c_during_a_stream_stops_at_once_and_quietly(tmp_path: Path) -> None:
    # Ctrl+C cuts a 20 s stream after a short grace instead of waiting for it, and logs no
    # traceback. How long it takes is measured by benchmarks/server_stop.py, not here.
    (tmp_path / "slow.yaml").write_text(SLOW, encoding="utf-8")
    serving = start_serving(tmp_path / "slow.yaml")
    headers = {"Authorization": "Bearer cli-secret"}
    chunks: list[bytes] = []
    try:
        with (
            httpx.Client(base_url=serving.base_url, headers=headers, timeout=30) as client,
            client.stream("POST", "/v2/deployments/stream", json={"key": "slow"}) as response,
        ):
            stream = response.iter_raw()
            chunks.append(next(stream))
            code, stderr = serving.stop(signal.SIGINT)
            with pytest.raises(httpx.RemoteProtocolError):
                chunks.extend(stream)
    finally:
        if serving.process.poll() is None:
            serving.process.kill()
            serving.process.communicate()
    assert code == 0 and "Traceback" not in stderr, stderr
    assert stderr.rstrip().endswith("orq-notebook: stopped.")
    assert b"[DONE]" not in b"".join(chunks) and chunks[0].startswith(b"data: ")


def test_a_bad_file_is_refused_with_its_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "deployments:\n  - key: a\n    prompt_config: {model: m}\n    responder: echoo\n"
    )
    assert main(["serve", str(bad), "--port", "0"]) == 1
    assert capsys.readouterr().err == (
        f"orq-notebook: the deployments file cannot be served: {bad}, line 4: "
        "deployments[0].responder: expected echo, {mock: text} or "
        "{openai: {base_url, model, api_key_env}}; got 'echoo'\n"
    )


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in ("FILE", "--host", "--port", "--api-key", "ORQ_LOCAL_API_KEY", "8700"):
        assert text in out
    for text in ("--allow-env", "--allow-host", "ORQ_LOCAL_ALLOW_ENV", "ORQ_LOCAL_ALLOW_HOSTS"):
        assert text in out
    assert main([]) == 2
    assert "serve" in capsys.readouterr().out


BAD_ARGUMENTS = [
    (["--port", "99999"], "argument --port: expected a port from 0 to 65535, got '99999'"),
    (["--port", "-1"], "argument --port: expected a port from 0 to 65535, got '-1'"),
    (["--port", "eighty"], "argument --port: expected a port from 0 to 65535, got 'eighty'"),
    (["--port", "1e9"], "argument --port: expected a port from 0 to 65535, got '1e9'"),
    (["--host", ""], "argument --host: expected a host name or address"),
    (["--host", "http://127.0.0.1"], "argument --host: expected a host name or address"),
    (["--host", "no such host.invalid"], "argument --host: expected a host name or address"),
    (["--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("extra", "says"), BAD_ARGUMENTS, ids=[" ".join(b[0]) for b in BAD_ARGUMENTS]
)
def test_bad_arguments_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", str(FIXTURE), *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err
    assert err.startswith("orq-notebook") and ": error: " in err and "Traceback" not in err


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("host.that.does.not.exist.invalid", "cannot listen on host.that.does.not.exist.invalid:0"),
        ("192.0.2.254", "cannot listen on 192.0.2.254:0"),  # TEST-NET: not this machine's
    ],
)
def test_a_host_that_cannot_be_bound_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], host: str, says: str
) -> None:
    assert main(["serve", str(FIXTURE), "--host", host, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"orq-notebook: {says}: "), err


@pytest.mark.timeout(30)
def test_a_busy_port_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(FIXTURE), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"orq-notebook: cannot listen on 127.0.0.1:{port}: Address already in use\n"


@pytest.mark.timeout(60)
def test_the_real_command_refuses_port_99999_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orq_notebook", "serve", str(FIXTURE), "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "orq-notebook serve: error: argument --port: expected a port from 0 to 65535, got "
        "'99999' (see `orq-notebook serve --help`)\n"
    )
