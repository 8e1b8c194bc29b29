"""The acceptor's answer to an A-ASSOCIATE-RQ: the AE's policy (limits, AE titles, handlers'
decisions, user identity) and presentation-context negotiation, then AC or RJ on the wire."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.presentation import from_negotiated
from dicomnet.ul.errors import (
    REJECT_ACSE_NO_REASON,
    REJECT_ACSE_PROTOCOL_VERSION,
    REJECT_PERMANENT,
    REJECT_PRESENTATION_LOCAL_LIMIT,
    REJECT_SOURCE_ACSE,
    REJECT_SOURCE_PRESENTATION,
    REJECT_SOURCE_USER,
    REJECT_TRANSIENT,
    REJECT_USER_APP_CONTEXT,
    REJECT_USER_CALLED_AE,
    REJECT_USER_CALLING_AE,
    RejectConsequence,
    RemoteProtocolError,
)
from dicomnet.ul.fsm import Event
from dicomnet.ul.items import (
    APPLICATION_CONTEXT_NAME,
    AsyncOpsWindow,
    SOPClassCommonExtended,
    SOPClassExtended,
    UserIdentityAC,
    UserInformation,
)
from dicomnet.ul.negotiation import (
    negotiate_as_acceptor,
    negotiate_async_ops,
    peer_max_pdu_for_sending,
)
from dicomnet.ul.pdu import AssociateAC, AssociateRJ, AssociateRQ

if TYPE_CHECKING:
    from dicomnet._core import AssociationCore as Association

LOGGER = logging.getLogger("dicomnet.assoc")

# A placeholder RQ for the state machine when the real one could not be decoded but can still
# be answered with A-ASSOCIATE-RJ (AE-6 needs an Evt6 with an A-ASSOCIATE-RQ).
_UNDECODABLE_RQ = AssociateRQ("", "", (), UserInformation(0, ""))


def reject_malformed(assoc: Association, exc: RemoteProtocolError) -> None:
    """Sta2: the first PDU was bad. Answer an undecodable RQ with A-ASSOCIATE-RJ when the
    decoder says so, otherwise A-ABORT (AA-1) per Table 9-10."""
    LOGGER.warning("bad association request from %s: %s", assoc.requestor.address, exc)
    assoc.failure_reason = f"protocol error: {exc}"
    consequence = exc.consequence
    if isinstance(consequence, RejectConsequence):
        rj = AssociateRJ(consequence.result, consequence.source, consequence.reason)
        assoc._step(Event.EVT6, _UNDECODABLE_RQ, reject_reason=rj)
        assoc.rejection = rj
        assoc.is_rejected = True
    else:
        assoc._step(Event.EVT19)
    assoc._finish_after_abort()


def _policy_rejection(assoc: Association, rq: AssociateRQ) -> AssociateRJ | None:
    ae = assoc.ae
    server = assoc.server
    if rq.protocol_version & 1 == 0:
        return AssociateRJ(REJECT_PERMANENT, REJECT_SOURCE_ACSE, REJECT_ACSE_PROTOCOL_VERSION)
    if server is not None and not server.claim_slot(assoc):
        LOGGER.warning("maximum associations (%d) reached", ae.maximum_associations)
        return AssociateRJ(
            REJECT_TRANSIENT, REJECT_SOURCE_PRESENTATION, REJECT_PRESENTATION_LOCAL_LIMIT
        )
    if rq.application_context != APPLICATION_CONTEXT_NAME:
        return AssociateRJ(REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_APP_CONTEXT)
    if ae.require_called_aet and rq.called_ae_title.strip() != ae.ae_title.strip():
        LOGGER.info("called AE title %r is not ours", rq.called_ae_title)
        return AssociateRJ(REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_CALLED_AE)
    allowed = [a.strip() for a in ae.require_calling_aet]
    if allowed and rq.calling_ae_title.strip() not in allowed:
        LOGGER.info("calling AE title %r is not allowed", rq.calling_ae_title)
        return AssociateRJ(REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_CALLING_AE)
    return None


def _user_identity(assoc: Association, rq: AssociateRQ) -> tuple[bool, UserIdentityAC | None]:
    identity = rq.user_information.user_identity_rq
    if identity is None:
        return True, None
    assoc.requestor.user_identity = identity
    conn = assoc._conn
    encrypted = conn is not None and getattr(conn.sock, "cipher", None) is not None
    if identity.identity_type == 2 and not encrypted and not assoc.ae.allow_plain_password:
        LOGGER.warning(
            "a password was sent over plain TCP by %s; refusing it (allow_plain_password)",
            assoc.requestor.address,
        )
        return False, None
    verified, response = evt.verify_user_identity(
        assoc._handlers,
        assoc,
        user_id_type=identity.identity_type,
        primary_field=identity.primary,  # pynetdicom's names
        secondary_field=identity.secondary,
        primary_identity=identity.primary,
        secondary_identity=identity.secondary,
        request=identity,
    )
    if not verified:
        return False, None
    if identity.positive_response_requested and response is not None:
        return True, UserIdentityAC(bytes(response))
    return True, None


def _intervene(assoc: Association, event_type: evt.EventType, **attrs: Any) -> tuple[bool, Any]:
    """Call the handler bound to an extended-negotiation event: (False, None) when none is bound
    or it raised (logged; the item is then answered as if unsupported)."""
    try:
        return evt.call_intervention(assoc._handlers, assoc, event_type, **attrs)
    except evt.HandlerFailed:
        return False, None


def _async_ops(assoc: Association, proposed: AsyncOpsWindow | None) -> AsyncOpsWindow | None:
    """EVT_ASYNC_OPS: the handler returns (max invoked, max performed) to answer with (never
    more than proposed). Without one we answer 1/1. dicomnet performs operations one at a time
    whatever the window says (a window larger than 1 allows, but does not require, overlap)."""
    if proposed is None:
        return None
    called, answer = _intervene(
        assoc,
        evt.EVT_ASYNC_OPS,
        invoked=proposed.max_invoked,
        performed=proposed.max_performed,
        nr_invoked=proposed.max_invoked,  # pynetdicom's names
        nr_performed=proposed.max_performed,
    )
    if not called:
        return negotiate_async_ops(proposed)
    try:
        invoked, performed = (int(v) for v in answer)
    except (TypeError, ValueError):
        LOGGER.error("EVT_ASYNC_OPS handler must return (invoked, performed); answering 1/1")
        return negotiate_async_ops(proposed)

    def clamp(ours: int, theirs: int) -> int:
        ours = max(0, min(ours, 0xFFFF))
        return ours if theirs == 0 else min(ours or theirs, theirs)

    return AsyncOpsWindow(
        clamp(invoked, proposed.max_invoked), clamp(performed, proposed.max_performed)
    )


def _sop_extended(
    assoc: Association, proposed: tuple[SOPClassExtended, ...]
) -> tuple[SOPClassExtended, ...]:
    """EVT_SOP_EXTENDED: ``event.app_info`` is {SOP class UID: application information bytes};
    the handler returns the {UID: bytes} to send back (only for classes proposed). Without one,
    nothing is answered (the requestor then assumes no extended negotiation)."""
    if not proposed:
        return ()
    app_info = {item.sop_class_uid: item.app_info for item in proposed}
    called, answer = _intervene(assoc, evt.EVT_SOP_EXTENDED, app_info=app_info)
    if not called or not answer:
        return ()
    try:
        return tuple(
            SOPClassExtended(str(uid), bytes(info))
            for uid, info in dict(answer).items()
            if str(uid) in app_info and info is not None
        )
    except (TypeError, ValueError):
        LOGGER.error("EVT_SOP_EXTENDED handler must return a dict of UID: bytes")
        return ()


def _sop_common(assoc: Association, proposed: tuple[SOPClassCommonExtended, ...]) -> None:
    """EVT_SOP_COMMON: ``event.items`` is {SOP class UID: SOPClassCommonExtended}; the handler
    returns the accepted ones (kept as ``assoc.acceptor.sop_class_common_extended``). Item 0x57
    never appears in an A-ASSOCIATE-AC, so nothing goes on the wire."""
    if not proposed:
        return
    items = {item.sop_class_uid: item for item in proposed}
    called, answer = _intervene(assoc, evt.EVT_SOP_COMMON, items=items)
    accepted = dict(answer) if called and answer else {}
    assoc.acceptor.sop_class_common_extended = {
        uid: item for uid, item in accepted.items() if uid in items
    }


def negotiate_incoming(assoc: Association, rq: AssociateRQ) -> bool:
    """Sta3: decide on ``rq`` and send AC (True) or RJ (False)."""
    ae = assoc.ae
    info = rq.user_information
    assoc.requestor.ae_title = rq.calling_ae_title
    assoc.requestor.maximum_length = info.max_length
    assoc.requestor.implementation_class_uid = info.implementation_class_uid
    assoc.requestor.implementation_version_name = info.implementation_version_name
    assoc.requestor.primitive = rq
    assoc.acceptor.ae_title = ae.ae_title
    assoc.acceptor.maximum_length = assoc.local_max_pdu
    assoc.acceptor.implementation_class_uid = ae.implementation_class_uid
    assoc.acceptor.implementation_version_name = ae.implementation_version_name

    requested = assoc._notify(evt.EVT_REQUESTED)
    rj = _policy_rejection(assoc, rq)
    if rj is None and requested is not None and requested.rejection is not None:
        rj = AssociateRJ(*requested.rejection)
    identity_ac: UserIdentityAC | None = None
    if rj is None:
        verified, identity_ac = _user_identity(assoc, rq)
        if not verified:
            rj = AssociateRJ(REJECT_PERMANENT, REJECT_SOURCE_ACSE, REJECT_ACSE_NO_REASON)
    if rj is not None:
        _send_reject(assoc, rj)
        return False

    try:
        result = negotiate_as_acceptor(
            rq.presentation_contexts, info.roles, ae.supported_context_specs()
        )
    except RemoteProtocolError as exc:
        consequence = exc.consequence
        if isinstance(consequence, RejectConsequence):
            _send_reject(
                assoc, AssociateRJ(consequence.result, consequence.source, consequence.reason)
            )
        else:
            assoc._step(Event.EVT8, AssociateRJ(REJECT_PERMANENT, REJECT_SOURCE_USER, 1))
            assoc._finish_after_abort()
        return False

    assoc.contexts = from_negotiated(result.contexts, rq.presentation_contexts)
    async_ops = _async_ops(assoc, info.async_ops)
    sop_extended = _sop_extended(assoc, info.sop_class_extended)
    _sop_common(assoc, info.sop_class_common_extended)
    ac = AssociateAC(
        called_ae_title=rq.called_ae_title,
        calling_ae_title=rq.calling_ae_title,
        presentation_contexts=result.ac_contexts,
        user_information=UserInformation(
            max_length=assoc.local_max_pdu,
            implementation_class_uid=ae.implementation_class_uid,
            implementation_version_name=ae.implementation_version_name,
            async_ops=async_ops,
            roles=result.ac_roles,
            sop_class_extended=sop_extended,
            user_identity_ac=identity_ac,
        ),
    )
    assoc.acceptor.primitive = ac
    assoc._peer_max_pdu = peer_max_pdu_for_sending(info.max_length)
    assoc._step(Event.EVT7, ac)
    assoc.is_established = True
    assoc._notify(evt.EVT_ACCEPTED)
    assoc._notify(evt.EVT_ESTABLISHED)
    return True


def _send_reject(assoc: Association, rj: AssociateRJ) -> None:
    if assoc.server is not None:
        assoc.server.release_slot(assoc)
    requestor = assoc.requestor
    LOGGER.warning(
        "rejected association from %r at %s:%s: %s",
        requestor.ae_title,
        requestor.address,
        requestor.port,
        describe_rejection(rj),
    )
    assoc.rejection = rj
    assoc.is_rejected = True
    assoc._step(Event.EVT8, rj)
    assoc._notify(evt.EVT_REJECTED)
    # Sta13: wait (ARTIM) for the requestor to close the connection.
    while assoc._pump(assoc._artim):
        pass
    assoc._close_transport()


def describe_rejection(rj: AssociateRJ | Any) -> str:
    """Readable text for an A-ASSOCIATE-RJ (result, source, reason)."""
    result = {1: "rejected-permanent", 2: "rejected-transient"}.get(rj.result, str(rj.result))
    source = {
        1: "service user",
        2: "service provider (ACSE)",
        3: "service provider (presentation)",
    }.get(rj.source, str(rj.source))
    reasons = {
        1: {
            1: "no reason given",
            2: "application context name not supported",
            3: "calling AE title not recognised",
            7: "called AE title not recognised",
        },
        2: {1: "no reason given", 2: "protocol version not supported"},
        3: {1: "temporary congestion", 2: "local limit exceeded"},
    }
    reason = reasons.get(rj.source, {}).get(rj.reason, f"reason {rj.reason}")
    return f"{result}, {source}: {reason}"
