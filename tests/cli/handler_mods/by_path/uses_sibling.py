"""A handler file loaded by path that imports a module sitting beside it."""

from __future__ import annotations

from typing import Any

import sibling_helper  # type: ignore[import-not-found]


def on_store(event: Any, path: str) -> int:
    with open(path, "a", encoding="utf-8") as out:
        out.write(sibling_helper.line(event.request.AffectedSOPInstanceUID))
    return 0x0000
