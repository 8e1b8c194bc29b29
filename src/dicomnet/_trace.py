"""What ``debug_logger()`` makes associations report: the association's steps and every DIMSE
message at INFO, the PDUs at DEBUG, on the ``dicomnet`` logger (``I: Association Accepted``).

These are ordinary notification handlers; :class:`dicomnet.AE` adds them to the associations
and servers it makes once :func:`dicomnet.debug_logger` has been called. (The command line
tools bind their own, with ``-v``/``-d``.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dicomnet import events as evt

LOG = logging.getLogger("dicomnet.trace")


def _message_text(message: Any) -> str:
    name = type(message).__name__.replace("_", "-")
    details = [
        f"{field} {value}"
        for field in ("MessageID", "MessageIDBeingRespondedTo", "AffectedSOPInstanceUID")
        if (value := getattr(message, field, None)) is not None
    ]
    status = getattr(message, "Status", None)
    if status is not None:
        details.append(f"Status 0x{status:04X}")
    return f"{name}: {', '.join(details)}" if details else name


def _requested(event: evt.Event) -> None:
    assoc = event.assoc
    if assoc.is_requestor:
        LOG.info(
            "Requesting Association with %s at %s:%s",
            assoc.acceptor.ae_title,
            assoc.acceptor.address,
            assoc.acceptor.port,
        )
    else:
        LOG.info("Association Received from %s", assoc.requestor.ae_title)


def _accepted(event: evt.Event) -> None:
    accepted = len(event.assoc.accepted_contexts)
    LOG.info("Association Accepted (%d presentation context(s) accepted)", accepted)


def _rejected(event: evt.Event) -> None:
    LOG.info("Association Rejected: %s", event.assoc.failure_reason or "by the peer")


def _released(event: evt.Event) -> None:
    LOG.info("Association Released")


def _aborted(event: evt.Event) -> None:
    LOG.info("Association Aborted: %s", event.assoc.failure_reason or "A-ABORT")


def _dimse(direction: str) -> Callable[[evt.Event], None]:
    def log(event: evt.Event) -> None:
        LOG.info("%s %s", direction, _message_text(event.message))

    return log


def _pdu(direction: str) -> Callable[[evt.Event], None]:
    def log(event: evt.Event) -> None:
        pdu = event.pdu
        pdvs = getattr(pdu, "pdvs", None)
        if pdvs is None:
            LOG.debug("%s %s", direction, type(pdu).__name__)
            return
        parts = [
            f"context {p.context_id} {'command' if p.is_command else 'data'}"
            f"{' (last)' if p.is_last else ''}, {len(p.data)} bytes"
            for p in pdvs
        ]
        LOG.debug("%s P-DATA-TF: %s", direction, "; ".join(parts))

    return log


def trace_handlers() -> list[tuple[evt.EventType, Callable[[evt.Event], None]]]:
    return [
        (evt.EVT_REQUESTED, _requested),
        (evt.EVT_ACCEPTED, _accepted),
        (evt.EVT_REJECTED, _rejected),
        (evt.EVT_RELEASED, _released),
        (evt.EVT_ABORTED, _aborted),
        (evt.EVT_DIMSE_SENT, _dimse("Sending")),
        (evt.EVT_DIMSE_RECV, _dimse("Received")),
        (evt.EVT_PDU_SENT, _pdu("Sent")),
        (evt.EVT_PDU_RECV, _pdu("Received")),
    ]
