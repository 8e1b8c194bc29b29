"""Converting a decoded data set between uncompressed transfer syntaxes, exactly: values in the
target's byte order for every VR (Pixel Data by its Bits Allocated), or :class:`ConversionError`.
A data set read with ``defer_size`` (as ``Association.store_instance`` reads a file it must
convert) has its large binary values copied from the file in chunks into a spooled file,
never held in memory."""

from __future__ import annotations

import tempfile
from typing import Any, BinaryIO

from dicomnet.dataset import DEFLATED, encode_dataset
from dicomnet.errors import ConversionError

_BIG_ENDIAN = "1.2.840.10008.1.2.2"
#: Byte-order width of the VRs pydicom keeps as raw bytes (numeric VRs such as US, SS, UL, SL,
#: FL, FD, SV, UV and AT are decoded to numbers and re-encoded in the new byte order by pydicom).
_RAW_WIDTHS = {"OB": 1, "OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
_PIXEL_DATA = 0x7FE00010


def encode_converted(
    dataset: Any, source_syntax: str, target_syntax: str, *, out: BinaryIO | None = None
) -> bytes:
    """Encode a decoded data set (read from ``source_syntax``; "" if unknown: then as pydicom
    read it, or little endian for one made in memory) in an uncompressed ``target_syntax``,
    exactly: values in the byte order of the target for every
    VR, Pixel Data swapped by its Bits Allocated. Raises :class:`ConversionError` for anything
    that cannot be converted exactly (UN values, 1- or 8-bit pixel data in OW, lengths that are
    not a multiple of the value width, encapsulated data, or whatever pydicom cannot encode).
    ``dataset`` is left as it was. With ``out``, the encoding is written there (and b"" is
    returned)."""
    if source_syntax:
        source_little = str(source_syntax) != _BIG_ENDIAN
    else:  # read without its file meta, or made in memory (where raw values are little endian)
        source_little = getattr(dataset, "original_encoding", (None, None))[1] is not False
    target_little = str(target_syntax) != _BIG_ENDIAN
    swaps: list[tuple[Any, bytes | bytearray]] = []
    try:
        if source_little != target_little:
            _swap_raw_values(dataset, swaps)
        if out is not None and str(target_syntax) != DEFLATED:
            encode_dataset_to(dataset, target_syntax, out)
            return b""
        data = encode_dataset(dataset, target_syntax)
        if out is not None:
            out.write(data)
            return b""
        return data
    except ConversionError:
        raise
    except Exception as exc:  # pydicom could not encode it (ambiguous VR, bad value, ...)
        raise ConversionError(f"cannot encode in {target_syntax}: {exc}") from exc
    finally:
        for element, original in swaps:  # give the caller's data set back unchanged
            element.value = original


def encode_converted_spooled(dataset: Any, source_syntax: str, target_syntax: str) -> BinaryIO:
    """:func:`encode_converted` into a temporary file (in memory up to :data:`SPOOL_ENCODED`
    bytes), positioned at its start: a large data set read with ``defer_size`` is never held
    twice in memory."""
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_ENCODED)  # noqa: SIM115 (returned open)
    try:
        encode_converted(dataset, source_syntax, target_syntax, out=spooled)  # type: ignore[arg-type]
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled  # type: ignore[return-value]


def _swap_raw_values(dataset: Any, swaps: list[tuple[Any, bytes | bytearray]]) -> None:
    """Byte-swap in place (recording the originals in ``swaps``) every value pydicom keeps as
    raw bytes, for a change of byte order."""
    for element in dataset.iterall():
        vr = element.VR
        value = element.value
        if vr == "SQ" or value is None or (isinstance(value, bytes | bytearray) and not value):
            continue
        tag = int(element.tag)
        if vr == "UN":
            raise ConversionError(f"{element.tag} has VR UN: its byte order is unknown")
        width = _RAW_WIDTHS.get(vr)
        if width is None:
            continue  # decoded by pydicom: re-encoded in the target byte order
        if element.is_undefined_length:
            raise ConversionError(f"{element.tag} is encapsulated: no byte order to change")
        if not isinstance(value, bytes | bytearray):
            raise ConversionError(f"{element.tag} ({vr}) has no raw value to swap")
        if tag == _PIXEL_DATA and vr == "OW":
            width = _pixel_width(dataset, element)
        if len(value) % width:
            raise ConversionError(
                f"{element.tag} ({vr}) is {len(value)} bytes, not a multiple of {width}"
            )
        if width > 1:
            swaps.append((element, value))
            element.value = _swapped(bytes(value), width)


def _pixel_width(dataset: Any, element: Any) -> int:
    """The byte width of OW Pixel Data samples, from the Bits Allocated of the data set (or
    item) holding it."""
    holder = _holder(dataset, element)
    bits = holder.get("BitsAllocated") if holder is not None else None
    if bits in (16, 32, 64):
        return int(bits) // 8
    raise ConversionError(
        f"Pixel Data in OW with Bits Allocated {bits}: the byte order cannot be changed exactly"
    )


def _holder(dataset: Any, element: Any) -> Any:
    """The data set or sequence item that holds ``element`` (None if not found)."""
    stack = [dataset]
    while stack:
        current = stack.pop()
        if element.tag in current and current[element.tag] is element:
            return current
        for child in current.values():
            if getattr(child, "VR", None) == "SQ" and child.value:
                stack.extend(child.value)
    return None


def _swapped(data: bytes, width: int) -> bytes:
    """``data`` with the bytes of each ``width``-byte value reversed."""
    out = bytearray(len(data))
    for k in range(width):
        out[k::width] = data[width - 1 - k :: width]
    return bytes(out)


#: Encoded data sets up to this size stay in memory; larger ones go to a temporary file.
SPOOL_ENCODED = 8 * 1024 * 1024


#: VRs whose large values are copied from the source file as they are (byte order unchanged).
_BULK_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
_BULK_MIN = 64 * 1024
_COPY_CHUNK = 1024 * 1024


def encode_dataset_to(dataset: Any, transfer_syntax_uid: str, out: BinaryIO) -> None:
    """Encode a pydicom Dataset's elements (file meta excluded) in ``transfer_syntax_uid``
    (not Deflated) into ``out``. Large binary values left in their file by ``defer_size``
    (Pixel Data, above all) are copied from the file in chunks when the byte order stays the
    same, never held in memory; every other element is encoded by pydicom."""
    from pydicom.dataset import Dataset
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset

    syntax = str(transfer_syntax_uid)
    target = DicomFileLike(out)
    target.is_implicit_VR = syntax == "1.2.840.10008.1.2"
    target.is_little_endian = syntax != _BIG_ENDIAN
    source = getattr(dataset, "filename", None)
    little = getattr(dataset, "original_encoding", (None, None))[1] is not False
    if not isinstance(source, str) or not little or not target.is_little_endian:
        write_dataset(target, dataset)
        return
    charset = dataset.get("SpecificCharacterSet", "ISO_IR 6")
    pending = Dataset()
    for tag in sorted(dataset.keys()):
        raw = dataset.get_item(tag, keep_deferred=True)
        bulk = _bulk_vr(raw)
        if bulk is None:
            pending.add(dataset[tag])
            continue
        if len(pending):
            write_dataset(target, pending, parent_encoding=charset)
            pending = Dataset()
        _copy_bulk(out, source, raw, bulk, explicit=not target.is_implicit_VR)
    if len(pending):
        write_dataset(target, pending, parent_encoding=charset)


def _bulk_vr(raw: Any) -> str | None:
    """The VR to write for an element whose value is still in its file (deferred), large and
    binary; None for any other element."""
    if getattr(raw, "value", b"") is not None or getattr(raw, "value_tell", None) is None:
        return None
    length = int(getattr(raw, "length", 0) or 0)
    if length < _BULK_MIN or length == 0xFFFFFFFF or length & 1:
        return None
    vr = getattr(raw, "VR", None)
    if vr is None and int(raw.tag) == _PIXEL_DATA:  # read as Implicit VR: OW (PS3.5 A.1)
        vr = "OW"
    return str(vr) if vr in _BULK_VRS else None


def _copy_bulk(out: BinaryIO, source: str, raw: Any, vr: str, *, explicit: bool) -> None:
    import struct

    tag, length = int(raw.tag), int(raw.length)
    header = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    if explicit:
        header += vr.encode("ascii") + b"\x00\x00" + struct.pack("<I", length)
    else:
        header += struct.pack("<I", length)
    out.write(header)
    with open(source, "rb") as handle:
        handle.seek(int(raw.value_tell))
        left = length
        while left:
            chunk = handle.read(min(left, _COPY_CHUNK))
            if not chunk:
                raise ConversionError(f"{source} is shorter than when it was read")
            out.write(chunk)
            left -= len(chunk)


__all__ = ["ConversionError", "encode_converted", "encode_converted_spooled", "encode_dataset_to"]
