"""EVT_USER_ID handlers for ``--handler EVT_USER_ID=handler_mods.identity:FUNCTION[:args]``."""

from __future__ import annotations

from typing import Any


def deny(event: Any, *args: str) -> tuple[bool, None]:
    """Refuse every identity (whatever the extra arguments say)."""
    return False, None


def allow(event: Any, *args: str) -> tuple[bool, bytes | None]:
    """Accept every identity; echo the extra arguments as the server response."""
    return True, ",".join(args).encode() or None
