"""A handler module that raises while it is imported."""

from __future__ import annotations

from typing import Any

raise RuntimeError("configuration missing")


def on_store(event: Any) -> int:  # pragma: no cover - never reached
    return 0
