"""DICOM wire bytes written by hand for the fuzzer: PDUs, items, PDVs, command sets, small data
sets, and a walker that finds the element, sequence and item boundaries of a data set.

Nothing here comes from ``src/``: the fuzzer must be able to say things our encoder refuses to
say (odd lengths, wrong types, missing elements), and its oracles must not share our bugs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence

VERIFICATION = "1.2.840.10008.1.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPLEMENTATION_UID = "2.25.1193046.16.1"
#: UIDs of the fuzzer's instances: ``UID_ROOT.<case>.<n>``.
UID_ROOT = "2.25.1193046.16"

# PDU types
ASSOCIATE_RQ = 0x01
ASSOCIATE_AC = 0x02
ASSOCIATE_RJ = 0x03
P_DATA_TF = 0x04
RELEASE_RQ = 0x05
RELEASE_RP = 0x06
ABORT = 0x07

# Explicit VR with a 2-byte length (PS3.5 7.1.2); every other VR, an unknown one included,
# has 2 reserved bytes and a 4-byte length.
SHORT_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN"}
    | {b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
)
KNOWN_VRS = SHORT_VRS | frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
UNDEFINED = 0xFFFFFFFF
ITEM = (0xFFFE, 0xE000)
ITEM_END = (0xFFFE, 0xE00D)
SEQUENCE_END = (0xFFFE, 0xE0DD)


# --- PDUs and items -----------------------------------------------------------------------


def pdu(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BBI", pdu_type, 0, len(body)) + body


def item(item_type: int, body: bytes) -> bytes:
    return struct.pack(">BBH", item_type, 0, len(body)) + body


def ae_field(title: str) -> bytes:
    return title.encode("latin-1")[:16].ljust(16, b" ")


@dataclass
class Context:
    """A proposed presentation context (item 0x20)."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: list[str]

    def encode(self) -> bytes:
        body = bytes([self.context_id, 0, 0, 0]) + item(0x30, self.abstract_syntax.encode())
        for syntax in self.transfer_syntaxes:
            body += item(0x40, syntax.encode())
        return item(0x20, body)


@dataclass
class AssociateRQ:
    """An A-ASSOCIATE-RQ as fields; :meth:`encode` writes it, ``extra_items`` verbatim."""

    called: str = "STORESCP"
    calling: str = "FUZZER"
    protocol_version: int = 1
    application_context: str = APPLICATION_CONTEXT
    contexts: list[Context] = field(default_factory=list)
    max_length: int | None = 16384
    implementation_uid: str = IMPLEMENTATION_UID
    version_name: str | None = "FUZZ16"
    extra_user_items: bytes = b""
    extra_items: bytes = b""

    def encode(self) -> bytes:
        user = b""
        if self.max_length is not None:
            user += item(0x51, struct.pack(">I", self.max_length))
        user += item(0x52, self.implementation_uid.encode("latin-1"))
        if self.version_name is not None:
            user += item(0x55, self.version_name.encode("latin-1"))
        user += self.extra_user_items
        body = (
            struct.pack(">HH", self.protocol_version, 0)
            + ae_field(self.called)
            + ae_field(self.calling)
            + bytes(32)
            + item(0x10, self.application_context.encode("latin-1"))
            + b"".join(c.encode() for c in self.contexts)
            + self.extra_items
            + item(0x50, user)
        )
        return pdu(ASSOCIATE_RQ, body)


def release_rq() -> bytes:
    return pdu(RELEASE_RQ, bytes(4))


def abort(source: int = 0, reason: int = 0) -> bytes:
    return pdu(ABORT, bytes([0, 0, source, reason]))


def pdv(context_id: int, control: int, data: bytes) -> bytes:
    """One PDV item: length, context ID, message control header (bit 0 command, bit 1 last)."""
    return struct.pack(">IBB", len(data) + 2, context_id, control) + data


def pdata(*pdvs: bytes) -> bytes:
    return pdu(P_DATA_TF, b"".join(pdvs))


def split_pdus(stream: bytes) -> list[bytes]:
    """Whole PDUs of ``stream`` by their headers (a short tail is returned as it is)."""
    out: list[bytes] = []
    pos = 0
    while pos < len(stream):
        if len(stream) - pos < 6:
            out.append(stream[pos:])
            break
        (length,) = struct.unpack_from(">I", stream, pos + 2)
        out.append(stream[pos : pos + 6 + length])
        pos += 6 + length
    return out


# --- command sets (group 0000, Implicit VR Little Endian) ---------------------------------


def us(value: int) -> bytes:
    return struct.pack("<H", value & 0xFFFF)


def text(value: str, pad: bytes = b"\x00") -> bytes:
    raw = value.encode("latin-1")
    return raw + pad if len(raw) & 1 else raw


def encode_elements(elements: list[tuple[int, bytes]]) -> bytes:
    """Group 0000 elements as given (order, lengths and all), with a Command Group Length."""
    body = b"".join(struct.pack("<HHI", 0, elem, len(value)) + value for elem, value in elements)
    return struct.pack("<HHI", 0, 0, 4) + struct.pack("<I", len(body)) + body


def c_store_rq(message_id: int, sop_class: str, sop_instance: str) -> list[tuple[int, bytes]]:
    return [
        (0x0002, text(sop_class)),
        (0x0100, us(0x0001)),
        (0x0110, us(message_id)),
        (0x0700, us(0x0000)),
        (0x0800, us(0x0001)),
        (0x1000, text(sop_instance)),
    ]


def c_echo_rq(message_id: int) -> list[tuple[int, bytes]]:
    return [
        (0x0002, text(VERIFICATION)),
        (0x0100, us(0x0030)),
        (0x0110, us(message_id)),
        (0x0800, us(0x0101)),
    ]


def decode_command(data: bytes) -> dict[int, bytes]:
    """Element values of a command set by element number (lenient: stops at a bad header)."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos + 8 <= len(data):
        _group, elem, length = struct.unpack_from("<HHI", data, pos)
        out[elem] = data[pos + 8 : pos + 8 + length]
        pos += 8 + length
    return out


# --- data sets ----------------------------------------------------------------------------


def ct_dataset(sop_instance: str, *, sequences: str = "") -> Dataset:
    """A small CT image; with nested sequences when ``sequences`` is "defined" or "undefined"
    (their lengths and their items' lengths, delimiters for undefined ones)."""
    ds = Dataset()
    ds.SOPClassUID = CT_IMAGE_STORAGE
    ds.SOPInstanceUID = sop_instance
    ds.StudyInstanceUID = f"{UID_ROOT}.1"
    ds.SeriesInstanceUID = f"{UID_ROOT}.1.1"
    ds.Modality = "CT"
    ds.PatientName = "Fuzz^Case"
    ds.PatientID = "FUZZ16"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.InstanceNumber = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 4
    ds.Columns = 4
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(range(32))
    if sequences:
        inner = Dataset()
        inner.CodeValue = "T-D1100"
        inner.CodingSchemeDesignator = "SRT"
        inner.CodeMeaning = "Head"
        outer = Dataset()
        outer.ReferencedSOPClassUID = CT_IMAGE_STORAGE
        outer.ReferencedSOPInstanceUID = f"{UID_ROOT}.9"
        outer.PurposeOfReferenceCodeSequence = Sequence([inner])
        ds.ReferencedImageSequence = Sequence([outer, Dataset()])
        ds.AnatomicRegionSequence = Sequence([inner])
        undefined = sequences == "undefined"
        for top in (ds, outer):
            for elem in top:
                if elem.VR == "SQ":
                    elem.is_undefined_length = undefined
                    for member in elem.value:
                        member.is_undefined_length_sequence_item = undefined
    return ds


def encode_dataset(ds: Dataset, transfer_syntax: str) -> bytes:
    """The data set in Implicit or Explicit VR Little Endian (sequences and items with
    undefined length, as pydicom writes them)."""
    buffer = DicomBytesIO()
    buffer.is_little_endian = True
    buffer.is_implicit_VR = transfer_syntax == IMPLICIT_LE
    write_dataset(buffer, ds)
    return buffer.getvalue()


@dataclass
class Element:
    """Where an element (or item / delimiter) sits in a data set's bytes."""

    offset: int  # of its tag
    tag: tuple[int, int]
    vr: bytes | None  # None in Implicit VR, and for items and delimiters
    length_offset: int
    length_size: int  # 2 or 4
    length: int
    value_offset: int
    depth: int


class StructureError(ValueError):
    """The bytes are not a well-formed data set."""


def walk(data: bytes, implicit: bool) -> list[Element]:
    """Every element, item and delimiter of a Little Endian data set, in order, checked
    against the bytes present: StructureError at the first defect. Implicit VR sequences are
    known by undefined length or by the tag of a sequence this module writes."""
    out: list[Element] = []
    _elements(data, 0, len(data), implicit, 0, out, delimited=False)
    return out


_SEQUENCE_TAGS = frozenset({(0x0008, 0x1140), (0x0008, 0x2218), (0x0040, 0xA170)})
_MAX_DEPTH = 1200
# Command (0000) and file meta (0002) groups and the reserved groups 1, 3, 5, 7 and FFFF have no
# place in a data set (PS3.5 7.1, 7.8).
_NOT_IN_DATA_SETS = frozenset({0x0000, 0x0001, 0x0002, 0x0003, 0x0005, 0x0007, 0xFFFF})


def _header(data: bytes, pos: int, end: int) -> tuple[tuple[int, int], int]:
    if end - pos < 8:
        raise StructureError(f"truncated header at {pos}")
    group, elem, length = struct.unpack_from("<HHI", data, pos)
    return (group, elem), length


def _elements(
    data: bytes,
    pos: int,
    end: int,
    implicit: bool,
    depth: int,
    out: list[Element],
    *,
    delimited: bool,
) -> int:
    """Elements from ``pos`` to ``end``, or to an item delimiter when ``delimited``."""
    if depth > _MAX_DEPTH:
        raise StructureError("nesting too deep")
    while pos < end:
        tag, length = _header(data, pos, end)
        if tag[0] == 0xFFFE:
            out.append(Element(pos, tag, None, pos + 4, 4, length, pos + 8, depth))
            if tag == ITEM_END and delimited:
                if length != 0:
                    raise StructureError(f"item delimiter with length {length} at {pos}")
                return pos + 8
            raise StructureError(f"unexpected ({tag[0]:04X},{tag[1]:04X}) at {pos}")
        if tag[0] in _NOT_IN_DATA_SETS:
            raise StructureError(f"group {tag[0]:04X} element ({tag[0]:04X},{tag[1]:04X}) at {pos}")
        if implicit:
            vr = None
            length_offset, length_size, value = pos + 4, 4, pos + 8
            is_sequence = tag in _SEQUENCE_TAGS or length == UNDEFINED
        else:
            vr = data[pos + 4 : pos + 6]
            if vr not in KNOWN_VRS:
                raise StructureError(f"unknown VR {vr!r} at {pos}")
            if vr not in SHORT_VRS:
                if end - pos < 12:
                    raise StructureError(f"truncated element header at {pos}")
                (length,) = struct.unpack_from("<I", data, pos + 8)
                length_offset, length_size, value = pos + 8, 4, pos + 12
            else:
                (length,) = struct.unpack_from("<H", data, pos + 6)
                length_offset, length_size, value = pos + 6, 2, pos + 8
            is_sequence = vr == b"SQ"
        out.append(Element(pos, tag, vr, length_offset, length_size, length, value, depth))
        if is_sequence:
            if length == UNDEFINED:
                pos = _items(data, value, end, implicit, depth + 1, out, delimited=True)
            else:
                if value + length > end:
                    raise StructureError(f"sequence at {pos} runs past the end")
                _items(data, value, value + length, implicit, depth + 1, out, delimited=False)
                pos = value + length
            continue
        if length == UNDEFINED:
            raise StructureError(f"undefined length on a non-sequence at {pos}")
        if length & 1:
            raise StructureError(f"odd length {length} at {pos}")
        if value + length > end:
            raise StructureError(f"value at {pos} runs past the end")
        pos = value + length
    if delimited:
        raise StructureError("item without its delimiter")
    return pos


def _items(
    data: bytes,
    pos: int,
    end: int,
    implicit: bool,
    depth: int,
    out: list[Element],
    *,
    delimited: bool,
) -> int:
    """The items of a sequence from ``pos`` to ``end``, or to its delimiter."""
    if depth > _MAX_DEPTH:
        raise StructureError("nesting too deep")
    while pos < end:
        tag, length = _header(data, pos, end)
        out.append(Element(pos, tag, None, pos + 4, 4, length, pos + 8, depth))
        if tag == SEQUENCE_END and delimited:
            if length != 0:
                raise StructureError(f"sequence delimiter with length {length} at {pos}")
            return pos + 8
        if tag != ITEM:
            raise StructureError(f"({tag[0]:04X},{tag[1]:04X}) in a sequence at {pos}")
        if length == UNDEFINED:
            pos = _elements(data, pos + 8, end, implicit, depth + 1, out, delimited=True)
        else:
            if pos + 8 + length > end:
                raise StructureError(f"item at {pos} runs past the end")
            _elements(data, pos + 8, pos + 8 + length, implicit, depth + 1, out, delimited=False)
            pos += 8 + length
    if delimited:
        raise StructureError("sequence without its delimiter")
    return pos
