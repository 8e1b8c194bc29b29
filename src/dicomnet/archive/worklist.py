"""``qrscp --worklist DIR``: Modality Worklist C-FIND (PS3.4 K) from a directory of worklist
files, as DCMTK's ``wlmscpfs`` does: every DICOM file in ``DIR`` (any name, ``.wl`` files
included) is one scheduled procedure. The directory is looked at before each query and the
files read again when any of them was added, removed or changed.

Matching follows PS3.4 C.2.2.2 as the archive does (single value, universal, ``*``/``?``
wildcards, DA/TM/DT ranges, UID lists, person names case-insensitive), plus **sequence
matching** (:mod:`~dicomnet.archive.items`): the item of a sequence key (Scheduled Procedure
Step Sequence) matches when one item of the worklist entry's sequence matches all its keys. A
response holds the requested keys, with sequence keys holding the matching items (each with
the requested attributes only).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dicomnet.archive.items import check_query, dataset_matches, reduced
from dicomnet.archive.matching import MatchError

LOG = logging.getLogger("dicomnet.archive")


def _respond(item: Any, query: Any) -> Any:
    """The response to ``query`` for the worklist entry ``item``: the requested keys, with
    sequence keys answered item by item (:func:`~dicomnet.archive.items.reduced`), in the
    entry's own character set."""
    out = reduced(item, query)
    if "SpecificCharacterSet" in item:
        out.SpecificCharacterSet = item.SpecificCharacterSet
    return out


class WorklistSCP:
    """Worklist entries from ``directory``, reloaded when its files change."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._items: list[Any] = []
        self._lock = threading.Lock()

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        found = []
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.is_file() and not entry.name.startswith("."):
                    st = entry.stat()
                    found.append((entry.name, st.st_mtime_ns, st.st_size))
        return tuple(sorted(found))

    def items(self) -> list[Any]:
        """The current entries (files read again if the directory changed)."""
        from pydicom import dcmread

        with self._lock:
            signature = self._scan()
            if signature != self._signature:
                items = []
                for name, _mtime, _size in signature:
                    try:
                        items.append(dcmread(self.directory / name, force=True))
                    except Exception as exc:
                        LOG.warning("worklist: cannot read %s: %s", name, exc)
                self._items = items
                self._signature = signature
                LOG.info("worklist: %d entries from %s", len(items), self.directory)
            return self._items

    def find(self, event: Any) -> Iterator[tuple[Any, Any]]:
        from dicomnet.archive.handlers import IDENTIFIER_DOES_NOT_MATCH, OUT_OF_RESOURCES, status

        query = event.identifier
        try:
            check_query(query)
        except MatchError as exc:
            yield status(IDENTIFIER_DOES_NOT_MATCH, str(exc)), None
            return
        try:
            items = self.items()
        except OSError as exc:
            yield status(OUT_OF_RESOURCES, f"worklist directory unreadable: {exc}"), None
            return
        for item in items:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            try:
                matched = dataset_matches(item, query)
            except MatchError as exc:
                yield status(IDENTIFIER_DOES_NOT_MATCH, str(exc)), None
                return
            if matched:
                yield 0xFF00, _respond(item, query)
