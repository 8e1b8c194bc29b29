"""Presentation contexts as users see them (``AE.add_requested_context``, ``event.context``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from dicomnet.ul.items import PresentationContextRQ
    from dicomnet.ul.negotiation import NegotiatedContext

RESULT_NAMES = {
    0: "Accepted",
    1: "User Rejection",
    2: "Provider Rejection",
    3: "Abstract Syntax Not Supported",
    4: "Transfer Syntax(es) Not Supported",
}


def uid_name(uid: str) -> str:
    """:func:`dicomnet.sop_class.uid_name`; the SOP class tables are imported on first use (an
    association does not need them)."""
    from dicomnet.sop_class import uid_name as name

    return name(uid)


class PresentationContextTuple(NamedTuple):
    """An accepted context as handlers see it (``event.context``, as pynetdicom's): its ID,
    abstract syntax and the one transfer syntax in use."""

    context_id: int
    abstract_syntax: str
    transfer_syntax: str


class PresentationContext:
    """An abstract syntax with its transfer syntaxes and, after negotiation, the outcome.

    ``transfer_syntax`` is a list; for an accepted context it holds the one accepted syntax.
    ``scu_role``/``scp_role`` are what is proposed (requestor) or allowed (acceptor) in SCP/SCU
    role selection (None: no role selection); ``as_scu``/``as_scp`` are our negotiated roles.
    """

    def __init__(
        self,
        abstract_syntax: str,
        transfer_syntax: Sequence[str] | None = None,
        *,
        context_id: int | None = None,
        result: int | None = None,
        scu_role: bool | None = None,
        scp_role: bool | None = None,
        as_scu: bool = False,
        as_scp: bool = False,
    ) -> None:
        self.abstract_syntax = str(abstract_syntax)
        if not transfer_syntax:
            from dicomnet.sop_class import DefaultTransferSyntaxes

            transfer_syntax = DefaultTransferSyntaxes
        self.transfer_syntax: list[str] = [str(t) for t in transfer_syntax]
        self.context_id = context_id
        self.result = result
        self.scu_role = scu_role
        self.scp_role = scp_role
        self.as_scu = as_scu
        self.as_scp = as_scp

    @property
    def accepted(self) -> bool:
        return self.result == 0

    @property
    def status(self) -> str:
        return RESULT_NAMES.get(self.result, "Pending") if self.result is not None else "Pending"

    @property
    def as_tuple(self) -> PresentationContextTuple:
        """``(context_id, abstract_syntax, transfer_syntax)`` with the first (for an accepted
        context: the accepted) transfer syntax."""
        return PresentationContextTuple(
            self.context_id or 0, self.abstract_syntax, self.transfer_syntax[0]
        )

    def add_transfer_syntax(self, syntax: str) -> None:
        if str(syntax) not in self.transfer_syntax:
            self.transfer_syntax.append(str(syntax))

    def __repr__(self) -> str:
        ident = f"{self.context_id}: " if self.context_id is not None else ""
        return f"<PresentationContext {ident}{uid_name(self.abstract_syntax)} [{self.status}]>"

    def __str__(self) -> str:
        lines = [f"Abstract Syntax: {uid_name(self.abstract_syntax)}"]
        lines += [f"  Transfer Syntax: {uid_name(t)}" for t in self.transfer_syntax]
        if self.result is not None:
            lines.append(f"  Result: {self.status}")
        return "\n".join(lines)


def build_context(
    abstract_syntax: str, transfer_syntax: str | Sequence[str] | None = None
) -> PresentationContext:
    """A context for ``abstract_syntax`` with the given (or the default) transfer syntaxes."""
    if isinstance(transfer_syntax, str):
        transfer_syntax = [transfer_syntax]
    return PresentationContext(abstract_syntax, transfer_syntax)


def from_negotiated(
    negotiated: Iterable[NegotiatedContext], proposed: Iterable[PresentationContextRQ]
) -> list[PresentationContext]:
    """The outcome of negotiation as users see it: an accepted context lists its one transfer
    syntax, a rejected one the syntaxes that were proposed."""
    offered = {pc.context_id: pc.transfer_syntaxes for pc in proposed}
    return [
        PresentationContext(
            nc.abstract_syntax,
            [nc.transfer_syntax] if nc.transfer_syntax else list(offered[nc.context_id]),
            context_id=nc.context_id,
            result=nc.result,
            as_scu=nc.as_scu,
            as_scp=nc.as_scp,
        )
        for nc in negotiated
    ]


class RoleSelectionProposal:
    """SCP/SCU role selection a requestor proposes for one SOP class (``AE.associate``'s
    ``ext_neg``); made by :func:`build_role`."""

    __slots__ = ("scp_role", "scu_role", "sop_class_uid")

    def __init__(self, sop_class_uid: str, scu_role: bool, scp_role: bool) -> None:
        self.sop_class_uid = str(sop_class_uid)
        self.scu_role = scu_role
        self.scp_role = scp_role

    def __repr__(self) -> str:
        return (
            f"<RoleSelectionProposal {uid_name(self.sop_class_uid)} "
            f"scu={self.scu_role} scp={self.scp_role}>"
        )


def build_role(uid: str, scu_role: bool = False, scp_role: bool = False) -> RoleSelectionProposal:
    """SCP/SCU role selection for ``AE.associate(..., ext_neg=[...])``, as pynetdicom's
    ``build_role``: the roles we propose for SOP class ``uid``, each False unless given.

    ``build_role(CTImageStorage, scp_role=True)`` proposes SCP only (SCU=0, SCP=1): what a
    C-GET SCU needs to receive its C-STORE sub-operations, and what DCMTK's ``dcmqrscp``
    accepts (it rejects a storage context proposed as SCU *and* SCP). To also send C-STOREs
    of that class on the same association, pass ``scu_role=True`` as well; the peer may then
    refuse the context.
    """
    return RoleSelectionProposal(uid, bool(scu_role), bool(scp_role))


# --- ready-made context lists (pynetdicom's names), built on first use ---------------------------


def context_list_names() -> list[str]:
    """Every ``*PresentationContexts`` name this module (and :mod:`dicomnet`) provides."""
    from dicomnet._sop_class_generated import CONTEXT_LISTS

    return sorted({*CONTEXT_LISTS, *_DYNAMIC_LISTS})


_DYNAMIC_LISTS = ("VerificationPresentationContexts", "AllStoragePresentationContexts")


def __getattr__(name: str) -> list[PresentationContext]:
    """pynetdicom's ready-made context lists, as fresh lists of contexts with the default
    transfer syntaxes each time (changing one cannot change the next user's).

    ``StoragePresentationContexts`` is pynetdicom's choice of 120 storage classes (leaving room
    for other contexts within the 128 of one association), ``AllStoragePresentationContexts``
    every storage class (for acceptors; registered ones too); the others
    (``QueryRetrievePresentationContexts``, ``BasicWorklistManagementPresentationContexts``
    alias ``ModalityWorklistPresentationContexts``, ``PrintManagementPresentationContexts``,
    ...) hold the same SOP classes as pynetdicom's."""
    if not name.endswith("PresentationContexts"):  # e.g. a probe for __path__: stay cheap
        raise AttributeError(f"module 'dicomnet.presentation' has no attribute {name!r}")
    from dicomnet import sop_class
    from dicomnet._sop_class_generated import CONTEXT_LISTS

    classes: tuple[str, ...]
    if name == "VerificationPresentationContexts":
        classes = (sop_class.Verification,)
    elif name == "AllStoragePresentationContexts":
        classes = sop_class.AllStorageClasses
    elif name in CONTEXT_LISTS:
        classes = CONTEXT_LISTS[name]
    else:
        raise AttributeError(f"module 'dicomnet.presentation' has no attribute {name!r}")
    return [build_context(uid) for uid in classes]
