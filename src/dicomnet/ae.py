"""The Application Entity: what users configure and call (``AE``, ``associate``,
``start_server``), with pynetdicom's names so existing code ports by changing imports."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from dicomnet._log import get_logger
from dicomnet.association import Association
from dicomnet.events import HandlerRegistry, HandlerSpec
from dicomnet.presentation import PresentationContext
from dicomnet.ul.codec import validate_ae_title
from dicomnet.ul.items import (
    AsyncOpsWindow,
    SOPClassCommonExtended,
    SOPClassExtended,
    UserIdentityRQ,
)
from dicomnet.ul.negotiation import MIN_PEER_MAX_LENGTH, ContextSpec

if TYPE_CHECKING:
    import ssl

    from dicomnet.transport.server import AssociationServer

LOGGER = get_logger("dicomnet")

#: dicomnet's Implementation Class UID (a UUID-derived 2.25 UID) and version name.
IMPLEMENTATION_CLASS_UID = "2.25.205416925368461542236468436620374458151"
IMPLEMENTATION_VERSION_NAME = "DICOMNET_010"

DEFAULT_MAX_PDU = 16382
MAX_CONTEXTS = 128


class AE:
    """A DICOM Application Entity: requested/supported contexts, timeouts, limits."""

    def __init__(self, ae_title: str = "DICOMNET") -> None:
        self._ae_title = validate_ae_title(ae_title)
        self.requested_contexts: list[PresentationContext] = []
        self.supported_contexts: list[PresentationContext] = []
        #: Seconds for the association and release phases, and ARTIM.
        self.acse_timeout: float | None = 30.0
        #: Seconds without a byte while waiting for a response or receiving a message, and
        #: without progress while sending.
        self.dimse_timeout: float | None = 30.0
        #: Seconds an association may sit idle (no byte received).
        self.network_timeout: float | None = 60.0
        #: Optional bound on receiving one whole message, in seconds (None: no bound).
        self.max_transfer_time: float | None = None
        #: Slowloris defence: a message arriving must bring at least this many bytes per
        #: second, over each window of ``transfer_rate_window`` seconds (0: no minimum).
        self.minimum_transfer_rate: float = 512.0
        self.transfer_rate_window: float = 30.0
        #: Seconds for the TCP connect (and TLS handshake); None: the OS default.
        self.connection_timeout: float | None = 30.0
        self._maximum_pdu_size = DEFAULT_MAX_PDU
        #: Associations served at once (A-ASSOCIATE-RJ, transient, local limit, beyond).
        self.maximum_associations = 10
        #: Connections that have not associated (yet): TLS handshake, waiting for the
        #: A-ASSOCIATE-RQ, being rejected. Beyond, the oldest silent one of the busiest address
        #: is cut.
        self.maximum_pending_connections = 32
        self.require_called_aet = False
        self.require_calling_aet: list[str] = []
        #: Accept a username+password user identity over plain TCP (default: only over TLS).
        self.allow_plain_password = False
        #: Reject (permanent, ACSE, no reason given) an A-ASSOCIATE-RQ without a User Identity
        #: item; the EVT_USER_ID handler decides about those that have one.
        self.require_user_identity = False
        self.implementation_class_uid = IMPLEMENTATION_CLASS_UID
        self.implementation_version_name: str | None = IMPLEMENTATION_VERSION_NAME
        #: Largest received data set, in bytes (None: no limit); beyond, the C-STORE is
        #: answered 0xA700 and nothing is kept (the association goes on).
        self.maximum_dataset_size: int | None = 4 * 1024**3
        #: A Deflated data set is refused when it inflates past this many bytes, or past
        #: ``maximum_deflate_ratio`` times its size once more than 64 MiB have been inflated.
        self.maximum_inflated_size: int | None = 4 * 1024**3
        self.maximum_deflate_ratio: float | None = 100.0
        #: Where received data sets larger than a few MiB are spooled (None: the system temp).
        self.spool_directory: str | None = None
        #: Acceptor: of the transfer syntaxes a supported context allows, pick the requestor's
        #: first proposed one (DCMTK ``storescp +xa`` keeps what the sender holds) instead of
        #: ours; ``preferred_transfer_syntaxes`` are still chosen first when proposed.
        self.keep_proposed_transfer_syntax = False
        self.preferred_transfer_syntaxes: list[str] = []
        #: Acceptor: also accept any abstract syntax that is not a SOP class we know to be
        #: something other than storage (DCMTK ``storescp -pm``), in these transfer syntaxes
        #: (None: off). Its C-STOREs reach EVT_C_STORE like any other.
        self.promiscuous_transfer_syntaxes: list[str] | None = None
        self._servers: list[AssociationServer] = []

    # --- properties -----------------------------------------------------------------------

    @property
    def ae_title(self) -> str:
        return self._ae_title

    @ae_title.setter
    def ae_title(self, value: str) -> None:
        self._ae_title = validate_ae_title(value)

    @property
    def maximum_pdu_size(self) -> int:
        """Largest P-DATA-TF we accept (advertised Maximum Length); 0 = no limit."""
        return self._maximum_pdu_size

    @maximum_pdu_size.setter
    def maximum_pdu_size(self, value: int) -> None:
        self._maximum_pdu_size = _check_max_pdu(value)

    @property
    def active_associations(self) -> list[Association]:
        # every server of ours makes Associations (see _new_acceptor)
        return [
            a
            for server in self._servers
            for a in server.active_associations
            if isinstance(a, Association)
        ]

    # --- contexts -------------------------------------------------------------------------

    def add_requested_context(
        self, abstract_syntax: str, transfer_syntax: str | Sequence[str] | None = None
    ) -> None:
        """Propose ``abstract_syntax`` with these transfer syntaxes (default: uncompressed)."""
        syntaxes = _syntaxes(transfer_syntax)
        if len(self.requested_contexts) >= MAX_CONTEXTS:
            raise ValueError("at most 128 presentation contexts can be requested")
        self.requested_contexts.append(PresentationContext(abstract_syntax, syntaxes))

    def add_supported_context(
        self,
        abstract_syntax: str,
        transfer_syntax: str | Sequence[str] | None = None,
        scu_role: bool | None = None,
        scp_role: bool | None = None,
    ) -> None:
        """Accept ``abstract_syntax`` in these transfer syntaxes (in our order of preference).

        ``scu_role``/``scp_role``: whether we agree to the requestor acting as SCU/SCP when it
        proposes SCP/SCU role selection (None: answer no role selection: default roles).
        """
        syntaxes = _syntaxes(transfer_syntax, uncompressed=True)
        for cx in self.supported_contexts:
            if cx.abstract_syntax == str(abstract_syntax):
                for syntax in syntaxes:
                    cx.add_transfer_syntax(syntax)
                if scu_role is not None:
                    cx.scu_role = scu_role
                if scp_role is not None:
                    cx.scp_role = scp_role
                return
        self.supported_contexts.append(
            PresentationContext(abstract_syntax, syntaxes, scu_role=scu_role, scp_role=scp_role)
        )

    def remove_requested_context(
        self, abstract_syntax: str, transfer_syntax: str | Sequence[str] | None = None
    ) -> None:
        """Stop proposing ``abstract_syntax``; with ``transfer_syntax``, only those syntaxes
        (the context goes when none is left), as pynetdicom's."""
        self.requested_contexts = _without(
            self.requested_contexts, abstract_syntax, transfer_syntax
        )

    def remove_supported_context(
        self, abstract_syntax: str, transfer_syntax: str | Sequence[str] | None = None
    ) -> None:
        """Stop accepting ``abstract_syntax`` (or only the given transfer syntaxes of it)."""
        self.supported_contexts = _without(
            self.supported_contexts, abstract_syntax, transfer_syntax
        )

    def supported_context_specs(self, proposed: Sequence[str] = ()) -> list[ContextSpec]:
        """What we accept, for negotiation; ``proposed``: the abstract syntaxes a requestor
        proposes (for :attr:`promiscuous_transfer_syntaxes`)."""
        keep = self.keep_proposed_transfer_syntax
        preferred = tuple(self.preferred_transfer_syntaxes) if keep else ()
        specs = [
            ContextSpec(
                cx.abstract_syntax,
                tuple(cx.transfer_syntax),
                cx.scu_role,
                cx.scp_role,
                keep_proposed=keep,
                preferred=preferred,
            )
            for cx in self.supported_contexts
        ]
        if self.promiscuous_transfer_syntaxes is not None:
            known = {spec.abstract_syntax for spec in specs}
            syntaxes = tuple(self.promiscuous_transfer_syntaxes)
            for uid in dict.fromkeys(proposed):
                if uid not in known and _maybe_storage(uid):
                    known.add(uid)
                    specs.append(
                        ContextSpec(uid, syntaxes, keep_proposed=keep, preferred=preferred)
                    )
        return specs

    # --- requesting -----------------------------------------------------------------------

    def associate(
        self,
        addr: str,
        port: int,
        contexts: Iterable[PresentationContext] | None = None,
        ae_title: str = "ANY-SCP",
        max_pdu: int | None = None,
        ext_neg: Any = None,
        bind_address: tuple[str, int] | None = None,
        tls_args: tuple[ssl.SSLContext, str | None] | None = None,
        evt_handlers: Iterable[HandlerSpec] | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        user_identity: UserIdentityRQ | None = None,
    ) -> Association:
        """Request an association with the peer at ``addr``:``port`` (called AE ``ae_title``).

        Always returns an :class:`Association`; check ``is_established``. When it is not,
        ``connect_error``, ``rejection``, ``abort_pdu`` and ``failure_reason`` say why.

        ``ext_neg`` takes what pynetdicom's does: :func:`dicomnet.build_role` items and the
        negotiation objects of :mod:`dicomnet.pdu_primitives` (user identity, asynchronous
        operations window, SOP class extended and common extended negotiation; pynetdicom's
        own objects of those kinds work too). ``max_pdu`` None: ``maximum_pdu_size``.
        """
        called = validate_ae_title(ae_title)
        wanted = list(contexts) if contexts is not None else list(self.requested_contexts)
        if not wanted:
            raise RuntimeError("no requested presentation contexts (use add_requested_context)")
        if len(wanted) > MAX_CONTEXTS:
            raise ValueError("at most 128 presentation contexts can be requested")
        specs = [
            ContextSpec(cx.abstract_syntax, tuple(cx.transfer_syntax), cx.scu_role, cx.scp_role)
            for cx in wanted
        ]
        extended: list[Any] = []
        if ext_neg:
            items = [_item_of(e) for e in ext_neg]
            identities = [item for item in items if isinstance(item, UserIdentityRQ)]
            if identities and user_identity is None:
                user_identity = identities[-1]
            extended = [item for item in items if isinstance(item, _EXTENDED_ITEMS)]
            roles = [
                item for item in items if not isinstance(item, (*_EXTENDED_ITEMS, UserIdentityRQ))
            ]
            specs = _apply_roles(specs, roles)
        server_hostname = None
        if tls_args is not None:
            ssl_context = ssl_context or tls_args[0]
            server_hostname = tls_args[1]  # the name to check the certificate against
        if user_identity is not None and ssl_context is None and user_identity.identity_type != 1:
            LOGGER.warning(
                "sending user identity credentials (type %d) without TLS: anyone on the "
                "network path can read them (use ssl_context= or tls_args=)",
                user_identity.identity_type,
            )
        if max_pdu is not None:
            max_pdu = _check_max_pdu(max_pdu)
        assoc = Association(
            self, "requestor", HandlerRegistry(_traced(evt_handlers)), max_pdu=max_pdu
        )
        assoc.request(
            addr,
            port,
            called,
            specs,
            ssl_context=ssl_context,
            server_hostname=server_hostname,
            user_identity=user_identity,
            bind_address=bind_address,
            extended=extended,
        )
        return assoc

    # --- serving --------------------------------------------------------------------------

    def make_server(
        self,
        address: tuple[str, int],
        ae_title: str | None = None,
        contexts: Iterable[PresentationContext] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        evt_handlers: Iterable[HandlerSpec] | None = None,
        server_class: type[AssociationServer] | None = None,
        **kwargs: Any,
    ) -> AssociationServer:
        """A server listening on ``address`` but not yet serving (pynetdicom's): call its
        ``serve_forever()`` (in a thread of yours) or ``start()``, and ``shutdown()`` at the
        end. ``server_class`` may be a subclass of :class:`AssociationServer`; ``kwargs`` go
        to it."""
        if ae_title is not None:
            self.ae_title = ae_title
        if contexts is not None:
            for cx in contexts:
                self.add_supported_context(
                    cx.abstract_syntax, cx.transfer_syntax, cx.scu_role, cx.scp_role
                )
        if not self.supported_contexts:
            raise ValueError("no supported presentation contexts (use add_supported_context)")
        from dicomnet.transport.server import AssociationServer  # not needed by an SCU

        cls = server_class or AssociationServer
        server = cls(
            self,
            address,
            HandlerRegistry(_traced(evt_handlers)),
            ssl_context=ssl_context,
            factory=self._new_acceptor,
            on_shutdown=self._server_stopped,
            **kwargs,
        )
        self._servers.append(server)
        return server

    def start_server(
        self,
        address: tuple[str, int],
        block: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        evt_handlers: Iterable[HandlerSpec] | None = None,
        ae_title: str | None = None,
        contexts: Iterable[PresentationContext] | None = None,
    ) -> AssociationServer | None:
        """Listen on ``address``; blocking (returns None after shutdown) or not (returns the
        running :class:`AssociationServer`)."""
        server = self.make_server(
            address,
            ae_title=ae_title,
            contexts=contexts,
            ssl_context=ssl_context,
            evt_handlers=evt_handlers,
        )
        if not block:
            server.start()
            return server
        try:
            server.serve_forever()
        finally:
            server.shutdown()
        return None

    def _new_acceptor(self, server: AssociationServer, handlers: HandlerRegistry) -> Association:
        return Association(self, "acceptor", handlers, server=server)

    def _server_stopped(self, server: AssociationServer) -> None:
        if server in self._servers:
            self._servers.remove(server)

    def shutdown(self) -> None:
        """Stop every server this AE started."""
        for server in list(self._servers):
            server.shutdown()


#: ``ext_neg`` items other than role selection: sent in the A-ASSOCIATE-RQ as they are.
_EXTENDED_ITEMS = (AsyncOpsWindow, SOPClassExtended, SOPClassCommonExtended)


def _traced(evt_handlers: Iterable[HandlerSpec] | None) -> list[HandlerSpec]:
    """The handlers given, and after :func:`dicomnet.debug_logger` the tracing ones."""
    handlers = list(evt_handlers or ())
    # Not imported: debug_logger was never called (and importing it costs a one-shot command
    # more than the check).
    compat = sys.modules.get("dicomnet._compat")
    if compat is not None and compat.tracing():
        from dicomnet._trace import trace_handlers

        handlers += trace_handlers()
    return handlers


#: pynetdicom-style negotiation objects without ``to_item`` (pynetdicom's own): the attribute
#: that tells each kind apart, and our class with the same attributes.
_FOREIGN_ITEMS = (
    ("primary_field", "UserIdentityNegotiation"),
    ("maximum_number_operations_invoked", "AsynchronousOperationsWindowNegotiation"),
    ("service_class_application_information", "SOPClassExtendedNegotiation"),
    ("related_general_sop_class_identification", "SOPClassCommonExtendedNegotiation"),
)


def _item_of(entry: Any) -> Any:
    """An ``ext_neg`` entry as the sub-item it stands for: pynetdicom-style negotiation
    objects (:mod:`dicomnet.pdu_primitives`, or pynetdicom's own, which have the same
    attributes) become our items; role selections and our own items stay as they are."""
    if isinstance(entry, (*_EXTENDED_ITEMS, UserIdentityRQ)):
        return entry
    to_item = getattr(entry, "to_item", None)
    if callable(to_item):
        return to_item()
    for marker, name in _FOREIGN_ITEMS:
        if hasattr(entry, marker):
            from dicomnet import pdu_primitives

            ours = getattr(pdu_primitives, name)()
            for attribute in vars(ours):
                setattr(ours, attribute, getattr(entry, attribute, getattr(ours, attribute)))
            return ours.to_item()
    return entry


def _apply_roles(specs: list[ContextSpec], ext_neg: Iterable[Any]) -> list[ContextSpec]:
    """Put the role selection items of ``ext_neg`` (:func:`dicomnet.presentation.build_role`,
    or any object with ``sop_class_uid``/``scu_role``/``scp_role``) on the matching contexts.

    A ``scu_role`` of None (from code written for earlier dicomnet) keeps the default SCU
    role. Items of other kinds, and roles for a
    SOP class with no requested context, are ignored with a warning."""
    roles: dict[str, tuple[bool, bool]] = {}
    for item in ext_neg:
        uid = getattr(item, "sop_class_uid", None)
        if uid is None or not hasattr(item, "scp_role"):
            LOGGER.warning("ignoring an extended negotiation item we do not support: %r", item)
            continue
        scu = getattr(item, "scu_role", None)
        roles[str(uid)] = (True if scu is None else bool(scu), bool(item.scp_role))
    used: set[str] = set()
    result = []
    for spec in specs:
        role = roles.get(spec.abstract_syntax)
        if role is None:
            result.append(spec)
            continue
        used.add(spec.abstract_syntax)
        result.append(ContextSpec(spec.abstract_syntax, spec.transfer_syntaxes, *role))
    for uid in roles.keys() - used:
        LOGGER.warning("role selection for %s, which no requested context proposes", uid)
    return result


def _without(
    contexts: list[PresentationContext],
    abstract_syntax: str,
    transfer_syntax: str | Sequence[str] | None,
) -> list[PresentationContext]:
    """``contexts`` without ``abstract_syntax`` (None), or without those transfer syntaxes of
    it; a context left with no transfer syntax is dropped."""
    uid = str(abstract_syntax)
    if transfer_syntax is None:
        return [cx for cx in contexts if cx.abstract_syntax != uid]
    gone = set(_syntaxes(transfer_syntax))
    kept = []
    for cx in contexts:
        if cx.abstract_syntax == uid:
            cx.transfer_syntax = [ts for ts in cx.transfer_syntax if ts not in gone]
            if not cx.transfer_syntax:
                continue
        kept.append(cx)
    return kept


def _syntaxes(
    transfer_syntax: str | Sequence[str] | None, *, uncompressed: bool = False
) -> list[str]:
    """The given syntaxes, or (None) the defaults: the requestor's, or the uncompressed ones an
    acceptor supports. (The SOP class tables are imported only then: not needed otherwise.)"""
    if transfer_syntax is None:
        from dicomnet import sop_class

        if uncompressed:
            return [str(t) for t in sop_class.UncompressedTransferSyntaxes]
        return [str(t) for t in sop_class.DefaultTransferSyntaxes]
    if isinstance(transfer_syntax, str):
        return [transfer_syntax]
    return [str(t) for t in transfer_syntax]


def _maybe_storage(uid: str) -> bool:
    """A promiscuous acceptor's test: a valid UID that is neither a transfer syntax, nor the
    application context, nor a SOP class we know to be other than storage."""
    from dicomnet.sop_class import sop_class_for, transfer_syntax_for
    from dicomnet.ul.codec import is_valid_uid

    if not is_valid_uid(uid) or uid == "1.2.840.10008.3.1.1.1":
        return False
    if transfer_syntax_for(uid).name:
        return False
    return sop_class_for(uid).group in ("storage", "")


def _check_max_pdu(value: int) -> int:
    """A maximum PDU length we may advertise: 0 (no limit) or at least the minimum we honour
    from peers (:data:`dicomnet.ul.negotiation.MIN_PEER_MAX_LENGTH`)."""
    if value != 0 and not MIN_PEER_MAX_LENGTH <= value <= 0xFFFFFFFF:
        raise ValueError(
            f"maximum PDU size must be 0 (no limit) or {MIN_PEER_MAX_LENGTH}..4294967295"
        )
    return int(value)
