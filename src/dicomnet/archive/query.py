"""From a C-FIND / C-GET / C-MOVE identifier to SQL, and from index rows back to C-FIND
response identifiers.

A query at level L joins the tables from the patient down to L (one row per entity of L, no
DISTINCT needed) and matches every key of L and the levels above that the index keeps
(:mod:`~dicomnet.archive.matching`); this is also what a relational query needs. Keys the
index does not keep (and keys of levels below L) are returned empty, never an error (PS3.4
C.2.2.1.2). Counts (``NumberOfStudyRelatedInstances``, ...), ``ModalitiesInStudy`` and
``SOPClassesInStudy`` are computed; ``ModalitiesInStudy`` is also matched (any series of the
study with one of the modalities). ``RetrieveAETitle`` is our AE title and
``InstanceAvailability`` is ``ONLINE``. Sequence keys the index keeps (Procedure Code Sequence,
Request Attributes Sequence, ...) are matched in Python on the rows SQL found
(:mod:`~dicomnet.archive.items`, PS3.4 C.2.2.2.6): :func:`response` answers None for a row
whose sequences do not match.

Specific Character Set: query values arrive decoded by pydicom with the request's character
set and the index holds Unicode, so matching does not depend on how either side encoded the
text. Each response declares the request's character set when every value fits it (ASCII,
ISO_IR 100, ...), and ISO_IR 192 (UTF-8) otherwise.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from dicomnet.archive.attributes import BY_KEYWORD, COMPUTED, LEVELS
from dicomnet.archive.items import check_query, items_from_json, sequence_matches, sequence_response
from dicomnet.archive.matching import key_condition, split_values
from dicomnet.archive.schema import INSTANCES, PATIENTS, SERIES, STUDIES, TABLES
from dicomnet.qr import UNIQUE_KEYS

_SKIP_TAGS = {0x00080005, 0x00080052}  # SpecificCharacterSet, QueryRetrieveLevel
_RETRIEVE_AET = 0x00080054
_AVAILABILITY = 0x00080056

_PYTHON_CODECS = {
    "": "ascii",
    "ISO_IR 6": "ascii",
    "ISO_IR 100": "latin-1",
    "ISO_IR 101": "iso8859_2",
    "ISO_IR 109": "iso8859_3",
    "ISO_IR 110": "iso8859_4",
    "ISO_IR 144": "iso8859_5",
    "ISO_IR 127": "iso8859_6",
    "ISO_IR 126": "iso8859_7",
    "ISO_IR 138": "iso8859_8",
    "ISO_IR 148": "iso8859_9",
    "ISO_IR 192": "utf-8",
}


def joined(level: str) -> Any:
    """patients JOIN studies ... down to ``level``."""
    source: Any = PATIENTS
    chain = (STUDIES, SERIES, INSTANCES)
    for table in chain[: LEVELS.index(level)]:
        parent = {STUDIES: PATIENTS, SERIES: STUDIES, INSTANCES: SERIES}[table]
        source = source.join(table, table.c.parent_id == parent.c.id)
    return source


def _aggregate(column: Any, sqlite: bool) -> Any:
    if sqlite:
        return sa.func.group_concat(sa.distinct(column))
    return sa.func.string_agg(sa.distinct(column), sa.literal_column("','"))


def computed_column(keyword: str, sqlite: bool) -> Any:
    """A correlated subquery for a computed attribute."""
    if keyword == "NumberOfStudyRelatedSeries":
        q = sa.select(sa.func.count(SERIES.c.id)).where(SERIES.c.parent_id == STUDIES.c.id)
    elif keyword == "NumberOfStudyRelatedInstances":
        q = (
            sa.select(sa.func.count(INSTANCES.c.id))
            .select_from(SERIES.join(INSTANCES, INSTANCES.c.parent_id == SERIES.c.id))
            .where(SERIES.c.parent_id == STUDIES.c.id)
        )
    elif keyword == "NumberOfSeriesRelatedInstances":
        q = sa.select(sa.func.count(INSTANCES.c.id)).where(INSTANCES.c.parent_id == SERIES.c.id)
    elif keyword == "NumberOfPatientRelatedStudies":
        q = sa.select(sa.func.count(STUDIES.c.id)).where(STUDIES.c.parent_id == PATIENTS.c.id)
    elif keyword == "NumberOfPatientRelatedSeries":
        q = (
            sa.select(sa.func.count(SERIES.c.id))
            .select_from(STUDIES.join(SERIES, SERIES.c.parent_id == STUDIES.c.id))
            .where(STUDIES.c.parent_id == PATIENTS.c.id)
        )
    elif keyword == "NumberOfPatientRelatedInstances":
        q = (
            sa.select(sa.func.count(INSTANCES.c.id))
            .select_from(
                STUDIES.join(SERIES, SERIES.c.parent_id == STUDIES.c.id).join(
                    INSTANCES, INSTANCES.c.parent_id == SERIES.c.id
                )
            )
            .where(STUDIES.c.parent_id == PATIENTS.c.id)
        )
    elif keyword == "ModalitiesInStudy":
        q = sa.select(_aggregate(SERIES.c.modality, sqlite)).where(
            SERIES.c.parent_id == STUDIES.c.id
        )
    elif keyword == "SOPClassesInStudy":
        q = (
            sa.select(_aggregate(INSTANCES.c.sopclassuid, sqlite))
            .select_from(SERIES.join(INSTANCES, INSTANCES.c.parent_id == SERIES.c.id))
            .where(SERIES.c.parent_id == STUDIES.c.id)
        )
    else:  # pragma: no cover - COMPUTED lists only the above
        raise KeyError(keyword)
    return q.scalar_subquery().label(keyword)


def _modalities_condition(raw: Any) -> Any | None:
    attr = BY_KEYWORD["Modality"]
    condition = key_condition(attr, SERIES, raw)
    if condition is None:
        return None
    inner = SERIES.alias("mis")
    adapted = sa.sql.util.ClauseAdapter(inner).traverse(condition)
    return sa.exists().where(inner.c.parent_id == STUDIES.c.id, adapted)


class Requested:
    """One key of the identifier: where its response value comes from (``element``: the
    sequence key itself, for ``source == "sequence"``)."""

    __slots__ = ("element", "keyword", "source", "tag", "vr")

    def __init__(self, tag: int, vr: str, keyword: str, source: str, element: Any = None) -> None:
        self.tag, self.vr, self.keyword, self.source = tag, vr, keyword, source
        self.element = element


def plan(
    identifier: Any,
    level: str,
    *,
    sqlite: bool,
    levels: Sequence[str] = LEVELS,
    with_counts: bool = True,
) -> tuple[sa.Select[Any], list[Requested]]:
    """The SELECT answering a C-FIND at ``level`` and what each response holds; the responses
    also carry the unique keys of the model's ``levels`` down to ``level``."""
    depth = LEVELS.index(level)
    visible = set(LEVELS[: depth + 1])
    requested: list[Requested] = []
    seen: set[int] = set()
    columns: list[Any] = [TABLES[level].c.id.label("_id")]
    conditions: list[Any] = []
    for elem in identifier:
        tag = int(elem.tag)
        if tag in _SKIP_TAGS or tag >> 16 in (0x0000, 0x0002) or elem.tag.is_private:
            continue
        seen.add(tag)
        keyword = elem.keyword or ""
        attr = BY_KEYWORD.get(keyword)
        if elem.VR == "SQ":
            if attr is not None and attr.vr == "SQ" and attr.level in visible:
                check_query_item(elem)
                column = TABLES[attr.level].c[attr.column]
                columns.append(column.label(keyword))
                requested.append(Requested(tag, "SQ", keyword, "sequence", elem))
                if not sequence_matches([], elem):  # some item must match: there must be one
                    conditions.append(column.is_not(None))
            else:
                requested.append(Requested(tag, "SQ", keyword, "empty"))
        elif attr is not None and attr.level in visible:
            columns.append(TABLES[attr.level].c[attr.column].label(keyword))
            requested.append(Requested(tag, elem.VR, keyword, "column"))
            condition = key_condition(attr, TABLES[attr.level], elem.value)
            if condition is not None:
                conditions.append(condition)
        elif keyword in COMPUTED and COMPUTED[keyword][2] in visible and with_counts:
            columns.append(computed_column(keyword, sqlite))
            requested.append(Requested(tag, elem.VR, keyword, "computed"))
            if keyword == "ModalitiesInStudy":
                condition = _modalities_condition(elem.value)
                if condition is not None:
                    conditions.append(condition)
        elif tag == _RETRIEVE_AET:
            requested.append(Requested(tag, "AE", keyword, "aet"))
        elif tag == _AVAILABILITY:
            requested.append(Requested(tag, "CS", keyword, "availability"))
        else:
            requested.append(Requested(tag, elem.VR, keyword, "empty"))
    for above in LEVELS[: depth + 1]:
        keyword = UNIQUE_KEYS[above][0]
        attr = BY_KEYWORD[keyword]
        if attr.tag not in seen and above in levels:
            columns.append(TABLES[attr.level].c[attr.column].label(keyword))
            requested.append(Requested(attr.tag, attr.vr, keyword, "column"))
    statement = (
        sa.select(*columns)
        .select_from(joined(level))
        .where(*conditions)
        .order_by(TABLES[level].c.id)
    )
    return statement, requested


def check_query_item(elem: Any) -> None:
    """MatchError if the item of the sequence key ``elem`` holds a malformed key."""
    if elem.value and len(elem.value[0]):
        check_query(elem.value[0])


def retrieve_statement(identifier: Any, level: str) -> sa.Select[Any]:
    """The instances a C-GET / C-MOVE at ``level`` asks for (unique keys only, PS3.4 C.4.2)."""
    conditions = []
    for above in LEVELS[: LEVELS.index(level) + 1]:
        keyword = UNIQUE_KEYS[above][0]
        if keyword in identifier:
            attr = BY_KEYWORD[keyword]
            condition = key_condition(attr, TABLES[attr.level], identifier[keyword].value)
            if condition is not None:
                conditions.append(condition)
    return (
        sa.select(
            INSTANCES.c.sopinstanceuid,
            INSTANCES.c.sopclassuid,
            INSTANCES.c.transfer_syntax,
            INSTANCES.c.path,
        )
        .select_from(joined("IMAGE"))
        .where(*conditions)
        .order_by(INSTANCES.c.id)
    )


def charset_terms(identifier: Any) -> list[str]:
    """The Specific Character Set terms of a request identifier."""
    elem = identifier.get(0x00080005)
    if elem is None:
        return []
    return [v for v in split_values(elem.value) if v]


def response_charset(
    identifier: Any, texts: Sequence[str], terms: list[str] | None = None
) -> list[str]:
    """The Specific Character Set of a response holding ``texts``: the request's own when every
    text fits it, else ISO_IR 192. ``terms``: the request's own, when the caller has read them
    from ``identifier`` already (once per query rather than once per match)."""
    if terms is None:
        terms = charset_terms(identifier)
    if all(t.isascii() for t in texts):
        return terms
    if len(terms) == 1 and terms[0] in _PYTHON_CODECS:
        codec = _PYTHON_CODECS[terms[0]]
        try:
            for text in texts:
                text.encode(codec)
            return terms
        except UnicodeEncodeError:
            pass
    return ["ISO_IR 192"]


def _text(value: Any, source: str, keyword: str) -> str | None:
    if value is None:
        return None
    if source == "computed" and keyword in ("ModalitiesInStudy", "SOPClassesInStudy"):
        return "\\".join(sorted(v for v in str(value).split(",") if v))
    return str(value)


_IMPLICIT = "1.2.840.10008.1.2"
_EXPLICIT = "1.2.840.10008.1.2.1"
_STRING_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI"}
    | {"UR", "UT"}
)
_CHARSET_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)


def encode_response(
    elements: Sequence[tuple[int, str, str | None]], charset: list[str], syntax: str
) -> bytes | None:
    """The response identifier's bytes in Implicit or Explicit VR Little Endian, written
    directly (pydicom takes ten times as long, which caps the match rate); None when this
    cannot do it (another transfer syntax, a VR or character set it does not handle), and the
    caller falls back to pydicom."""
    if syntax not in (_IMPLICIT, _EXPLICIT):
        return None
    codec = _PYTHON_CODECS.get(charset[0] if charset else "") if len(charset) <= 1 else None
    if codec is None:
        return None
    explicit = syntax == _EXPLICIT
    out = bytearray()
    for tag, vr, text in sorted(elements, key=lambda e: e[0]):
        if vr == "SQ" or (text is None and vr in _LONG_VRS):
            value = b""
        elif vr not in _STRING_VRS:
            if text is not None:
                return None
            value = b""
        elif text is None:
            value = b""
        else:
            try:
                value = text.encode(codec if vr in _CHARSET_VRS else "ascii")
            except UnicodeEncodeError:
                return None
            if len(value) % 2:
                value += b"\x00" if vr == "UI" else b" "
        out += struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        if not explicit:
            out += struct.pack("<I", len(value))
        elif vr in _LONG_VRS:
            out += vr.encode() + struct.pack("<xxI", len(value))
        else:
            if len(value) > 0xFFFF:
                return None
            out += vr.encode() + struct.pack("<H", len(value))
        out += value
    return bytes(out)


def response(
    row: Any,
    requested: Sequence[Requested],
    identifier: Any,
    level: str,
    ae_title: str,
    syntax: str | None = None,
    charset_terms: list[str] | None = None,
) -> Any:
    """The C-FIND response identifier for one index row: its bytes in ``syntax`` when given
    and :func:`encode_response` can write them, else a pydicom Dataset; None when the row's
    sequences do not match the identifier's sequence keys. ``charset_terms``: the request's
    Specific Character Set terms (:func:`charset_terms`), read once per query by the caller."""
    from pydicom.dataset import Dataset

    values: list[tuple[Requested, str | None]] = []
    sequences: dict[int, list[Any]] = {}
    for item in requested:
        if item.source == "sequence":
            stored = items_from_json(row[item.keyword])
            if not sequence_matches(stored, item.element):
                return None
            sequences[item.tag] = sequence_response(stored, item.element)
            values.append((item, None))
        elif item.source in ("column", "computed"):
            values.append((item, _text(row[item.keyword], item.source, item.keyword)))
        elif item.source == "aet":
            values.append((item, ae_title))
        elif item.source == "availability":
            values.append((item, "ONLINE"))
        else:
            values.append((item, None))
    texts = [v for _i, v in values if v]
    for items in sequences.values():
        texts.extend(_item_texts(items))
    charset = response_charset(identifier, texts, charset_terms)
    if syntax is not None and not any(sequences.values()):
        elements = [(item.tag, item.vr, value) for item, value in values]
        elements.append((0x00080052, "CS", level))
        if charset:
            elements.append((0x00080005, "CS", "\\".join(charset)))
        encoded = encode_response(elements, charset, syntax)
        if encoded is not None:
            return encoded
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset if len(charset) > 1 else charset[0]
    ds.QueryRetrieveLevel = level
    for item, value in values:
        if item.vr == "SQ":
            ds.add_new(item.tag, "SQ", sequences.get(item.tag, []))
        elif value is None:
            ds.add_new(item.tag, item.vr, None)
        elif "\\" in value and item.vr not in ("LT", "ST", "UT"):
            ds.add_new(item.tag, item.vr, value.split("\\"))
        else:
            ds.add_new(item.tag, item.vr, value)
    return ds


def _item_texts(items: Sequence[Any]) -> list[str]:
    """The text values of sequence items (nested ones included), for the response's
    character set."""
    texts: list[str] = []
    for item in items:
        for elem in item.iterall():
            if elem.VR != "SQ" and elem.value is not None and elem.VR in _CHARSET_VRS:
                values = elem.value if elem.VM > 1 else [elem.value]
                texts.extend(str(v) for v in values if v is not None)
    return texts
