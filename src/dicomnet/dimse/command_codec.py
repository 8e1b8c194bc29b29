"""DIMSE command-set codec (PS3.7 6.3, Annex E): group 0000, Implicit VR Little Endian.

No pydicom: a command set is a short run of fixed-layout elements, so both directions are
written with :mod:`struct` and tables built once at import.

``encode_command`` writes (0000,0000) Command Group Length first, then every present field of
the message in ascending tag order, each value padded to even length (UI with 0x00, AE and LO
with a space). Invalid values raise :class:`ValueError`.

``make_encodable`` prepares a message built from values we do not control (echoed from a request,
returned by a handler): optional values the encoder would refuse are left out, an ErrorComment
is cut down to the LO repertoire and length. Every response field but Status, Message ID Being
Responded To and Command Data Set Type is optional, so a response always survives it.

``decode_command`` is tolerant of what peers legitimately send (retired and unknown group-0000
elements are skipped, a missing or wrong Command Group Length is ignored, elements not allowed
in the decoded message type are dropped, a zero-length element counts as absent) and strict
about structure. Every defect raises :class:`DIMSEError`; nothing else escapes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, Final

from dicomnet._record import fields
from dicomnet.dimse.messages import (
    MESSAGE_BY_COMMAND_FIELD,
    MESSAGE_TYPES,
    Message,
)
from dicomnet.ul.errors import (
    ABORT_REASON_INVALID_PARAMETER,
    ABORT_SOURCE_PROVIDER,
    AbortConsequence,
    RemoteProtocolError,
)

__all__ = ["DIMSEError", "decode_command", "encode_command", "lo_text", "make_encodable"]


class DIMSEError(RemoteProtocolError):
    """The peer sent a malformed DIMSE message or broke the PDV rules of PS3.8 Annex E.

    The association answers with A-ABORT (service provider, invalid PDU parameter value).
    """

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            AbortConsequence(source=ABORT_SOURCE_PROVIDER, reason=ABORT_REASON_INVALID_PARAMETER),
        )


# Value representations used by command elements.
_UL: Final = 0
_US: Final = 1
_UI: Final = 2
_AE: Final = 3
_LO: Final = 4
_AT: Final = 5

_COMMAND_FIELD_ELEMENT: Final = 0x0100

# element number -> (keyword, VR) for every element a message class may hold, plus the ones
# the decoder reads without storing ((0000,0000) and (0000,0100)).
_ELEMENTS: Final[dict[int, tuple[str, int]]] = {
    0x0000: ("CommandGroupLength", _UL),
    0x0002: ("AffectedSOPClassUID", _UI),
    0x0003: ("RequestedSOPClassUID", _UI),
    0x0100: ("CommandField", _US),
    0x0110: ("MessageID", _US),
    0x0120: ("MessageIDBeingRespondedTo", _US),
    0x0600: ("MoveDestination", _AE),
    0x0700: ("Priority", _US),
    0x0800: ("CommandDataSetType", _US),
    0x0900: ("Status", _US),
    0x0901: ("OffendingElement", _AT),
    0x0902: ("ErrorComment", _LO),
    0x0903: ("ErrorID", _US),
    0x1000: ("AffectedSOPInstanceUID", _UI),
    0x1001: ("RequestedSOPInstanceUID", _UI),
    0x1002: ("EventTypeID", _US),
    0x1005: ("AttributeIdentifierList", _AT),
    0x1008: ("ActionTypeID", _US),
    0x1020: ("NumberOfRemainingSuboperations", _US),
    0x1021: ("NumberOfCompletedSuboperations", _US),
    0x1022: ("NumberOfFailedSuboperations", _US),
    0x1023: ("NumberOfWarningSuboperations", _US),
    0x1030: ("MoveOriginatorApplicationEntityTitle", _AE),
    0x1031: ("MoveOriginatorMessageID", _US),
}
_ELEMENT_BY_KEYWORD: Final = {kw: (elem, vr) for elem, (kw, vr) in _ELEMENTS.items()}

# Largest value (in characters) allowed per string VR (PS3.5 Table 6.2-1).
_MAX_CHARS: Final = {_UI: 64, _AE: 16, _LO: 64}
_PAD: Final = {_UI: b"\x00", _AE: b" ", _LO: b" "}

_HEADER = struct.Struct("<HHI")
_pack_header = _HEADER.pack
_unpack_header = _HEADER.unpack_from
_pack_us = struct.Struct("<H").pack
_unpack_us = struct.Struct("<H").unpack_from
_pack_ul = struct.Struct("<I").pack
_pack_at = struct.Struct("<HH").pack
_unpack_at = struct.Struct("<HH").unpack_from

# (0000,0000) tag and length; the 4-byte value follows.
_GROUP_LENGTH_HEADER: Final = _pack_header(0x0000, 0x0000, 4)


class _EncodeField:
    """One element of one message class, with its header bytes precomputed where fixed."""

    __slots__ = ("elem", "keyword", "mandatory", "max_chars", "pad", "us_header", "vr")

    def __init__(self, elem: int, keyword: str, vr: int, mandatory: bool) -> None:
        self.elem = elem
        self.keyword = keyword
        self.vr = vr
        self.mandatory = mandatory
        self.us_header = _pack_header(0x0000, elem, 2)
        self.max_chars = _MAX_CHARS.get(vr, 0)
        self.pad = _PAD.get(vr, b"")


class _MessageSpec:
    """Encode and decode tables for one message class."""

    __slots__ = ("allowed", "command_field_bytes", "fields", "mandatory")

    def __init__(self, cls: type[Message]) -> None:
        # Optional fields default to None; every other field (no default, or a convenience
        # default such as Priority or CommandDataSetType) is mandatory in the message tables.
        params = {f.name: f for f in fields(cls)}
        specs: list[_EncodeField] = []
        for name, f in params.items():
            elem, vr = _ELEMENT_BY_KEYWORD[name]
            required = f.default is not None
            specs.append(_EncodeField(elem, name, vr, required))
        specs.append(_EncodeField(_COMMAND_FIELD_ELEMENT, "CommandField", _US, True))
        specs.sort(key=lambda f: f.elem)
        self.command_field_bytes = _pack_header(0x0000, _COMMAND_FIELD_ELEMENT, 2) + _pack_us(
            cls.command_field
        )
        self.fields = tuple(specs)
        self.allowed = frozenset(params)
        self.mandatory = tuple(f.keyword for f in specs if f.mandatory and f.elem != 0x0100)


_SPECS: Final[dict[type[Message], _MessageSpec]] = {cls: _MessageSpec(cls) for cls in MESSAGE_TYPES}


def _encode_string(field: _EncodeField, value: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{field.keyword} must be a str, not {type(value).__name__}")
    if len(value) > field.max_chars:
        raise ValueError(
            f"{field.keyword} is {len(value)} characters long; at most {field.max_chars} allowed"
        )
    raw = value.encode("latin-1")
    if len(raw) & 1:
        raw += field.pad
    return _pack_header(0x0000, field.elem, len(raw)) + raw


def _encode_at(field: _EncodeField, value: tuple[int, ...]) -> bytes:
    raw = b"".join(_pack_at(tag >> 16, tag & 0xFFFF) for tag in value)
    return _pack_header(0x0000, field.elem, len(raw)) + raw


def encode_command(msg: Message) -> bytes:
    """Encode the command set of ``msg`` (Implicit VR LE, group length first).

    Fields set to ``None`` are not written; a mandatory field set to ``None`` or any value that
    does not fit its VR raises :class:`ValueError`.
    """
    spec = _SPECS.get(type(msg))
    if spec is None:
        raise TypeError(f"not a DIMSE message: {type(msg).__name__}")
    parts: list[bytes] = []
    append = parts.append
    try:
        for field in spec.fields:
            if field.elem == _COMMAND_FIELD_ELEMENT:
                append(spec.command_field_bytes)
                continue
            value: Any = getattr(msg, field.keyword)
            if value is None:
                if field.mandatory:
                    raise ValueError(f"{type(msg).__name__}.{field.keyword} is required")
                continue
            vr = field.vr
            if vr == _US:
                append(field.us_header + _pack_us(value))
            elif vr == _AT:
                append(_encode_at(field, value))
            else:
                append(_encode_string(field, value))
    except struct.error as exc:
        raise ValueError(f"{type(msg).__name__}.{field.keyword}: {exc}") from None
    body = b"".join(parts)
    return _GROUP_LENGTH_HEADER + _pack_ul(len(body)) + body


_UID_CHARACTERS: Final = frozenset("0123456789.")
_TEXT_CHARACTERS: Final = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"\\"}


def lo_text(value: object) -> str:
    """``value`` as an LO value of the default repertoire (a command set has no Specific
    Character Set): printable ASCII other than backslash, anything else replaced with ``?``,
    at most 64 characters, no leading or trailing spaces. A list (e.g. pydicom's multi-value
    for a text containing a backslash) is joined with ``/``."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("latin-1")
    elif isinstance(value, Sequence) and not isinstance(value, str):
        value = "/".join(map(str, value))
    else:
        value = str(value)
    text = "".join(c if c in _TEXT_CHARACTERS else "?" for c in value.strip())
    return text[: _MAX_CHARS[_LO]].strip()


def _encodable(vr: int, value: Any) -> bool:
    """True when the encoder takes ``value`` for an element of this VR (strings checked
    against the VR's repertoire as well as its length)."""
    if vr == _US:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF
    if vr == _AT:
        return isinstance(value, tuple | list) and all(
            isinstance(t, int) and not isinstance(t, bool) and 0 <= t <= 0xFFFFFFFF for t in value
        )
    if vr == _UL:
        return isinstance(value, int) and 0 <= value <= 0xFFFFFFFF
    if not isinstance(value, str) or not value or len(value) > _MAX_CHARS[vr]:
        return False
    if vr == _UI:
        return set(value) <= _UID_CHARACTERS
    return set(value) <= _TEXT_CHARACTERS  # AE, LO


def make_encodable(msg: Message) -> list[str]:
    """Leave out (set to ``None``) every optional value of ``msg`` that :func:`encode_command`
    would refuse or that breaks its VR's rules, after cutting an ErrorComment down with
    :func:`lo_text`. Changes ``msg`` in place and returns the keywords left out. Mandatory
    fields are not touched: a bad one still makes :func:`encode_command` raise."""
    spec = _SPECS.get(type(msg))
    if spec is None:
        raise TypeError(f"not a DIMSE message: {type(msg).__name__}")
    dropped: list[str] = []
    for field in spec.fields:
        if field.elem == _COMMAND_FIELD_ELEMENT or field.mandatory:
            continue
        value = getattr(msg, field.keyword)
        if value is None:
            continue
        if field.keyword == "ErrorComment":
            value = lo_text(value) or None
            setattr(msg, field.keyword, value)
            if value is None:
                continue
        if not _encodable(field.vr, value):
            setattr(msg, field.keyword, None)
            dropped.append(field.keyword)
    return dropped


def decode_command(data: bytes | bytearray | memoryview) -> Message:
    """Decode a complete command set into its message; any defect raises :class:`DIMSEError`."""
    if isinstance(data, memoryview) and (data.format != "B" or data.ndim != 1):
        try:
            data = data.cast("B")
        except (TypeError, ValueError) as exc:
            raise DIMSEError(f"command set buffer cannot be read as bytes: {exc}") from None
    values: dict[str, Any] = {}
    end_of_data = len(data)
    offset = 0
    previous = -1
    elements = _ELEMENTS
    while offset < end_of_data:
        if end_of_data - offset < 8:
            raise DIMSEError(
                f"command set truncated: {end_of_data - offset} bytes left at offset {offset}, "
                "an element header needs 8"
            )
        group, elem, length = _unpack_header(data, offset)
        if group != 0x0000:
            raise DIMSEError(
                f"element ({group:04X},{elem:04X}) at offset {offset} is not in command group 0000"
            )
        if elem <= previous:
            what = "repeated" if elem == previous else "out of ascending order"
            raise DIMSEError(f"command element (0000,{elem:04X}) is {what}")
        previous = elem
        start = offset + 8
        offset = start + length
        if offset > end_of_data:
            raise DIMSEError(
                f"command element (0000,{elem:04X}) claims {length} bytes, "
                f"only {end_of_data - start} remain"
            )
        if length & 1:
            raise DIMSEError(f"command element (0000,{elem:04X}) has odd length {length}")
        known = elements.get(elem)
        if known is None or length == 0:
            continue  # retired, unknown or empty: ignored
        keyword, vr = known
        if vr == _US:
            if length != 2:
                raise DIMSEError(f"{keyword} (US) has length {length}, expected 2")
            values[keyword] = _unpack_us(data, start)[0]
        elif vr == _UI:
            values[keyword] = str(data[start:offset], "latin-1").rstrip("\x00 ")
        elif vr in (_AE, _LO):
            values[keyword] = str(data[start:offset], "latin-1").rstrip("\x00").strip(" ")
        elif vr == _AT:
            if length & 3:
                raise DIMSEError(f"{keyword} (AT) has length {length}, not a multiple of 4")
            values[keyword] = tuple(
                (g << 16) | e for g, e in (_unpack_at(data, pos) for pos in range(start, offset, 4))
            )
        elif length != 4:  # UL: (0000,0000); its value is not needed (PDV framing ends the set)
            raise DIMSEError(f"{keyword} (UL) has length {length}, expected 4")

    command_field = values.pop("CommandField", None)
    if command_field is None:
        raise DIMSEError("command set has no Command Field (0000,0100)")
    cls = MESSAGE_BY_COMMAND_FIELD.get(command_field)
    if cls is None:
        raise DIMSEError(f"unsupported Command Field 0x{command_field:04X}")
    spec = _SPECS[cls]
    for keyword in spec.mandatory:
        if keyword not in values:
            elem = _ELEMENT_BY_KEYWORD[keyword][0]
            raise DIMSEError(f"{cls.__name__} lacks mandatory {keyword} (0000,{elem:04X})")
    allowed = spec.allowed
    return cls(**{k: v for k, v in values.items() if k in allowed})
