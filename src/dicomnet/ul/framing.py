"""Incremental PDU reader: bytes in as they arrive, whole decoded PDUs out.

Every length decision is taken from the 6-byte PDU header before any body byte is buffered, and
the buffer only ever holds bytes actually received, so memory never grows with a claimed length.
A bad stream raises :class:`RemoteProtocolError` (consequence: A-ABORT, provider source) and the
reader is dead afterwards.
"""

from __future__ import annotations

import struct

from dicomnet.ul.codec import ASSOCIATE_FIXED_LENGTH, decode_pdu_body
from dicomnet.ul.errors import (
    ABORT_REASON_INVALID_PARAMETER,
    ABORT_REASON_UNRECOGNIZED_PDU,
    ABORT_SOURCE_PROVIDER,
    AbortConsequence,
    RemoteProtocolError,
)
from dicomnet.ul.pdu import (
    PDU,
    PDU_ABORT,
    PDU_ASSOCIATE_AC,
    PDU_ASSOCIATE_RJ,
    PDU_ASSOCIATE_RQ,
    PDU_P_DATA_TF,
)

__all__ = ["DEFAULT_ASSOCIATION_CAP", "UNLIMITED_PDATA_CAP", "PDUReader"]

DEFAULT_ASSOCIATION_CAP = 64 * 1024
"""Largest PDU-length accepted for A-ASSOCIATE-RQ/AC."""

UNLIMITED_PDATA_CAP = 64 * 1024 * 1024
"""Largest P-DATA-TF PDU-length accepted when we advertised no maximum (max length 0)."""

_HEADER = struct.Struct(">BBI")
_MIN_PDATA_LENGTH = 6  # one PDV: 4-byte length, context ID, control header
_ABORT_INVALID = AbortConsequence(ABORT_SOURCE_PROVIDER, ABORT_REASON_INVALID_PARAMETER)
_ABORT_UNRECOGNIZED = AbortConsequence(ABORT_SOURCE_PROVIDER, ABORT_REASON_UNRECOGNIZED_PDU)


class PDUReader:
    """Turns a byte stream into PDUs, enforcing length caps from each header.

    ``max_pdata_length`` is the maximum length we advertised (0 = none: then
    :data:`UNLIMITED_PDATA_CAP` applies); ``association_cap`` bounds A-ASSOCIATE-RQ/AC.
    """

    __slots__ = ("_assoc_cap", "_body", "_error", "_header", "_length", "_pdata_cap", "_type")

    def __init__(
        self, max_pdata_length: int, association_cap: int = DEFAULT_ASSOCIATION_CAP
    ) -> None:
        if max_pdata_length < 0:
            raise ValueError(f"max_pdata_length must be >= 0, not {max_pdata_length}")
        if association_cap < ASSOCIATE_FIXED_LENGTH:
            raise ValueError(f"association_cap must be >= {ASSOCIATE_FIXED_LENGTH}")
        self._pdata_cap = max_pdata_length if max_pdata_length > 0 else UNLIMITED_PDATA_CAP
        self._assoc_cap = association_cap
        self._header = bytearray()  # partial header bytes, empty once a header is complete
        self._type = 0
        self._length = -1  # PDU-length of the PDU being read; -1 while reading a header
        self._body = bytearray()
        self._error: RemoteProtocolError | None = None

    @property
    def in_progress(self) -> bool:
        """True while part of a PDU (header or body) has been received but not all of it."""
        return self._length >= 0 or bool(self._header)

    @property
    def buffered(self) -> int:
        """Bytes of the incomplete PDU received so far (header included)."""
        if self._length >= 0:
            return 6 + len(self._body)
        return len(self._header)

    def feed(self, data: bytes | bytearray | memoryview) -> list[PDU]:
        """Take received bytes; return every PDU they complete (possibly none)."""
        if self._error is not None:
            raise RemoteProtocolError(
                f"stream already failed: {self._error}", self._error.consequence
            )
        try:
            return self._feed(data)
        except RemoteProtocolError as exc:
            self._error = exc
            self._header = bytearray()
            self._body = bytearray()
            self._length = -1
            raise

    def _feed(self, data: bytes | bytearray | memoryview) -> list[PDU]:
        out: list[PDU] = []
        with memoryview(data) as raw, raw.cast("B") as view:
            end = len(view)
            pos = 0
            while pos < end:
                if self._length < 0:
                    if not self._header and end - pos >= 6:
                        pdu_type, _, length = _HEADER.unpack_from(view, pos)
                        pos += 6
                    else:
                        take = min(6 - len(self._header), end - pos)
                        self._header += view[pos : pos + take]
                        pos += take
                        if len(self._header) < 6:
                            break
                        pdu_type, _, length = _HEADER.unpack_from(self._header, 0)
                        self._header = bytearray()
                    self._check_header(pdu_type, length)
                    self._type = pdu_type
                    self._length = length
                remaining = self._length - len(self._body)
                if not self._body and end - pos >= remaining:
                    # The whole body is in this chunk: decode it in place, no copy.
                    with view[pos : pos + remaining] as body:
                        pdu = decode_pdu_body(self._type, body)
                    pos += remaining
                else:
                    take = min(remaining, end - pos)
                    self._body += view[pos : pos + take]
                    pos += take
                    if len(self._body) < self._length:
                        break
                    with memoryview(self._body) as body:
                        pdu = decode_pdu_body(self._type, body)
                    self._body = bytearray()
                self._length = -1
                out.append(pdu)
        return out

    def _check_header(self, pdu_type: int, length: int) -> None:
        if pdu_type == PDU_P_DATA_TF:
            if length > self._pdata_cap:
                raise RemoteProtocolError(
                    f"P-DATA-TF PDU-length {length} exceeds our maximum {self._pdata_cap}",
                    _ABORT_INVALID,
                )
            if length < _MIN_PDATA_LENGTH:
                raise RemoteProtocolError(
                    f"P-DATA-TF PDU-length {length} cannot hold a PDV", _ABORT_INVALID
                )
        elif pdu_type in (PDU_ASSOCIATE_RQ, PDU_ASSOCIATE_AC):
            if length > self._assoc_cap:
                raise RemoteProtocolError(
                    f"A-ASSOCIATE PDU-length {length} exceeds the cap {self._assoc_cap}",
                    _ABORT_INVALID,
                )
            if length < ASSOCIATE_FIXED_LENGTH:
                raise RemoteProtocolError(
                    f"A-ASSOCIATE PDU-length {length} is below the fixed "
                    f"{ASSOCIATE_FIXED_LENGTH} bytes",
                    _ABORT_INVALID,
                )
        elif PDU_ASSOCIATE_RJ <= pdu_type <= PDU_ABORT:
            if length != 4:
                raise RemoteProtocolError(
                    f"PDU type 0x{pdu_type:02X} must have PDU-length 4, not {length}",
                    _ABORT_INVALID,
                )
        else:
            raise RemoteProtocolError(
                f"unrecognized PDU type 0x{pdu_type:02X}", _ABORT_UNRECOGNIZED
            )
