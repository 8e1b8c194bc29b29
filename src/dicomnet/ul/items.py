"""Typed, immutable values for the items and sub-items of A-ASSOCIATE-RQ/AC (PS3.8 9.3, Annex D).

These are plain values; encoding and decoding live in :mod:`dicomnet.ul.codec`. AE titles are
held without padding, UIDs without trailing NUL or space.
"""

from __future__ import annotations

from dicomnet._record import field, record

APPLICATION_CONTEXT_NAME = "1.2.840.10008.3.1.1.1"

# Presentation context results (item 0x21, PS3.8 Table 9-18)
PC_ACCEPTANCE = 0
PC_USER_REJECTION = 1
PC_NO_REASON = 2
PC_ABSTRACT_SYNTAX_NOT_SUPPORTED = 3
PC_TRANSFER_SYNTAXES_NOT_SUPPORTED = 4


@record(frozen=True, slots=True)
class PresentationContextRQ:
    """Item 0x20: one proposed context: an abstract syntax and the transfer syntaxes offered."""

    context_id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


@record(frozen=True, slots=True)
class PresentationContextAC:
    """Item 0x21: the acceptor's answer for one context.

    ``transfer_syntax`` is significant only when ``result`` is 0 (acceptance); otherwise it may
    be empty and must not be tested.
    """

    context_id: int
    result: int
    transfer_syntax: str


@record(frozen=True, slots=True)
class AsyncOpsWindow:
    """Sub-item 0x53. 0 means unlimited; absent means 1/1 (synchronous)."""

    max_invoked: int
    max_performed: int


@record(frozen=True, slots=True)
class RoleSelection:
    """Sub-item 0x54: SCU and SCP role for one SOP class (1 = supported/accepted, 0 = not)."""

    sop_class_uid: str
    scu_role: bool
    scp_role: bool


@record(frozen=True, slots=True)
class SOPClassExtended:
    """Sub-item 0x56: service-class application information for one SOP class."""

    sop_class_uid: str
    app_info: bytes


@record(frozen=True, slots=True)
class SOPClassCommonExtended:
    """Sub-item 0x57 (RQ only): service class and related general SOP classes."""

    sop_class_uid: str
    service_class_uid: str
    related_general_sop_classes: tuple[str, ...] = ()


@record(frozen=True, slots=True)
class UserIdentityRQ:
    """Sub-item 0x58. ``identity_type``: 1 username, 2 username+passcode, 3 Kerberos, 4 SAML,
    5 JWT. ``secondary`` is non-empty only for type 2."""

    identity_type: int
    positive_response_requested: bool
    primary: bytes
    secondary: bytes = b""

    def __repr__(self) -> str:
        # Secrets never reach a log: only a username (types 1 and 2) is shown.
        primary = repr(self.primary) if self.identity_type in (1, 2) else _redacted(self.primary)
        return (
            f"UserIdentityRQ(identity_type={self.identity_type}, "
            f"positive_response_requested={self.positive_response_requested}, "
            f"primary={primary}, secondary={_redacted(self.secondary)})"
        )


@record(frozen=True, slots=True)
class UserIdentityAC:
    """Sub-item 0x59: the server response (may be empty)."""

    server_response: bytes

    def __repr__(self) -> str:
        return f"UserIdentityAC(server_response={_redacted(self.server_response)})"


def _redacted(secret: bytes) -> str:
    return f"<{len(secret)} bytes redacted>" if secret else "b''"


@record(frozen=True, slots=True)
class UnknownSubItem:
    """A user-information sub-item of a type we do not know; kept so it can be logged."""

    item_type: int
    data: bytes


@record(frozen=True, slots=True)
class UserInformation:
    """Item 0x50. ``max_length`` 0 means no maximum (sub-item 0x51)."""

    max_length: int
    implementation_class_uid: str
    implementation_version_name: str | None = None
    async_ops: AsyncOpsWindow | None = None
    roles: tuple[RoleSelection, ...] = ()
    sop_class_extended: tuple[SOPClassExtended, ...] = ()
    sop_class_common_extended: tuple[SOPClassCommonExtended, ...] = ()
    user_identity_rq: UserIdentityRQ | None = None
    user_identity_ac: UserIdentityAC | None = None
    unknown: tuple[UnknownSubItem, ...] = field(default=(), compare=True)
