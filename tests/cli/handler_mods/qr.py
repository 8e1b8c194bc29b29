"""Generator handlers for ``--handler EVT_C_FIND=...`` / ``EVT_C_GET=...``, composed with a
built-in query or retrieve handler (see tests/qr/test_composed.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydicom.dataset import Dataset


def extra_patients(event: Any, *names: str) -> Iterator[tuple[int, Dataset | None]]:
    """C-FIND: one PATIENT-level match per name in the extra arguments."""
    for name in names:
        match = Dataset()
        match.QueryRetrieveLevel = "PATIENT"
        match.PatientName = name
        match.PatientID = f"EXT-{name}"
        yield 0xFF00, match


def one_then_status(event: Any, name: str, status: str) -> Iterator[tuple[int, Dataset | None]]:
    """C-FIND: one match, then the final ``status`` (e.g. ``0xA700``)."""
    yield from extra_patients(event, name)
    yield int(status, 0), None


def extra_files(event: Any, *paths: str) -> Iterator[Any]:
    """C-GET: the number of files in the extra arguments, then each file."""
    yield len(paths)
    for path in paths:
        yield 0xFF00, path


def extra_files_to_any_destination(event: Any, *paths: str) -> Iterator[Any]:
    """C-MOVE: no destination of its own (the built-in knows the AE titles), then the number
    of files in the extra arguments and each file."""
    yield None, None
    yield from extra_files(event, *paths)
