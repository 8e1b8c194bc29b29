"""pynetdicom's extended negotiation items, by its names, for ``AE.associate(ext_neg=[...])``.

Code written for pynetdicom builds these as mutable objects and sets attributes::

    from dicomnet.pdu_primitives import UserIdentityNegotiation

    user_identity = UserIdentityNegotiation()
    user_identity.user_identity_type = 2
    user_identity.primary_field = b"alice"
    user_identity.secondary_field = b"secret"
    assoc = ae.associate("127.0.0.1", 11112, ext_neg=[user_identity])

``AE.associate`` turns each into the sub-item it stands for (:meth:`to_item`). Only the
requestor's side is here: received items reach handlers as ``event`` attributes.
"""

from __future__ import annotations

from typing import Any

from dicomnet.ul.items import (
    AsyncOpsWindow,
    SOPClassCommonExtended,
    SOPClassExtended,
    UserIdentityRQ,
)


def _as_bytes(value: Any, what: str) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


class UserIdentityNegotiation:
    """User Identity (sub-item 0x58): ``user_identity_type`` 1 username, 2 username and
    passcode, 3 Kerberos, 4 SAML, 5 JWT; ``primary_field``, ``secondary_field`` (type 2 only);
    ``positive_response_requested``."""

    def __init__(self) -> None:
        self.user_identity_type: int | None = None
        self.positive_response_requested = False
        self.primary_field: bytes | None = None
        self.secondary_field: bytes | None = None

    def to_item(self) -> UserIdentityRQ:
        kind = self.user_identity_type
        if kind not in (1, 2, 3, 4, 5):
            raise ValueError("user_identity_type must be 1, 2, 3, 4 or 5")
        primary = _as_bytes(self.primary_field, "primary_field")
        secondary = _as_bytes(self.secondary_field, "secondary_field")
        if not primary:
            raise ValueError("primary_field is required for user identity negotiation")
        if kind == 2 and not secondary:
            raise ValueError("user_identity_type 2 needs a secondary_field (the passcode)")
        return UserIdentityRQ(
            identity_type=kind,
            positive_response_requested=bool(self.positive_response_requested),
            primary=primary,
            secondary=secondary if kind == 2 else b"",
        )

    def __repr__(self) -> str:  # never shows the secrets
        return f"<UserIdentityNegotiation type={self.user_identity_type}>"


class SCP_SCU_RoleSelectionNegotiation:  # pynetdicom's name
    """SCP/SCU Role Selection (sub-item 0x54): ``sop_class_uid``, ``scu_role``, ``scp_role``
    (as :func:`dicomnet.build_role` makes)."""

    def __init__(self) -> None:
        self.sop_class_uid: str | None = None
        self.scu_role = False
        self.scp_role = False


class AsynchronousOperationsWindowNegotiation:
    """Asynchronous Operations Window (sub-item 0x53)."""

    def __init__(self) -> None:
        self.maximum_number_operations_invoked = 1
        self.maximum_number_operations_performed = 1

    def to_item(self) -> AsyncOpsWindow:
        return AsyncOpsWindow(
            max_invoked=int(self.maximum_number_operations_invoked),
            max_performed=int(self.maximum_number_operations_performed),
        )


class SOPClassExtendedNegotiation:
    """SOP Class Extended Negotiation (sub-item 0x56)."""

    def __init__(self) -> None:
        self.sop_class_uid: str | None = None
        self.service_class_application_information: bytes | None = None

    def to_item(self) -> SOPClassExtended:
        if not self.sop_class_uid:
            raise ValueError("sop_class_uid is required")
        info = _as_bytes(self.service_class_application_information, "application information")
        return SOPClassExtended(sop_class_uid=str(self.sop_class_uid), app_info=info)


class SOPClassCommonExtendedNegotiation:
    """SOP Class Common Extended Negotiation (sub-item 0x57)."""

    def __init__(self) -> None:
        self.sop_class_uid: str | None = None
        self.service_class_uid: str | None = None
        self.related_general_sop_class_identification: list[str] = []

    def to_item(self) -> SOPClassCommonExtended:
        if not self.sop_class_uid or not self.service_class_uid:
            raise ValueError("sop_class_uid and service_class_uid are required")
        return SOPClassCommonExtended(
            sop_class_uid=str(self.sop_class_uid),
            service_class_uid=str(self.service_class_uid),
            related_general_sop_classes=tuple(
                str(u) for u in self.related_general_sop_class_identification
            ),
        )


__all__ = [
    "AsynchronousOperationsWindowNegotiation",
    "SCP_SCU_RoleSelectionNegotiation",
    "SOPClassCommonExtendedNegotiation",
    "SOPClassExtendedNegotiation",
    "UserIdentityNegotiation",
]
