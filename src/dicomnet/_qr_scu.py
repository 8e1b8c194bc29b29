"""The SCU side of Query/Retrieve: C-FIND, C-GET, C-MOVE and C-CANCEL on an association
(``Association.send_c_find`` and friends delegate here).

Each ``send_c_*`` checks its arguments (query model, accepted context), sends the request with
the identifier as the caller built it (what :func:`dicomnet.qr.validate_identifier` finds wrong
is a warning, or a ValueError with ``validate=True``) and returns a :class:`Responses` iterator
yielding ``(status, identifier)`` pairs as the responses arrive — the shape pynetdicom's
generators have, so ``for status, identifier in assoc.send_c_find(...)`` code runs unchanged.
``status`` is a pydicom Dataset (Status, and the sub-operation counts and error fields when
sent); ``identifier`` is the decoded identifier of a Pending C-FIND response or the Failed SOP
Instance UID List of a C-GET/C-MOVE response, else None. If the association ends or times out
before the final response, the last pair is ``(Dataset(), None)`` (an empty status).

While a C-GET runs, the C-STORE sub-operations the peer sends on the same association are
served as they come by the association's ``EVT_C_STORE`` handler.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dicomnet.dataset import MemorySink, decode_dataset, encode_dataset, status_dataset
from dicomnet.dimse.messages import (
    C_CANCEL_RQ,
    C_FIND_RQ,
    C_FIND_RSP,
    C_GET_RQ,
    C_GET_RSP,
    C_MOVE_RQ,
    C_MOVE_RSP,
    PRIORITY_HIGH,
    PRIORITY_LOW,
    PRIORITY_MEDIUM,
)
from dicomnet.dimse.status import status_category
from dicomnet.errors import NoContextError
from dicomnet.qr import normalise_operation, resolve_query_model, validate_identifier

if TYPE_CHECKING:
    from dicomnet.transport.driver import AssociationCore as Association

LOGGER = logging.getLogger("dicomnet.assoc")

_RESPONSE_TYPES: dict[str, type[C_FIND_RSP | C_GET_RSP | C_MOVE_RSP]] = {
    "find": C_FIND_RSP,
    "get": C_GET_RSP,
    "move": C_MOVE_RSP,
}


class Responses(Iterator[tuple[Any, Any]]):
    """The responses to one C-FIND, C-GET or C-MOVE, read as you iterate.

    ``message_id`` and ``context_id`` identify the request; :meth:`cancel` sends a C-CANCEL
    for it (keep iterating: the peer ends with a Cancel status, normally 0xFE00)."""

    def __init__(
        self,
        assoc: Association,
        operation: str,
        message_id: int,
        context_id: int,
        transfer_syntax: str,
    ) -> None:
        self.assoc = assoc
        self.operation = operation
        self.message_id = message_id
        self.context_id = context_id
        self._syntax = transfer_syntax
        self._type = _RESPONSE_TYPES[operation]
        self._finished = False

    def __iter__(self) -> Responses:
        return self

    def __next__(self) -> tuple[Any, Any]:
        from pydicom.dataset import Dataset

        if self._finished:
            raise StopIteration
        found = self._read()
        if found is None:
            self._finish()
            return Dataset(), None
        message, sink = found
        status = status_dataset(message)
        identifier = None
        if message.has_dataset and isinstance(sink, MemorySink):
            try:
                identifier = decode_dataset(bytes(sink.buffer), self._syntax)
            except Exception as exc:
                LOGGER.error("cannot decode the identifier of a C-%s response: %s", self.op, exc)
        if status_category(message.Status) != "Pending":
            self._finish()
        return status, identifier

    @property
    def op(self) -> str:
        return self.operation.upper()

    def _read(self) -> tuple[Any, Any] | None:
        """The next response to our request (serving requests meanwhile), None if the
        association ended or timed out first."""
        assoc = self.assoc
        done = assoc.wait_response(self.message_id, self._type)
        if done is None:
            reason = assoc.failure_reason or "association ended"
            LOGGER.error("no final C-%s response: %s", self.op, reason)
            return None
        return done.message, done.dataset

    def _finish(self) -> None:
        self._finished = True
        self.assoc.session.request_done(self.message_id)

    @property
    def finished(self) -> bool:
        """True once the final response (or the end of the association) has been seen."""
        return self._finished

    def cancel(self) -> None:
        """Send a C-CANCEL for this request (nothing if it has already finished)."""
        if not self._finished:
            send_c_cancel(self.assoc, self.message_id, self.context_id)

    def close(self) -> None:
        """Stop reading: the remaining responses are discarded when they arrive."""
        self._finish()


def _send(
    assoc: Association,
    operation: str,
    identifier: Any,
    query_model: Any,
    msg_id: int | None,
    priority: int,
    move_aet: str | None = None,
    *,
    relational: bool = False,
    validate: bool = False,
) -> Responses:
    from dicomnet.sop_class import uid_name

    op = normalise_operation(operation)
    assoc.require_established()
    uid, model = resolve_query_model(query_model, op)
    _check_identifier(identifier, model if model is not None else uid, op, relational, validate)
    if priority not in (PRIORITY_LOW, PRIORITY_MEDIUM, PRIORITY_HIGH):
        raise ValueError(f"priority must be 0 (medium), 1 (high) or 2 (low), not {priority!r}")
    if msg_id is not None and not (isinstance(msg_id, int) and 1 <= msg_id <= 0xFFFF):
        raise ValueError(f"msg_id must be an int in 1..65535, not {msg_id!r}")
    cx = assoc.session.scu_context(uid)
    if cx is None or cx.context_id is None:
        raise NoContextError(
            f"no accepted presentation context for {uid_name(uid)} ({uid}); request it with "
            "add_requested_context"
        )
    if op == "get" and not any(c.accepted and c.as_scp for c in assoc.contexts):
        _warn_no_scp_role(assoc)
    syntax = cx.transfer_syntax[0]
    try:
        data = encode_dataset(identifier, syntax)
    except Exception as exc:
        raise ValueError(f"cannot encode the C-{op.upper()} identifier: {exc}") from exc
    message_id = assoc.session.next_message_id(msg_id)
    request: C_FIND_RQ | C_GET_RQ | C_MOVE_RQ
    if op == "find":
        request = C_FIND_RQ(MessageID=message_id, AffectedSOPClassUID=uid, Priority=priority)
    elif op == "get":
        request = C_GET_RQ(MessageID=message_id, AffectedSOPClassUID=uid, Priority=priority)
    else:
        assert move_aet is not None
        request = C_MOVE_RQ(
            MessageID=message_id,
            AffectedSOPClassUID=uid,
            Priority=priority,
            MoveDestination=move_aet,
        )
    responses = Responses(assoc, op, message_id, cx.context_id, syntax)
    # a connection lost while sending ends the association: the iterator then yields
    # (Dataset(), None) once, as when no response arrives
    if assoc.send_request(cx.context_id, request, data):
        assoc.session.request_sent(message_id, cx.context_id)
    return responses


def _check_identifier(
    identifier: Any, model: Any, op: str, relational: bool, validate: bool
) -> None:
    """The identifier is sent as the user built it (as pynetdicom does): what
    :func:`dicomnet.qr.validate_identifier` finds wrong is logged as a warning, or raised as
    ValueError with ``validate=True``. Anything but a pydicom Dataset is always refused."""
    from pydicom.dataset import Dataset

    if not isinstance(identifier, Dataset):
        raise ValueError(
            f"the C-{op.upper()} identifier must be a pydicom Dataset, not "
            f"{type(identifier).__name__}"
        )
    try:
        validate_identifier(identifier, model, op, relational=relational)
    except ValueError as exc:
        if validate:
            raise
        LOGGER.warning("sending the C-%s identifier as it is, although %s", op.upper(), exc)


def _warn_no_scp_role(assoc: Association) -> None:
    """Say why a C-GET's C-STORE sub-operations cannot arrive: we proposed no SCP role, or the
    peer refused it (or the contexts) for every SOP class we proposed it for."""
    from dicomnet.sop_class import uid_name

    proposed = [r.sop_class_uid for r in assoc.requested_roles if r.scp_role]
    if not proposed:
        LOGGER.warning(
            "C-GET without any context where we are SCP: the peer cannot send the data sets "
            "(propose the SCP role for the storage classes: ext_neg=[build_role(uid, "
            "scp_role=True)])"
        )
        return
    outcome = {c.abstract_syntax: c for c in assoc.contexts}
    refused = []
    for uid in proposed:
        cx = outcome.get(uid)
        why = "not requested" if cx is None else "role refused" if cx.accepted else cx.status
        refused.append(f"{uid_name(uid)}: {why}")
    LOGGER.warning(
        "C-GET without any context where we are SCP: the peer refused the SCP role we "
        "proposed (%s), so it cannot send the data sets",
        "; ".join(refused),
    )


def send_c_find(
    assoc: Association,
    identifier: Any,
    query_model: Any,
    msg_id: int | None = None,
    priority: int = PRIORITY_MEDIUM,
    relational: bool = False,
    validate: bool = False,
) -> Responses:
    """Send a C-FIND-RQ; iterate the result for ``(status, identifier)`` pairs."""
    return _send(
        assoc,
        "find",
        identifier,
        query_model,
        msg_id,
        priority,
        relational=relational,
        validate=validate,
    )


def send_c_get(
    assoc: Association,
    identifier: Any,
    query_model: Any,
    msg_id: int | None = None,
    priority: int = PRIORITY_MEDIUM,
    validate: bool = False,
) -> Responses:
    """Send a C-GET-RQ; iterate the result for ``(status, identifier)`` pairs while the
    C-STORE sub-operations go to the ``EVT_C_STORE`` handler."""
    return _send(assoc, "get", identifier, query_model, msg_id, priority, validate=validate)


def send_c_move(
    assoc: Association,
    identifier: Any,
    move_aet: str,
    query_model: Any,
    msg_id: int | None = None,
    priority: int = PRIORITY_MEDIUM,
    validate: bool = False,
) -> Responses:
    """Send a C-MOVE-RQ to move the matches to ``move_aet``; iterate for the responses."""
    from dicomnet.ul.codec import validate_ae_title

    destination = validate_ae_title(move_aet)
    return _send(
        assoc, "move", identifier, query_model, msg_id, priority, destination, validate=validate
    )


def send_c_cancel(assoc: Association, msg_id: int, context_id: int | None = None) -> None:
    """Send a C-CANCEL-RQ for the request ``msg_id``; ``context_id`` defaults to the context
    that request went on. No response comes: the request's own responses end with Cancel."""
    assoc.require_established()
    if context_id is None:
        context_id = assoc.session.outstanding.get(msg_id)
        if context_id is None:
            raise ValueError(
                f"no C-FIND, C-GET or C-MOVE with Message ID {msg_id} is in progress here; "
                "give context_id to cancel it anyway"
            )
    if assoc.session.context_by_id(context_id) is None:
        raise ValueError(f"presentation context {context_id} was not accepted")
    assoc.send_request(context_id, C_CANCEL_RQ(MessageIDBeingRespondedTo=msg_id))


__all__ = ["Responses", "send_c_cancel", "send_c_find", "send_c_get", "send_c_move"]
