"""Golden bytes captured from real DICOM peers, and the loader for them.

Each ``<name>.hex`` file in this directory holds one PDU (or, for ``Kind: Part-10 file``, the
file a peer sent): ``# Key: value`` header lines, then the bytes as hex, 16 per line.
``capture.py`` writes them; see ``README.md``.
"""

from __future__ import annotations

from pathlib import Path

GOLDEN_DIR = Path(__file__).resolve().parent
SUFFIX = ".hex"


def _path(name: str) -> Path:
    path = GOLDEN_DIR / f"{name}{SUFFIX}"
    if not path.is_file():
        raise FileNotFoundError(f"no golden fixture named {name!r} in {GOLDEN_DIR}")
    return path


def load_golden(name: str) -> bytes:
    """The bytes of fixture ``name`` (file name without ``.hex``)."""
    lines = _path(name).read_text(encoding="ascii").splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))


def golden_header(name: str) -> dict[str, str]:
    """The ``# Key: value`` header lines of fixture ``name`` as a dict."""
    header: dict[str, str] = {}
    for line in _path(name).read_text(encoding="ascii").splitlines():
        if not line.startswith("# "):
            continue
        key, sep, value = line[2:].partition(": ")
        if sep:
            header[key] = value
    return header


def golden_names(kind: str | None = None) -> list[str]:
    """Sorted fixture names; only those whose ``Kind`` header equals ``kind`` when given."""
    names = sorted(path.name.removesuffix(SUFFIX) for path in GOLDEN_DIR.glob(f"*{SUFFIX}"))
    if kind is None:
        return names
    return [name for name in names if golden_header(name).get("Kind") == kind]
