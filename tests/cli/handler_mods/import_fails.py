"""A handler module whose import fails (a dependency is missing)."""

from __future__ import annotations

from typing import Any

import dicomnet_test_missing_dependency  # type: ignore[import-not-found]  # noqa: F401


def on_store(event: Any) -> int:
    return 0
