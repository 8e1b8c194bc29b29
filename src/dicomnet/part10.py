"""DICOM Part-10 file headers (PS3.10 7.1) without pydicom: read a file's meta information and
where its data set starts, and write our own header in front of received data-set bytes.

This keeps sending and storing files free of data-set decoding: the data set bytes go from disk
to the wire (and from the wire to disk) untouched.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from dicomnet._record import record

PREAMBLE = bytes(128)
MAGIC = b"DICM"
_LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}
#: Every VR (PS3.5 6.2): the first element of a bare data set is Explicit VR if its bytes 4-5
#: are one of these.
_VRS = _LONG_VRS | {
    b"AE",
    b"AS",
    b"AT",
    b"CS",
    b"DA",
    b"DS",
    b"DT",
    b"FL",
    b"FD",
    b"IS",
    b"LO",
    b"LT",
    b"PN",
    b"SH",
    b"SL",
    b"SS",
    b"ST",
    b"TM",
    b"UI",
    b"UL",
    b"US",
}
_META_CAP = 64 * 1024  # a file meta group larger than this is not a sane Part-10 file


class Part10Error(ValueError):
    """The file is not a readable DICOM Part-10 file."""


@record(frozen=True, slots=True)
class FileMeta:
    """What we need from a file's meta information, and where its data set starts."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    dataset_offset: int
    implementation_class_uid: str = ""
    source_ae_title: str = ""


def _text(value: bytes) -> str:
    return value.rstrip(b"\x00 ").decode("ascii", "replace").strip()


def read_file_meta(fp: BinaryIO) -> FileMeta:
    """Read the preamble and the group 0002 elements of an open file positioned at its start.

    Raises :class:`Part10Error` when there is no ``DICM`` prefix, the meta group is malformed,
    or a required element (SOP class, SOP instance, transfer syntax) is missing.
    """
    head = fp.read(132)
    if len(head) == 132 and head[128:132] == MAGIC:
        offset = 132
    elif head[:4] == b"\x02\x00\x00\x00" or head[:2] == b"\x02\x00":
        # Meta group without a preamble (seen from some old writers).
        offset = 0
    else:
        raise Part10Error("no DICOM Part-10 header (missing 'DICM' prefix)")
    fp.seek(offset)
    values: dict[int, bytes] = {}
    consumed = 0
    while True:
        header = fp.read(8)
        if len(header) < 8:
            break
        group, element = struct.unpack("<HH", header[:4])
        if group != 0x0002:
            break
        vr = header[4:6]
        if vr in _LONG_VRS:
            extra = fp.read(4)
            if len(extra) < 4:
                raise Part10Error("truncated file meta information")
            (length,) = struct.unpack("<I", extra)
            header_len = 12
        else:
            (length,) = struct.unpack("<H", header[6:8])
            header_len = 8
        consumed += header_len + length
        if consumed > _META_CAP or not vr.isalpha():
            raise Part10Error("malformed file meta information")
        value = fp.read(length)
        if len(value) < length:
            raise Part10Error("truncated file meta information")
        values[element] = value
        offset += header_len + length
    fp.seek(offset)
    try:
        sop_class = _text(values[0x0002])
        sop_instance = _text(values[0x0003])
        syntax = _text(values[0x0010])
    except KeyError as exc:
        raise Part10Error(f"file meta lacks element (0002,{exc.args[0]:04X})") from None
    return FileMeta(
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        transfer_syntax_uid=syntax,
        dataset_offset=offset,
        implementation_class_uid=_text(values.get(0x0012, b"")),
        source_ae_title=_text(values.get(0x0016, b"")),
    )


def _element(element: int, vr: bytes, value: bytes) -> bytes:
    if vr in _LONG_VRS:
        return struct.pack("<HH2s2xI", 0x0002, element, vr, len(value)) + value
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


def _pad(text: str, pad: bytes) -> bytes:
    # latin-1: UIDs come from the peer's command set (decoded as latin-1), and a bad one must
    # reach the storage handler to be refused with a status, not fail here.
    raw = text.encode("latin-1")
    return raw + pad if len(raw) % 2 else raw


def encode_file_meta(
    sop_class_uid: str,
    sop_instance_uid: str,
    transfer_syntax_uid: str,
    implementation_class_uid: str,
    implementation_version_name: str = "",
    source_ae_title: str = "",
) -> bytes:
    """Our own zeroed 128-byte preamble, ``DICM`` and a complete file meta group."""
    body = b"".join(
        [
            _element(0x0001, b"OB", b"\x00\x01"),
            _element(0x0002, b"UI", _pad(sop_class_uid, b"\x00")),
            _element(0x0003, b"UI", _pad(sop_instance_uid, b"\x00")),
            _element(0x0010, b"UI", _pad(transfer_syntax_uid, b"\x00")),
            _element(0x0012, b"UI", _pad(implementation_class_uid, b"\x00")),
            _element(0x0013, b"SH", _pad(implementation_version_name, b" "))
            if implementation_version_name
            else b"",
            _element(0x0016, b"AE", _pad(source_ae_title, b" ")) if source_ae_title else b"",
        ]
    )
    group_length = _element(0x0000, b"UL", struct.pack("<I", len(body)))
    return PREAMBLE + MAGIC + group_length + body


_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_UNDEFINED = 0xFFFFFFFF
_SCAN_CAP = 1 << 20  # look no further than this into a data set for naming fields


def scan_top_level(
    fp: BinaryIO, transfer_syntax_uid: str, tags: set[int]
) -> dict[int, bytes] | None:
    """The raw values of a few top-level elements of a data set (positioned at its first byte),
    without pydicom: for naming received files fast.

    Walks Implicit or Explicit VR Little Endian elements in order until every wanted tag is
    passed, skipping values (and defined-length sequences) by their length. Returns None when it
    cannot answer cheaply — another transfer syntax, an undefined-length sequence or item before
    the last wanted tag, or malformed data — so the caller falls back to a full parser. Tags
    absent from the data set are absent from the result.
    """
    if transfer_syntax_uid not in (_IMPLICIT_LE, _EXPLICIT_LE) or not tags:
        return None
    implicit = transfer_syntax_uid == _IMPLICIT_LE
    last = max(tags)
    found: dict[int, bytes] = {}
    position = 0
    while position < _SCAN_CAP:
        header = fp.read(8)
        if len(header) < 8:
            return found  # end of the data set
        group, element = struct.unpack_from("<HH", header)
        tag = group << 16 | element
        if tag > last:
            return found
        if implicit:
            (length,) = struct.unpack_from("<I", header, 4)
            size = 8
        else:
            vr = header[4:6]
            if vr in _LONG_VRS:
                extra = fp.read(4)
                if len(extra) < 4:
                    return None
                (length,) = struct.unpack("<I", extra)
                size = 12
            elif vr.isalpha() and vr.isupper():
                (length,) = struct.unpack_from("<H", header, 6)
                size = 8
            else:
                return None
        if length == _UNDEFINED:
            return None
        if tag in tags:
            value = fp.read(length)
            if len(value) < length:
                return None
            found[tag] = value
        else:
            fp.seek(length, 1)
        position += size + length
    return None


def detect_bare_dataset(fp: BinaryIO) -> FileMeta:
    """For a file that is a data set alone (no preamble, no ``DICM``, no group 0002), positioned
    at its start: a :class:`FileMeta` with the transfer syntax detected from its first element
    as DCMTK does when it reads such a file: Explicit VR if bytes 4-5 are a VR, else Implicit;
    little endian unless the group number only makes sense read big endian. The SOP UIDs are
    left empty (they are the data set's). Raises :class:`Part10Error` when the first element
    cannot start a data set (a group below 0008, odd, or Implicit VR big endian, which no
    transfer syntax has)."""
    head = fp.read(8)
    fp.seek(0)
    if len(head) < 8:
        raise Part10Error("no DICOM Part-10 header and too short for a data set")
    (group_le,) = struct.unpack("<H", head[:2])
    (group_be,) = struct.unpack(">H", head[:2])
    little = group_le <= group_be
    group = group_le if little else group_be
    if group < 0x0008 or group & 1:
        raise Part10Error("no DICOM Part-10 header (missing 'DICM' prefix)")
    if head[4:6] in _VRS:
        syntax = "1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2"
    elif little:
        syntax = "1.2.840.10008.1.2"
    else:
        raise Part10Error("no DICOM Part-10 header (missing 'DICM' prefix)")
    return FileMeta(
        sop_class_uid="", sop_instance_uid="", transfer_syntax_uid=syntax, dataset_offset=0
    )
