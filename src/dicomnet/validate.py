"""Structural validation of encoded data sets, without decoding them (sans-IO, streaming).

:class:`StructureValidator` walks the element headers of a data set — tag, VR, value length;
sequences and items of defined and undefined length; encapsulated pixel data fragments — in
the data set's transfer syntax (Implicit or Explicit VR, little or big endian; deflated ones are
inflated on the fly), checking each against the bytes actually present. It is fed the bytes in
chunks of any size as they arrive (``feed``) and told when they end (``close``), keeps no more
than one element header of them, and reports the first problem with its byte offset. Values are
skipped, never read, except the few top-level ones a caller asks to ``capture`` (the SOP Class
and Instance UIDs, say), so it runs at the speed the bytes arrive.

What counts as structurally invalid (:class:`StructureError`):

* a value, item or sequence that runs past the end of the bytes, or past the end of the
  item/sequence holding it;
* an Explicit VR header whose VR is not a DICOM VR;
* an element of a group that has no place in a data set: command (0000), file meta (0002), the
  reserved groups 0001, 0003, 0005, 0007 and FFFF (PS3.5 7.1);
* in Implicit VR, a sequence of defined length (known by the data dictionary's SQ tags, as the
  bytes do not say) whose content is not items;
* sequences nested more than :data:`MAX_NESTING` deep (pydicom and most readers recurse per
  level);
* an undefined length where none is allowed (anything but SQ, UN and Pixel Data), an item or
  delimiter tag out of place, a delimiter with a non-zero length;
* a sequence, item or encapsulated pixel data that is never closed;
* an odd total length (DICOM data sets have even length; a deflated stream, which may be odd, is
  checked by what it inflates to); bytes after the end of a deflate stream other than one pad
  byte.

Not checked: tag order, value contents, value multiplicity, attribute presence.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from typing import BinaryIO

from dicomnet._inflate import InflateLimitError, Inflater
from dicomnet._sq_tags_generated import SQ_TAGS
from dicomnet._uid import IMPLICIT_VR_LE

__all__ = [
    "SOP_CLASS_UID",
    "SOP_INSTANCE_UID",
    "InflateLimitExceeded",
    "StructureError",
    "StructureValidator",
    "validate_stream",
]

SOP_CLASS_UID = 0x00080016
SOP_INSTANCE_UID = 0x00080018

EXPLICIT_VR_BE = "1.2.840.10008.1.2.2"
DEFLATED_SYNTAXES = frozenset({"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95"})

#: Every VR of PS3.5 Table 6.2-1.
VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL "
    b"UN UR US UT UV".split()
)
#: VRs with the 12-byte Explicit VR header (2 reserved bytes, 32-bit length).
LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())

_UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
#: The most sequences one element may sit inside (real data sets nest a few levels; SR trees a
#: few dozen).
MAX_NESTING = 100
#: Groups with no place in a data set (PS3.5 7.1): command, file meta, reserved.
_NOT_IN_DATA_SETS = frozenset({0x0000, 0x0001, 0x0002, 0x0003, 0x0005, 0x0007, 0xFFFF})
_MAX_FRAMES = 1 + 2 * MAX_NESTING  # the top level, then a sequence and an item per level
_CAPTURE_CAP = 1024  # the longest value we keep for a caller (a UID is at most 64 bytes)

# What a frame on the stack holds: elements (the top level or an item), items (a sequence), or
# fragments (encapsulated pixel data).
_ELEMENTS, _ITEMS, _FRAGMENTS = 0, 1, 2


class StructureError(ValueError):
    """The data set is not structurally valid; ``offset`` is where the problem starts (a byte
    offset into the data set, or into the inflated data set for a deflated transfer syntax)."""

    def __init__(self, offset: int, reason: str, *, inflated: bool = False) -> None:
        where = "inflated offset" if inflated else "offset"
        super().__init__(f"malformed data set at {where} {offset}: {reason}")
        self.offset = offset
        self.reason = reason


class InflateLimitExceeded(StructureError):
    """A deflated data set inflates past a limit (``max_inflated`` or ``max_ratio``): not
    malformed, but more than the receiver agreed to hold."""


_NO_LIMIT = 1 << 64


class _Frame:
    __slots__ = ("end", "implicit", "kind", "limit", "start")

    def __init__(self, kind: int, start: int, end: int | None, implicit: bool, limit: int) -> None:
        self.kind = kind
        self.start = start
        self.end = end  # absolute offset where it ends, None for an undefined length
        self.implicit = implicit  # Implicit VR inside (an undefined-length UN is, PS3.5 6.2.2)
        self.limit = limit  # where the innermost container of defined length ends


class _Walker:
    """The header walk over plain (not deflated) data-set bytes."""

    def __init__(
        self, implicit: bool, little: bool, capture: Iterable[int], stop_after: int
    ) -> None:
        self._little = little
        self._u16 = struct.Struct("<H" if little else ">H").unpack_from
        self._u32 = struct.Struct("<I" if little else ">I").unpack_from
        self._tag = struct.Struct("<HH" if little else ">HH").unpack_from
        self._explicit = struct.Struct("<HH2sH" if little else ">HH2sH").unpack_from
        self._stack = [_Frame(_ELEMENTS, 0, None, implicit, _NO_LIMIT)]
        self._pending = b""  # the start of a header split between chunks
        self._position = 0  # offset of the first byte not yet walked
        self._skip = 0  # value bytes still to pass over
        self._open = (0, 0)  # offset and tag of the element (or fragment) whose value that is
        self._capture = frozenset(capture)
        self._capturing: bytearray | None = None
        self._capturing_tag = 0
        self._stop_after = stop_after
        self.values: dict[int, bytes] = {}
        self.error: StructureError | None = None
        self.stopped = False  # the walk passed ``stop_after`` at the top level and stopped

    # --- feeding -----------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self.error is not None or self.stopped or not data:
            return
        view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        skip = self._skip
        size = len(view)
        if skip >= size:  # the common case for bulk data: the whole chunk is one value
            self._skip = skip - size
            self._position += size
            if self._capturing is not None:
                self._capturing += view
                self._end_capture()
            return
        if self._pending:
            view = self._pending + bytes(view)
            self._pending = b""
        try:
            self._walk(view)
        except StructureError as exc:
            self.error = exc

    def close(self) -> None:
        """The data set ended: raise :class:`StructureError` unless it ended cleanly."""
        if self.error is not None:
            raise self.error
        if self.stopped:
            return
        if self._skip:
            offset, tag = self._open
            raise StructureError(
                offset,
                f"({tag >> 16:04X},{tag & 0xFFFF:04X}) is cut short: the data set ends "
                f"{self._skip} bytes before its value does",
            )
        if self._pending:
            raise StructureError(self._position, "the data set ends inside an element header")
        stack = self._stack
        while len(stack) > 1 and stack[-1].end is not None and stack[-1].end <= self._position:
            stack.pop()  # containers that end with the last value (skipped in feed's fast path)
        if len(self._stack) > 1:
            frame = self._stack[-1]
            what = ("an item", "a sequence", "encapsulated pixel data")[frame.kind]
            raise StructureError(
                self._position, f"the data set ends inside {what} that starts at {frame.start}"
            )
        if self._position & 1:
            raise StructureError(self._position, "the data set has an odd length")

    # --- the walk ----------------------------------------------------------------------------

    def _walk(self, view: bytes | memoryview) -> None:
        # The hot loop: one pass per element header. The current frame's fields live in locals
        # (refreshed on every push and pop), and an Explicit VR header is one unpack.
        size = len(view)
        base = self._position
        stack = self._stack
        u32, tag_of, explicit_of = self._u32, self._tag, self._explicit
        capture, stop_after = self._capture, self._stop_after
        i = 0
        if self._skip:
            i = self._skip
            self._skip = 0
            if self._capturing is not None:
                self._capturing += view[:i]
                self._end_capture()
        frame = stack[-1]
        kind, end_of, limit, implicit = frame.kind, frame.end, frame.limit, frame.implicit
        while True:
            if end_of is not None and base + i >= end_of:
                stack.pop()
                frame = stack[-1]
                kind, end_of, limit, implicit = frame.kind, frame.end, frame.limit, frame.implicit
                continue
            if size - i < 8:
                self._pending = bytes(view[i:])
                self._position = base + i
                return
            offset = base + i
            if kind == _ELEMENTS and not implicit:
                group, element, vr, length = explicit_of(view, i)
                if vr in LONG_VRS:
                    if size - i < 12:
                        self._pending = bytes(view[i:])
                        self._position = offset
                        return
                    (length,) = u32(view, i + 8)
                    i += 12
                elif vr in VRS:
                    i += 8
                elif group == 0xFFFE:
                    (length,) = u32(view, i + 4)
                    i += 8
                else:
                    raise StructureError(
                        offset,
                        f"({group:04X},{element:04X}) has no valid VR ({vr.decode('latin-1')!r})",
                    )
            else:
                group, element = tag_of(view, i)
                (length,) = u32(view, i + 4)
                vr = b""
                i += 8
            tag = group << 16 | element
            if kind != _ELEMENTS:  # a sequence's items, or pixel data fragments
                if base + i > limit:
                    raise StructureError(offset, "an item header runs past its sequence")
                if tag == _SEQUENCE_END:
                    if length:
                        raise StructureError(offset, "sequence delimiter with a non-zero length")
                    if end_of is not None:
                        raise StructureError(
                            offset, "sequence delimiter in a sequence of defined length"
                        )
                    stack.pop()
                    frame = stack[-1]
                    kind, end_of, limit, implicit = (
                        frame.kind, frame.end, frame.limit, frame.implicit
                    )  # fmt: skip
                    continue
                if tag != _ITEM:
                    raise StructureError(
                        offset, f"({group:04X},{element:04X}) where an item tag should be"
                    )
                if length == _UNDEFINED:
                    if kind == _FRAGMENTS:
                        raise StructureError(offset, "pixel data fragment of undefined length")
                    frame = _Frame(_ELEMENTS, offset, None, implicit, limit)
                    stack.append(frame)
                    kind, end_of = _ELEMENTS, None
                    continue
                end = base + i + length
                if end > limit:
                    raise StructureError(
                        offset, f"the item ends at {end}, past the end of its sequence"
                    )
                if kind == _ITEMS:
                    frame = _Frame(_ELEMENTS, offset, end, implicit, end)
                    stack.append(frame)
                    kind, end_of, limit = _ELEMENTS, end, end
                    continue
            else:
                if group == 0xFFFE:
                    # (In Explicit VR a delimiter has no VR: it was read as tag and length.)
                    if (
                        (implicit or vr not in VRS)
                        and tag == _ITEM_END
                        and end_of is None
                        and len(stack) > 1
                    ):
                        if length:
                            raise StructureError(offset, "item delimiter with a non-zero length")
                        stack.pop()
                        frame = stack[-1]
                        kind, end_of, limit, implicit = (
                            frame.kind, frame.end, frame.limit, frame.implicit
                        )  # fmt: skip
                        continue
                    raise StructureError(
                        offset, f"({group:04X},{element:04X}) out of place among elements"
                    )
                if group in _NOT_IN_DATA_SETS:
                    raise StructureError(
                        offset, f"({group:04X},{element:04X}) has no place in a data set"
                    )
                if tag > stop_after and len(stack) == 1:
                    self.stopped = True
                    return
                if len(stack) >= _MAX_FRAMES and (
                    length == _UNDEFINED or vr == b"SQ" or (implicit and tag in SQ_TAGS)
                ):
                    raise StructureError(offset, f"sequences nested more than {MAX_NESTING} deep")
                if length == _UNDEFINED:
                    if base + i > limit:
                        raise StructureError(offset, "an element header runs past its item")
                    if vr == b"SQ" or (implicit and tag != _PIXEL_DATA):
                        frame = _Frame(_ITEMS, offset, None, implicit, limit)
                    elif vr == b"UN":
                        frame = _Frame(_ITEMS, offset, None, True, limit)
                    elif tag == _PIXEL_DATA:
                        frame = _Frame(_FRAGMENTS, offset, None, False, limit)
                    else:
                        raise StructureError(
                            offset,
                            f"({group:04X},{element:04X}) {vr.decode('latin-1')} has an "
                            "undefined length",
                        )
                    stack.append(frame)
                    kind, end_of, implicit = frame.kind, None, frame.implicit
                    continue
                end = base + i + length
                if end > limit:
                    raise StructureError(
                        offset,
                        f"({group:04X},{element:04X}) ends at {end}, past the end of the item "
                        f"holding it ({limit})",
                    )
                if vr == b"SQ" or (implicit and tag in SQ_TAGS):
                    frame = _Frame(_ITEMS, offset, end, implicit, end)
                    stack.append(frame)
                    kind, end_of, limit = _ITEMS, end, end
                    continue
                # (capture holds UIDs: the SOP Class and Instance UID)
                if tag in capture and len(stack) == 1 and vr and vr != b"UI":
                    raise StructureError(
                        offset,
                        f"({group:04X},{element:04X}) has VR {vr.decode('latin-1')}, "
                        "a UID needs UI",
                    )
                if tag in capture and length <= _CAPTURE_CAP and len(stack) == 1:
                    self._capturing = bytearray()
                    self._capturing_tag = tag
            # pass over the value (an element's, or a fragment's)
            end = i + length
            if end > size:
                self._skip = end - size
                self._position = base + size
                self._open = (offset, tag)
                if self._capturing is not None:
                    self._capturing += view[i:]
                return
            if self._capturing is not None:
                self._capturing += view[i:end]
                self._end_capture()
            i = end

    def _end_capture(self) -> None:
        if self._skip == 0 and self._capturing is not None:
            self.values[self._capturing_tag] = bytes(self._capturing)
            self._capturing = None


class StructureValidator:
    """Validates one data set fed in chunks, in ``transfer_syntax_uid``.

    ``capture``: top-level tags whose (short) raw values to keep in :attr:`values`.
    ``stop_after``: stop walking once a top-level tag greater than this appears (for reading a
    few early values cheaply; the data set is then not validated past that point).
    ``max_inflated``: for a deflated transfer syntax, the most bytes it may inflate to;
    ``max_ratio``: the most it may inflate per byte fed, once more than ``ratio_floor`` bytes
    have been inflated. Passing either gives :class:`InflateLimitExceeded`.
    ``allow_trailing``: for a deflated transfer syntax, accept bytes after the end of the
    deflate stream (more than the one pad byte PS3.5 A.5 allows); :attr:`deflate_end` says
    where the stream ended, for a sender that sends only that much.
    """

    def __init__(
        self,
        transfer_syntax_uid: str,
        capture: Iterable[int] = (SOP_CLASS_UID, SOP_INSTANCE_UID),
        *,
        stop_after: int = 0xFFFFFFFF,
        max_inflated: int | None = None,
        max_ratio: float | None = None,
        ratio_floor: int = 0,
        allow_trailing: bool = False,
    ) -> None:
        syntax = str(transfer_syntax_uid)
        self.transfer_syntax_uid = syntax
        self._walker = _Walker(
            syntax == IMPLICIT_VR_LE, syntax != EXPLICIT_VR_BE, capture, stop_after
        )
        self._inflater = (
            Inflater(max_inflated, max_ratio, ratio_floor) if syntax in DEFLATED_SYNTAXES else None
        )
        self._allow_trailing = allow_trailing
        #: Deflated syntaxes: how many bytes fed make up the deflate stream (once it ended).
        self.deflate_end: int | None = None
        self._trailing = 0
        self.size = 0  # bytes fed
        self._closed: StructureError | bool | None = False

    @property
    def values(self) -> dict[int, bytes]:
        """The captured raw values (tags absent from the data set are absent here)."""
        return self._walker.values

    @property
    def error(self) -> StructureError | None:
        """The first problem found so far (before :meth:`close`, only problems already seen)."""
        return self._walker.error

    @property
    def stopped(self) -> bool:
        return self._walker.stopped

    def uid(self, tag: int) -> str:
        """A captured UID value as text ("" when absent or empty)."""
        return self.values.get(tag, b"").rstrip(b"\x00 ").decode("latin-1").strip()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self.size += len(data)
        walker = self._walker
        if walker.error is not None or walker.stopped:
            return
        inflater = self._inflater
        if inflater is None:
            walker.feed(data)
            return
        if inflater.eof:  # bytes after the deflate stream: the pad byte, or a trailer
            self._trailing += len(data)
            return
        try:
            for chunk in inflater.feed(data):
                walker.feed(chunk)
                if walker.error is not None or walker.stopped:
                    return
        except InflateLimitError as exc:
            walker.error = InflateLimitExceeded(inflater.inflated, str(exc), inflated=True)
            return
        except zlib.error as exc:
            walker.error = StructureError(
                self.size - len(data), f"the deflated data set cannot be inflated ({exc})"
            )
            return
        if inflater.eof and self.deflate_end is None:
            self._trailing = len(inflater.unused_data)
            self.deflate_end = self.size - self._trailing

    def close(self) -> None:
        """The data set ended: raise :class:`StructureError` unless it is structurally valid.
        Repeated calls give the same answer."""
        if self._closed is not False:
            if isinstance(self._closed, StructureError):
                raise self._closed
            return
        try:
            inflater = self._inflater
            walker = self._walker
            if (
                inflater is not None
                and not inflater.eof
                and not walker.stopped
                and not walker.error
            ):
                try:
                    walker.feed(inflater.flush())
                except InflateLimitError as exc:
                    walker.error = InflateLimitExceeded(inflater.inflated, str(exc), inflated=True)
                if walker.error is None and not inflater.eof:
                    raise StructureError(self.size, "the deflated data set is incomplete")
            walker.close()
            if self._trailing > 1 and not self._allow_trailing:
                assert self.deflate_end is not None
                raise StructureError(
                    self.deflate_end,
                    f"{self._trailing} bytes follow the end of the deflate stream",
                )
        except StructureError as exc:
            self._closed = exc
            raise
        self._closed = True

    def check(self) -> StructureError | None:
        """:meth:`close`, returning the problem instead of raising it."""
        try:
            self.close()
        except StructureError as exc:
            return exc
        return None


def validate_stream(
    stream: BinaryIO,
    transfer_syntax_uid: str,
    *,
    length: int | None = None,
    chunk_size: int = 1 << 20,
    stop_after: int = 0xFFFFFFFF,
    allow_trailing: bool = False,
) -> StructureValidator:
    """Validate the data set read from ``stream`` (positioned at its first byte; ``length``
    bytes, or up to the end) in chunks. Returns the closed validator (``values`` hold the SOP
    Class and Instance UIDs); raises :class:`StructureError`."""
    validator = StructureValidator(
        transfer_syntax_uid, stop_after=stop_after, allow_trailing=allow_trailing
    )
    left = length
    while left is None or left > 0:
        chunk = stream.read(chunk_size if left is None else min(chunk_size, left))
        if not chunk:
            break
        if left is not None:
            left -= len(chunk)
        validator.feed(chunk)
        if validator.stopped or validator.error is not None:
            break
    validator.close()
    return validator
