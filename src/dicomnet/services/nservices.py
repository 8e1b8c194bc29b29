"""DIMSE-N SCP: answer N-EVENT-REPORT, N-GET, N-SET, N-ACTION, N-CREATE and N-DELETE requests
through the ``EVT_N_*`` handlers.

Handler conventions follow pynetdicom's. The event carries ``request`` and ``context``, plus:
``event_information``/``event_type`` (N-EVENT-REPORT), ``attribute_identifiers`` (N-GET),
``modification_list`` (N-SET), ``action_information``/``action_type`` (N-ACTION),
``attribute_list`` (N-CREATE); data sets are decoded on first access (a request without one
gives an empty Dataset), so a data set that cannot be decoded raises inside the handler. Every
handler but N-DELETE's returns ``(status, dataset_or_None)``; N-DELETE's returns the status.
A status is an int or a Dataset with Status (and ErrorComment, ErrorID, OffendingElement).

The returned data set (the Attribute List, Event/Action Reply) is encoded in the context's
transfer syntax and sent with a Success or Warning response; it is not sent with a failure.
Responses carry the request's SOP Class and Instance UIDs as *Affected* UIDs, and the Event or
Action Type ID of the request. N-CREATE: the instance UID is the returned data set's
SOPInstanceUID, else the request's Affected SOP Instance UID, else a newly generated one
(a failure response without either carries none).

Failures (see the table in :mod:`dicomnet.services`): a handler that raises, returns something
that is not the documented shape, or returns a data set that cannot be encoded gives 0x0110
(Processing failure, with an ErrorComment); so does a request with no handler bound (as
pynetdicom). The request's presentation context must be accepted; its abstract syntax is not
compared with the request's SOP class (N-services of Meta SOP classes name the member class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.dataset import MemorySink, decode_dataset, encode_dataset
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import (
    DATASET_PRESENT,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_CREATE_RQ,
    N_CREATE_RSP,
    N_DELETE_RQ,
    N_DELETE_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    N_GET_RQ,
    N_GET_RSP,
    N_SET_RQ,
    N_SET_RSP,
    NRequest,
    NResponse,
)
from dicomnet.dimse.status import status_category
from dicomnet.services._common import LOGGER, send_response

if TYPE_CHECKING:
    from dicomnet.services.base import ServicePort

PROCESSING_FAILURE = evt.RAISED_STATUS[evt.EVT_N_SET]  # 0x0110, every DIMSE-N event
SOP_CLASS_NOT_SUPPORTED = 0x0122

_EVENTS: dict[type[NRequest], tuple[evt.EventType, type[NResponse]]] = {
    N_EVENT_REPORT_RQ: (evt.EVT_N_EVENT_REPORT, N_EVENT_REPORT_RSP),
    N_GET_RQ: (evt.EVT_N_GET, N_GET_RSP),
    N_SET_RQ: (evt.EVT_N_SET, N_SET_RSP),
    N_ACTION_RQ: (evt.EVT_N_ACTION, N_ACTION_RSP),
    N_CREATE_RQ: (evt.EVT_N_CREATE, N_CREATE_RSP),
    N_DELETE_RQ: (evt.EVT_N_DELETE, N_DELETE_RSP),
}


class ReceivedNDataset:
    """A request's data set (bytes in a transfer syntax), decoded on first access; what
    ``event.modification_list`` and friends return."""

    def __init__(self, data: bytes | None, transfer_syntax: str) -> None:
        self._data = data
        self._syntax = transfer_syntax
        self._dataset: Any = None

    @property
    def dataset(self) -> Any:
        if self._dataset is None:
            if self._data:
                self._dataset = decode_dataset(self._data, self._syntax)
            else:
                from pydicom.dataset import Dataset

                self._dataset = Dataset()
        return self._dataset


class _Failed(Exception):
    """Answer with 0x0110 and this comment (the cause is already logged)."""


def request_uids(request: NRequest) -> tuple[str, str | None]:
    """The SOP Class and Instance UIDs a request names (Requested or Affected ones)."""
    if isinstance(request, N_EVENT_REPORT_RQ | N_CREATE_RQ):
        return request.AffectedSOPClassUID, request.AffectedSOPInstanceUID
    return request.RequestedSOPClassUID, request.RequestedSOPInstanceUID


def _call(assoc: ServicePort, event_type: evt.EventType, **attrs: Any) -> Any:
    try:
        bound, value = evt.call_intervention(assoc.handlers, assoc, event_type, **attrs)
    except evt.HandlerFailed as exc:
        raise _Failed(exc.comment) from exc
    if not bound:
        LOGGER.warning("no %s handler is bound: answering 0x0110", event_type.name)
        raise _Failed(f"no {event_type.name} handler is bound")
    return value


def _split(value: Any, event_type: evt.EventType) -> tuple[int, dict[str, Any], Any]:
    """(status, status fields, data set) from a handler's return value."""
    if event_type is not evt.EVT_N_DELETE and (
        not isinstance(value, tuple | list) or len(value) != 2
    ):
        LOGGER.error("the %s handler returned %r, not (status, dataset)", event_type.name, value)
        raise _Failed("handler did not return (status, dataset)")
    try:
        if event_type is evt.EVT_N_DELETE:
            return (*evt.read_status(value), None)
        return evt.read_status_pair(value)
    except ValueError as exc:
        LOGGER.error("the %s handler returned an invalid status: %s", event_type.name, exc)
        raise _Failed("handler returned an invalid status") from None


def serve(assoc: ServicePort, done: MessageComplete[Any]) -> None:
    """Serve one DIMSE-N request: call its handler, send the response."""
    request = done.message
    assert isinstance(
        request, N_EVENT_REPORT_RQ | N_GET_RQ | N_SET_RQ | N_ACTION_RQ | N_CREATE_RQ | N_DELETE_RQ
    )
    event_type, response_type = _EVENTS[type(request)]
    class_uid, instance_uid = request_uids(request)
    context = assoc.session.context_by_id(done.context_id)
    data: bytes | None = None
    status, extra, reply = SOP_CLASS_NOT_SUPPORTED, dict[str, Any](), None
    if context is None or not context.accepted:
        extra = {"ErrorComment": "no accepted presentation context"}
    else:
        syntax = context.transfer_syntax[0]
        sink = done.dataset
        received = bytes(sink.buffer) if isinstance(sink, MemorySink) else None
        try:
            value = _call(
                assoc,
                event_type,
                request=request,
                context=context,
                _received=ReceivedNDataset(received, syntax),
            )
            status, extra, reply = _split(value, event_type)
            if reply is not None and status_category(status) in ("Success", "Warning"):
                try:
                    data = encode_dataset(reply, syntax)
                except Exception as exc:
                    LOGGER.error(
                        "cannot encode the %s handler's data set: %s", event_type.name, exc
                    )
                    raise _Failed("cannot encode the returned data set") from None
        except _Failed as exc:
            status, extra, data = PROCESSING_FAILURE, {"ErrorComment": str(exc)}, None
    if isinstance(request, N_CREATE_RQ):
        instance_uid = _created_uid(reply, instance_uid, status)
    response: Any = response_type(
        MessageIDBeingRespondedTo=request.MessageID,
        AffectedSOPClassUID=class_uid,
        AffectedSOPInstanceUID=instance_uid,
        Status=status,
        **extra,
    )
    if isinstance(request, N_EVENT_REPORT_RQ):
        response.EventTypeID = request.EventTypeID
    elif isinstance(request, N_ACTION_RQ):
        response.ActionTypeID = request.ActionTypeID
    if data is not None:
        response.CommandDataSetType = DATASET_PRESENT
    send_response(assoc, done.context_id, response, data)


def _created_uid(reply: Any, requested: str | None, status: int) -> str | None:
    """The N-CREATE-RSP's Affected SOP Instance UID."""
    uid = getattr(reply, "SOPInstanceUID", None) if reply is not None else None
    if uid:
        return str(uid)
    if requested:
        return requested
    if status_category(status) in ("Success", "Warning"):
        from pydicom.uid import generate_uid

        return str(generate_uid())
    return None
