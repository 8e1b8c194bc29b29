"""A handler module loaded by path (``--handler path/to/standalone.py:on_store:FILE``)."""

from __future__ import annotations

from typing import Any


def on_store(event: Any, path: str) -> int:
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"standalone {event.request.AffectedSOPInstanceUID}\n")
    return 0x0000
