"""Record and replay through the magics, in a real kernel (jupyter_client, this venv's python).

A local server started in the kernel stands in for orq.ai, with a key the kernel got from
its environment (as a user's ORQ_API_KEY). `%orq connect --url ... --record FILE` records a
streamed `%%orq` cell, a `--no-stream` invoke, `%orq list` and `%orq batch`; the stand-in is
stopped; `%orq connect --replay FILE` answers the same cells with the same ids and texts;
a changed message fails in one line naming the deployment and the field. The key never
reaches the recording.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.test_kernel_interrupt import run

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parents[1]
CANARY = "sk-canary-kernel-5e1d0c9a7b3f2468"
DEPLOYMENTS = """\
deployments:
  - key: support-answer
    variables: {company: Acme}
    prompt_config:
      model: gpt-4o-mini
      messages: [{role: system, content: "You answer for {{company}}."}]
    responder: echo
    stream_delay_ms: 2
"""

LIVE = """\
%load_ext orq_notebook
from orq_notebook.local import LocalServer
import os
service = LocalServer("deployments.yaml", api_key=os.environ["ORQ_API_KEY"]).start()
rows = [{"company": "Initech"}, {"company": "Globex"}]
print(service.base_url)
"""


def cells(tag: str) -> list[str]:
    """The same notebook cells, storing their results under names ending in `tag`."""
    return [
        f"%%orq support-answer -o streamed_{tag}\nCan I return a jacket?",
        f"%orq invoke support-answer --no-stream -o whole_{tag} What about a coat",
        f"listed_{tag} = %orq list\nlisted_{tag} = listed_{tag}.rows",
        f"%orq batch support-answer --from rows -o batch_{tag}",
    ]


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[BlockingKernelClient]:
    (tmp_path / "deployments.yaml").write_text(DEPLOYMENTS, encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ORQ_", "HUMANLOOP_"))},
        "ORQ_API_KEY": CANARY,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.getenv("PYTHONPATH")])),
    }
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path), env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def ok(kc: BlockingKernelClient, code: str) -> str:
    reply, printed = run(kc, code)
    assert reply["status"] == "ok", (code, reply)
    return printed


@pytest.mark.timeout(180)
def test_magics_record_then_replay_with_the_service_stopped(
    kernel: BlockingKernelClient, tmp_path: Path
) -> None:
    kc = kernel
    url = ok(kc, LIVE).strip()
    printed = ok(kc, f"%orq connect --url {url} --record answers.jsonl")
    assert "Recording every exchange to answers.jsonl" in printed
    for cell in cells("live"):
        ok(kc, cell)
    ok(kc, "service.stop()")

    printed = ok(kc, "%orq connect --replay answers.jsonl")
    assert "replaying answers.jsonl; no API key is needed" in printed
    for cell in cells("again"):
        ok(kc, cell)
    same = ok(
        kc,
        "print([(a.id, a.text) == (b.id, b.text) for a, b in "
        "[(streamed_live, streamed_again), (whole_live, whole_again)]])\n"
        "print(listed_live == listed_again, streamed_again.id is not None)\n"
        "print([r.text for r in batch_live.rows] == [r.text for r in batch_again.rows])\n"
        "print([r.status for r in batch_again.rows], 'Initech' in batch_again.rows[0].text)",
    )
    assert same.split("\n")[:4] == [
        "[True, True]",
        "True True",
        "True",
        "['ok', 'ok'] True",
    ], same

    reply, _ = run(kc, "%%orq support-answer\nCan I return a hat?")
    assert reply["status"] == "error" and reply["ename"] == "UsageError", reply
    line = reply["evalue"]
    assert "\n" not in line.strip()
    assert "stream of 'support-answer'" in line and "messages[0].content differs" in line, line

    text = (tmp_path / "answers.jsonl").read_text(encoding="utf-8")
    assert CANARY not in text and "authorization" not in text.lower()
    operations = [json.loads(x)["operation"] for x in text.splitlines()[1:]]
    assert sorted(set(operations)) == ["get_config", "invoke", "list", "stream"], operations
