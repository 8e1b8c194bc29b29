"""Retrieve SCP: answer C-GET and C-MOVE through the ``EVT_C_GET`` / ``EVT_C_MOVE`` handlers.

Handlers follow pynetdicom's convention. ``EVT_C_GET``: yield the number of sub-operations,
then ``(status, dataset)`` pairs. ``EVT_C_MOVE``: yield the destination first — ``(address,
port)``, ``(address, port, {associate() keyword arguments})`` or ``(None, None)`` when the Move
Destination AE title is unknown (-> 0xA801) — then the count, then the pairs. A dataset is a
pydicom Dataset or the path of a Part-10 file (streamed from disk undecoded when the accepted
transfer syntax matches: the fast path for large retrieves).

A pair with a Pending status (0xFF00) is one C-STORE sub-operation: on the same association for
C-GET (the requestor must have taken the SCP role for the SOP class through role selection),
on an association we open to the destination for C-MOVE (called AE title: the Move Destination;
C-STOREs carry the Move Originator AE title and Message ID). Any other status ends the
operation with that status. After each sub-operation a Pending response reports the counts
(PS3.7 C2). The final status: 0x0000 when every sub-operation succeeded; 0xB000 when some failed
(C-GET: or gave a warning); 0xA702 when all failed; 0xFE00 after a C-CANCEL. When any
sub-operation failed, the final response carries the Failed SOP Instance UID List (C3).

C-MOVE destination association: opened at the first sub-operation, proposing for each SOP class
met so far one context in Explicit and one in Implicit VR Little Endian (and one in the data's
own transfer syntax if it is another), so that files go out undecoded. A later data set of a
class (or compressed syntax) not yet proposed releases it and opens a new one proposing the
larger set: a study rarely holds more than a few classes. Give
``contexts`` in the destination's keyword arguments to fix the proposal instead. If the first
association cannot be made the result is 0xA801 (as pynetdicom users know); if a later one
fails, the remaining sub-operations fail.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet._record import field, record
from dicomnet._uid import UNCOMPRESSED_SYNTAXES
from dicomnet.dataset import encode_dataset
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import (
    C_GET_RQ,
    C_GET_RSP,
    C_MOVE_RQ,
    C_MOVE_RSP,
    C_STORE_RSP,
    DATASET_PRESENT,
)
from dicomnet.dimse.status import (
    CANCEL,
    MOVE_DESTINATION_UNKNOWN,
    SUB_OPERATIONS_WARNING,
    SUCCESS,
    status_category,
)
from dicomnet.errors import NoContextError, TransportLost
from dicomnet.events import HandlerFailed, HandlerRun, InvalidYield, yielded_pair
from dicomnet.services._common import LOGGER, send_response
from dicomnet.services.query import (
    SOP_CLASS_NOT_SUPPORTED,
    ReceivedIdentifier,
    decode_identifier,
    gone,
    scp_context,
)
from dicomnet.ul.errors import describe_rejection

if TYPE_CHECKING:
    from dicomnet.presentation import PresentationContext
    from dicomnet.services.base import ServicePort, StoreTarget

UNABLE_TO_PERFORM_SUBOPERATIONS = 0xA702

#: C-GET statuses for handler trouble (C-MOVE: the same with 0xC5xx).
GET_CANNOT_DECODE = 0xC410
GET_HANDLER_FAILED = evt.RAISED_STATUS[evt.EVT_C_GET]  # 0xC411
GET_INVALID_YIELD = evt.INVALID_STATUS[evt.EVT_C_GET]  # 0xC412
GET_INVALID_COUNT = 0xC413
MOVE_CANNOT_DECODE = 0xC510
MOVE_HANDLER_FAILED = evt.RAISED_STATUS[evt.EVT_C_MOVE]  # 0xC511
MOVE_INVALID_YIELD = evt.INVALID_STATUS[evt.EVT_C_MOVE]  # 0xC512
MOVE_INVALID_COUNT = 0xC513
MOVE_INVALID_DESTINATION = 0xC514


class _DestinationUnavailable(Exception):
    """No association with the move destination could be made."""


@record
class _Counts:
    remaining: int
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_uids: list[str] = field(default_factory=list)

    def fields(self, *, with_remaining: bool) -> dict[str, int]:
        counts = {
            "NumberOfCompletedSuboperations": self.completed,
            "NumberOfFailedSuboperations": self.failed,
            "NumberOfWarningSuboperations": self.warning,
        }
        if with_remaining:
            counts["NumberOfRemainingSuboperations"] = self.remaining
        return counts

    def fail(self, uid: str) -> None:
        self.failed += 1
        if uid:
            self.failed_uids.append(uid)
        self.remaining = max(0, self.remaining - 1)


@record(frozen=True)
class _Instance:
    """What a sub-operation sends: SOP class and instance, and the data's transfer syntax."""

    sop_class: str
    sop_instance: str
    transfer_syntax: str


def _describe(item: Any) -> _Instance:
    """Identify a yielded data set (Dataset or path); ValueError/OSError if it cannot be."""
    if isinstance(item, str | os.PathLike):
        from dicomnet.part10 import Part10Error, read_file_meta

        with open(item, "rb") as handle:
            try:
                meta = read_file_meta(handle)
                return _Instance(
                    meta.sop_class_uid, meta.sop_instance_uid, meta.transfer_syntax_uid
                )
            except Part10Error:
                pass
        from pydicom import dcmread

        ds = dcmread(item, stop_before_pixels=True, force=True)
        syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or "")
        return _Instance(str(ds.SOPClassUID), str(ds.SOPInstanceUID), syntax)
    try:
        sop_class, sop_instance = str(item.SOPClassUID), str(item.SOPInstanceUID)
    except AttributeError:
        raise ValueError("the data set has no SOP Class UID or SOP Instance UID") from None
    item_meta = getattr(item, "file_meta", None)
    syntax = str(getattr(item_meta, "TransferSyntaxUID", "") or "")
    return _Instance(sop_class, sop_instance, syntax)


# --- where sub-operations go -----------------------------------------------------------------


class _GetSender:
    """C-GET: C-STORE on the requesting association itself (roles reversed)."""

    def __init__(self, assoc: ServicePort) -> None:
        self.assoc = assoc

    def store(self, item: Any, info: _Instance, priority: int) -> C_STORE_RSP | None:
        return self.assoc.store_instance(item, priority=priority)

    def close(self) -> None:
        pass


class _MoveSender:
    """C-MOVE: C-STORE on an association of our own to the move destination."""

    def __init__(
        self,
        assoc: ServicePort,
        address: str,
        port: int,
        options: dict[str, Any],
        request: C_MOVE_RQ,
    ) -> None:
        self.assoc = assoc
        self.address = address
        self.port = port
        self.options = dict(options)
        self.options.setdefault("ae_title", request.MoveDestination)
        self.fixed_contexts = self.options.pop("contexts", None)
        self.request = request
        self.dest: StoreTarget | None = None
        self.proposed: list[tuple[str, tuple[str, ...]]] = []
        self.opened_once = False
        self.broken = ""

    def _needed(self, info: _Instance) -> list[tuple[str, tuple[str, ...]]]:
        """The contexts to propose for ``info``: Explicit and Implicit VR Little Endian, each
        on its own context so that files in either go out undecoded, and the data's own
        transfer syntax when it is another (compressed, say)."""
        specs: list[tuple[str, tuple[str, ...]]] = [
            (info.sop_class, (syntax,)) for syntax in UNCOMPRESSED_SYNTAXES[:2]
        ]
        if info.transfer_syntax and info.transfer_syntax not in UNCOMPRESSED_SYNTAXES[:2]:
            specs.append((info.sop_class, (info.transfer_syntax,)))
        return specs

    def _open(self) -> None:
        from dicomnet.presentation import PresentationContext

        if self.fixed_contexts is not None:
            contexts = list(self.fixed_contexts)
        else:
            contexts = [PresentationContext(uid, list(syntaxes)) for uid, syntaxes in self.proposed]
        if self.dest is not None:
            self.dest.release()
            self.dest = None
        assoc = self.assoc
        try:
            dest = assoc.open_association(self.address, self.port, contexts, self.options)
        except (ValueError, TypeError, RuntimeError) as exc:  # bad options from the handler
            raise _DestinationUnavailable(str(exc)) from exc
        if not dest.is_established:
            reason = dest.failure_reason or "association rejected"
            if dest.rejection is not None:
                reason = f"association rejected ({describe_rejection(dest.rejection)})"
            raise _DestinationUnavailable(reason)
        self.dest = dest
        self.opened_once = True

    def store(self, item: Any, info: _Instance, priority: int) -> C_STORE_RSP | None:
        if self.broken:
            raise _DestinationUnavailable(self.broken)
        needed = [s for s in self._needed(info) if s not in self.proposed]
        if self.dest is None or (needed and self.fixed_contexts is None):
            if len(self.proposed) + len(needed) > 128:
                raise ValueError("more than 128 presentation contexts would be needed")
            self.proposed.extend(needed)
            try:
                self._open()
            except _DestinationUnavailable as exc:
                self.broken = str(exc)
                raise
        assert self.dest is not None
        if not self.dest.is_established:
            self.broken = self.dest.failure_reason or "the destination association ended"
            raise _DestinationUnavailable(self.broken)
        try:
            return self.dest.store_instance(
                item,
                originator_aet=self.assoc.requestor.ae_title,
                originator_id=self.request.MessageID,
                priority=priority,
            )
        except TransportLost as exc:
            self.broken = f"lost the destination association: {exc}"
            raise _DestinationUnavailable(self.broken) from exc

    def close(self) -> None:
        if self.dest is not None:
            self.dest.release()
            if self.dest.is_established:
                self.dest.abort()
            self.dest = None


# --- the service -----------------------------------------------------------------------------


def serve(assoc: ServicePort, done: MessageComplete[Any]) -> None:
    """Serve one C-GET-RQ or C-MOVE-RQ to its final response."""
    request = done.message
    if isinstance(request, C_GET_RQ):
        _Retrieve(assoc, done, request, move=False).run()
    elif isinstance(request, C_MOVE_RQ):
        _Retrieve(assoc, done, request, move=True).run()
    else:  # pragma: no cover - dispatch only sends these here
        LOGGER.warning("ignoring an unexpected %s", type(request).__name__)


class _Retrieve:
    def __init__(
        self,
        assoc: ServicePort,
        done: MessageComplete[Any],
        request: C_GET_RQ | C_MOVE_RQ,
        *,
        move: bool,
    ) -> None:
        self.assoc = assoc
        self.done = done
        self.request = request
        self.move = move
        self.service = "C-MOVE" if move else "C-GET"
        self.event_type = evt.EVT_C_MOVE if move else evt.EVT_C_GET
        base = 0xC500 if move else 0xC400
        self.cannot_decode = base + 0x10
        self.handler_failed = evt.RAISED_STATUS[self.event_type]
        self.invalid_yield = evt.INVALID_STATUS[self.event_type]
        self.invalid_count = base + 0x13
        self.message_id = request.MessageID
        self.counts: _Counts | None = None
        self.context: PresentationContext | None = None

    # --- responses ---------------------------------------------------------------------------

    def reply(self, status: int, extra: dict[str, Any] | None = None) -> bool:
        """Send a response; counts and the Failed SOP Instance UID List added per C2/C3."""
        if gone(self.assoc):
            return False
        fields = dict(extra or {})
        category = status_category(status)
        counts = self.counts
        data: bytes | None = None
        if counts is not None:
            fields.update(counts.fields(with_remaining=category in ("Pending", "Cancel")))
            if category != "Pending" and counts.failed and counts.failed_uids:
                data = self._failed_list(counts.failed_uids)
        response_type = C_MOVE_RSP if self.move else C_GET_RSP
        response = response_type(
            MessageIDBeingRespondedTo=self.message_id,
            AffectedSOPClassUID=self.request.AffectedSOPClassUID,
            Status=status,
            **fields,
        )
        if data is not None:
            response.CommandDataSetType = DATASET_PRESENT
        send_response(self.assoc, self.done.context_id, response, data)
        return True

    def _failed_list(self, uids: list[str]) -> bytes | None:
        from pydicom.dataset import Dataset

        assert self.context is not None
        identifier = Dataset()
        identifier.FailedSOPInstanceUIDList = uids if len(uids) > 1 else uids[0]
        try:
            return encode_dataset(identifier, self.context.transfer_syntax[0])
        except Exception as exc:  # a hostile UID cannot stop the response
            LOGGER.error("cannot encode the Failed SOP Instance UID List: %s", exc)
            return None

    def final(self) -> int:
        """The final status once every sub-operation has been attempted."""
        counts = self.counts
        assert counts is not None
        if counts.failed == 0 and (self.move or counts.warning == 0):
            return SUCCESS
        if counts.failed and counts.completed == 0 and counts.warning == 0:
            return UNABLE_TO_PERFORM_SUBOPERATIONS
        return SUB_OPERATIONS_WARNING

    # --- running -----------------------------------------------------------------------------

    def run(self) -> None:
        assoc, request = self.assoc, self.request
        context = scp_context(assoc, self.done, request.AffectedSOPClassUID)
        if context is None:
            self.reply(
                SOP_CLASS_NOT_SUPPORTED, {"ErrorComment": "SOP class not supported on this context"}
            )
            return
        self.context = context
        identifier = decode_identifier(self.done, context)
        if identifier is None:
            self.reply(self.cannot_decode, {"ErrorComment": "cannot decode the identifier"})
            return
        bound = evt.intervention_handler(assoc.handlers, self.event_type)
        if bound is None:
            comment = f"no {self.service} handler is bound"
            self.reply(SOP_CLASS_NOT_SUPPORTED, {"ErrorComment": comment})
            return
        handler, args = bound
        message_id = self.message_id
        assoc.session.watch_cancel(message_id)
        event = evt.Event(
            assoc,
            self.event_type,
            request=request,
            context=context,
            _received=ReceivedIdentifier(identifier),
            _is_cancelled=lambda: assoc.is_cancelled(message_id),
        )
        handler_run: HandlerRun | None = None
        sender: _GetSender | _MoveSender | None = None
        try:
            handler_run = HandlerRun(handler, args, event)
            if self.move:
                sender = self._destination(handler_run)
                if sender is None:
                    return
            else:
                sender = _GetSender(assoc)
            if not self._count(handler_run):
                return
            self._sub_operations(handler_run, sender)
        except HandlerFailed as exc:
            self.reply(self.handler_failed, {"ErrorComment": exc.comment})
        except InvalidYield as exc:
            self.reply(self.invalid_yield, {"ErrorComment": str(exc)[:64]})
        except _FirstAssociationFailed as exc:
            LOGGER.error("C-MOVE: cannot reach %r: %s", request.MoveDestination, exc)  # type: ignore[union-attr]
            self.counts = None
            comment = f"cannot associate with the move destination: {exc}"[:64]
            self.reply(MOVE_DESTINATION_UNKNOWN, {"ErrorComment": comment})
        finally:
            if handler_run is not None:
                handler_run.close()
            if sender is not None:
                sender.close()
            assoc.session.unwatch_cancel(message_id)

    def _destination(self, handler_run: HandlerRun) -> _MoveSender | None:
        """C-MOVE: the first yield, the destination. None when the operation ended here."""
        request = self.request
        assert isinstance(request, C_MOVE_RQ)
        more, item = handler_run.next()
        problem = ""
        if not more:
            problem = "handler yielded no destination"
        elif not isinstance(item, tuple | list) or len(item) not in (2, 3):
            problem = "destination is not (address, port)"
        elif item[0] is None or item[1] is None:
            LOGGER.warning("C-MOVE: move destination %r is unknown", request.MoveDestination)
            comment = f"unknown move destination {request.MoveDestination}"[:64]
            self.reply(MOVE_DESTINATION_UNKNOWN, {"ErrorComment": comment})
            return None
        elif not isinstance(item[1], int) or isinstance(item[1], bool):
            problem = "destination port is not an int"
        elif len(item) == 3 and item[2] is not None and not isinstance(item[2], dict):
            problem = "destination options are not a dict"
        if problem:
            LOGGER.error("the EVT_C_MOVE handler: %s (%r)", problem, item)
            self.reply(MOVE_INVALID_DESTINATION, {"ErrorComment": problem})
            return None
        options = dict(item[2] or {}) if len(item) == 3 else {}
        return _MoveSender(self.assoc, str(item[0]), int(item[1]), options, request)

    def _count(self, handler_run: HandlerRun) -> bool:
        more, count = handler_run.next()
        if not more or isinstance(count, bool) or not isinstance(count, int) or count < 0:
            LOGGER.error(
                "the %s handler must yield the number of sub-operations first, got %r",
                self.event_type.name,
                count,
            )
            self.reply(self.invalid_count, {"ErrorComment": "invalid number of sub-operations"})
            return False
        self.counts = _Counts(remaining=count)
        return True

    def _sub_operations(self, handler_run: HandlerRun, sender: _GetSender | _MoveSender) -> None:
        assoc, counts = self.assoc, self.counts
        assert counts is not None
        priority = self.request.Priority
        while True:
            more, item = handler_run.next()
            if not more:
                self.reply(self.final())
                return
            if assoc.is_cancelled(self.message_id):
                self.reply(CANCEL)
                return
            status, extra, dataset = yielded_pair(item, self.event_type)
            if status_category(status) != "Pending":
                self.reply(status, extra)
                return
            if dataset is None:
                LOGGER.error("the %s handler yielded Pending without a data set", self.service)
                raise InvalidYield("Pending status without a data set")
            self._one(sender, dataset, priority)
            if gone(assoc):
                LOGGER.info("%s: the requestor went away; stopping", self.service)
                return
            if counts.remaining > 0 and not self.reply(0xFF00):
                return

    def _one(self, sender: _GetSender | _MoveSender, dataset: Any, priority: int) -> None:
        """One C-STORE sub-operation, counted."""
        from dicomnet.ul.errors import LocalProtocolError

        counts = self.counts
        assert counts is not None
        try:
            info = _describe(dataset)
        except (OSError, ValueError, AttributeError) as exc:
            LOGGER.error("%s sub-operation: cannot read %r: %s", self.service, dataset, exc)
            # A path that knows its instance (str subclass with ``sop_instance_uid``, as the
            # archive yields) still names it in the Failed SOP Instance UID List.
            counts.fail(str(getattr(dataset, "sop_instance_uid", "") or ""))
            return
        try:
            rsp = sender.store(dataset, info, priority)
        except _DestinationUnavailable as exc:
            if isinstance(sender, _MoveSender) and not sender.opened_once:
                raise _FirstAssociationFailed(str(exc)) from exc
            LOGGER.error("C-MOVE sub-operation for %s failed: %s", info.sop_instance, exc)
            counts.fail(info.sop_instance)
            return
        except (OSError, ValueError) as exc:  # NoContextError, unreadable file, bad data set
            LOGGER.error("%s sub-operation for %s failed: %s", self.service, info.sop_instance, exc)
            if isinstance(sender, _GetSender) and isinstance(exc, NoContextError):
                LOGGER.error(
                    "C-GET: the requestor must propose the SCP role for %s (and this AE allow "
                    "it: add_supported_context(uid, scu_role=True, scp_role=True))",
                    info.sop_class,
                )
            counts.fail(info.sop_instance)
            return
        except (TransportLost, LocalProtocolError) as exc:
            LOGGER.error("%s sub-operation for %s failed: %s", self.service, info.sop_instance, exc)
            counts.fail(info.sop_instance)
            if isinstance(exc, TransportLost) and not isinstance(sender, _MoveSender):
                self.assoc.connection_lost()  # our own association: it is gone
            return
        if rsp is None:
            LOGGER.error(
                "%s sub-operation for %s: no C-STORE response", self.service, info.sop_instance
            )
            counts.fail(info.sop_instance)
            return
        category = status_category(rsp.Status)
        counts.remaining = max(0, counts.remaining - 1)
        if category == "Success":
            counts.completed += 1
        elif category == "Warning":
            counts.warning += 1
        else:
            LOGGER.warning(
                "%s sub-operation for %s: C-STORE status 0x%04X",
                self.service,
                info.sop_instance,
                rsp.Status,
            )
            counts.failed += 1
            counts.failed_uids.append(info.sop_instance)


class _FirstAssociationFailed(Exception):
    """The move destination could not be reached at all."""
