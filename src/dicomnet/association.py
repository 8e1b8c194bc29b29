"""A DICOM association as users see it: the driver of :mod:`dicomnet.transport.driver` plus the
requestor side (making the association) and the SCU services (C-ECHO, C-STORE; Query/Retrieve
and DIMSE-N delegate to :mod:`dicomnet._qr_scu` and :mod:`dicomnet._n_scu`). It is also the
:class:`~dicomnet.services.base.ServicePort` the SCP services serve through."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from dicomnet import events as evt
from dicomnet._log import get_logger
from dicomnet._record import record
from dicomnet._uid import IMPLICIT_VR_LE, UNCOMPRESSED_SYNTAXES
from dicomnet.dimse.messages import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    PRIORITY_MEDIUM,
)
from dicomnet.errors import NoContextError, SourceFailed, TransportLost
from dicomnet.presentation import PresentationContext, from_negotiated
from dicomnet.service_user import ServiceUser
from dicomnet.transport.acceptor import AcceptorCore
from dicomnet.transport.connection import ConnectError, Connection, deadline_in
from dicomnet.transport.driver import DriverSettings
from dicomnet.ul.errors import ABORT_SOURCE_USER, RemoteProtocolError
from dicomnet.ul.fsm import Event, State
from dicomnet.ul.items import (
    AsyncOpsWindow,
    SOPClassCommonExtended,
    SOPClassExtended,
    UserIdentityRQ,
    UserInformation,
)
from dicomnet.ul.negotiation import (
    ContextSpec,
    build_rq_contexts,
    negotiate_as_requestor,
    peer_max_pdu_for_sending,
)
from dicomnet.ul.pdu import Abort, AssociateAC, AssociateRQ

if TYPE_CHECKING:
    import ssl
    from typing import TypeAlias

    from pydicom.dataset import Dataset

    from dicomnet._qr_scu import Responses
    from dicomnet.part10 import FileMeta
    from dicomnet.transcode import Policy
    from dicomnet.validate import StructureValidator

    #: What a C-STORE sends: a Part-10 file (path) or a pydicom Dataset.
    StoreSource: TypeAlias = str | os.PathLike[str] | Dataset
    #: An attribute in an N-GET identifier list: a tag (int or (group, element)) or keyword.
    AttributeRef: TypeAlias = int | str | tuple[int, int]

LOGGER = get_logger("dicomnet.assoc")

#: Values larger than this are left in the file by pydicom until they are re-encoded.
_DEFER_SIZE = 1024 * 1024
# Where a data set may be re-encoded: Implicit VR LE first (the default every peer accepts).
_REENCODE_ORDER = (IMPLICIT_VR_LE, *(s for s in UNCOMPRESSED_SYNTAXES if s != IMPLICIT_VR_LE))


@record(frozen=True, slots=True)
class CheckedFile:
    """A file whose data set passed :func:`check_file`: the UIDs of the data set itself, the
    length to send, and whether it needs a pad byte (an odd-length deflate stream, PS3.5 A.5;
    bytes after the end of the stream, such as a gzip trailer, are not sent)."""

    sop_class_uid: str
    sop_instance_uid: str
    length: int
    pad: bool


#: Data sets up to this size are read once: into memory, checked there, sent from the same
#: bytes. Larger ones are checked reading the file, then streamed from it (memory stays flat).
IN_MEMORY_LIMIT = 8 << 20


def check_file(handle: BinaryIO, meta: FileMeta) -> CheckedFile:
    """Check the data set of an open Part-10 file before any of it is sent: structurally valid
    in its transfer syntax (:mod:`dicomnet.validate`, read in chunks), with non-empty SOP Class
    and Instance UIDs of its own. Raises :class:`~dicomnet.validate.StructureError` or
    ValueError. The UIDs sent are the data set's, as DCMTK's: a file meta header that names
    others is logged (at INFO: storescu warns about such files itself, before sending)."""
    from dicomnet.validate import validate_stream

    handle.seek(meta.dataset_offset)
    validator = validate_stream(handle, meta.transfer_syntax_uid, allow_trailing=True)
    return _checked(validator, meta, getattr(handle, "name", "file"))


def check_data(data: bytes | memoryview, meta: FileMeta, name: str = "file") -> CheckedFile:
    """:func:`check_file` for a data set already in memory (``data``: its bytes, from the
    first byte after the file meta information to the end of the file)."""
    from dicomnet.validate import StructureValidator

    validator = StructureValidator(meta.transfer_syntax_uid, allow_trailing=True)
    validator.feed(data)
    validator.close()
    return _checked(validator, meta, name)


def _checked(validator: StructureValidator, meta: FileMeta, name: object) -> CheckedFile:
    from dicomnet.validate import DEFLATED_SYNTAXES, SOP_CLASS_UID, SOP_INSTANCE_UID

    sop_class = validator.uid(SOP_CLASS_UID)
    sop_instance = validator.uid(SOP_INSTANCE_UID)
    if not sop_class or not sop_instance:
        missing = "SOP Class UID" if not sop_class else "SOP Instance UID"
        raise ValueError(f"the data set has no {missing}")
    if meta.sop_class_uid and (sop_class, sop_instance) != (
        meta.sop_class_uid,
        meta.sop_instance_uid,
    ):
        LOGGER.info(
            "%s: the file meta header names %s / %s, the data set %s / %s; sending the data set's",
            name,
            meta.sop_class_uid,
            meta.sop_instance_uid,
            sop_class,
            sop_instance,
        )
    length = validator.size
    if meta.transfer_syntax_uid in DEFLATED_SYNTAXES and validator.deflate_end is not None:
        length = validator.deflate_end  # without what follows the deflate stream (a trailer)
    return CheckedFile(sop_class, sop_instance, length, bool(length & 1))


def _read_small(handle: BinaryIO, meta: FileMeta, holder: _ReadBuffer) -> memoryview | bytes | None:
    """The rest of the file from the data set's first byte, if it is at most
    :data:`IN_MEMORY_LIMIT` bytes long (None otherwise: stream it), read into ``holder``'s
    buffer: a view of it, valid until the holder's next read."""
    try:
        size = os.fstat(handle.fileno()).st_size
    except (OSError, ValueError, AttributeError):
        return None
    rest = max(size - meta.dataset_offset, 0)
    if rest > IN_MEMORY_LIMIT:
        return None
    handle.seek(meta.dataset_offset)
    view = holder.view(rest + 1)  # one byte more: a file that grew since fstat shows it
    got = _read_into(handle, view)
    if got <= rest:
        return view[:got]
    data = bytes(view) + handle.read(IN_MEMORY_LIMIT + 1 - len(view))
    return data if len(data) <= IN_MEMORY_LIMIT else None  # it grew past the limit: stream


def _read_into(handle: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``handle``; the bytes read (fewer only at the end of the file)."""
    got = 0
    while got < len(view):
        n = handle.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


class _ReadBuffer:
    """One association's buffer for the files it sends from memory: reused from file to file,
    so a file costs no fresh allocation (for 512 KiB: an mmap, ~130 page faults and a munmap).
    Grows to the largest file sent (at most :data:`IN_MEMORY_LIMIT` + 1 bytes); a buffer that
    is too small is replaced, never resized (views of it may still exist)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def view(self, size: int) -> memoryview:
        if len(self._buffer) < size:
            self._buffer = bytearray(size)
        return memoryview(self._buffer)[:size]


class _ExactReader:
    """Reads exactly ``length`` bytes of ``source`` (then one NUL if ``pad``): the data set
    that was checked, even if the file grew since; :class:`SourceFailed` if it shrank or a
    read failed."""

    def __init__(self, source: BinaryIO, length: int, pad: bool) -> None:
        self._source = source
        self._left = length
        self._pad = pad

    def read(self, size: int = -1, /) -> bytes:
        if self._left <= 0:
            if self._pad:
                self._pad = False
                return b"\x00"
            return b""
        want = self._left if size < 0 else min(size, self._left)
        try:
            data = self._source.read(want)
        except OSError as exc:
            raise SourceFailed(f"cannot read the file: {exc}") from exc
        if not data:
            raise SourceFailed("the file is shorter than when it was checked")
        self._left -= len(data)
        if self._left == 0 and self._pad and len(data) < size:
            self._pad = False
            data += b"\x00"
        return data


class RequestorSettings(DriverSettings, Protocol):
    """What an association reads of its AE (:class:`dicomnet.ae.AE`) beyond the driver's."""

    connection_timeout: float | None

    def associate(
        self,
        addr: str,
        port: int,
        contexts: Iterable[PresentationContext] | None = None,
        ae_title: str = "ANY-SCP",
        max_pdu: int | None = None,
        ext_neg: Any = None,
        bind_address: tuple[str, int] | None = None,
        tls_args: tuple[ssl.SSLContext, str | None] | None = None,
        evt_handlers: Iterable[evt.HandlerSpec] | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        user_identity: UserIdentityRQ | None = None,
    ) -> Association: ...


class Association(AcceptorCore):
    """A DICOM association, as requestor (``AE.associate``) or acceptor (``AE.start_server``)."""

    ae: RequestorSettings
    #: store_instance's buffer for the files it reads whole (made on first use)
    _read_buffer: _ReadBuffer | None = None

    # --- making the association -----------------------------------------------------------

    def request(
        self,
        address: str,
        port: int,
        called_ae_title: str,
        specs: Sequence[ContextSpec],
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        user_identity: UserIdentityRQ | None = None,
        bind_address: tuple[str, int] | None = None,
        extended: Sequence[AsyncOpsWindow | SOPClassExtended | SOPClassCommonExtended] = (),
    ) -> None:
        """Connect and request the association. ``extended``: AsyncOpsWindow,
        SOPClassExtended and SOPClassCommonExtended items to send (``ext_neg``)."""
        ae = self.ae
        rq_contexts, roles = build_rq_contexts(specs)
        self._rq_contexts = rq_contexts
        self.requested_roles = roles
        rq = AssociateRQ(
            called_ae_title=called_ae_title,
            calling_ae_title=ae.ae_title,
            presentation_contexts=rq_contexts,
            user_information=UserInformation(
                max_length=self.local_max_pdu,
                implementation_class_uid=ae.implementation_class_uid,
                implementation_version_name=ae.implementation_version_name,
                roles=roles,
                user_identity_rq=user_identity,
                async_ops=next((e for e in extended if isinstance(e, AsyncOpsWindow)), None),
                sop_class_extended=tuple(e for e in extended if isinstance(e, SOPClassExtended)),
                sop_class_common_extended=tuple(
                    e for e in extended if isinstance(e, SOPClassCommonExtended)
                ),
            ),
        )
        self.requestor.ae_title = ae.ae_title
        self.requestor.maximum_length = self.local_max_pdu
        self.requestor.implementation_class_uid = ae.implementation_class_uid
        self.requestor.implementation_version_name = ae.implementation_version_name
        self.requestor.primitive = rq
        self.acceptor.ae_title = called_ae_title
        self.acceptor.address, self.acceptor.port = address, port
        self._step(Event.EVT1, rq)
        try:
            conn = Connection.connect(
                address,
                port,
                timeout=ae.connection_timeout,
                ssl_context=ssl_context,
                server_hostname=server_hostname,
                bind_address=bind_address,
            )
        except ConnectError as exc:
            self.connect_error = exc
            self.failure_reason = str(exc)
            self._step(Event.EVT17)
            return
        self._conn = conn
        self.requestor.address, self.requestor.port = conn.local
        self._notify(evt.EVT_CONN_OPEN, address=conn.peer)
        try:
            self._step(Event.EVT2)
        except TransportLost as exc:  # e.g. a TLS server that refused our certificate
            self.failure_reason = f"connection failed: {exc}"
            self._on_connection_closed()
            return
        self._notify(evt.EVT_REQUESTED)
        deadline = deadline_in(self.acse_timeout)
        while self._fsm.state is State.STA5:
            if not self._pump(deadline):
                break
        if self._fsm.state is State.STA5:  # pragma: no cover - _pump aborts on timeouts
            self._local_abort(Abort(source=ABORT_SOURCE_USER))

    def _on_accepted(self, ac: AssociateAC) -> None:
        self.acceptor.primitive = ac
        info = ac.user_information
        self.acceptor.maximum_length = info.max_length
        self.acceptor.implementation_class_uid = info.implementation_class_uid
        self.acceptor.implementation_version_name = info.implementation_version_name
        try:
            negotiated = negotiate_as_requestor(
                self._rq_contexts, self.requested_roles, ac.presentation_contexts, info.roles
            )
            self._peer_max_pdu = peer_max_pdu_for_sending(info.max_length)
        except RemoteProtocolError as exc:
            self._on_bad_pdu(exc)
            return
        self.contexts = from_negotiated(negotiated, self._rq_contexts)
        self.is_established = True
        self._notify(evt.EVT_ACCEPTED)
        if not self.accepted_contexts:
            LOGGER.error("the peer accepted none of the proposed presentation contexts")
            self.failure_reason = "no presentation context was accepted"
            self._local_abort(Abort(source=ABORT_SOURCE_USER))
            return
        self._notify(evt.EVT_ESTABLISHED)

    # --- the service port (see dicomnet.services.base) ---------------------------------------

    def open_association(
        self,
        address: str,
        port: int,
        contexts: Sequence[PresentationContext],
        options: dict[str, Any],
    ) -> Association:
        """Request an association with this association's AE (C-MOVE sub-operations)."""
        return self.ae.associate(address, port, contexts=list(contexts), **options)

    # --- C-ECHO -----------------------------------------------------------------------------

    def echo_response(self, msg_id: int | None = None) -> C_ECHO_RSP | None:
        """Send a C-ECHO and return the raw response (None if none arrived)."""
        self.require_established()
        cx = self.session.scu_context("1.2.840.10008.1.1")
        if cx is None or cx.context_id is None:
            raise NoContextError("no accepted presentation context for Verification")
        message_id = self.session.next_message_id(msg_id)
        if not self.send_request(cx.context_id, C_ECHO_RQ(MessageID=message_id)):
            return None
        done = self.wait_response(message_id, C_ECHO_RSP)
        return done.message if done is not None else None  # type: ignore[return-value]

    def send_c_echo(self, msg_id: int | None = None) -> Dataset:
        """C-ECHO; returns a pydicom Dataset with ``Status`` (empty if no response arrived)."""
        from dicomnet.dataset import status_dataset  # pydicom: not on echoscu's path

        return status_dataset(self.echo_response(msg_id))

    # --- C-STORE ----------------------------------------------------------------------------

    def store_instance(
        self,
        source: StoreSource,
        *,
        originator_aet: str | None = None,
        originator_id: int | None = None,
        priority: int = PRIORITY_MEDIUM,
        msg_id: int | None = None,
        decompress: Policy = "lossless",
        compress: str | None = None,
    ) -> C_STORE_RSP | None:
        """Send one instance (a path or a pydicom Dataset); the raw response or None.

        A file is checked before its command is sent (see :func:`check_file`); ValueErrors
        (malformed, no UIDs, no accepted context, conversion impossible) and OSErrors come
        before anything was sent, so the association stays usable. A data set of up to
        :data:`IN_MEMORY_LIMIT` bytes is read once, checked in memory and sent from there (what
        was checked is what goes out); a larger one is checked, then streamed from the file.
        Compressed data for which only uncompressed contexts were accepted is decompressed as
        ``decompress`` allows (:mod:`dicomnet.transcode`: lossless by default, "lossy" also
        lossy, "never"). ``compress`` (a transfer syntax UID of
        :data:`dicomnet.transcode.COMPRESSIONS`): uncompressed data is compressed to it when a
        context for it was accepted."""
        from dicomnet.part10 import Part10Error, detect_bare_dataset, read_file_meta

        self.require_established()
        if isinstance(source, str | os.PathLike):
            with open(source, "rb") as handle:
                try:
                    meta = read_file_meta(handle)
                except Part10Error:
                    # A data set without File Meta: sent when it carries its SOP UIDs, in the
                    # transfer syntax its first element shows (as DCMTK's storescu).
                    handle.seek(0)
                    try:
                        meta = detect_bare_dataset(handle)
                    except Part10Error:
                        meta = None
                if meta is not None:
                    if self._read_buffer is None:
                        self._read_buffer = _ReadBuffer()
                    held = _read_small(handle, meta, self._read_buffer)
                    name = getattr(handle, "name", "file")
                    if held is not None:
                        checked = check_data(held, meta, name)
                    else:
                        checked = check_file(handle, meta)
                    cx = self.session.scu_context(checked.sop_class_uid, meta.transfer_syntax_uid)
                    if compress and self.session.scu_context(checked.sop_class_uid, compress):
                        cx = None  # compressed on the way (decoded below)
                    if cx is not None:
                        # The data set as it is, undecoded: from memory, or streamed from disk.
                        data: bytes | memoryview | _ExactReader
                        if held is None:
                            handle.seek(meta.dataset_offset)
                            data = _ExactReader(handle, checked.length, checked.pad)
                        elif checked.pad:
                            data = bytes(held[: checked.length]) + b"\x00"
                        else:
                            data = memoryview(held)[: checked.length]
                        return self._store_stream(
                            cx,
                            checked.sop_class_uid,
                            checked.sop_instance_uid,
                            data,
                            originator_aet,
                            originator_id,
                            priority,
                            msg_id,
                        )
                from pydicom import dcmread

                handle.seek(0)
                # values above 1 MiB are read from the file only while they are re-encoded
                dataset: Dataset = dcmread(handle, force=True, defer_size=_DEFER_SIZE)
                if meta is not None and meta.dataset_offset == 0 and not meta.sop_class_uid:
                    # a bare data set: its detected syntax is what it converts from
                    from pydicom.dataset import FileMetaDataset
                    from pydicom.uid import UID

                    if not hasattr(dataset, "file_meta"):
                        dataset.file_meta = FileMetaDataset()
                    dataset.file_meta.TransferSyntaxUID = UID(meta.transfer_syntax_uid)
        else:
            dataset = source
        return self._store_dataset(
            dataset, originator_aet, originator_id, priority, msg_id, decompress, compress
        )

    def _store_dataset(
        self,
        dataset: Dataset,
        originator_aet: str | None,
        originator_id: int | None,
        priority: int,
        msg_id: int | None,
        decompress: Policy = "lossless",
        compress: str | None = None,
    ) -> C_STORE_RSP | None:
        from dicomnet.convert import encode_converted_spooled
        from dicomnet.transcode import LOSSY, can_decompress
        from dicomnet.transcode import decompress as decompress_dataset

        try:
            sop_class = str(dataset.SOPClassUID)
            sop_instance = str(dataset.SOPInstanceUID)
        except AttributeError as exc:
            raise ValueError(f"the data set has no SOP Class/Instance UID: {exc}") from None
        if not sop_class or not sop_instance:
            raise ValueError("the data set has an empty SOP Class/Instance UID")
        meta = getattr(dataset, "file_meta", None)
        current = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta is not None else ""
        if (
            compress
            and compress != current
            and current in UNCOMPRESSED_SYNTAXES
            and self.session.scu_context(sop_class, compress) is not None
        ):
            from dicomnet.transcode import compress as compress_dataset

            dataset = compress_dataset(dataset, compress)  # TranscodeError: a ValueError
            LOGGER.info("%s: compressed from %s to %s", sop_instance, current, compress)
            current = compress
        cx = self.session.scu_context(sop_class, current) if current else None
        if cx is None:
            if current and current not in UNCOMPRESSED_SYNTAXES:
                uncompressed = any(self.session.scu_context(sop_class, s) for s in _REENCODE_ORDER)
                if not uncompressed or not can_decompress(current, decompress):
                    hint = ""
                    if uncompressed and current in LOSSY and decompress == "lossless":
                        hint = " (the data set is lossy-compressed: decompress it with 'lossy')"
                    raise NoContextError(
                        f"no accepted presentation context for {sop_class} in {current}{hint}"
                    )
                dataset = decompress_dataset(dataset, decompress)  # TranscodeError: ValueError
                LOGGER.info("%s: decompressed from %s to send it", sop_instance, current)
                current = str(dataset.file_meta.TransferSyntaxUID)
            for syntax in _REENCODE_ORDER:
                cx = self.session.scu_context(sop_class, syntax)
                if cx is not None:
                    break
        if cx is None:
            raise NoContextError(f"no accepted presentation context for {sop_class}")
        target = cx.transfer_syntax[0]
        with encode_converted_spooled(dataset, current, target) as data:
            return self._store_stream(
                cx, sop_class, sop_instance, data, originator_aet, originator_id, priority, msg_id
            )

    def _store_stream(
        self,
        cx: PresentationContext,
        sop_class: str,
        sop_instance: str,
        data: bytes | memoryview | BinaryIO | _ExactReader,
        originator_aet: str | None,
        originator_id: int | None,
        priority: int,
        msg_id: int | None,
    ) -> C_STORE_RSP | None:
        assert cx.context_id is not None
        message_id = self.session.next_message_id(msg_id)
        request = C_STORE_RQ(
            MessageID=message_id,
            AffectedSOPClassUID=sop_class,
            AffectedSOPInstanceUID=sop_instance,
            Priority=priority,
            MoveOriginatorApplicationEntityTitle=originator_aet,
            MoveOriginatorMessageID=originator_id,
        )
        try:
            if not self.send_request(cx.context_id, request, data):
                return None
        except SourceFailed as exc:
            # The data set could not be read to its end after its command went out (the file
            # changed meanwhile): the message cannot be completed, so the association ends.
            LOGGER.error("cannot complete the C-STORE of %s: %s", sop_instance, exc)
            self.failure_reason = f"the data set could not be sent whole: {exc}"
            self.abort()
            return None
        done = self.wait_response(message_id, C_STORE_RSP)
        return done.message if done is not None else None  # type: ignore[return-value]

    def send_c_store(
        self,
        dataset: StoreSource,
        msg_id: int | None = None,
        priority: int = PRIORITY_MEDIUM,
        originator_aet: str | None = None,
        originator_id: int | None = None,
    ) -> Dataset:
        """C-STORE a pydicom Dataset or a file path; returns a status Dataset.

        A file whose transfer syntax was accepted is streamed from disk undecoded; otherwise it
        is decoded and re-encoded in an accepted uncompressed transfer syntax. Raises
        :class:`NoContextError` (a ValueError) if no accepted context fits.
        """
        from dicomnet.dataset import status_dataset

        return status_dataset(
            self.store_instance(
                dataset,
                originator_aet=originator_aet,
                originator_id=originator_id,
                priority=priority,
                msg_id=msg_id,
            )
        )

    def get_events(self) -> list[evt.EventType]:
        """The events with at least one handler bound on this association (pynetdicom's)."""
        return [event for event, handlers in self._handlers.bound().items() if handlers]

    # --- Query/Retrieve (see dicomnet._qr_scu) ------------------------------------------------

    def send_c_find(
        self,
        dataset: Dataset,
        query_model: str,
        msg_id: int | None = None,
        priority: int = PRIORITY_MEDIUM,
        relational: bool = False,
        validate: bool = False,
    ) -> Responses:
        """C-FIND of the identifier ``dataset`` (pynetdicom's parameter name): an iterator of
        ``(status, identifier)`` pairs as the responses arrive.

        ``query_model``: the FIND SOP class UID, or "P", "S", "O", "W". The identifier is sent
        as built, as pynetdicom does; :func:`dicomnet.qr.validate_identifier`'s objections
        (missing unique keys, a bad level, ...) are logged as a warning, or raised as
        ValueError before anything is sent with ``validate=True`` (``relational`` then allows
        queries without the unique keys of higher levels). The iterator's ``message_id`` and
        ``cancel()`` serve C-CANCEL."""
        from dicomnet._qr_scu import send_c_find

        return send_c_find(
            self,
            dataset,
            query_model,
            msg_id=msg_id,
            priority=priority,
            relational=relational,
            validate=validate,
        )

    def send_c_get(
        self,
        dataset: Dataset,
        query_model: str,
        msg_id: int | None = None,
        priority: int = PRIORITY_MEDIUM,
        validate: bool = False,
    ) -> Responses:
        """C-GET: ``(status, identifier)`` pairs; the C-STORE sub-operations arrive on this
        association and go to its ``EVT_C_STORE`` handler (negotiate the SCP role for their
        SOP classes: ``ext_neg=[build_role(uid, scp_role=True)]``). ``validate`` as for
        :meth:`send_c_find`."""
        from dicomnet._qr_scu import send_c_get

        return send_c_get(
            self, dataset, query_model, msg_id=msg_id, priority=priority, validate=validate
        )

    def send_c_move(
        self,
        dataset: Dataset,
        move_aet: str,
        query_model: str,
        msg_id: int | None = None,
        priority: int = PRIORITY_MEDIUM,
        validate: bool = False,
    ) -> Responses:
        """C-MOVE to the AE titled ``move_aet``: ``(status, identifier)`` pairs. ``validate``
        as for :meth:`send_c_find`."""
        from dicomnet._qr_scu import send_c_move

        return send_c_move(
            self,
            dataset,
            move_aet,
            query_model,
            msg_id=msg_id,
            priority=priority,
            validate=validate,
        )

    def send_c_cancel(
        self, msg_id: int, context_id: int | None = None, query_model: str | None = None
    ) -> None:
        """C-CANCEL the C-FIND/GET/MOVE with Message ID ``msg_id`` (no response comes; the
        operation's iterator ends with a Cancel status). The context is the request's own,
        or ``context_id``, or (pynetdicom's way) the one accepted for ``query_model``."""
        from dicomnet._qr_scu import send_c_cancel

        if context_id is None and query_model is not None:
            cx = self.session.scu_context(str(query_model))
            if cx is None:
                raise ValueError(f"no accepted presentation context for {query_model}")
            context_id = cx.context_id
        send_c_cancel(self, msg_id, context_id)

    # --- DIMSE-N (see dicomnet._n_scu) -------------------------------------------------------

    def send_n_get(
        self,
        identifier_list: Sequence[AttributeRef] | None,
        class_uid: str,
        instance_uid: str,
        msg_id: int | None = None,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """N-GET the attributes (tags or keywords; empty: all) of an instance; returns
        ``(status, attribute_list)``, the list None unless the status is Success/Warning."""
        from dicomnet._n_scu import send_n_get

        return send_n_get(self, identifier_list, class_uid, instance_uid, msg_id, meta_uid)

    def send_n_set(
        self,
        dataset: Dataset | None,
        class_uid: str,
        instance_uid: str,
        msg_id: int | None = None,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """N-SET with ``dataset`` as the modification list; ``(status, attribute_list)``."""
        from dicomnet._n_scu import send_n_set

        return send_n_set(self, dataset, class_uid, instance_uid, msg_id, meta_uid)

    def send_n_action(
        self,
        dataset: Dataset | None,
        action_type: int,
        class_uid: str,
        instance_uid: str,
        msg_id: int | None = None,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """N-ACTION with ``dataset`` (or None) as the action information;
        ``(status, action_reply)``."""
        from dicomnet._n_scu import send_n_action

        return send_n_action(self, dataset, action_type, class_uid, instance_uid, msg_id, meta_uid)

    def send_n_create(
        self,
        dataset: Dataset | None,
        class_uid: str,
        instance_uid: str | None = None,
        msg_id: int | None = None,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """N-CREATE an instance (``instance_uid`` None: the SCP chooses it; the status's
        AffectedSOPInstanceUID gives it); ``(status, attribute_list)``."""
        from dicomnet._n_scu import send_n_create

        return send_n_create(self, dataset, class_uid, instance_uid, msg_id, meta_uid)

    def send_n_delete(
        self,
        class_uid: str,
        instance_uid: str,
        msg_id: int | None = None,
        meta_uid: str | None = None,
    ) -> Dataset:
        """N-DELETE an instance; returns the status Dataset."""
        from dicomnet._n_scu import send_n_delete

        return send_n_delete(self, class_uid, instance_uid, msg_id, meta_uid)

    def send_n_event_report(
        self,
        dataset: Dataset | None,
        event_type: int,
        class_uid: str,
        instance_uid: str,
        msg_id: int | None = None,
        meta_uid: str | None = None,
    ) -> tuple[Dataset, Dataset | None]:
        """N-EVENT-REPORT with ``dataset`` (or None) as the event information;
        ``(status, event_reply)``."""
        from dicomnet._n_scu import send_n_event_report

        return send_n_event_report(
            self, dataset, event_type, class_uid, instance_uid, msg_id, meta_uid
        )


def __getattr__(name: str) -> object:
    if name == "status_dataset":  # its home is dicomnet.dataset (imported on demand)
        from dicomnet.dataset import status_dataset

        return status_dataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Association", "NoContextError", "ServiceUser", "TransportLost"]
