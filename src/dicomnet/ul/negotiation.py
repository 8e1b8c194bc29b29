"""Pure presentation-context negotiation for both ends of an association (PS3.8 7.1.1.13-14).

Covers items 0x20/0x21 (contexts), sub-item 0x54 (SCP/SCU role selection), 0x53 (asynchronous
operations window) and 0x51 (maximum length). No I/O; every function maps values to values.

Role perspective. Sub-item 0x54 always describes the roles of the association *requestor*, and
so does :class:`ContextSpec`: for a requestor, ``scu_role``/``scp_role`` are the roles it
proposes for itself; for an acceptor, they say whether it agrees to the requestor acting as
SCU/SCP. The acceptor's own roles are the mirror: it is SCP where the requestor is SCU, and SCU
where the requestor is SCP. Without role negotiation the requestor is SCU and the acceptor SCP.

Decisions (the standard leaves them open):

- When only one of ``scu_role``/``scp_role`` is set, the other takes its default value
  (``scu_role`` True, ``scp_role`` False), on both ends. So ``ContextSpec(x, ts, scp_role=True)``
  proposes, or accepts, SCU and SCP. (pynetdicom instead reads a missing role as False when
  requesting and ignores role selection entirely when accepting.)
- The acceptor picks the transfer syntax by *its own* preference order: the first transfer
  syntax of the supported spec that the requestor also proposed. The acceptor knows what it can
  handle best; DCMTK and pynetdicom do the same. A spec with ``keep_proposed`` instead keeps the
  requestor's order (its first proposed syntax the spec supports), after any of the spec's
  ``preferred`` syntaxes the requestor proposed: the data then arrives as the sender holds it.
- Checks in order: abstract syntax not supported -> 3; no common transfer syntax -> 4; roles
  leave the requestor with neither role -> 1 (user rejection), as pynetdicom does.
- A rejected context's 0x21 item carries the requestor's first proposed transfer syntax (the
  receiver must not test it, but some peers choke on an empty sub-item).
- A requestor treats a proposed context the acceptor did not answer as rejected with result 2
  (no reason): tolerance helps interoperability and costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dicomnet._record import record
from dicomnet.ul.errors import (
    REJECT_ACSE_PROTOCOL_VERSION,
    REJECT_PERMANENT,
    REJECT_SOURCE_ACSE,
    REJECT_SOURCE_USER,
    REJECT_USER_APP_CONTEXT,
    REJECT_USER_CALLED_AE,
    REJECT_USER_CALLING_AE,
    REJECT_USER_NO_REASON,
    AbortConsequence,
    RejectConsequence,
    RemoteProtocolError,
)
from dicomnet.ul.items import (
    APPLICATION_CONTEXT_NAME,
    PC_ABSTRACT_SYNTAX_NOT_SUPPORTED,
    PC_ACCEPTANCE,
    PC_NO_REASON,
    PC_TRANSFER_SYNTAXES_NOT_SUPPORTED,
    PC_USER_REJECTION,
    AsyncOpsWindow,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
)

MAX_CONTEXTS = 128
"""Context IDs are odd numbers 1..255, so an association carries at most 128 contexts."""

MIN_PEER_MAX_LENGTH = 1024
"""Smallest maximum length we honour (the one place this minimum is decided). PS3.8 sets no
lower bound on sub-item 0x51, but 1-7 cannot carry a PDV at all and values of a few bytes turn a
1 MiB data set into half a million PDUs; no real implementation advertises less than a few KiB
(DCMTK's minimum is 4096). So a peer's non-zero Maximum Length below this is *clamped*: we send
P-DATA-TF PDUs of up to this length, rather than reject the association or abort. Our own
advertised maximum (``AE.maximum_pdu_size``) is never below it either."""

_RQ_REJECT = RejectConsequence(REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_NO_REASON)
"""What a malformed proposal earns: A-ASSOCIATE-RJ, permanent, service user, no reason."""

_DEFAULT_SCU_ROLE = True
_DEFAULT_SCP_ROLE = False


@record(frozen=True)
class ContextSpec:
    """A presentation context a requestor proposes or an acceptor supports.

    ``scu_role``/``scp_role`` are the *requestor's* roles (the perspective of sub-item 0x54):
    proposed roles when requesting, roles the acceptor agrees to when accepting. Both None means
    no role selection for this abstract syntax; one None takes its default (SCU True, SCP False).
    """

    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]
    scu_role: bool | None = None
    scp_role: bool | None = None
    #: Acceptor: choose the requestor's first proposed syntax we support (after ``preferred``)
    #: instead of our own first.
    keep_proposed: bool = False
    #: Acceptor with ``keep_proposed``: syntaxes chosen first, in this order, when proposed.
    preferred: tuple[str, ...] = ()

    def choose(self, proposed: Sequence[str]) -> str | None:
        """The transfer syntax an acceptor picks from ``proposed`` (None: none supported)."""
        if self.keep_proposed:
            supported = set(self.transfer_syntaxes)
            for ts in self.preferred:
                if ts in supported and ts in proposed:
                    return ts
            return next((ts for ts in proposed if ts in supported), None)
        return next((ts for ts in self.transfer_syntaxes if ts in proposed), None)

    @property
    def has_roles(self) -> bool:
        """True if this spec takes part in SCP/SCU role selection."""
        return self.scu_role is not None or self.scp_role is not None

    @property
    def requestor_roles(self) -> tuple[bool, bool]:
        """(SCU, SCP) for the requestor with defaults filled in for a missing side."""
        scu = _DEFAULT_SCU_ROLE if self.scu_role is None else self.scu_role
        scp = _DEFAULT_SCP_ROLE if self.scp_role is None else self.scp_role
        return scu, scp


@record(frozen=True)
class NegotiatedContext:
    """The outcome for one context, seen from our side.

    ``transfer_syntax`` is None unless accepted; ``result`` follows PS3.8 Table 9-18;
    ``as_scu``/``as_scp`` are OUR roles (both False when rejected).
    """

    context_id: int
    abstract_syntax: str
    transfer_syntax: str | None
    result: int
    as_scu: bool
    as_scp: bool

    @property
    def accepted(self) -> bool:
        return self.result == PC_ACCEPTANCE


@record(frozen=True)
class AcceptorResult:
    """What an acceptor sends back (``ac_contexts``, ``ac_roles``) and what it agreed to."""

    ac_contexts: tuple[PresentationContextAC, ...]
    ac_roles: tuple[RoleSelection, ...]
    contexts: tuple[NegotiatedContext, ...]


def _roles_by_class(roles: Iterable[RoleSelection], what: str) -> dict[str, RoleSelection]:
    """Index role items by SOP class; identical repeats are harmless, conflicting ones not."""
    by_class: dict[str, RoleSelection] = {}
    for role in roles:
        seen = by_class.setdefault(role.sop_class_uid, role)
        if seen != role:
            raise ValueError(
                f"conflicting role selection items in the {what} for {role.sop_class_uid}"
            )
    return by_class


def build_rq_contexts(
    specs: Sequence[ContextSpec],
) -> tuple[tuple[PresentationContextRQ, ...], tuple[RoleSelection, ...]]:
    """Number the proposed contexts 1, 3, 5, ... and build one role item per SOP class.

    A role item covers every context of its abstract syntax, so specs of the same abstract
    syntax must not set different roles. Raises ValueError for no specs, more than 128 specs,
    a spec without transfer syntaxes, conflicting roles, or roles proposing neither SCU nor SCP.
    """
    if not specs:
        raise ValueError("at least one presentation context is required")
    if len(specs) > MAX_CONTEXTS:
        raise ValueError(f"at most {MAX_CONTEXTS} presentation contexts can be proposed")
    contexts: list[PresentationContextRQ] = []
    roles: dict[str, RoleSelection] = {}
    for index, spec in enumerate(specs):
        if not spec.transfer_syntaxes:
            raise ValueError(f"no transfer syntax proposed for {spec.abstract_syntax}")
        contexts.append(
            PresentationContextRQ(
                context_id=2 * index + 1,
                abstract_syntax=spec.abstract_syntax,
                transfer_syntaxes=tuple(spec.transfer_syntaxes),
            )
        )
        if not spec.has_roles:
            continue
        scu, scp = spec.requestor_roles
        if not (scu or scp):
            raise ValueError(f"role selection for {spec.abstract_syntax} proposes no role")
        role = RoleSelection(spec.abstract_syntax, scu_role=scu, scp_role=scp)
        if roles.setdefault(spec.abstract_syntax, role) != role:
            raise ValueError(f"conflicting roles proposed for {spec.abstract_syntax}")
    return tuple(contexts), tuple(roles.values())


def _check_rq_contexts(rq_contexts: Sequence[PresentationContextRQ]) -> None:
    """Context IDs must be odd, in 1..255 and unique (PS3.8 9.3.2.2)."""
    seen: set[int] = set()
    for cx in rq_contexts:
        if not (1 <= cx.context_id <= 255 and cx.context_id % 2 == 1):
            raise RemoteProtocolError(
                f"invalid presentation context ID {cx.context_id} in A-ASSOCIATE-RQ",
                _RQ_REJECT,
            )
        if cx.context_id in seen:
            raise RemoteProtocolError(
                f"presentation context ID {cx.context_id} proposed twice in A-ASSOCIATE-RQ",
                _RQ_REJECT,
            )
        seen.add(cx.context_id)


def negotiate_as_acceptor(
    rq_contexts: Sequence[PresentationContextRQ],
    rq_roles: Sequence[RoleSelection],
    supported: Sequence[ContextSpec],
) -> AcceptorResult:
    """Answer each proposed context once, in the order proposed; see the module docstring.

    Role items are answered only for classes that the RQ proposed roles for, that we support
    with role selection, and that have at least one accepted context. Each answered role is
    1 only if the requestor proposed it and ``supported`` allows it.

    Raises RemoteProtocolError (consequence: A-ASSOCIATE-RJ permanent, user, no reason) for a
    context ID that is even, outside 1..255 or repeated, or for conflicting role items of one
    class. Raises ValueError if ``supported`` names an abstract syntax twice.
    """
    _check_rq_contexts(rq_contexts)
    try:
        proposed_roles = _roles_by_class(rq_roles, "A-ASSOCIATE-RQ")
    except ValueError as exc:
        raise RemoteProtocolError(str(exc), _RQ_REJECT) from None
    ours: dict[str, ContextSpec] = {}
    for item in supported:
        if item.abstract_syntax in ours:
            raise ValueError(f"abstract syntax {item.abstract_syntax} supported twice")
        ours[item.abstract_syntax] = item

    # The answer for each SOP class with role selection on both sides: requestor (SCU, SCP).
    answers: dict[str, RoleSelection] = {}
    for uid, proposal in proposed_roles.items():
        support = ours.get(uid)
        if support is not None and support.has_roles:
            allow_scu, allow_scp = support.requestor_roles
            answers[uid] = RoleSelection(
                uid,
                scu_role=proposal.scu_role and allow_scu,
                scp_role=proposal.scp_role and allow_scp,
            )

    ac_contexts: list[PresentationContextAC] = []
    contexts: list[NegotiatedContext] = []
    answered: set[str] = set()
    for cx in rq_contexts:
        uid = cx.abstract_syntax
        spec = ours.get(uid)
        chosen: str | None = None
        their_scu, their_scp = True, False
        if spec is None:
            result = PC_ABSTRACT_SYNTAX_NOT_SUPPORTED
        else:
            chosen = spec.choose(cx.transfer_syntaxes)
            answer = answers.get(uid)
            if answer is not None:
                their_scu, their_scp = answer.scu_role, answer.scp_role
            if chosen is None:
                result = PC_TRANSFER_SYNTAXES_NOT_SUPPORTED
            elif not (their_scu or their_scp):
                result = PC_USER_REJECTION
                chosen = None
            else:
                result = PC_ACCEPTANCE
                if answer is not None:
                    answered.add(uid)
        accepted = result == PC_ACCEPTANCE
        fallback = cx.transfer_syntaxes[0] if cx.transfer_syntaxes else ""
        ac_contexts.append(
            PresentationContextAC(cx.context_id, result, chosen if chosen is not None else fallback)
        )
        contexts.append(
            NegotiatedContext(
                context_id=cx.context_id,
                abstract_syntax=uid,
                transfer_syntax=chosen,
                result=result,
                as_scu=accepted and their_scp,
                as_scp=accepted and their_scu,
            )
        )
    ac_roles = tuple(answer for uid, answer in answers.items() if uid in answered)
    return AcceptorResult(tuple(ac_contexts), ac_roles, tuple(contexts))


def _abort(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, AbortConsequence())


def negotiate_as_requestor(
    rq_contexts: Sequence[PresentationContextRQ],
    rq_roles: Sequence[RoleSelection],
    ac_contexts: Sequence[PresentationContextAC],
    ac_roles: Sequence[RoleSelection],
) -> tuple[NegotiatedContext, ...]:
    """Check the A-ASSOCIATE-AC against what we proposed; return one result per proposed context.

    Results come in the order of ``rq_contexts``; a context the acceptor did not answer is
    rejected with result 2. Our roles: from the AC's role item where we proposed roles for the
    class (a role is ours only if we proposed it and the acceptor returned 1; replies for classes
    we did not propose roles for are ignored), else the defaults (SCU only). An accepted context
    whose role reply leaves us no role stays accepted with both roles False.

    Raises RemoteProtocolError (A-ABORT, provider, invalid-PDU-parameter-value) for an answer to
    an ID we never proposed, two answers for one ID, a result outside 0..4, an accepted transfer
    syntax we did not propose, or conflicting role items for one class.
    """
    proposed = {cx.context_id: cx for cx in rq_contexts}
    answers: dict[int, PresentationContextAC] = {}
    for ac in ac_contexts:
        rq = proposed.get(ac.context_id)
        if rq is None:
            raise _abort(f"A-ASSOCIATE-AC answers context ID {ac.context_id}, never proposed")
        if ac.context_id in answers:
            raise _abort(f"A-ASSOCIATE-AC answers context ID {ac.context_id} twice")
        if not PC_ACCEPTANCE <= ac.result <= PC_TRANSFER_SYNTAXES_NOT_SUPPORTED:
            raise _abort(f"A-ASSOCIATE-AC has result {ac.result} for context ID {ac.context_id}")
        if ac.result == PC_ACCEPTANCE and ac.transfer_syntax not in rq.transfer_syntaxes:
            raise _abort(
                f"A-ASSOCIATE-AC accepts transfer syntax {ac.transfer_syntax!r} for context ID "
                f"{ac.context_id}, which was not proposed"
            )
        answers[ac.context_id] = ac

    ours = _roles_by_class(rq_roles, "A-ASSOCIATE-RQ")
    try:
        replies = _roles_by_class(ac_roles, "A-ASSOCIATE-AC")
    except ValueError as exc:
        raise _abort(str(exc)) from None

    results: list[NegotiatedContext] = []
    for cx in rq_contexts:
        found = answers.get(cx.context_id)
        result = PC_NO_REASON if found is None else found.result
        accepted = result == PC_ACCEPTANCE
        as_scu, as_scp = True, False
        proposal = ours.get(cx.abstract_syntax)
        reply = replies.get(cx.abstract_syntax)
        if proposal is not None and reply is not None:
            as_scu = proposal.scu_role and reply.scu_role
            as_scp = proposal.scp_role and reply.scp_role
        results.append(
            NegotiatedContext(
                context_id=cx.context_id,
                abstract_syntax=cx.abstract_syntax,
                transfer_syntax=found.transfer_syntax if accepted and found else None,
                result=result,
                as_scu=accepted and as_scu,
                as_scp=accepted and as_scp,
            )
        )
    return tuple(results)


def negotiate_async_ops(rq: AsyncOpsWindow | None) -> AsyncOpsWindow | None:
    """Our answer to sub-item 0x53: we work synchronously, so (1, 1) if asked, else nothing.

    1 never exceeds an offered value (offers are >= 1, or 0 for unlimited), as PS3.7 D.3.3.3
    requires.
    """
    return None if rq is None else AsyncOpsWindow(max_invoked=1, max_performed=1)


def peer_max_pdu_for_sending(peer_max_length: int, send_cap: int = 1 << 20) -> int:
    """The largest P-DATA-TF PDU-length we send, given the peer's sub-item 0x51 value (both
    the requestor and the acceptor use this).

    0 means the peer sets no maximum, so ``send_cap`` applies; a value below
    :data:`MIN_PEER_MAX_LENGTH` is clamped up to it; otherwise the smaller of the value and
    ``send_cap``. ValueError for a negative value or a ``send_cap`` below the minimum.
    """
    if send_cap < MIN_PEER_MAX_LENGTH:
        raise ValueError(f"send_cap must be at least {MIN_PEER_MAX_LENGTH}, got {send_cap}")
    if peer_max_length < 0:
        raise ValueError(f"maximum length cannot be negative, got {peer_max_length}")
    if peer_max_length == 0:
        return send_cap
    return min(max(peer_max_length, MIN_PEER_MAX_LENGTH), send_cap)


# --- the acceptor's policy on an A-ASSOCIATE-RQ ------------------------------------------------


def version_rejection(protocol_version: int) -> RejectConsequence | None:
    """Bit 0 of the protocol version must be set (PS3.8 9.3.2); otherwise reject."""
    if protocol_version & 1 == 0:
        return RejectConsequence(REJECT_PERMANENT, REJECT_SOURCE_ACSE, REJECT_ACSE_PROTOCOL_VERSION)
    return None


def policy_rejection(
    application_context: str,
    called_ae_title: str,
    calling_ae_title: str,
    *,
    our_ae_title: str,
    require_called_aet: bool,
    allowed_calling: Sequence[str],
) -> RejectConsequence | None:
    """Why an A-ASSOCIATE-RQ is refused by the acceptor's policy, checked in this order: an
    application context other than DICOM's, a called AE title that is not ours (when
    required), a calling AE title not in ``allowed_calling`` (when that is not empty). Titles
    compare without their padding."""
    if application_context != APPLICATION_CONTEXT_NAME:
        return RejectConsequence(REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_APP_CONTEXT)
    if require_called_aet and called_ae_title.strip() != our_ae_title.strip():
        return RejectConsequence(REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_CALLED_AE)
    allowed = [title.strip() for title in allowed_calling]
    if allowed and calling_ae_title.strip() not in allowed:
        return RejectConsequence(REJECT_PERMANENT, REJECT_SOURCE_USER, REJECT_USER_CALLING_AE)
    return None
