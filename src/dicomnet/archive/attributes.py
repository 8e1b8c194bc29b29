"""What the index keeps: the attributes of each Query/Retrieve level (PS3.4 C.6.1.1 and C.6.2.1
key tables, plus a few every PACS administrator asks for), and how a stored data set's values
become index values.

Values are kept as the text the data set holds (decoded with its Specific Character Set, so a
name received in ISO_IR 100 and one received in ISO_IR 192 are the same Unicode text), with
trailing padding removed; an absent or empty attribute is NULL, so that it matches nothing but
universal matching. Two derived columns serve the matching rules:

* ``<column>_fold`` for PN: the casefolded name, for case-insensitive matching of person names
  (PS3.4 C.2.2.2.1 allows it for PN only; every other key is matched case-sensitively);
* ``<column>_key`` for TM and DT: the value normalised to a fixed width (``HHMMSS.FFFFFF``,
  ``YYYYMMDDHHMMSS.FFFFFF``), so that ranges compare as text.

Sequence attributes (VR SQ: Procedure Code Sequence, Request Attributes Sequence, ...) are kept
as the DICOM JSON model of their items (PS3.18 F.2, a JSON array of item objects; NULL when the
sequence is absent or empty) and matched item by item in Python (PS3.4 C.2.2.2.6, see
:mod:`~dicomnet.archive.items`).
"""

from __future__ import annotations

import re
from typing import Any

from pydicom.multival import MultiValue

from dicomnet._record import record

LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")


@record(frozen=True, slots=True)
class Attr:
    """One indexed attribute."""

    keyword: str
    tag: int
    vr: str
    level: str

    @property
    def column(self) -> str:
        return self.keyword.lower()


def _attrs(level: str, *items: tuple[str, int, str]) -> list[Attr]:
    return [Attr(keyword, tag, vr, level) for keyword, tag, vr in items]


#: Every indexed attribute, by level.
ATTRIBUTES: tuple[Attr, ...] = tuple(
    _attrs(
        "PATIENT",
        ("PatientID", 0x00100020, "LO"),
        ("IssuerOfPatientID", 0x00100021, "LO"),
        ("PatientName", 0x00100010, "PN"),
        ("PatientBirthDate", 0x00100030, "DA"),
        ("PatientBirthTime", 0x00100032, "TM"),
        ("PatientSex", 0x00100040, "CS"),
        ("EthnicGroup", 0x00102160, "SH"),
        ("PatientComments", 0x00104000, "LT"),
        ("OtherPatientIDsSequence", 0x00101002, "SQ"),
    )
    + _attrs(
        "STUDY",
        ("StudyInstanceUID", 0x0020000D, "UI"),
        ("StudyDate", 0x00080020, "DA"),
        ("StudyTime", 0x00080030, "TM"),
        ("AccessionNumber", 0x00080050, "SH"),
        ("StudyID", 0x00200010, "SH"),
        ("ReferringPhysicianName", 0x00080090, "PN"),
        ("StudyDescription", 0x00081030, "LO"),
        ("PatientAge", 0x00101010, "AS"),
        ("PatientSize", 0x00101020, "DS"),
        ("PatientWeight", 0x00101030, "DS"),
        ("IssuerOfAccessionNumberSequence", 0x00080051, "SQ"),
        ("ProcedureCodeSequence", 0x00081032, "SQ"),
        ("ReferencedStudySequence", 0x00081110, "SQ"),
    )
    + _attrs(
        "SERIES",
        ("SeriesInstanceUID", 0x0020000E, "UI"),
        ("Modality", 0x00080060, "CS"),
        ("SeriesNumber", 0x00200011, "IS"),
        ("SeriesDescription", 0x0008103E, "LO"),
        ("SeriesDate", 0x00080021, "DA"),
        ("SeriesTime", 0x00080031, "TM"),
        ("BodyPartExamined", 0x00180015, "CS"),
        ("ProtocolName", 0x00181030, "LO"),
        ("StationName", 0x00081010, "SH"),
        ("InstitutionName", 0x00080080, "LO"),
        ("Manufacturer", 0x00080070, "LO"),
        ("PerformedProcedureStepStartDate", 0x00400244, "DA"),
        ("RequestAttributesSequence", 0x00400275, "SQ"),
        ("ReferencedPerformedProcedureStepSequence", 0x00081111, "SQ"),
    )
    + _attrs(
        "IMAGE",
        ("SOPInstanceUID", 0x00080018, "UI"),
        ("SOPClassUID", 0x00080016, "UI"),
        ("InstanceNumber", 0x00200013, "IS"),
        ("ContentDate", 0x00080023, "DA"),
        ("ContentTime", 0x00080033, "TM"),
        ("AcquisitionDateTime", 0x0008002A, "DT"),
        ("NumberOfFrames", 0x00280008, "IS"),
    )
)

BY_KEYWORD: dict[str, Attr] = {a.keyword: a for a in ATTRIBUTES}
BY_TAG: dict[int, Attr] = {a.tag: a for a in ATTRIBUTES}


def level_attributes(level: str) -> list[Attr]:
    return [a for a in ATTRIBUTES if a.level == level]


#: Attributes computed from the index rather than stored: keyword -> (tag, VR, lowest level at
#: which it has a meaning, i.e. the level whose entity it describes).
COMPUTED: dict[str, tuple[int, str, str]] = {
    "NumberOfPatientRelatedStudies": (0x00201200, "IS", "PATIENT"),
    "NumberOfPatientRelatedSeries": (0x00201202, "IS", "PATIENT"),
    "NumberOfPatientRelatedInstances": (0x00201204, "IS", "PATIENT"),
    "NumberOfStudyRelatedSeries": (0x00201206, "IS", "STUDY"),
    "NumberOfStudyRelatedInstances": (0x00201208, "IS", "STUDY"),
    "NumberOfSeriesRelatedInstances": (0x00201209, "IS", "SERIES"),
    "ModalitiesInStudy": (0x00080061, "CS", "STUDY"),
    "SOPClassesInStudy": (0x00080062, "UI", "STUDY"),
}

#: Tags read from a file to index it (everything above, plus the character set).
INDEX_TAGS: tuple[int, ...] = (0x00080005, *sorted(BY_TAG))


# --- normalising values -----------------------------------------------------------------------

_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$")


def time_key(value: str, *, upper: bool = False) -> str | None:
    """``HHMMSS.FFFFFF`` for a TM value (``HH:MM`` old form too); missing parts are zero, or
    their maximum when ``upper`` (the end of a range: ``-1200`` includes 12:00:59). None if the
    value is not a time."""
    found = _TM.match(value.strip())
    if found is None:
        return None
    hh, mm, ss, frac = found.groups()
    fill = "9" if upper else "0"
    mm = mm if mm is not None else ("59" if upper else "00")
    ss = ss if ss is not None else ("59" if upper else "00")
    frac = (frac or "").ljust(6, fill)
    return f"{hh}{mm}{ss}.{frac}"


def datetime_key(value: str, *, upper: bool = False) -> str | None:
    """``YYYYMMDDHHMMSS.FFFFFF`` for a DT value (offset ignored), filled as :func:`time_key`."""
    found = _DT.match(value.strip())
    if found is None:
        return None
    year, month, day, hh, mm, ss, frac, _offset = found.groups()
    highs = ("12", "31", "23", "59", "59")
    lows = ("01", "01", "00", "00", "00")
    parts = [month, day, hh, mm, ss]
    filled = [p if p is not None else (highs[i] if upper else lows[i]) for i, p in enumerate(parts)]
    frac = (frac or "").ljust(6, "9" if upper else "0")
    return f"{year}{''.join(filled)}.{frac}"


def text_of(value: Any) -> str | None:
    """An element value as index text: multi-values joined with backslashes, padding removed;
    None for an empty value."""
    if value is None:
        return None
    if isinstance(value, bytes):
        text = value.decode("latin-1")
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple | MultiValue):
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    text = text.rstrip("\x00 ").strip()
    return text or None


def fold(text: str) -> str:
    """The case-insensitive form of a person name (Unicode casefolding)."""
    return text.casefold()


def sequence_json(value: Any) -> str | None:
    """A sequence's items as index text: the DICOM JSON model of each item in a JSON array
    (values decoded with the data set's character set); None for no items."""
    import json

    items = [item.to_json_dict(bulk_data_threshold=1 << 20) for item in value or ()]
    return json.dumps(items, ensure_ascii=False, separators=(",", ":")) if items else None


def texts_from_dataset(ds: Any) -> dict[int, str | None]:
    """The indexed attributes of a pydicom Dataset as {tag: text}."""
    texts: dict[int, str | None] = {}
    for attr in ATTRIBUTES:
        elem = ds.get(attr.tag)
        text = None
        if elem is not None and (elem.VR == "SQ") == (attr.vr == "SQ"):
            try:
                text = sequence_json(elem.value) if attr.vr == "SQ" else text_of(elem.value)
            except Exception:  # an undecodable value is not worth refusing the instance
                text = None
        texts[attr.tag] = text
    return texts


#: Python codecs for the single-byte and UTF-8 Specific Character Sets (the fast path).
CODECS = {
    "": "latin-1",  # the default repertoire is ASCII; Latin-1 reads stray bytes losslessly
    "ISO_IR 6": "latin-1",
    "ISO_IR 100": "latin-1",
    "ISO_IR 101": "iso8859_2",
    "ISO_IR 109": "iso8859_3",
    "ISO_IR 110": "iso8859_4",
    "ISO_IR 144": "iso8859_5",
    "ISO_IR 127": "iso8859_6",
    "ISO_IR 126": "iso8859_7",
    "ISO_IR 138": "iso8859_8",
    "ISO_IR 148": "iso8859_9",
    "ISO_IR 166": "tis_620",
    "ISO_IR 192": "utf-8",
}


def texts_from_raw(
    raw: dict[int, bytes], implicit: bool | None = None
) -> dict[int, str | None] | None:
    """The indexed attributes from raw top-level values (``part10.scan_top_level``), decoded
    with the data set's character set; None when that needs pydicom for the whole data set
    (ISO 2022 code extensions, several character sets, an unknown one, bytes that do not
    decode, or a sequence when ``implicit`` (whether the values are Implicit VR Little
    Endian) is not given). A sequence's items are parsed from its own bytes only."""
    charset = raw.get(0x00080005, b"").decode("ascii", "replace").strip("\x00 ")
    codec = CODECS.get(charset)
    if codec is None:
        return None
    texts: dict[int, str | None] = {}
    for attr in ATTRIBUTES:
        value = raw.get(attr.tag)
        if value is None:
            texts[attr.tag] = None
            continue
        if attr.vr == "SQ":
            if value and implicit is None:
                return None
            try:
                texts[attr.tag] = _sequence_from_raw(value, implicit, charset) if value else None
            except Exception:  # malformed items: let pydicom read the whole data set
                return None
            continue
        if b"\x1b" in value:
            return None
        try:
            text = value.rstrip(b"\x00 ").decode(codec if attr.vr in _TEXT else "latin-1")
        except UnicodeDecodeError:
            return None
        texts[attr.tag] = text.strip() or None
    return texts


def _sequence_from_raw(value: bytes, implicit: bool | None, charset: str) -> str | None:
    import io

    from pydicom.charset import convert_encodings
    from pydicom.filereader import read_sequence

    encodings = convert_encodings([charset] if charset else None)
    items = read_sequence(io.BytesIO(value), bool(implicit), True, len(value), encodings)
    return sequence_json(items)


#: VRs whose values follow the Specific Character Set (the others are ASCII).
_TEXT = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC"})


def row_values(texts: dict[int, str | None], level: str) -> dict[str, Any]:
    """The index columns of ``level`` from {tag: text} (derived columns included)."""
    values: dict[str, Any] = {}
    for attr in level_attributes(level):
        text = texts.get(attr.tag)
        values[attr.column] = text
        if attr.vr == "PN":
            values[f"{attr.column}_fold"] = fold(text) if text else None
        elif attr.vr == "TM":
            values[f"{attr.column}_key"] = time_key(text) if text else None
        elif attr.vr == "DT":
            values[f"{attr.column}_key"] = datetime_key(text) if text else None
    return values
