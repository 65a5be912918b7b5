"""Fixtures shared by every test module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's real orq or Humanloop settings."""
    for name in list(os.environ):
        if name.startswith(("ORQ_", "HUMANLOOP_")):
            monkeypatch.delenv(name)
    yield
