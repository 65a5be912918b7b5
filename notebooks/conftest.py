"""Make nbval compare what a saved notebook holds after display updates.

`%%orq` streams into one display and updates it in place (`update_display_data`). Jupyter
frontends and nbclient apply those updates, so a saved notebook holds the final answer; nbval
0.11 ignores them and would compare the first streamed piece instead. This shim buffers a cell's
kernel messages until the kernel is idle, applies each update to the display it names, and then
hands nbval the messages it understands, in their original order.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from nbval.plugin import IPyNbFile

_original_get = IPyNbFile.get_kernel_message


def _settled(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for msg in messages:
        content = msg["content"]
        display_id = (content.get("transient") or {}).get("display_id")
        if msg["msg_type"] == "update_display_data":
            target = shown.get(display_id or "")
            if target is not None:
                target["content"] = {
                    **target["content"],
                    "data": content["data"],
                    "metadata": content.get("metadata", {}),
                }
            continue
        if msg["msg_type"] == "display_data" and display_id:
            shown[display_id] = msg
        out.append(msg)
    return out


def _get_kernel_message(
    self: IPyNbFile, timeout: float | None = None, stream: str = "iopub"
) -> dict[str, Any]:
    if stream != "iopub":
        return _original_get(self, timeout=timeout, stream=stream)
    ready: deque[dict[str, Any]] = self.__dict__.setdefault("_orq_ready", deque())
    if ready:
        return ready.popleft()
    pending: list[dict[str, Any]] = []
    cell_request = None
    while True:
        msg = _original_get(self, timeout=timeout, stream=stream)
        pending.append(msg)
        parent = msg["parent_header"].get("msg_id")
        if msg["msg_type"] == "execute_input":
            cell_request = parent
        idle = msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
        if idle and cell_request in (None, parent):
            break
    ready.extend(_settled(pending))
    return ready.popleft()


IPyNbFile.get_kernel_message = _get_kernel_message  # type: ignore[method-assign]
