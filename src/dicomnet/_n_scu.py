"""The SCU side of the DIMSE-N services (``Association.send_n_*`` delegate here).

Each call sends one request and waits for its response, serving whatever requests the peer
sends meanwhile (an N-EVENT-REPORT of a Storage Commitment SCP, for instance) through this
association's handlers. It returns what pynetdicom's methods return: ``(status, dataset)``,
``status`` a pydicom Dataset (Status, and ErrorComment, ErrorID, OffendingElement and
AffectedSOPInstanceUID when the response has them; empty if no response arrived) and
``dataset`` the response's data set (Attribute List, Action or Event Reply) decoded, or None
when the response has none, is not Success or Warning, or cannot be decoded (logged).
N-DELETE returns the status alone.

The request goes on an accepted presentation context for ``meta_uid`` if given, else for
``class_uid``, where we are SCU (N-EVENT-REPORT: any accepted one, as the SCP of a SOP class
such as Storage Commitment sends it); :class:`~dicomnet.association.NoContextError` if none.
Data sets are encoded in that context's transfer syntax.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dicomnet.dataset import MemorySink, decode_dataset, encode_dataset, status_dataset
from dicomnet.dimse.messages import (
    DATASET_PRESENT,
    N_ACTION_RQ,
    N_CREATE_RQ,
    N_DELETE_RQ,
    N_EVENT_REPORT_RQ,
    N_GET_RQ,
    N_SET_RQ,
    NRequest,
    NResponse,
    response_type_for,
)
from dicomnet.dimse.status import status_category
from dicomnet.errors import NoContextError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from dicomnet.presentation import PresentationContext
    from dicomnet.transport.driver import AssociationCore as Association

LOGGER = logging.getLogger("dicomnet.assoc")


def _context(
    assoc: Association, class_uid: str, meta_uid: str | None, any_role: bool
) -> PresentationContext:
    assoc.require_established()
    uid = str(meta_uid or class_uid)
    cx = assoc.session.scu_context(uid)
    if cx is None and any_role:
        cx = next((c for c in assoc.contexts if c.accepted and c.abstract_syntax == uid), None)
    if cx is None or cx.context_id is None:
        raise NoContextError(
            f"no accepted presentation context for {uid}; request it with add_requested_context"
        )
    return cx


def _set_message_id(assoc: Association, msg_id: int | None) -> int:
    return assoc.session.next_message_id(msg_id)


def _exchange(
    assoc: Association, cx: PresentationContext, request: NRequest, dataset: Any
) -> tuple[Dataset, Dataset | None]:
    """Send ``request`` (with ``dataset`` if not None); (status Dataset, reply data set)."""
    from pydicom.dataset import Dataset

    assert cx.context_id is not None
    syntax = cx.transfer_syntax[0]
    data = None
    if dataset is not None:
        data = encode_dataset(dataset, syntax)
        request.CommandDataSetType = DATASET_PRESENT
    if not assoc.send_request(cx.context_id, request, data):
        return Dataset(), None
    response_type = response_type_for(request)
    done = assoc.wait_response(request.MessageID, response_type)
    if done is None:
        reason = assoc.failure_reason or "association ended"
        LOGGER.error("no %s: %s", response_type.__name__, reason)
        return Dataset(), None
    response, sink = done.message, done.dataset
    assert isinstance(response, NResponse)
    reply = None
    if (
        response.has_dataset
        and isinstance(sink, MemorySink)
        and status_category(response.Status) in ("Success", "Warning")
    ):
        try:
            reply = decode_dataset(bytes(sink.buffer), syntax)
            for _element in reply:  # parse now: a defect shows here, not in the caller
                pass
        except Exception as exc:
            LOGGER.error("cannot decode the data set of the %s: %s", type(response).__name__, exc)
            reply = None
    return status_dataset(response), reply


def _tags(identifier_list: Iterable[Any] | None) -> tuple[int, ...] | None:
    if not identifier_list:
        return None
    from pydicom.tag import Tag

    return tuple(int(Tag(t)) for t in identifier_list)


def send_n_get(
    assoc: Association,
    identifier_list: Iterable[Any] | None,
    class_uid: str,
    instance_uid: str,
    msg_id: int | None = None,
    meta_uid: str | None = None,
) -> tuple[Dataset, Dataset | None]:
    cx = _context(assoc, class_uid, meta_uid, False)
    request = N_GET_RQ(
        MessageID=_set_message_id(assoc, msg_id),
        RequestedSOPClassUID=str(class_uid),
        RequestedSOPInstanceUID=str(instance_uid),
        AttributeIdentifierList=_tags(identifier_list),
    )
    return _exchange(assoc, cx, request, None)


def send_n_set(
    assoc: Association,
    dataset: Any,
    class_uid: str,
    instance_uid: str,
    msg_id: int | None = None,
    meta_uid: str | None = None,
) -> tuple[Dataset, Dataset | None]:
    if dataset is None:
        raise ValueError("N-SET needs a modification list data set")
    cx = _context(assoc, class_uid, meta_uid, False)
    request = N_SET_RQ(
        MessageID=_set_message_id(assoc, msg_id),
        RequestedSOPClassUID=str(class_uid),
        RequestedSOPInstanceUID=str(instance_uid),
    )
    return _exchange(assoc, cx, request, dataset)


def send_n_action(
    assoc: Association,
    dataset: Any,
    action_type: int,
    class_uid: str,
    instance_uid: str,
    msg_id: int | None = None,
    meta_uid: str | None = None,
) -> tuple[Dataset, Dataset | None]:
    cx = _context(assoc, class_uid, meta_uid, False)
    request = N_ACTION_RQ(
        MessageID=_set_message_id(assoc, msg_id),
        RequestedSOPClassUID=str(class_uid),
        RequestedSOPInstanceUID=str(instance_uid),
        ActionTypeID=action_type,
    )
    return _exchange(assoc, cx, request, dataset)


def send_n_create(
    assoc: Association,
    dataset: Any,
    class_uid: str,
    instance_uid: str | None = None,
    msg_id: int | None = None,
    meta_uid: str | None = None,
) -> tuple[Dataset, Dataset | None]:
    cx = _context(assoc, class_uid, meta_uid, False)
    request = N_CREATE_RQ(
        MessageID=_set_message_id(assoc, msg_id),
        AffectedSOPClassUID=str(class_uid),
        AffectedSOPInstanceUID=str(instance_uid) if instance_uid else None,
    )
    return _exchange(assoc, cx, request, dataset)


def send_n_delete(
    assoc: Association,
    class_uid: str,
    instance_uid: str,
    msg_id: int | None = None,
    meta_uid: str | None = None,
) -> Dataset:
    cx = _context(assoc, class_uid, meta_uid, False)
    request = N_DELETE_RQ(
        MessageID=_set_message_id(assoc, msg_id),
        RequestedSOPClassUID=str(class_uid),
        RequestedSOPInstanceUID=str(instance_uid),
    )
    return _exchange(assoc, cx, request, None)[0]


def send_n_event_report(
    assoc: Association,
    dataset: Any,
    event_type: int,
    class_uid: str,
    instance_uid: str,
    msg_id: int | None = None,
    meta_uid: str | None = None,
) -> tuple[Dataset, Dataset | None]:
    cx = _context(assoc, class_uid, meta_uid, True)
    request = N_EVENT_REPORT_RQ(
        MessageID=_set_message_id(assoc, msg_id),
        AffectedSOPClassUID=str(class_uid),
        AffectedSOPInstanceUID=str(instance_uid),
        EventTypeID=event_type,
    )
    return _exchange(assoc, cx, request, dataset)
