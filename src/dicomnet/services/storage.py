"""Storage SCP: answer C-STORE through the ``EVT_C_STORE`` handler.

The data set has been streamed into a :class:`~dicomnet.dataset.ReceivedDataset` (memory, then
a temporary file) while it arrived; the handler reads it through ``event.dataset``,
``event.dataset_path`` or ``event.encoded_dataset()``. The temporary file is removed after the
response whatever the handler did (see :func:`dicomnet.services.dispatch`).

The handler only sees a data set that can be kept as sent; otherwise the answer is a failure
with an ErrorComment, the handler is not called and nothing is kept:

* 0xA700 — the data set could not be spooled (disk full, file size limit, read-only);
* 0xC220 — it is not structurally valid in the negotiated transfer syntax (the comment names
  the first bad byte offset; see :mod:`dicomnet.validate`);
* 0xC221 — it has no SOP Class UID or SOP Instance UID of its own;
* 0xA900 — its SOP Class or Instance UID differs from the command's Affected SOP Class or
  Instance UID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_STORE_RQ, C_STORE_RSP
from dicomnet.services._common import LOGGER, scp_context, send_response

if TYPE_CHECKING:
    from dicomnet.services.base import ServicePort

CANNOT_UNDERSTAND = evt.RAISED_STATUS[evt.EVT_C_STORE]  # 0xC211
SOP_CLASS_NOT_SUPPORTED = 0x0122
OUT_OF_RESOURCES = 0xA700
MALFORMED_DATASET = 0xC220
NO_SOP_UIDS = 0xC221
DATASET_DOES_NOT_MATCH = 0xA900


def refusal(request: C_STORE_RQ, received: Any) -> tuple[int, str] | None:
    """Why a received data set cannot be kept as sent: (status, ErrorComment), or None."""
    if received is None:  # Command Data Set Type said "no data set"
        return MALFORMED_DATASET, "the C-STORE request carries no data set"
    problem = received.problem()
    if isinstance(problem, OSError):
        return OUT_OF_RESOURCES, f"cannot spool: {problem.strerror or problem}"
    if problem is not None:
        return MALFORMED_DATASET, f"malformed at offset {problem.offset}: {problem.reason}"
    sop_class = received.dataset_sop_class_uid
    sop_instance = received.dataset_sop_instance_uid
    if not sop_class or not sop_instance:
        return NO_SOP_UIDS, "no SOP Class/Instance UID in the data set"
    if sop_class != request.AffectedSOPClassUID:
        return DATASET_DOES_NOT_MATCH, f"data set SOP Class UID is {_printable(sop_class)}"
    if sop_instance != request.AffectedSOPInstanceUID:
        return DATASET_DOES_NOT_MATCH, f"data set SOP Instance UID is {_printable(sop_instance)}"
    return None


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() and c != "\\" else "?" for c in text)


def serve(assoc: ServicePort, done: MessageComplete[Any]) -> None:
    request = done.message
    assert isinstance(request, C_STORE_RQ)
    context = scp_context(assoc, done.context_id, request.AffectedSOPClassUID)
    refused: tuple[int, str] | None = None
    if context is not None:
        limit = getattr(done.dataset, "refusal", None)  # over a size or inflate limit
        refused = (OUT_OF_RESOURCES, limit) if limit is not None else refusal(request, done.dataset)
    if context is None:
        status = SOP_CLASS_NOT_SUPPORTED
        extra: dict[str, Any] = {"ErrorComment": "SOP class not supported on this context"}
    elif refused is not None:
        status, refusal_comment = refused
        LOGGER.warning(
            "refusing C-STORE of %s from %s: 0x%04X %s",
            request.AffectedSOPInstanceUID,
            assoc.peer.address,
            status,
            refusal_comment,
        )
        extra = {"ErrorComment": refusal_comment}
    else:
        bound, status, extra = evt.call_for_status(
            assoc.handlers,
            assoc,
            evt.EVT_C_STORE,
            SOP_CLASS_NOT_SUPPORTED,
            request=request,
            context=context,
            _received=done.dataset,
        )
        if not bound:
            extra = {"ErrorComment": "no storage handler is bound"}
    response = C_STORE_RSP(
        MessageIDBeingRespondedTo=request.MessageID,
        AffectedSOPClassUID=request.AffectedSOPClassUID,
        AffectedSOPInstanceUID=request.AffectedSOPInstanceUID,
        Status=status,
        **extra,
    )
    send_response(assoc, done.context_id, response)
