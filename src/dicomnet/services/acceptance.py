"""The acceptor's answer to an A-ASSOCIATE-RQ: the AE's policy (:mod:`dicomnet.ul.negotiation`),
the handlers' decisions (EVT_REQUESTED, EVT_USER_ID, EVT_ASYNC_OPS, EVT_SOP_EXTENDED,
EVT_SOP_COMMON) and presentation-context negotiation, as an :class:`Answer` — an
A-ASSOCIATE-AC or -RJ. Nothing here touches the state machine or the socket: the driver
(:mod:`dicomnet.transport.driver`) puts the answer on the wire."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from dicomnet import events as evt
from dicomnet._log import get_logger
from dicomnet._record import record
from dicomnet.presentation import PresentationContext, from_negotiated
from dicomnet.services.base import HandlerHost
from dicomnet.ul.errors import (
    REJECT_ACSE_NO_REASON,
    REJECT_PERMANENT,
    REJECT_PRESENTATION_LOCAL_LIMIT,
    REJECT_SOURCE_ACSE,
    REJECT_SOURCE_PRESENTATION,
    REJECT_SOURCE_USER,
    REJECT_TRANSIENT,
    REJECT_USER_CALLED_AE,
    REJECT_USER_CALLING_AE,
    RejectConsequence,
    RemoteProtocolError,
)
from dicomnet.ul.items import (
    AsyncOpsWindow,
    SOPClassCommonExtended,
    SOPClassExtended,
    UserIdentityAC,
    UserInformation,
)
from dicomnet.ul.negotiation import (
    ContextSpec,
    negotiate_as_acceptor,
    negotiate_async_ops,
    policy_rejection,
    version_rejection,
)
from dicomnet.ul.pdu import AssociateAC, AssociateRJ, AssociateRQ

if TYPE_CHECKING:
    from dicomnet.service_user import ServiceUser

LOGGER = get_logger("dicomnet.assoc")

# A placeholder RQ for the state machine when the real one could not be decoded but can still
# be answered with A-ASSOCIATE-RJ (AE-6 needs an Evt6 with an A-ASSOCIATE-RQ).
UNDECODABLE_RQ = AssociateRQ("", "", (), UserInformation(0, ""))


class AcceptorSettings(Protocol):
    """What the acceptor's answer depends on (:class:`dicomnet.ae.AE` has all of it)."""

    ae_title: str
    require_called_aet: bool
    require_calling_aet: list[str]
    allow_plain_password: bool
    require_user_identity: bool
    maximum_associations: int
    implementation_class_uid: str
    implementation_version_name: str | None

    def supported_context_specs(self, proposed: Sequence[str] = ()) -> Sequence[ContextSpec]: ...


class AcceptancePort(HandlerHost, Protocol):
    """The association being requested, as the handlers see it."""

    @property
    def requestor(self) -> ServiceUser: ...

    @property
    def acceptor(self) -> ServiceUser: ...


@record(frozen=True)
class Answer:
    """What to send: ``ac`` (with the negotiated ``contexts``) or ``rj``. ``close_now``: a
    request so broken that the connection is closed right after the RJ instead of waiting for
    the requestor to close it."""

    ac: AssociateAC | None = None
    rj: AssociateRJ | None = None
    contexts: tuple[PresentationContext, ...] = ()
    close_now: bool = False


def rejection_for(exc: RemoteProtocolError) -> AssociateRJ | None:
    """The A-ASSOCIATE-RJ a protocol error in an A-ASSOCIATE-RQ calls for (None: abort)."""
    consequence = exc.consequence
    if isinstance(consequence, RejectConsequence):
        return AssociateRJ(consequence.result, consequence.source, consequence.reason)
    return None


def _rj(consequence: RejectConsequence) -> AssociateRJ:
    return AssociateRJ(consequence.result, consequence.source, consequence.reason)


def answer_request(
    port: AcceptancePort,
    rq: AssociateRQ,
    settings: AcceptorSettings,
    *,
    local_max_pdu: int,
    encrypted: bool,
    claim_slot: Callable[[], bool],
) -> Answer:
    """Decide on ``rq``: every check in the order a peer can rely on (protocol version, a free
    association slot, application context and AE titles, EVT_REQUESTED, user identity, then
    the presentation contexts and extended negotiation)."""
    info = rq.user_information
    requestor, acceptor = port.requestor, port.acceptor
    requestor.ae_title = rq.calling_ae_title
    requestor.maximum_length = info.max_length
    requestor.implementation_class_uid = info.implementation_class_uid
    requestor.implementation_version_name = info.implementation_version_name
    requestor.primitive = rq
    acceptor.ae_title = settings.ae_title
    acceptor.maximum_length = local_max_pdu
    acceptor.implementation_class_uid = settings.implementation_class_uid
    acceptor.implementation_version_name = settings.implementation_version_name

    requested = evt.notify(port.handlers, port, evt.EVT_REQUESTED)
    rj = _policy(rq, settings, claim_slot)
    if rj is None and requested is not None and requested.rejection is not None:
        rj = AssociateRJ(*requested.rejection)
    identity_ac: UserIdentityAC | None = None
    if rj is None:
        verified, identity_ac = _user_identity(port, rq, settings, encrypted)
        if not verified:
            rj = AssociateRJ(REJECT_PERMANENT, REJECT_SOURCE_ACSE, REJECT_ACSE_NO_REASON)
    if rj is not None:
        return Answer(rj=rj)

    try:
        proposed = [cx.abstract_syntax for cx in rq.presentation_contexts]
        result = negotiate_as_acceptor(
            rq.presentation_contexts, info.roles, settings.supported_context_specs(proposed)
        )
    except RemoteProtocolError as exc:
        rejection = rejection_for(exc)
        if rejection is not None:
            return Answer(rj=rejection)
        return Answer(rj=AssociateRJ(REJECT_PERMANENT, REJECT_SOURCE_USER, 1), close_now=True)

    contexts = tuple(from_negotiated(result.contexts, rq.presentation_contexts))
    async_ops = _async_ops(port, info.async_ops)
    sop_extended = _sop_extended(port, info.sop_class_extended)
    _sop_common(port, info.sop_class_common_extended)
    ac = AssociateAC(
        called_ae_title=rq.called_ae_title,
        calling_ae_title=rq.calling_ae_title,
        presentation_contexts=result.ac_contexts,
        user_information=UserInformation(
            max_length=local_max_pdu,
            implementation_class_uid=settings.implementation_class_uid,
            implementation_version_name=settings.implementation_version_name,
            async_ops=async_ops,
            roles=result.ac_roles,
            sop_class_extended=sop_extended,
            user_identity_ac=identity_ac,
        ),
    )
    acceptor.primitive = ac
    return Answer(ac=ac, contexts=contexts)


def _policy(
    rq: AssociateRQ, settings: AcceptorSettings, claim_slot: Callable[[], bool]
) -> AssociateRJ | None:
    version = version_rejection(rq.protocol_version)
    if version is not None:
        return _rj(version)
    if not claim_slot():
        LOGGER.warning("maximum associations (%d) reached", settings.maximum_associations)
        return AssociateRJ(
            REJECT_TRANSIENT, REJECT_SOURCE_PRESENTATION, REJECT_PRESENTATION_LOCAL_LIMIT
        )
    refused = policy_rejection(
        rq.application_context,
        rq.called_ae_title,
        rq.calling_ae_title,
        our_ae_title=settings.ae_title,
        require_called_aet=settings.require_called_aet,
        allowed_calling=settings.require_calling_aet,
    )
    if refused is None:
        return None
    if refused.reason == REJECT_USER_CALLED_AE:
        LOGGER.info("called AE title %r is not ours", rq.called_ae_title)
    elif refused.reason == REJECT_USER_CALLING_AE:
        LOGGER.info("calling AE title %r is not allowed", rq.calling_ae_title)
    return _rj(refused)


def _user_identity(
    port: AcceptancePort, rq: AssociateRQ, settings: AcceptorSettings, encrypted: bool
) -> tuple[bool, UserIdentityAC | None]:
    identity = rq.user_information.user_identity_rq
    if identity is None:
        if settings.require_user_identity:
            LOGGER.warning(
                "%s sent no user identity; refusing the association (require_user_identity)",
                port.requestor.address,
            )
            return False, None
        return True, None
    port.requestor.user_identity = identity
    if identity.identity_type == 2 and not encrypted and not settings.allow_plain_password:
        LOGGER.warning(
            "a password was sent over plain TCP by %s; refusing it (allow_plain_password)",
            port.requestor.address,
        )
        return False, None
    verified, response = evt.verify_user_identity(
        port.handlers,
        port,
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


def _intervene(port: AcceptancePort, event_type: evt.EventType, **attrs: Any) -> tuple[bool, Any]:
    """Call the handler bound to an extended-negotiation event: (False, None) when none is bound
    or it raised (logged; the item is then answered as if unsupported)."""
    try:
        return evt.call_intervention(port.handlers, port, event_type, **attrs)
    except evt.HandlerFailed:
        return False, None


def _async_ops(port: AcceptancePort, proposed: AsyncOpsWindow | None) -> AsyncOpsWindow | None:
    """EVT_ASYNC_OPS: the handler returns (max invoked, max performed) to answer with (never
    more than proposed). Without one we answer 1/1. dicomnet performs operations one at a time
    whatever the window says (a window larger than 1 allows, but does not require, overlap)."""
    if proposed is None:
        return None
    called, answer = _intervene(
        port,
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
    port: AcceptancePort, proposed: tuple[SOPClassExtended, ...]
) -> tuple[SOPClassExtended, ...]:
    """EVT_SOP_EXTENDED: ``event.app_info`` is {SOP class UID: application information bytes};
    the handler returns the {UID: bytes} to send back (only for classes proposed). Without one,
    nothing is answered (the requestor then assumes no extended negotiation)."""
    if not proposed:
        return ()
    app_info = {item.sop_class_uid: item.app_info for item in proposed}
    called, answer = _intervene(port, evt.EVT_SOP_EXTENDED, app_info=app_info)
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


def _sop_common(port: AcceptancePort, proposed: tuple[SOPClassCommonExtended, ...]) -> None:
    """EVT_SOP_COMMON: ``event.items`` is {SOP class UID: SOPClassCommonExtended}; the handler
    returns the accepted ones (kept as ``assoc.acceptor.sop_class_common_extended``). Item 0x57
    never appears in an A-ASSOCIATE-AC, so nothing goes on the wire."""
    if not proposed:
        return
    items = {item.sop_class_uid: item for item in proposed}
    called, answer = _intervene(port, evt.EVT_SOP_COMMON, items=items)
    accepted = dict(answer) if called and answer else {}
    port.acceptor.sop_class_common_extended = {
        uid: item for uid, item in accepted.items() if uid in items
    }


__all__ = ["AcceptorSettings", "Answer", "answer_request", "rejection_for"]
