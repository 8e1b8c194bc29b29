"""Handlers for ``--handler handler_mods.hooks:FUNCTION[:args]``.

They report what they saw by appending lines to a file given as their first argument, so the
test (in another process) can read it afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

NOT_A_FUNCTION = 42


def _append(path: str, line: str) -> None:
    """Append ``line`` to ``path``, then say so on stderr (a test can wait for that line)."""
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")
    sys.stderr.write(f"hook: {line}\n")
    sys.stderr.flush()


def record(event: Any, path: str, *tags: str) -> int:
    """Intervention or notification handler: note the event name, tags and the SOP Instance
    UID (C-STORE) or the message type (DIMSE events); success."""
    what = ""
    if event.event.name == "EVT_C_STORE":
        what = str(event.request.AffectedSOPInstanceUID)
    elif event.event.name in ("EVT_DIMSE_RECV", "EVT_DIMSE_SENT"):
        what = type(event.message).__name__
    _append(path, " ".join([event.event.name, *tags, what]))
    return 0x0000


def status(event: Any, code: str, path: str = "") -> int:
    """Answer with the status ``code`` (e.g. ``0xA700``); note the call in ``path`` if given."""
    if path:
        _append(path, f"status {code} {event.request.AffectedSOPInstanceUID}")
    return int(code, 0)


def boom(event: Any) -> int:
    """A handler with a bug."""
    raise RuntimeError("boom from a user handler")


def stored_file_exists(event: Any, output_dir: str, path: str) -> int:
    """Note whether the built-in storage handler already wrote this instance (it runs first)."""
    uid = str(event.request.AffectedSOPInstanceUID)
    found = [p.name for p in Path(output_dir).rglob(f"*{uid}*") if p.is_file()]
    _append(path, f"{uid} {'present' if found else 'absent'}")
    return 0x0000


def save_as_uid(event: Any, output_dir: str) -> int:
    """Storage by the user (with --no-store): ``<SOPInstanceUID>.raw`` holds the data set bytes
    as received, ``<SOPInstanceUID>.dcm`` the Part-10 file."""
    uid = str(event.request.AffectedSOPInstanceUID)
    Path(output_dir, f"{uid}.raw").write_bytes(event.encoded_dataset(include_meta=False))
    Path(output_dir, f"{uid}.dcm").write_bytes(event.encoded_dataset())
    return 0x0000
