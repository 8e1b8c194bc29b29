"""A handler that needs numpy through pydicom: ``--handler handler_mods.pixels:shape:FILE``."""

from __future__ import annotations

from typing import Any


def shape(event: Any, path: str) -> int:
    """C-STORE: append the received image's ``pixel_array`` shape to ``path``; success."""
    rows, columns = event.dataset.pixel_array.shape
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{rows}x{columns}\n")
    return 0x0000
