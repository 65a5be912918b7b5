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


@pytest.fixture
def serve() -> Iterator[Serving]:
    env = {**os.environ, "ORQ_LOCAL_API_KEY": "cli-secret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "orq_notebook", "serve", str(FIXTURE), "--port", "0"],
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
    yield Serving(process, "".join(banner), base_url)
    if process.poll() is None:
        process.kill()
        process.communicate()


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


def test_a_bad_file_is_refused_with_its_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "deployments:\n  - key: a\n    prompt_config: {model: m}\n    responder: echoo\n"
    )
    assert main(["serve", str(bad), "--port", "0"]) == 1
    assert capsys.readouterr().err == (
        "orq-notebook: the deployments file cannot be served:\n"
        f"  {bad}, line 4: deployments[0].responder: expected echo, {{mock: text}} or "
        "{openai: {base_url, model, api_key_env}}; got 'echoo'\n"
    )


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in ("FILE", "--host", "--port", "--api-key", "ORQ_LOCAL_API_KEY", "8700"):
        assert text in out
    assert main([]) == 2
    assert "serve" in capsys.readouterr().out
