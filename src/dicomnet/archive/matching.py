"""C-FIND key matching (PS3.4 C.2.2.2) as SQL conditions, built only from bound parameters.

For each key of the identifier, :func:`key_condition` returns a condition on the index column,
or None when the key matches everything:

* **universal**: an empty value, or ``*`` alone;
* **single value**: equality; case-sensitive, except for PN (person names), which match
  case-insensitively (Unicode casefolding) — PS3.4 C.2.2.2.1 allows that for PN only;
* **wildcard**: ``*`` (any run of characters) and ``?`` (one character) become SQL ``LIKE``
  patterns with ``%``, ``_`` and ``\\`` in the value escaped, so they match literally;
* **UID list**: ``uid1\\uid2`` matches any of them (and so does any other backslash list: one
  condition per value, joined with OR);
* **range** (DA, TM, DT): ``low-high``, ``low-`` or ``-high``; a bound given with less
  precision covers its whole unit (``-1200`` ends at 12:00:59.999999). Entities without a
  value never match a range.

Malformed values (a date that is not ``YYYYMMDD``, ``-`` alone, a time out of form) raise
:class:`MatchError`, which the C-FIND handler answers with 0xA900 and an ErrorComment.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from pydicom.multival import MultiValue

from dicomnet.archive.attributes import Attr, datetime_key, fold, time_key

_DA = re.compile(r"^\d{8}$")


class MatchError(ValueError):
    """A key value that cannot be matched (malformed range, date or time)."""


def like_pattern(value: str) -> str:
    """A DICOM wildcard value as a LIKE pattern with ``\\`` as the escape character."""
    out = []
    for char in value:
        if char in "\\%_":
            out.append("\\" + char)
        elif char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        else:
            out.append(char)
    return "".join(out)


def has_wildcard(value: str) -> bool:
    return "*" in value or "?" in value


#: VRs whose single value may contain a backslash (they are never lists).
TEXT_VRS = frozenset({"LT", "ST", "UT"})


def split_values(value: Any, vr: str = "") -> list[str]:
    """The values of a key: a backslash list (or pydicom MultiValue) as stripped strings; one
    value for LT, ST and UT, where a backslash is just a character."""
    if value is None:
        return []
    if vr in TEXT_VRS:
        return [str(value).rstrip("\x00 ").strip()]
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, list | tuple | MultiValue):
        parts = [str(v) for v in value]
    else:
        parts = str(value).split("\\")
    return [p.rstrip("\x00 ").strip() for p in parts]


def is_universal(values: list[str]) -> bool:
    return not any(values) or any(v == "*" for v in values)


def _date(value: str, keyword: str) -> str:
    text = value.replace(".", "") if len(value) == 10 else value  # old YYYY.MM.DD form
    if not _DA.match(text):
        raise MatchError(f"{keyword}: {value!r} is not a date (YYYYMMDD)")
    return text


def _range(value: str, keyword: str) -> tuple[str, str]:
    if value.count("-") != 1 or value == "-":
        raise MatchError(f"{keyword}: {value!r} is not a range (low-high, low- or -high)")
    low, _, high = value.partition("-")
    return low.strip(), high.strip()


def _bounded(column: Any, low: str | None, high: str | None) -> Any:
    parts = [column.is_not(None)]
    if low:
        parts.append(column >= low)
    if high:
        parts.append(column <= high)
    return sa.and_(*parts)


def _temporal(attr: Attr, column: Any, value: str) -> Any:
    """A DA, TM or DT single value or range."""
    keyword = attr.keyword
    if attr.vr == "DA":
        if "-" in value:
            low, high = _range(value, keyword)
            return _bounded(
                column, _date(low, keyword) if low else None, _date(high, keyword) if high else None
            )
        return column == _date(value, keyword)
    convert = time_key if attr.vr == "TM" else datetime_key
    what = "time (HHMMSS.FFFFFF)" if attr.vr == "TM" else "date-time (YYYYMMDDHHMMSS.FFFFFF)"

    def bound(text: str, *, upper: bool) -> str:
        key = convert(text, upper=upper)
        if key is None:
            raise MatchError(f"{keyword}: {text!r} is not a {what}")
        return key

    if "-" in value:  # (a DT with a negative UTC offset is read as a range: rare in queries)
        low, high = _range(value, keyword)
        return _bounded(
            column,
            bound(low, upper=False) if low else None,
            bound(high, upper=True) if high else None,
        )
    return _bounded(column, bound(value, upper=False), bound(value, upper=True))


def value_condition(attr: Attr, table: sa.Table, value: str) -> Any:
    """The condition for one value of a key (not universal)."""
    if attr.vr in ("DA", "TM", "DT"):
        column = table.c[attr.column] if attr.vr == "DA" else table.c[f"{attr.column}_key"]
        return _temporal(attr, column, value)
    if attr.vr == "PN":
        column = table.c[f"{attr.column}_fold"]
        folded = fold(value)
        if has_wildcard(folded):
            return column.like(like_pattern(folded), escape="\\")
        return column == folded
    column = table.c[attr.column]
    if attr.vr != "UI" and has_wildcard(value):
        return column.like(like_pattern(value), escape="\\")
    return column == value


def key_condition(attr: Attr, table: sa.Table, raw: Any) -> Any | None:
    """The condition for a key's value (a string, list or MultiValue); None if universal."""
    values = split_values(raw, attr.vr)
    if is_universal(values):
        return None
    if attr.vr == "UI":
        uids = [v for v in values if v]
        return table.c[attr.column].in_(uids) if len(uids) > 1 else table.c[attr.column] == uids[0]
    conditions = [value_condition(attr, table, v) for v in values if v]
    return conditions[0] if len(conditions) == 1 else sa.or_(*conditions)
