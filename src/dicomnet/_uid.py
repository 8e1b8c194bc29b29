"""UID value types that need no pydicom: SOP classes and transfer syntaxes are ``str`` subclasses,
so they compare equal to plain UID strings (and to pydicom ``UID`` values)."""

from __future__ import annotations

from typing import Any

IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"

#: The transfer syntaxes whose data sets are native (no encapsulated pixel data), in the order
#: we prefer them: Explicit VR LE, Implicit VR LE, Deflated Explicit VR LE, Explicit VR BE.
UNCOMPRESSED_SYNTAXES = (
    EXPLICIT_VR_LE,
    IMPLICIT_VR_LE,
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
)
_NATIVE = frozenset(UNCOMPRESSED_SYNTAXES)


class SOPClass(str):
    """A SOP Class UID with its name, keyword and service group.

    ``group`` is one of ``verification``, ``storage``, ``qr``, ``worklist`` and ``other``
    (the DIMSE-N and other services of pynetdicom's lists).
    """

    name: str
    keyword: str
    group: str
    is_retired: bool

    def __new__(
        cls, uid: str, name: str = "", keyword: str = "", group: str = "", *, retired: bool = False
    ) -> SOPClass:
        self = super().__new__(cls, uid)
        self.name = name
        self.keyword = keyword
        self.group = group
        self.is_retired = retired
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_sop_class, (str(self), self.name, self.keyword, self.group, self.is_retired))


class TransferSyntax(str):
    """A transfer syntax UID with its name and encoding properties."""

    name: str
    keyword: str
    is_retired: bool

    def __new__(
        cls, uid: str, name: str = "", keyword: str = "", *, retired: bool = False
    ) -> TransferSyntax:
        self = super().__new__(cls, uid)
        self.name = name
        self.keyword = keyword
        self.is_retired = retired
        return self

    @property
    def is_implicit_vr(self) -> bool:
        return str(self) == "1.2.840.10008.1.2"

    @property
    def is_little_endian(self) -> bool:
        return str(self) != "1.2.840.10008.1.2.2"

    @property
    def is_deflated(self) -> bool:
        return str(self) in ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.95")

    @property
    def is_compressed(self) -> bool:
        """True when pixel data is encapsulated (compressed or referenced)."""
        return str(self) not in _NATIVE

    def __reduce__(self) -> tuple[Any, ...]:
        return (_transfer_syntax, (str(self), self.name, self.keyword, self.is_retired))


def _sop_class(uid: str, name: str, keyword: str, group: str, retired: bool) -> SOPClass:
    """Unpickle a SOPClass (``retired`` is keyword-only in the constructor)."""
    return SOPClass(uid, name, keyword, group, retired=retired)


def _transfer_syntax(uid: str, name: str, keyword: str, retired: bool) -> TransferSyntax:
    """Unpickle a TransferSyntax (``retired`` is keyword-only in the constructor)."""
    return TransferSyntax(uid, name, keyword, retired=retired)
