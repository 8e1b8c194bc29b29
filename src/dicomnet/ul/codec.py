"""Encoder and defensive decoder for the Upper Layer PDUs and their items (PS3.8 9.3, Annex D).

Encoding pads AE titles to 16 bytes with spaces, writes UIDs unpadded, items in ascending type
order and user-information sub-items in ascending type order (0x51, 0x52, 0x53, 0x54..., 0x55,
...). Values that cannot go on the wire raise :class:`LocalProtocolError`.

Decoding raises only :class:`RemoteProtocolError`. Its consequence follows these rules:

* Unknown PDU type: A-ABORT (source 2, reason 1, unrecognized-PDU).
* Framing defects (an item or field overrunning its parent, a wrong fixed length, a truncated
  header, trailing bytes in a fixed layout) and every defect in any PDU other than
  A-ASSOCIATE-RQ: A-ABORT (source 2, reason 6, invalid-PDU-parameter-value). Framing is checked
  over the whole PDU first, so a badly framed A-ASSOCIATE-RQ is always aborted (PS3.8 Evt19).
* Well-framed A-ASSOCIATE-RQ with bad values is answered with A-ASSOCIATE-RJ (permanent). When
  several defects exist the first in this list wins:
  protocol version without bit 0 -> (1, 2, 2); invalid called AE title -> (1, 1, 7); invalid
  calling AE title -> (1, 1, 3); application context item missing, repeated or not a UID ->
  (1, 1, 2); anything else (presentation context IDs even/0/duplicate, invalid UIDs, missing or
  repeated mandatory items such as 0x51 or 0x52, repeated single sub-items, duplicate SOP
  classes in 0x54/0x56/0x57) -> (1, 2, 1).

Tolerance: unknown items are skipped, unknown user-information sub-items are kept as
:class:`UnknownSubItem`; trailing NULs and spaces are stripped from UIDs and from received AE
titles; sub-items are accepted in any order and in either PDU (placement is negotiation's
business); role bytes and the positive-response byte are read as "non-zero is true"; the
implementation version name is not validated on receipt (an empty one reads as ``None``). The AC's
AE title fields are reserved and never tested; the AC transfer syntax is not tested when the
result is not acceptance. A missing implementation class UID (0x52) is rejected, as the standard
requires it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import NoReturn

from dicomnet.ul.errors import (
    ABORT_REASON_INVALID_PARAMETER,
    ABORT_REASON_UNEXPECTED_PARAMETER,
    ABORT_REASON_UNRECOGNIZED_PDU,
    ABORT_SOURCE_PROVIDER,
    REJECT_ACSE_NO_REASON,
    REJECT_ACSE_PROTOCOL_VERSION,
    REJECT_PERMANENT,
    REJECT_SOURCE_ACSE,
    REJECT_SOURCE_USER,
    REJECT_USER_APP_CONTEXT,
    REJECT_USER_CALLED_AE,
    REJECT_USER_CALLING_AE,
    AbortConsequence,
    LocalProtocolError,
    RejectConsequence,
    RemoteProtocolError,
)
from dicomnet.ul.items import (
    AsyncOpsWindow,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownSubItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)
from dicomnet.ul.pdu import (
    PDU,
    PDU_ABORT,
    PDU_ASSOCIATE_AC,
    PDU_ASSOCIATE_RJ,
    PDU_ASSOCIATE_RQ,
    PDU_P_DATA_TF,
    PDU_RELEASE_RP,
    PDU_RELEASE_RQ,
    PDV,
    Abort,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
)

__all__ = [
    "ASSOCIATE_FIXED_LENGTH",
    "decode_pdu",
    "decode_pdu_body",
    "encode_pdata_single",
    "encode_pdu",
    "is_valid_uid",
    "validate_ae_title",
]

ASSOCIATE_FIXED_LENGTH = 68
"""Bytes of A-ASSOCIATE-RQ/AC after the PDU header and before the first item."""

_PDU_HEADER = struct.Struct(">BBI")
_ITEM_HEADER = struct.Struct(">BBH")
_ASSOC_FIXED = struct.Struct(">HH16s16s32s")
_PDV_HEADER = struct.Struct(">IBB")
_PDATA_SINGLE = struct.Struct(">BBIIBB")
_FIXED4 = struct.Struct(">BBIBBBB")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U16_PAIR = struct.Struct(">HH")
_IDENTITY_HEAD = struct.Struct(">BBH")

_RELEASE_RQ_BYTES = _FIXED4.pack(PDU_RELEASE_RQ, 0, 4, 0, 0, 0, 0)
_RELEASE_RP_BYTES = _FIXED4.pack(PDU_RELEASE_RP, 0, 4, 0, 0, 0, 0)

_ABORT_INVALID = AbortConsequence(ABORT_SOURCE_PROVIDER, ABORT_REASON_INVALID_PARAMETER)
_ABORT_UNRECOGNIZED = AbortConsequence(ABORT_SOURCE_PROVIDER, ABORT_REASON_UNRECOGNIZED_PDU)

# Ranks of A-ASSOCIATE-RQ value defects: the lowest rank found decides the rejection.
_RANK_VERSION = 0
_RANK_CALLED = 1
_RANK_CALLING = 2
_RANK_APP_CONTEXT = 3
_RANK_OTHER = 4
_RQ_REJECTS = {
    _RANK_VERSION: RejectConsequence(
        REJECT_PERMANENT, REJECT_SOURCE_ACSE, REJECT_ACSE_PROTOCOL_VERSION
    ),
    _RANK_CALLED: RejectConsequence(REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_CALLED_AE),
    _RANK_CALLING: RejectConsequence(REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_CALLING_AE),
    _RANK_APP_CONTEXT: RejectConsequence(
        REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_APP_CONTEXT
    ),
    _RANK_OTHER: RejectConsequence(REJECT_PERMANENT, REJECT_SOURCE_ACSE, REJECT_ACSE_NO_REASON),
}

_UID_RE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")
_AE_BAD_CHAR = re.compile(r"[^\x20-\x5b\x5d-\x7e]")
_KNOWN_SUB_ITEMS = frozenset(range(0x51, 0x5A))


# ------------------------------------------------------------------------------------------
# Validation helpers


def validate_ae_title(title: str) -> str:
    """Return ``title`` without leading/trailing spaces; raise ValueError if it is not valid.

    Valid: 1-16 characters of ASCII 0x20-0x7E except backslash, not only spaces (PS3.5 AE).
    """
    stripped = title.strip(" ")
    if not stripped:
        raise ValueError("AE title is empty or only spaces")
    if len(stripped) > 16:
        raise ValueError(f"AE title {_show(stripped)} is longer than 16 characters")
    bad = _AE_BAD_CHAR.search(stripped)
    if bad is not None:
        raise ValueError(
            f"AE title {_show(stripped)} contains {bad.group()!r}: "
            "backslash and control or non-ASCII characters are not allowed"
        )
    return stripped


def is_valid_uid(uid: str) -> bool:
    """True if ``uid`` is 1-64 characters of digit components without leading zeros (PS3.5 9.1)."""
    return len(uid) <= 64 and _UID_RE.fullmatch(uid) is not None


def _show(text: str, limit: int = 70) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------
# Encoding


def encode_pdu(pdu: PDU) -> bytes:
    """Encode a whole PDU including its 6-byte header."""
    try:
        if isinstance(pdu, PDataTF):
            return _encode_pdata(pdu)
        if isinstance(pdu, AssociateRQ):
            return _encode_associate(pdu)
        if isinstance(pdu, AssociateAC):
            return _encode_associate(pdu)
        if isinstance(pdu, AssociateRJ):
            return _FIXED4.pack(PDU_ASSOCIATE_RJ, 0, 4, 0, pdu.result, pdu.source, pdu.reason)
        if isinstance(pdu, ReleaseRQ):
            return _RELEASE_RQ_BYTES
        if isinstance(pdu, ReleaseRP):
            return _RELEASE_RP_BYTES
        if isinstance(pdu, Abort):
            return _FIXED4.pack(PDU_ABORT, 0, 4, 0, 0, pdu.source, pdu.reason)
    except (struct.error, UnicodeError, OverflowError) as exc:
        raise LocalProtocolError(f"cannot encode {type(pdu).__name__}: {exc}") from exc
    raise LocalProtocolError(f"not a PDU: {type(pdu).__name__}")


def encode_pdata_single(
    context_id: int, is_command: bool, is_last: bool, data: bytes | memoryview
) -> bytes:
    """Encode a P-DATA-TF carrying one PDV (the C-STORE hot path)."""
    if not context_id & 1:
        raise LocalProtocolError(f"presentation context ID {context_id} is not odd")
    size = data.nbytes if isinstance(data, memoryview) else len(data)
    control = (1 if is_command else 0) | (2 if is_last else 0)
    try:
        header = _PDATA_SINGLE.pack(PDU_P_DATA_TF, 0, size + 6, size + 2, context_id, control)
    except struct.error as exc:
        raise LocalProtocolError(f"cannot encode P-DATA-TF: {exc}") from exc
    return b"".join((header, data))


def _encode_pdata(pdu: PDataTF) -> bytes:
    if not pdu.pdvs:
        raise LocalProtocolError("a P-DATA-TF needs at least one PDV")
    parts: list[bytes] = [b""]
    total = 0
    for pdv in pdu.pdvs:
        if not pdv.context_id & 1:
            raise LocalProtocolError(f"presentation context ID {pdv.context_id} is not odd")
        size = len(pdv.data)
        control = (1 if pdv.is_command else 0) | (2 if pdv.is_last else 0)
        parts.append(_PDV_HEADER.pack(size + 2, pdv.context_id, control))
        parts.append(pdv.data)
        total += size + 6
    parts[0] = _PDU_HEADER.pack(PDU_P_DATA_TF, 0, total)
    return b"".join(parts)


def _item(item_type: int, value: bytes, byte1: int = 0) -> bytes:
    return _ITEM_HEADER.pack(item_type, byte1, len(value)) + value


def _uid_bytes(uid: str, what: str) -> bytes:
    if not is_valid_uid(uid):
        raise LocalProtocolError(f"{what} {_show(uid)} is not a valid UID")
    return uid.encode("ascii")


def _prefixed(value: bytes) -> bytes:
    return _U16.pack(len(value)) + value


def _check_context_ids(ids: list[int]) -> None:
    if not ids:
        raise LocalProtocolError("at least one presentation context is required")
    for cid in ids:
        if not (1 <= cid <= 255 and cid & 1):
            raise LocalProtocolError(f"presentation context ID {cid} is not odd in 1-255")
    if len(set(ids)) != len(ids):
        raise LocalProtocolError("presentation context IDs are not unique")


def _encode_associate(pdu: AssociateRQ | AssociateAC) -> bytes:
    if isinstance(pdu, AssociateRQ):
        pdu_type = PDU_ASSOCIATE_RQ
        try:
            called = validate_ae_title(pdu.called_ae_title)
            calling = validate_ae_title(pdu.calling_ae_title)
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from None
        _check_context_ids([pc.context_id for pc in pdu.presentation_contexts])
        contexts = [_encode_pc_rq(pc) for pc in pdu.presentation_contexts]
    else:
        pdu_type = PDU_ASSOCIATE_AC
        called = pdu.called_ae_title.strip(" ")
        calling = pdu.calling_ae_title.strip(" ")
        _check_context_ids([pc.context_id for pc in pdu.presentation_contexts])
        contexts = [_encode_pc_ac(pc) for pc in pdu.presentation_contexts]
    called_bytes = called.encode("ascii")
    calling_bytes = calling.encode("ascii")
    if len(called_bytes) > 16 or len(calling_bytes) > 16:
        raise LocalProtocolError("AE titles are limited to 16 characters")
    parts = [
        b"",
        _ASSOC_FIXED.pack(
            pdu.protocol_version,
            0,
            called_bytes.ljust(16, b" "),
            calling_bytes.ljust(16, b" "),
            b"",
        ),
        _item(0x10, _uid_bytes(pdu.application_context, "application context name")),
        *contexts,
        _encode_user_info(pdu.user_information),
    ]
    length = sum(len(part) for part in parts)
    parts[0] = _PDU_HEADER.pack(pdu_type, 0, length)
    return b"".join(parts)


def _encode_pc_rq(pc: PresentationContextRQ) -> bytes:
    if not pc.transfer_syntaxes:
        raise LocalProtocolError(f"presentation context {pc.context_id} has no transfer syntax")
    subs = [_item(0x30, _uid_bytes(pc.abstract_syntax, "abstract syntax"))]
    subs.extend(_item(0x40, _uid_bytes(ts, "transfer syntax")) for ts in pc.transfer_syntaxes)
    return _item(0x20, bytes((pc.context_id, 0, 0, 0)) + b"".join(subs))


def _encode_pc_ac(pc: PresentationContextAC) -> bytes:
    if pc.result == 0:
        ts = _uid_bytes(pc.transfer_syntax, "accepted transfer syntax")
    else:
        ts = pc.transfer_syntax.encode("ascii")  # not significant; may be empty
    return _item(0x21, bytes((pc.context_id, 0, pc.result, 0)) + _item(0x40, ts))


def _encode_user_info(ui: UserInformation) -> bytes:
    subs: list[tuple[int, bytes]] = [
        (0x51, _item(0x51, _U32.pack(ui.max_length))),
        (0x52, _item(0x52, _uid_bytes(ui.implementation_class_uid, "implementation class UID"))),
    ]
    if ui.async_ops is not None:
        window = _U16_PAIR.pack(ui.async_ops.max_invoked, ui.async_ops.max_performed)
        subs.append((0x53, _item(0x53, window)))
    for role in ui.roles:
        uid = _uid_bytes(role.sop_class_uid, "role selection SOP class")
        value = _prefixed(uid) + bytes((int(role.scu_role), int(role.scp_role)))
        subs.append((0x54, _item(0x54, value)))
    if ui.implementation_version_name is not None:
        name = ui.implementation_version_name
        if not 1 <= len(name) <= 16 or not name.isascii() or not name.isprintable():
            raise LocalProtocolError(f"implementation version name {_show(name)} is not 1-16 ASCII")
        subs.append((0x55, _item(0x55, name.encode("ascii"))))
    for ext in ui.sop_class_extended:
        uid = _uid_bytes(ext.sop_class_uid, "extended negotiation SOP class")
        subs.append((0x56, _item(0x56, _prefixed(uid) + ext.app_info)))
    for common in ui.sop_class_common_extended:
        related = b"".join(
            _prefixed(_uid_bytes(uid, "related general SOP class"))
            for uid in common.related_general_sop_classes
        )
        value = (
            _prefixed(_uid_bytes(common.sop_class_uid, "common extended SOP class"))
            + _prefixed(_uid_bytes(common.service_class_uid, "service class"))
            + _prefixed(related)
        )
        subs.append((0x57, _item(0x57, value, byte1=0)))
    if ui.user_identity_rq is not None:
        ident = ui.user_identity_rq
        value = (
            _IDENTITY_HEAD.pack(
                ident.identity_type, int(ident.positive_response_requested), len(ident.primary)
            )
            + ident.primary
            + _prefixed(ident.secondary)
        )
        subs.append((0x58, _item(0x58, value)))
    if ui.user_identity_ac is not None:
        subs.append((0x59, _item(0x59, _prefixed(ui.user_identity_ac.server_response))))
    for unknown in ui.unknown:
        if unknown.item_type in _KNOWN_SUB_ITEMS:
            raise LocalProtocolError(f"sub-item type 0x{unknown.item_type:02X} is not unknown")
        subs.append((unknown.item_type, _item(unknown.item_type, unknown.data)))
    subs.sort(key=lambda sub: sub[0])  # stable: repeated types keep their order
    return _item(0x50, b"".join(encoded for _, encoded in subs))


# ------------------------------------------------------------------------------------------
# Decoding


def decode_pdu(data: bytes | bytearray | memoryview) -> PDU:
    """Decode one whole PDU (header included); raise only RemoteProtocolError."""
    with memoryview(data) as raw, raw.cast("B") as view:
        if len(view) < 6:
            raise RemoteProtocolError(
                f"PDU header truncated: {len(view)} of 6 bytes", _ABORT_INVALID
            )
        pdu_type, _, length = _PDU_HEADER.unpack_from(view, 0)
        if not PDU_ASSOCIATE_RQ <= pdu_type <= PDU_ABORT:
            raise RemoteProtocolError(
                f"unrecognized PDU type 0x{pdu_type:02X}", _ABORT_UNRECOGNIZED
            )
        if length != len(view) - 6:
            raise RemoteProtocolError(
                f"PDU-length is {length} but {len(view) - 6} bytes follow the header",
                _ABORT_INVALID,
            )
        with view[6:] as body:
            return decode_pdu_body(pdu_type, body)


def decode_pdu_body(pdu_type: int, body: bytes | bytearray | memoryview) -> PDU:
    """Decode the bytes after the 6-byte header of a PDU of ``pdu_type``.

    The result never refers to ``body``: the caller may reuse its buffer.
    """
    try:
        if pdu_type == PDU_P_DATA_TF:
            return _decode_pdata(body)
        if pdu_type in (PDU_ASSOCIATE_RQ, PDU_ASSOCIATE_AC):
            return _AssociateDecoder(bytes(body), pdu_type == PDU_ASSOCIATE_RQ).decode()
        if PDU_ASSOCIATE_RJ <= pdu_type <= PDU_ABORT:
            if len(body) != 4:
                raise RemoteProtocolError(
                    f"PDU type 0x{pdu_type:02X} must have PDU-length 4, not {len(body)}",
                    _ABORT_INVALID,
                )
            if pdu_type == PDU_ASSOCIATE_RJ:
                return AssociateRJ(result=body[1], source=body[2], reason=body[3])
            if pdu_type == PDU_ABORT:
                return Abort(source=body[2], reason=body[3])
            return ReleaseRQ() if pdu_type == PDU_RELEASE_RQ else ReleaseRP()
    except (struct.error, IndexError, ValueError, OverflowError) as exc:  # safety net only
        raise RemoteProtocolError(
            f"malformed PDU (unchecked {type(exc).__name__}: {exc})", _ABORT_INVALID
        ) from exc
    raise RemoteProtocolError(f"unrecognized PDU type 0x{pdu_type:02X}", _ABORT_UNRECOGNIZED)


def _decode_pdata(body: bytes | bytearray | memoryview) -> PDataTF:
    with memoryview(body) as view:
        end = len(view)
        if end == 0:
            raise RemoteProtocolError("P-DATA-TF carries no PDV", _ABORT_INVALID)
        pdvs: list[PDV] = []
        pos = 0
        while pos < end:
            if end - pos < 6:
                raise RemoteProtocolError(
                    f"PDV item truncated: {end - pos} bytes left, at least 6 needed",
                    _ABORT_INVALID,
                )
            length, context_id, control = _PDV_HEADER.unpack_from(view, pos)
            if length < 2:
                raise RemoteProtocolError(
                    f"PDV item-length {length} is less than 2", _ABORT_INVALID
                )
            stop = pos + 4 + length
            if stop > end:
                raise RemoteProtocolError(
                    f"PDV item-length {length} overruns the P-DATA-TF ({end - pos - 4} left)",
                    _ABORT_INVALID,
                )
            if not context_id & 1:
                raise RemoteProtocolError(
                    f"PDV presentation context ID {context_id} is not odd", _ABORT_INVALID
                )
            pdvs.append(
                PDV(context_id, bool(control & 1), bool(control & 2), bytes(view[pos + 6 : stop]))
            )
            pos = stop
    return PDataTF(tuple(pdvs))


class _AssociateDecoder:
    """Decodes an A-ASSOCIATE-RQ/AC body: framing defects raise at once, value defects of an
    RQ are collected and the highest-priority one is raised at the end."""

    __slots__ = ("data", "defect", "is_rq", "name")

    def __init__(self, data: bytes, is_rq: bool) -> None:
        self.data = data
        self.is_rq = is_rq
        self.name = "A-ASSOCIATE-RQ" if is_rq else "A-ASSOCIATE-AC"
        self.defect: tuple[int, str] | None = None

    def malformed(self, message: str) -> NoReturn:
        raise RemoteProtocolError(f"{self.name}: {message}", _ABORT_INVALID)

    def invalid(
        self, rank: int, message: str, abort_reason: int = ABORT_REASON_INVALID_PARAMETER
    ) -> None:
        if not self.is_rq:
            raise RemoteProtocolError(
                f"{self.name}: {message}", AbortConsequence(ABORT_SOURCE_PROVIDER, abort_reason)
            )
        if self.defect is None or rank < self.defect[0]:
            self.defect = (rank, f"{self.name}: {message}")

    def items(self, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """Yield (type, byte 1, value start, value end) for each item in data[start:end]."""
        data = self.data
        pos = start
        while pos < end:
            if end - pos < 4:
                self.malformed(f"item header truncated: {end - pos} bytes left")
            item_type, byte1, length = _ITEM_HEADER.unpack_from(data, pos)
            stop = pos + 4 + length
            if stop > end:
                self.malformed(
                    f"item 0x{item_type:02X} length {length} overruns its parent "
                    f"({end - pos - 4} bytes left)"
                )
            yield item_type, byte1, pos + 4, stop
            pos = stop

    def field(self, pos: int, end: int, what: str) -> tuple[int, int]:
        """Bounds of a uint16-length-prefixed field at data[pos:end]."""
        if end - pos < 2:
            self.malformed(f"{what}: length field truncated")
        (length,) = _U16.unpack_from(self.data, pos)
        if pos + 2 + length > end:
            self.malformed(f"{what}: length {length} overruns its sub-item")
        return pos + 2, pos + 2 + length

    def uid(self, start: int, end: int, rank: int, what: str) -> str:
        text = self.data[start:end].rstrip(b"\x00 ").decode("latin-1")
        if not is_valid_uid(text):
            self.invalid(rank, f"{what} {_show(text)} is not a valid UID")
        return text

    def ae_title(self, raw: bytes, rank: int, what: str) -> str:
        text = raw.rstrip(b"\x00 ").decode("latin-1")
        try:
            return validate_ae_title(text)
        except ValueError as exc:
            self.invalid(rank, f"{what}: {exc}")
            return text.strip(" ")

    def decode(self) -> AssociateRQ | AssociateAC:
        data = self.data
        if len(data) < ASSOCIATE_FIXED_LENGTH:
            self.malformed(f"{len(data)} bytes, fewer than the {ASSOCIATE_FIXED_LENGTH} fixed")
        version, _, called_raw, calling_raw, _ = _ASSOC_FIXED.unpack_from(data, 0)
        if not version & 1:
            self.invalid(_RANK_VERSION, f"protocol version 0x{version:04X} lacks version 1")
        if self.is_rq:
            called = self.ae_title(called_raw, _RANK_CALLED, "called AE title")
            calling = self.ae_title(calling_raw, _RANK_CALLING, "calling AE title")
        else:  # reserved in the AC: never tested
            called = called_raw.strip(b"\x00 ").decode("latin-1")
            calling = calling_raw.strip(b"\x00 ").decode("latin-1")
        app_contexts: list[str] = []
        rq_contexts: list[PresentationContextRQ] = []
        ac_contexts: list[PresentationContextAC] = []
        user_infos: list[UserInformation] = []
        for item_type, _, start, end in self.items(ASSOCIATE_FIXED_LENGTH, len(data)):
            if item_type == 0x10:
                app_contexts.append(
                    self.uid(start, end, _RANK_APP_CONTEXT, "application context name")
                )
            elif item_type == 0x20:
                if self.is_rq:
                    rq_contexts.append(self.context_rq(start, end))
                else:
                    self.invalid(
                        _RANK_OTHER,
                        "carries an RQ presentation context item (0x20)",
                        ABORT_REASON_UNEXPECTED_PARAMETER,
                    )
            elif item_type == 0x21:
                if self.is_rq:
                    self.invalid(_RANK_OTHER, "carries an AC presentation context item (0x21)")
                else:
                    ac_contexts.append(self.context_ac(start, end))
            elif item_type == 0x50:
                user_infos.append(self.user_info(start, end))
            # any other item type is ignored (PS3.8 9.3.1)
        if len(app_contexts) != 1:
            self.invalid(
                _RANK_APP_CONTEXT,
                f"needs exactly one application context item (0x10), found {len(app_contexts)}",
            )
        if len(user_infos) != 1:
            self.invalid(
                _RANK_OTHER,
                f"needs exactly one user information item (0x50), found {len(user_infos)}",
            )
        ids = [pc.context_id for pc in (rq_contexts if self.is_rq else ac_contexts)]
        if not ids:
            self.invalid(_RANK_OTHER, "has no presentation context item")
        for cid in ids:
            if not cid & 1:
                self.invalid(_RANK_OTHER, f"presentation context ID {cid} is not odd")
        if len(set(ids)) != len(ids):
            self.invalid(_RANK_OTHER, "presentation context IDs are not unique")
        if self.defect is not None:
            rank, message = self.defect
            raise RemoteProtocolError(message, _RQ_REJECTS[rank])
        if self.is_rq:
            return AssociateRQ(
                called_ae_title=called,
                calling_ae_title=calling,
                presentation_contexts=tuple(rq_contexts),
                user_information=user_infos[0],
                application_context=app_contexts[0],
                protocol_version=version,
            )
        return AssociateAC(
            called_ae_title=called,
            calling_ae_title=calling,
            presentation_contexts=tuple(ac_contexts),
            user_information=user_infos[0],
            application_context=app_contexts[0],
            protocol_version=version,
        )

    def context_rq(self, start: int, end: int) -> PresentationContextRQ:
        if end - start < 4:
            self.malformed("presentation context item (0x20) shorter than 4 bytes")
        context_id = self.data[start]
        abstract: list[str] = []
        transfer: list[str] = []
        for item_type, _, sub_start, sub_end in self.items(start + 4, end):
            if item_type == 0x30:
                abstract.append(self.uid(sub_start, sub_end, _RANK_OTHER, "abstract syntax"))
            elif item_type == 0x40:
                transfer.append(self.uid(sub_start, sub_end, _RANK_OTHER, "transfer syntax"))
        if len(abstract) != 1:
            self.invalid(
                _RANK_OTHER,
                f"presentation context {context_id} needs exactly one abstract syntax, "
                f"found {len(abstract)}",
            )
        if not transfer:
            self.invalid(_RANK_OTHER, f"presentation context {context_id} has no transfer syntax")
        return PresentationContextRQ(context_id, abstract[0] if abstract else "", tuple(transfer))

    def context_ac(self, start: int, end: int) -> PresentationContextAC:
        if end - start < 4:
            self.malformed("presentation context item (0x21) shorter than 4 bytes")
        context_id = self.data[start]
        result = self.data[start + 2]
        found = [(s, e) for t, _, s, e in self.items(start + 4, end) if t == 0x40]
        if result > 4:
            self.invalid(_RANK_OTHER, f"presentation context {context_id} result {result} unknown")
        if result != 0:  # transfer syntax not significant: not tested
            ts = self.data[found[0][0] : found[0][1]] if found else b""
            return PresentationContextAC(context_id, result, ts.rstrip(b"\x00 ").decode("latin-1"))
        if len(found) != 1:
            self.invalid(
                _RANK_OTHER,
                f"accepted presentation context {context_id} needs exactly one transfer "
                f"syntax, found {len(found)}",
            )
        ts_uid = self.uid(found[0][0], found[0][1], _RANK_OTHER, "transfer syntax")
        return PresentationContextAC(context_id, result, ts_uid)

    def user_info(self, start: int, end: int) -> UserInformation:
        data = self.data
        max_lengths: list[int] = []
        class_uids: list[str] = []
        version_names: list[str | None] = []
        windows: list[AsyncOpsWindow] = []
        roles: list[RoleSelection] = []
        extended: list[SOPClassExtended] = []
        common: list[SOPClassCommonExtended] = []
        identity_rqs: list[UserIdentityRQ] = []
        identity_acs: list[UserIdentityAC] = []
        unknown: list[UnknownSubItem] = []
        for item_type, _, s, e in self.items(start, end):
            if item_type == 0x51:
                if e - s != 4:
                    self.malformed(f"maximum length sub-item has length {e - s}, not 4")
                max_lengths.append(_U32.unpack_from(data, s)[0])
            elif item_type == 0x52:
                class_uids.append(self.uid(s, e, _RANK_OTHER, "implementation class UID"))
            elif item_type == 0x53:
                if e - s != 4:
                    self.malformed(f"asynchronous operations sub-item has length {e - s}, not 4")
                windows.append(AsyncOpsWindow(*_U16_PAIR.unpack_from(data, s)))
            elif item_type == 0x54:
                uid_start, uid_end = self.field(s, e, "role selection sub-item")
                if e - uid_end != 2:
                    self.malformed("role selection sub-item must end with exactly 2 role bytes")
                uid = self.uid(uid_start, uid_end, _RANK_OTHER, "role selection SOP class")
                roles.append(RoleSelection(uid, data[uid_end] != 0, data[uid_end + 1] != 0))
            elif item_type == 0x55:
                name = data[s:e].rstrip(b"\x00 ").decode("latin-1")
                version_names.append(name or None)
            elif item_type == 0x56:
                uid_start, uid_end = self.field(s, e, "SOP class extended sub-item")
                uid = self.uid(uid_start, uid_end, _RANK_OTHER, "extended negotiation SOP class")
                extended.append(SOPClassExtended(uid, data[uid_end:e]))
            elif item_type == 0x57:
                common.append(self.common_extended(s, e))
            elif item_type == 0x58:
                identity_rqs.append(self.identity_rq(s, e))
            elif item_type == 0x59:
                resp_start, resp_end = self.field(s, e, "user identity AC sub-item")
                if resp_end != e:
                    self.malformed("user identity AC sub-item has trailing bytes")
                identity_acs.append(UserIdentityAC(data[resp_start:resp_end]))
            else:
                unknown.append(UnknownSubItem(item_type, data[s:e]))
        for count, what, required in (
            (len(max_lengths), "maximum length (0x51)", True),
            (len(class_uids), "implementation class UID (0x52)", True),
            (len(windows), "asynchronous operations window (0x53)", False),
            (len(version_names), "implementation version name (0x55)", False),
            (len(identity_rqs), "user identity RQ (0x58)", False),
            (len(identity_acs), "user identity AC (0x59)", False),
        ):
            if count > 1 or (required and count == 0):
                self.invalid(_RANK_OTHER, f"user information has {count} {what} sub-items")
        if not self.is_rq:
            # DCMTK-based acceptors (Orthanc, dcmqrscp, storescp...) answer one role item per
            # accepted presentation context, so a SOP class proposed on several contexts comes
            # back repeated: identical repeats say one thing and are kept once; conflicting
            # ones stay an error below.
            roles = list(dict.fromkeys(roles))
        for uids, what in (
            ([r.sop_class_uid for r in roles], "role selection"),
            ([x.sop_class_uid for x in extended], "SOP class extended negotiation"),
            ([c.sop_class_uid for c in common], "SOP class common extended negotiation"),
        ):
            if len(set(uids)) != len(uids):
                self.invalid(_RANK_OTHER, f"more than one {what} sub-item for one SOP class")
        return UserInformation(
            max_length=max_lengths[0] if max_lengths else 0,
            implementation_class_uid=class_uids[0] if class_uids else "",
            implementation_version_name=version_names[0] if version_names else None,
            async_ops=windows[0] if windows else None,
            roles=tuple(roles),
            sop_class_extended=tuple(extended),
            sop_class_common_extended=tuple(common),
            user_identity_rq=identity_rqs[0] if identity_rqs else None,
            user_identity_ac=identity_acs[0] if identity_acs else None,
            unknown=tuple(unknown),
        )

    def common_extended(self, start: int, end: int) -> SOPClassCommonExtended:
        what = "SOP class common extended sub-item"
        sop_start, sop_end = self.field(start, end, what)
        svc_start, svc_end = self.field(sop_end, end, what)
        list_start, list_end = self.field(svc_end, end, what)
        related: list[str] = []
        pos = list_start
        while pos < list_end:
            uid_start, uid_end = self.field(pos, list_end, what)
            related.append(self.uid(uid_start, uid_end, _RANK_OTHER, "related general SOP class"))
            pos = uid_end
        # data[list_end:end] is the reserved tail (empty in sub-item version 0): ignored.
        return SOPClassCommonExtended(
            self.uid(sop_start, sop_end, _RANK_OTHER, "common extended SOP class"),
            self.uid(svc_start, svc_end, _RANK_OTHER, "service class"),
            tuple(related),
        )

    def identity_rq(self, start: int, end: int) -> UserIdentityRQ:
        what = "user identity RQ sub-item"
        if end - start < 2:
            self.malformed(f"{what} shorter than 2 bytes")
        primary_start, primary_end = self.field(start + 2, end, what)
        secondary_start, secondary_end = self.field(primary_end, end, what)
        if secondary_end != end:
            self.malformed(f"{what} has trailing bytes")
        return UserIdentityRQ(
            identity_type=self.data[start],
            positive_response_requested=self.data[start + 1] != 0,
            primary=self.data[primary_start:primary_end],
            secondary=self.data[secondary_start:secondary_end],
        )
