"""``qrscp --worklist DIR``: Modality Worklist C-FIND (PS3.4 K) from a directory of worklist
files, as DCMTK's ``wlmscpfs`` does: every DICOM file in ``DIR`` (any name, ``.wl`` files
included) is one scheduled procedure. The directory is looked at before each query and the
files read again when any of them was added, removed or changed.

Matching follows PS3.4 C.2.2.2 as the archive does (single value, universal, ``*``/``?``
wildcards, DA/TM/DT ranges, UID lists, person names case-insensitive), plus **sequence
matching**: the item of a sequence key (Scheduled Procedure Step Sequence) matches when one
item of the worklist entry's sequence matches all its keys. A response holds the requested
keys, with sequence keys filled from the matching item.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dicomnet.archive.attributes import datetime_key, fold, text_of, time_key
from dicomnet.archive.matching import MatchError, has_wildcard, is_universal, split_values

LOG = logging.getLogger("dicomnet.archive")

_SKIP = {0x00080005}


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = ["." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _in_range(key: str, low: str | None, high: str | None) -> bool:
    return (low is None or key >= low) and (high is None or key <= high)


def value_matches(vr: str, pattern: str, candidate: str | None, keyword: str = "") -> bool:
    """One non-universal key value against one stored value (PS3.4 C.2.2.2)."""
    if candidate is None:
        return False
    if vr in ("DA", "TM", "DT"):
        convert = {"DA": None, "TM": time_key, "DT": datetime_key}[vr]

        def key(text: str, upper: bool) -> str:
            if convert is None:
                if not re.fullmatch(r"\d{8}", text):
                    raise MatchError(f"{keyword}: {text!r} is not a date (YYYYMMDD)")
                return text
            found = convert(text, upper=upper)
            if found is None:
                raise MatchError(f"{keyword}: {text!r} is not a valid {vr} value")
            return found

        have = candidate if convert is None else (convert(candidate) or "")
        if "-" in pattern:
            if pattern.count("-") != 1 or pattern == "-":
                raise MatchError(f"{keyword}: {pattern!r} is not a range")
            low, _, high = pattern.partition("-")
            return _in_range(
                have, key(low, False) if low else None, key(high, True) if high else None
            )
        return _in_range(have, key(pattern, False), key(pattern, True))
    if vr == "PN":
        pattern, candidate = fold(pattern), fold(candidate)
    if vr != "UI" and has_wildcard(pattern):
        return _wildcard(pattern).fullmatch(candidate) is not None
    return pattern == candidate


def dataset_matches(item: Any, query: Any) -> bool:
    """Whether worklist entry ``item`` (a Dataset) matches every key of ``query``."""
    for elem in query:
        if int(elem.tag) in _SKIP:
            continue
        if elem.VR == "SQ":
            if not elem.value:
                continue
            sub_query = elem.value[0]
            if not any(True for _e in sub_query):
                continue
            have = item.get(elem.tag)
            if have is None or not have.value:
                return False
            if not any(dataset_matches(sub, sub_query) for sub in have.value):
                return False
            continue
        values = split_values(elem.value, elem.VR)
        if is_universal(values):
            continue
        have_elem = item.get(elem.tag)
        candidate = text_of(have_elem.value) if have_elem is not None else None
        stored = split_values(candidate, elem.VR) if candidate is not None else [None]
        if not any(
            value_matches(elem.VR, v, s, elem.keyword or "") for v in values if v for s in stored
        ):
            return False
    return True


def _respond(item: Any, query: Any) -> Any:
    from pydicom.dataset import Dataset

    out = Dataset()
    if "SpecificCharacterSet" in item:
        out.SpecificCharacterSet = item.SpecificCharacterSet
    for elem in query:
        if int(elem.tag) in _SKIP:
            continue
        have = item.get(elem.tag)
        if elem.VR == "SQ":
            sub_query = elem.value[0] if elem.value else None
            if have is None or not have.value:
                out.add_new(elem.tag, "SQ", [])
            elif sub_query is None or not any(True for _e in sub_query):
                out.add(have)
            else:
                chosen = [sub for sub in have.value if dataset_matches(sub, sub_query)]
                out.add_new(elem.tag, "SQ", [_respond(sub, sub_query) for sub in chosen[:1]])
        elif have is not None:
            out.add(have)
        else:
            out.add_new(elem.tag, elem.VR, None)
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
