"""DIMSE-C messages (PS3.7 9.3): one mutable record class per message type.

Class and attribute names follow pynetdicom (attributes are the DICOM keywords of the command
elements), so user handlers that read ``event.request.MessageID`` and the like keep working.
Every class holds exactly the command elements its message may carry (PS3.7 9.3, see
``reference/dimse.md`` section 4); optional elements default to ``None`` (not sent).
Encoding and decoding live in :mod:`dicomnet.dimse.command_codec`.

Command Data Set Type: 0x0101 means "no data set"; any other value means one follows. Requests
that carry a data set default to 0x0001, the value both DCMTK 3.6.7 (``storescu``, captured on
loopback) and pynetdicom put on the wire. Responses default to 0x0101; set
``CommandDataSetType = DATASET_PRESENT`` on a response followed by an identifier.
"""

from __future__ import annotations

from typing import ClassVar, TypeGuard

from dicomnet._record import record

# Command Data Set Type (0000,0800)
DATASET_ABSENT = 0x0101
DATASET_PRESENT = 0x0001

# Priority (0000,0700)
PRIORITY_MEDIUM = 0x0000
PRIORITY_HIGH = 0x0001
PRIORITY_LOW = 0x0002

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"

# Command Field (0000,0100)
C_STORE = 0x0001
C_GET = 0x0010
C_FIND = 0x0020
C_MOVE = 0x0021
C_ECHO = 0x0030
C_CANCEL = 0x0FFF
RESPONSE_BIT = 0x8000


class _MessageBase:
    """Behaviour shared by every message class."""

    __slots__ = ()

    command_field: ClassVar[int]
    CommandDataSetType: int

    @property
    def has_dataset(self) -> bool:
        """True when a data set follows the command set (any value but 0x0101)."""
        return self.CommandDataSetType != DATASET_ABSENT


@record(slots=True, kw_only=True)
class C_ECHO_RQ(_MessageBase):
    """C-ECHO request (PS3.7 9.3.5.1)."""

    command_field: ClassVar[int] = C_ECHO
    AffectedSOPClassUID: str = VERIFICATION_SOP_CLASS
    MessageID: int
    CommandDataSetType: int = DATASET_ABSENT


@record(slots=True, kw_only=True)
class C_ECHO_RSP(_MessageBase):
    """C-ECHO response (PS3.7 9.3.5.2)."""

    command_field: ClassVar[int] = C_ECHO | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None


@record(slots=True, kw_only=True)
class C_STORE_RQ(_MessageBase):
    """C-STORE request (PS3.7 9.3.1.1); the data set is the SOP instance."""

    command_field: ClassVar[int] = C_STORE
    AffectedSOPClassUID: str
    MessageID: int
    Priority: int = PRIORITY_MEDIUM
    CommandDataSetType: int = DATASET_PRESENT
    AffectedSOPInstanceUID: str
    MoveOriginatorApplicationEntityTitle: str | None = None
    MoveOriginatorMessageID: int | None = None


@record(slots=True, kw_only=True)
class C_STORE_RSP(_MessageBase):
    """C-STORE response (PS3.7 9.3.1.2)."""

    command_field: ClassVar[int] = C_STORE | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    AffectedSOPInstanceUID: str | None = None


@record(slots=True, kw_only=True)
class C_FIND_RQ(_MessageBase):
    """C-FIND request (PS3.7 9.3.2.1); the data set is the identifier."""

    command_field: ClassVar[int] = C_FIND
    AffectedSOPClassUID: str
    MessageID: int
    Priority: int = PRIORITY_MEDIUM
    CommandDataSetType: int = DATASET_PRESENT


@record(slots=True, kw_only=True)
class C_FIND_RSP(_MessageBase):
    """C-FIND response (PS3.7 9.3.2.2); Pending responses carry an identifier."""

    command_field: ClassVar[int] = C_FIND | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None


@record(slots=True, kw_only=True)
class C_GET_RQ(_MessageBase):
    """C-GET request (PS3.7 9.3.3.1); the data set is the identifier."""

    command_field: ClassVar[int] = C_GET
    AffectedSOPClassUID: str
    MessageID: int
    Priority: int = PRIORITY_MEDIUM
    CommandDataSetType: int = DATASET_PRESENT


@record(slots=True, kw_only=True)
class C_GET_RSP(_MessageBase):
    """C-GET response (PS3.7 9.3.3.2); may carry a Failed SOP Instance UID List."""

    command_field: ClassVar[int] = C_GET | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    NumberOfRemainingSuboperations: int | None = None
    NumberOfCompletedSuboperations: int | None = None
    NumberOfFailedSuboperations: int | None = None
    NumberOfWarningSuboperations: int | None = None


@record(slots=True, kw_only=True)
class C_MOVE_RQ(_MessageBase):
    """C-MOVE request (PS3.7 9.3.4.1); the data set is the identifier."""

    command_field: ClassVar[int] = C_MOVE
    AffectedSOPClassUID: str
    MessageID: int
    MoveDestination: str
    Priority: int = PRIORITY_MEDIUM
    CommandDataSetType: int = DATASET_PRESENT


@record(slots=True, kw_only=True)
class C_MOVE_RSP(_MessageBase):
    """C-MOVE response (PS3.7 9.3.4.2); may carry a Failed SOP Instance UID List."""

    command_field: ClassVar[int] = C_MOVE | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    NumberOfRemainingSuboperations: int | None = None
    NumberOfCompletedSuboperations: int | None = None
    NumberOfFailedSuboperations: int | None = None
    NumberOfWarningSuboperations: int | None = None


@record(slots=True, kw_only=True)
class C_CANCEL_RQ(_MessageBase):
    """C-CANCEL request (PS3.7 9.3.2.3): cancels the FIND, GET or MOVE with that Message ID."""

    command_field: ClassVar[int] = C_CANCEL
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT


Message = (
    C_ECHO_RQ
    | C_ECHO_RSP
    | C_STORE_RQ
    | C_STORE_RSP
    | C_FIND_RQ
    | C_FIND_RSP
    | C_GET_RQ
    | C_GET_RSP
    | C_MOVE_RQ
    | C_MOVE_RSP
    | C_CANCEL_RQ
)
Request = C_ECHO_RQ | C_STORE_RQ | C_FIND_RQ | C_GET_RQ | C_MOVE_RQ | C_CANCEL_RQ
Response = C_ECHO_RSP | C_STORE_RSP | C_FIND_RSP | C_GET_RSP | C_MOVE_RSP

MESSAGE_TYPES: tuple[type[Message], ...] = (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    C_FIND_RQ,
    C_FIND_RSP,
    C_GET_RQ,
    C_GET_RSP,
    C_MOVE_RQ,
    C_MOVE_RSP,
    C_CANCEL_RQ,
)
"""Every message class, requests and responses alike."""

MESSAGE_BY_COMMAND_FIELD: dict[int, type[Message]] = {m.command_field: m for m in MESSAGE_TYPES}
"""Command Field value (0000,0100) -> message class."""


def is_request(msg: Message) -> TypeGuard[Request]:
    """True for a request (C-CANCEL-RQ included)."""
    return not msg.command_field & RESPONSE_BIT


def is_response(msg: Message) -> TypeGuard[Response]:
    """True for a response."""
    return bool(msg.command_field & RESPONSE_BIT)
