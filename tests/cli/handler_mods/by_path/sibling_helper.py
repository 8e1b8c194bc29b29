"""A helper module beside by_path/uses_sibling.py, imported by plain name."""

from __future__ import annotations


def line(uid: str) -> str:
    return f"sibling {uid}\n"
