"""A handler module importing a sibling module that does not exist: its name is a prefix of
this module's name, which must not be reported as "module not found" for this module."""

from __future__ import annotations

from typing import Any

import handler_mods.hooks_needs  # type: ignore[import-not-found]  # noqa: F401


def on_store(event: Any) -> int:
    return 0
