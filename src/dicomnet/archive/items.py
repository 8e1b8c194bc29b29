"""C-FIND matching in Python, on pydicom Datasets: what the worklist does for every key, and the
archive for sequence keys (whose items the index keeps as DICOM JSON).

Single value, universal, ``*``/``?`` wildcards, DA/TM/DT ranges, UID lists and case-insensitive
person names follow PS3.4 C.2.2.2 as :mod:`~dicomnet.archive.matching` does in SQL.

**Sequence matching** (PS3.4 C.2.2.2.6): a sequence key holds one item, whose attributes are
matched item by item: an entity matches when one item of its sequence matches all of them, and
its response holds the sequence of the matching items, each with the requested attributes only
(nested sequences alike). A sequence key with no item, or a zero-length item, matches every
entity and asks for the whole sequence. An item whose keys are all universal (return keys only)
matches every entity too, and its response holds every item, reduced to those keys.
"""

from __future__ import annotations

import re
from typing import Any

from dicomnet.archive.attributes import datetime_key, fold, text_of, time_key
from dicomnet.archive.matching import MatchError, has_wildcard, is_universal, split_values

_SKIP = frozenset({0x00080005})  # Specific Character Set is never matched


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = ["." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _in_range(key: str, low: str | None, high: str | None) -> bool:
    return (low is None or key >= low) and (high is None or key <= high)


def value_matches(vr: str, pattern: str, candidate: str | None, keyword: str = "") -> bool:
    """One non-universal key value against one stored value (PS3.4 C.2.2.2); MatchError for a
    malformed date, time or range."""
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


def _sub_query(elem: Any) -> Any | None:
    """The item of a sequence key, None when it has none or a zero-length one."""
    if not elem.value:
        return None
    item = elem.value[0]
    return item if len(item) else None


def is_universal_query(query: Any) -> bool:
    """Whether every key of ``query`` (an item of a sequence key) is universal."""
    for elem in query:
        if int(elem.tag) in _SKIP:
            continue
        if elem.VR == "SQ":
            sub = _sub_query(elem)
            if sub is not None and not is_universal_query(sub):
                return False
        elif not is_universal(split_values(elem.value, elem.VR)):
            return False
    return True


def check_query(query: Any) -> None:
    """MatchError if a key of ``query`` (nested items included) is malformed: raised before
    any entity is looked at, so that a bad query fails whatever the stored values."""
    for elem in query:
        if int(elem.tag) in _SKIP:
            continue
        if elem.VR == "SQ":
            sub = _sub_query(elem)
            if sub is not None:
                check_query(sub)
        elif elem.VR in ("DA", "TM", "DT"):
            for value in split_values(elem.value, elem.VR):
                if value and value != "*":
                    value_matches(elem.VR, value, "", elem.keyword or "")


def sequence_matches(items: list[Any], elem: Any) -> bool:
    """Whether a stored sequence (its items) matches the sequence key ``elem``."""
    sub = _sub_query(elem)
    if sub is None or is_universal_query(sub):
        return True
    return any(dataset_matches(item, sub) for item in items)


def dataset_matches(item: Any, query: Any) -> bool:
    """Whether ``item`` (a Dataset: a worklist entry, a sequence item) matches every key of
    ``query``."""
    for elem in query:
        if int(elem.tag) in _SKIP:
            continue
        if elem.VR == "SQ":
            have = item.get(elem.tag)
            items = list(have.value) if have is not None and have.VR == "SQ" else []
            if not sequence_matches(items, elem):
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


def sequence_response(items: list[Any], elem: Any) -> list[Any]:
    """The response items for the sequence key ``elem`` of an entity whose sequence holds
    ``items`` (which matched): the whole items for a key without item keys, else the
    matching items (all of them when the item keys are universal) reduced to the keys."""
    from copy import deepcopy

    sub = _sub_query(elem)
    if sub is None:
        return [deepcopy(item) for item in items]
    if not is_universal_query(sub):
        items = [item for item in items if dataset_matches(item, sub)]
    return [reduced(item, sub) for item in items]


def reduced(item: Any, query: Any) -> Any:
    """``item`` with the keys of ``query`` only (absent ones empty), nested sequences
    answered as :func:`sequence_response`."""
    from pydicom.dataset import Dataset

    out = Dataset()
    for elem in query:
        if int(elem.tag) in _SKIP:
            continue
        have = item.get(elem.tag)
        if elem.VR == "SQ":
            items = list(have.value) if have is not None and have.VR == "SQ" else []
            out.add_new(elem.tag, "SQ", sequence_response(items, elem))
        elif have is not None:
            out.add(have)
        else:
            out.add_new(elem.tag, elem.VR, None)
    return out


def items_from_json(text: str | None) -> list[Any]:
    """A sequence kept in the index (:func:`~dicomnet.archive.attributes.sequence_json`) as
    pydicom Datasets."""
    if not text:
        return []
    import json

    from pydicom.dataset import Dataset

    return [Dataset.from_json(item) for item in json.loads(text)]
