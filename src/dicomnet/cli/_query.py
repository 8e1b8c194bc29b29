"""Query keys for findscu/getscu/movescu: ``-k KEY[=VALUE]`` parsing, identifiers from keys and
query files, and rendering of returned identifiers.

A key is a keyword (``PatientName``), a tag (``0010,0010`` or ``(0010,0010)``), or a sequence
path (``ScheduledProcedureStepSequence[0].Modality``). An empty value asks for a return key.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_TAG = re.compile(r"^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$")
_PART = re.compile(r"^(?P<name>[^\[\]]+)(\[(?P<index>\d+)\])?$")

LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")

LOG = logging.getLogger("dicomnet.cli")

#: Return keys asked for when the user gives none (and no query file), per level.
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "PATIENT": (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "NumberOfPatientRelatedStudies",
    ),
    "STUDY": (
        "PatientName",
        "PatientID",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "StudyDescription",
        "ModalitiesInStudy",
        "NumberOfStudyRelatedInstances",
        "StudyInstanceUID",
    ),
    "SERIES": (
        "Modality",
        "SeriesNumber",
        "SeriesDescription",
        "NumberOfSeriesRelatedInstances",
        "SeriesInstanceUID",
    ),
    "IMAGE": ("InstanceNumber", "SOPClassUID", "SOPInstanceUID"),
    "WORKLIST": (
        "PatientName",
        "PatientID",
        "AccessionNumber",
        "RequestedProcedureDescription",
        "ScheduledProcedureStepSequence[0].Modality",
        "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime",
    ),
}


class KeyError_(ValueError):
    """A -k value that cannot be used; the message says why."""


def _tag_for(name: str) -> int:
    from pydicom.datadict import tag_for_keyword

    match = _TAG.match(name)
    if match:
        return int(match.group(1) + match.group(2), 16)
    tag = tag_for_keyword(name)
    if tag is None:
        raise KeyError_(f"unknown attribute {name!r} (use a DICOM keyword or a tag like 0010,0010)")
    return int(tag)


def _vr_for(tag: int) -> str:
    from pydicom.datadict import dictionary_VR

    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        raise KeyError_(
            f"tag ({tag >> 16:04X},{tag & 0xFFFF:04X}) is not in the dictionary"
        ) from None
    return vr.split(" or ")[0]


def set_key(ds: Any, path: str, value: str | None) -> None:
    """Set ``path`` (keyword/tag/sequence path) in ``ds`` to ``value`` (None/'' = return key)."""
    from pydicom.dataset import Dataset

    parts = path.strip().split(".")
    current = ds
    for position, part in enumerate(parts):
        match = _PART.match(part.strip())
        if match is None:
            raise KeyError_(f"cannot read key path {path!r}")
        tag = _tag_for(match.group("name"))
        vr = _vr_for(tag)
        last = position == len(parts) - 1
        if match.group("index") is not None or not last:
            if vr != "SQ":
                raise KeyError_(f"{match.group('name')} is not a sequence in {path!r}")
            index = int(match.group("index") or 0)
            if tag not in current:
                current.add_new(tag, "SQ", [])
            items = current[tag].value
            while len(items) <= index:
                items.append(Dataset())
            if last:
                if value:
                    raise KeyError_(f"a sequence item cannot take a value in {path!r}")
                return
            current = items[index]
            continue
        if vr == "SQ":
            if value:
                raise KeyError_(f"sequence {match.group('name')} cannot take a value")
            current.add_new(tag, "SQ", [])
            return
        converted = _convert(vr, value)
        with warnings.catch_warnings(record=True) as caught:
            # pydicom warns (with a source line) about values outside the VR's rules; say it
            # once as a log line instead: matching values such as ranges are legal here.
            warnings.simplefilter("always")
            current.add_new(tag, vr, converted)
        for warning in caught:
            LOG.warning("-k %s: %s", path, str(warning.message).split(". ")[0])


def _convert(vr: str, value: str | None) -> Any:
    if value is None or value == "":
        return None
    if vr in ("US", "SS", "UL", "SL", "UV", "SV"):
        try:
            return [int(v) for v in value.split("\\")] if "\\" in value else int(value)
        except ValueError:
            raise KeyError_(f"{value!r} is not a number") from None
    if vr in ("FL", "FD"):
        try:
            return float(value)
        except ValueError:
            raise KeyError_(f"{value!r} is not a number") from None
    if vr in ("IS", "DS"):
        # matching on numbers is single value or a list: each part must be a number
        for part in value.split("\\"):
            try:
                int(part) if vr == "IS" else float(part)
            except ValueError:
                kind = "an integer" if vr == "IS" else "a number"
                raise KeyError_(f"{part!r} is not {kind}") from None
    return value


def parse_key(text: str) -> tuple[str, str | None]:
    name, sep, value = text.partition("=")
    if not name.strip():
        raise KeyError_(f"empty key in {text!r}")
    return name.strip(), (value if sep else None)


def load_query_file(path: Path) -> Any:
    """A query from a DICOM file or a DICOM JSON file (PS3.18 JSON model)."""
    from pydicom import dcmread
    from pydicom.dataset import Dataset
    from pydicom.errors import InvalidDicomError

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeyError_(f"cannot read query file {path}: {exc.strerror or exc}") from None
    if raw.lstrip()[:1] == b"{":
        try:
            return Dataset.from_json(json.loads(raw))
        except (ValueError, TypeError, KeyError) as exc:
            raise KeyError_(f"query file {path} is not DICOM JSON: {exc}") from None
    try:
        import io

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # garbage makes pydicom warn before it fails
            ds = dcmread(io.BytesIO(raw), force=True)
            elements = list(ds)  # decode every element now: a broken file fails here
    except (InvalidDicomError, ValueError, EOFError, OSError) as exc:
        raise KeyError_(f"query file {path} is not DICOM: {exc}") from None
    except Exception as exc:  # pydicom raises many kinds on garbage
        raise KeyError_(f"query file {path} is not DICOM: {type(exc).__name__}") from None
    if len(ds) == 0:
        raise KeyError_(f"query file {path} holds no attributes")
    if raw[128:132] != b"DICM":
        # Without the Part-10 prefix pydicom reads anything as *some* data set: accept it
        # only if every public tag is one the dictionary knows.
        from pydicom.datadict import dictionary_has_tag

        for element in elements:
            if not element.tag.is_private and not dictionary_has_tag(element.tag):
                raise KeyError_(
                    f"query file {path} is not DICOM (no DICM prefix, unknown tag {element.tag})"
                )
    if "file_meta" in ds.__dict__:
        del ds.file_meta
    return ds


def build_identifier(
    keys: Sequence[str], level: str | None, query_file: Path | None, defaults: str | None
) -> Any:
    """The identifier: query file (if any), then -k keys, then the level; default return keys
    for ``defaults`` when the user gave no key and no file."""
    from pydicom.dataset import Dataset

    ds = load_query_file(query_file) if query_file is not None else Dataset()
    if not keys and query_file is None and defaults in DEFAULT_KEYS:
        for key in DEFAULT_KEYS[defaults]:
            set_key(ds, key, None)
    for text in keys:
        name, value = parse_key(text)
        set_key(ds, name, value)
    if level is not None:
        ds.QueryRetrieveLevel = level
    return ds


def finish_identifier(
    ds: Any,
    level: str | None,
    explicit_level: bool,
    query_model: str,
    operation: str,
    relational: bool = False,
) -> None:
    """Set the query level and check the identifier before anything is sent.

    The level: ``-L`` when given (``explicit_level``), else the query file's own
    QueryRetrieveLevel, else ``level`` (the command's default). A C-FIND in a hierarchical model
    asks for the unique key of its level when the user did not (so ``-k PatientName=X`` works
    and the UIDs come back). Then the library's checks (unique keys per level, PS3.4 C.4):
    KeyError_ with its explanation when they fail, so the command exits 2 before connecting."""
    from dicomnet.qr import UNIQUE_KEYS, resolve_query_model, validate_identifier

    if level is not None and (explicit_level or "QueryRetrieveLevel" not in ds):
        ds.QueryRetrieveLevel = level
    try:
        _uid, model = resolve_query_model(query_model, operation)
        if operation == "find" and model is not None and model.is_hierarchical:
            current = str(ds.get("QueryRetrieveLevel", "") or "").strip().upper()
            if current in model.levels and UNIQUE_KEYS[current][0] not in ds:
                set_key(ds, UNIQUE_KEYS[current][0], None)
        validate_identifier(
            ds, model if model is not None else query_model, operation, relational=relational
        )
    except ValueError as exc:
        raise KeyError_(str(exc)) from None


#: VRs whose raw value :func:`flatten` converts itself, with pydicom's converter (the VRs
#: whose values are text: no byte order, no ambiguity, no sequence).
_TEXT_VRS = frozenset(
    [
        "AE",
        "AS",
        "CS",
        "DA",
        "DS",
        "DT",
        "IS",
        "LO",
        "LT",
        "PN",
        "SH",
        "ST",
        "TM",
        "UC",
        "UI",
        "UR",
        "UT",
    ]
)
_KEYWORDS: dict[int, str] = {}
#: A UID pydicom finds valid (its own rule for reading: at most 64 characters of this form), and
#: an IS value: :func:`_plain_text` gives their text without making pydicom's UID / IS objects,
#: which validate it again (a third of the cost of a C-FIND match's row).
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
_IS = re.compile(r" *[-+]?[0-9]+")


def flatten(ds: Any, prefix: str = "") -> dict[str, str]:
    """A flat {keyword-path: text} view of an identifier for tables and CSV.

    A top-level element still in its raw (undecoded) form with a text VR and no
    SpecificCharacterSet in the data set is converted by pydicom's own value converter without
    making it a DataElement of ``ds`` (a third of the cost of a C-FIND match when 10,000 are
    printed); every other element is read from ``ds`` as before. The text is the same."""
    items = getattr(ds, "_dict", None)  # pydicom's own {tag: element}: read as get_item does
    if prefix or type(items) is not dict or 0x00080005 in items or not _plain_hooks():
        return _flatten_elements(ds, prefix)
    from pydicom.charset import default_encoding
    from pydicom.datadict import dictionary_VR, keyword_for_tag
    from pydicom.dataelem import RawDataElement
    from pydicom.valuerep import PersonName
    from pydicom.values import convert_value

    encoding = ds.original_character_set or default_encoding
    plain_vrs = _plain_converters()
    out: dict[str, str] = {}
    for tag in sorted(items):
        raw = items[tag]  # a deferred value (None) goes to _flatten_elements, as before
        vr = raw.VR if isinstance(raw, RawDataElement) else None
        if vr is None and isinstance(raw, RawDataElement) and not (tag >> 16) & 1:
            try:
                vr = dictionary_VR(raw.tag)
            except KeyError:
                vr = None
        if vr not in _TEXT_VRS or raw.value is None:
            out.update(_flatten_elements(ds, prefix, (tag,)))
            continue
        number = int(tag)  # plain int keys: no BaseTag.__eq__ in the look-up
        name = _KEYWORDS.get(number)
        if name is None:
            name = keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
            _KEYWORDS[number] = name
        text = _plain_text(vr, raw.value) if vr in plain_vrs else None
        if text is not None:
            out[name] = text
            continue
        value = convert_value(vr, raw, encoding)
        if value is None:
            text = ""
        elif isinstance(value, str | PersonName) or not hasattr(value, "__len__"):
            text = str(value)
        elif len(value) > 1:
            text = "\\".join(str(v) for v in value)
        else:
            text = str(value)
        out[name] = text
    return out


def _plain_converters() -> frozenset[str]:
    """The VRs :func:`_plain_text` reads: those whose pydicom converter is still its own."""
    from pydicom import values

    stock: dict[Any, Any] = {
        "UI": values.convert_UI,
        "IS": values.convert_IS_string,
        "CS": values.convert_string,
        "AE": values.convert_AE_string,
    }
    converters: dict[Any, Any] = values.converters
    return frozenset(vr for vr, func in stock.items() if converters.get(vr) is func)


def _plain_text(vr: str, raw: bytes) -> str | None:
    """The text pydicom's converter gives for a single valid UI or IS value (its UID or IS
    object printed), or None for anything else (empty, several values, invalid: pydicom's
    converter then gives the text and its warnings, as it always did). For CS and AE, which
    pydicom converts without validating, always the text: the value without its padding
    (CS: trailing spaces and NULs; AE: spaces around each value), values joined with
    backslashes as :func:`flatten` joins them."""
    from pydicom import config

    decoded = raw.decode("latin-1")  # the converters' default_encoding (iso8859)
    if vr == "CS":
        return decoded.rstrip(" \x00")
    if vr == "AE":
        return "\\".join(part.strip() for part in decoded.split("\\"))
    value = decoded.rstrip(" \x00")
    if len(value) > (64 if vr == "UI" else 12):
        return None
    if vr == "UI":
        return value if _UID.fullmatch(value) else None
    if config.use_IS_numpy or not _IS.fullmatch(value):
        return None
    return value.lstrip(" ")


def _plain_hooks() -> bool:
    """pydicom converts raw elements its default way (no callback, no hook replaced)."""
    from pydicom import config, hooks

    return (
        config.data_element_callback is None
        and hooks.hooks.raw_element_vr is hooks.raw_element_vr
        and hooks.hooks.raw_element_value is hooks.raw_element_value
        and not hooks.hooks.raw_element_kwargs
    )


def _flatten_elements(
    ds: Any, prefix: str = "", tags: tuple[int, ...] | None = None
) -> dict[str, str]:
    """:func:`flatten` through pydicom's DataElements: every element, or those of ``tags``."""
    out: dict[str, str] = {}
    for element in ds if tags is None else (ds[tag] for tag in tags):
        name = element.keyword or f"({element.tag.group:04X},{element.tag.element:04X})"
        if element.VR == "SQ":
            for index, item in enumerate(element.value):
                out.update(flatten(item, f"{prefix}{name}[{index}]."))
            continue
        value = element.value
        if value is None:
            text = ""
        elif isinstance(value, bytes):
            text = f"<{len(value)} bytes>"
        elif element.VM > 1:
            text = "\\".join(str(v) for v in value)
        else:
            text = str(value)
        out[prefix + name] = text
    return out


#: SpecificCharacterSet when a key value is not ASCII and the user chose none.
DEFAULT_CHARSET = "ISO_IR 192"


def _text_values(ds: Any) -> list[tuple[str, str]]:
    """(keyword, text) of every text value in ``ds``, sequences included."""
    out: list[tuple[str, str]] = []
    for element in ds:
        if element.VR == "SQ":
            for item in element.value or ():
                out += _text_values(item)
            continue
        value = element.value
        if value is None or isinstance(value, bytes | int | float):
            continue
        values = value if element.VM > 1 and not isinstance(value, str) else [value]
        out += [(element.keyword or str(element.tag), str(v)) for v in values]
    return out


def apply_charset(ds: Any, charset: str | None) -> None:
    """Set the identifier's SpecificCharacterSet: ``charset`` (--charset: one term, or several
    separated by backslashes, e.g. ``\\ISO 2022 IR 87``) when given; else the one the query
    file or -k gave; else ISO_IR 192 (UTF-8) when any key value is not ASCII, so that no value
    is sent as ``?``. KeyError_ when a term is unknown to pydicom or cannot encode a value."""
    from pydicom.charset import encode_string, python_encoding

    texts = _text_values(ds)
    if charset is None:
        given = ds.get("SpecificCharacterSet")
        if given:  # the user's own choice: -k SpecificCharacterSet=... or the query file
            terms = [str(t) for t in given] if not isinstance(given, str) else [given]
        elif any(not text.isascii() for _, text in texts):
            ds.SpecificCharacterSet = DEFAULT_CHARSET
            return
        else:
            return
    else:
        terms = [t.strip() for t in charset.split("\\")]
    known = [t for t in terms if t]
    unknown = [t for t in known if t not in python_encoding]
    if unknown or (len(terms) > 1 and any(t and not t.startswith("ISO 2022") for t in terms)):
        choices = ", ".join(sorted(t for t in python_encoding if t))
        raise KeyError_(f"unknown character set {charset or terms!r}; pydicom knows: {choices}")
    if charset is not None:
        ds.SpecificCharacterSet = terms if len(terms) > 1 else terms[0]
    encodings = [python_encoding[t] for t in terms]
    shown = "\\".join(terms)
    for keyword, text in texts:
        if keyword == "SpecificCharacterSet" or text.isascii():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                encode_string(text, encodings)
            except (UnicodeError, UserWarning, ValueError):
                raise KeyError_(
                    f"{keyword} value {text!r} cannot be written in {shown} "
                    f"(give another --charset, or none for {DEFAULT_CHARSET})"
                ) from None
