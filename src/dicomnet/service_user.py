"""One side of an association as users see it: its AE title, address and negotiated
parameters (``assoc.requestor``, ``assoc.acceptor``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dicomnet.ul.items import SOPClassCommonExtended, UserIdentityRQ
    from dicomnet.ul.pdu import PDU


class ServiceUser:
    """One side of an association: its AE title, address and negotiated parameters."""

    def __init__(self, ae_title: str = "", address: str = "", port: int = 0) -> None:
        self.ae_title = ae_title
        self.address = address
        self.port = port
        self.maximum_length = 0
        self.implementation_class_uid = ""
        self.implementation_version_name: str | None = None
        self.primitive: PDU | None = None
        self.user_identity: UserIdentityRQ | None = None
        self.sop_class_common_extended: dict[str, SOPClassCommonExtended] = {}

    def __repr__(self) -> str:
        return f"<ServiceUser {self.ae_title!r} {self.address}:{self.port}>"


__all__ = ["ServiceUser"]
