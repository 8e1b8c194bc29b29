"""DIMSE-C and DIMSE-N messages (PS3.7 9.3, 10.3): one mutable record class per message type.

Class and attribute names follow pynetdicom (attributes are the DICOM keywords of the command
elements), so user handlers that read ``event.request.MessageID`` and the like keep working.
Every class holds exactly the command elements its message may carry (PS3.7 9.3 and 10.3, see
``reference/dimse.md`` section 4); optional elements default to ``None`` (not sent). N-GET,
N-SET, N-ACTION and N-DELETE requests name their instance with *Requested* SOP Class/Instance
UIDs, N-EVENT-REPORT and N-CREATE requests and every N response with *Affected* ones.
Encoding and decoding live in :mod:`dicomnet.dimse.command_codec`.

Command Data Set Type: 0x0101 means "no data set"; any other value means one follows. Requests
that carry a data set default to 0x0001, the value both DCMTK 3.6.7 (``storescu``, captured on
loopback) and pynetdicom put on the wire. N-GET and N-DELETE requests carry none, and the data
set of N-EVENT-REPORT, N-ACTION and N-CREATE requests is optional: those default to 0x0101.
Responses default to 0x0101; set
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
N_EVENT_REPORT = 0x0100
N_GET = 0x0110
N_SET = 0x0120
N_ACTION = 0x0130
N_CREATE = 0x0140
N_DELETE = 0x0150
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


@record(slots=True, kw_only=True)
class N_EVENT_REPORT_RQ(_MessageBase):
    """N-EVENT-REPORT request (PS3.7 10.3.1.1); the optional data set is the Event Information."""

    command_field: ClassVar[int] = N_EVENT_REPORT
    AffectedSOPClassUID: str
    MessageID: int
    CommandDataSetType: int = DATASET_ABSENT
    AffectedSOPInstanceUID: str
    EventTypeID: int


@record(slots=True, kw_only=True)
class N_EVENT_REPORT_RSP(_MessageBase):
    """N-EVENT-REPORT response (PS3.7 10.3.1.2); the optional data set is the Event Reply."""

    command_field: ClassVar[int] = N_EVENT_REPORT | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    AffectedSOPInstanceUID: str | None = None
    EventTypeID: int | None = None


@record(slots=True, kw_only=True)
class N_GET_RQ(_MessageBase):
    """N-GET request (PS3.7 10.3.2.1); no data set. An absent Attribute Identifier List asks
    for every attribute."""

    command_field: ClassVar[int] = N_GET
    RequestedSOPClassUID: str
    MessageID: int
    CommandDataSetType: int = DATASET_ABSENT
    RequestedSOPInstanceUID: str
    AttributeIdentifierList: tuple[int, ...] | None = None


@record(slots=True, kw_only=True)
class N_GET_RSP(_MessageBase):
    """N-GET response (PS3.7 10.3.2.2); the data set is the Attribute List."""

    command_field: ClassVar[int] = N_GET | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    AffectedSOPInstanceUID: str | None = None
    AttributeIdentifierList: tuple[int, ...] | None = None


@record(slots=True, kw_only=True)
class N_SET_RQ(_MessageBase):
    """N-SET request (PS3.7 10.3.3.1); the data set is the Modification List."""

    command_field: ClassVar[int] = N_SET
    RequestedSOPClassUID: str
    MessageID: int
    CommandDataSetType: int = DATASET_PRESENT
    RequestedSOPInstanceUID: str


@record(slots=True, kw_only=True)
class N_SET_RSP(_MessageBase):
    """N-SET response (PS3.7 10.3.3.2); the optional data set is the Attribute List."""

    command_field: ClassVar[int] = N_SET | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    AffectedSOPInstanceUID: str | None = None
    AttributeIdentifierList: tuple[int, ...] | None = None


@record(slots=True, kw_only=True)
class N_ACTION_RQ(_MessageBase):
    """N-ACTION request (PS3.7 10.3.4.1); the optional data set is the Action Information."""

    command_field: ClassVar[int] = N_ACTION
    RequestedSOPClassUID: str
    MessageID: int
    CommandDataSetType: int = DATASET_ABSENT
    RequestedSOPInstanceUID: str
    ActionTypeID: int


@record(slots=True, kw_only=True)
class N_ACTION_RSP(_MessageBase):
    """N-ACTION response (PS3.7 10.3.4.2); the optional data set is the Action Reply."""

    command_field: ClassVar[int] = N_ACTION | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    AffectedSOPInstanceUID: str | None = None
    ActionTypeID: int | None = None


@record(slots=True, kw_only=True)
class N_CREATE_RQ(_MessageBase):
    """N-CREATE request (PS3.7 10.3.5.1); the optional data set is the Attribute List. Without
    an Affected SOP Instance UID the SCP chooses one and returns it."""

    command_field: ClassVar[int] = N_CREATE
    AffectedSOPClassUID: str
    MessageID: int
    CommandDataSetType: int = DATASET_ABSENT
    AffectedSOPInstanceUID: str | None = None


@record(slots=True, kw_only=True)
class N_CREATE_RSP(_MessageBase):
    """N-CREATE response (PS3.7 10.3.5.2); the optional data set is the Attribute List."""

    command_field: ClassVar[int] = N_CREATE | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    AffectedSOPInstanceUID: str | None = None
    AttributeIdentifierList: tuple[int, ...] | None = None


@record(slots=True, kw_only=True)
class N_DELETE_RQ(_MessageBase):
    """N-DELETE request (PS3.7 10.3.6.1); no data set."""

    command_field: ClassVar[int] = N_DELETE
    RequestedSOPClassUID: str
    MessageID: int
    CommandDataSetType: int = DATASET_ABSENT
    RequestedSOPInstanceUID: str


@record(slots=True, kw_only=True)
class N_DELETE_RSP(_MessageBase):
    """N-DELETE response (PS3.7 10.3.6.2); no data set."""

    command_field: ClassVar[int] = N_DELETE | RESPONSE_BIT
    AffectedSOPClassUID: str | None = None
    MessageIDBeingRespondedTo: int
    CommandDataSetType: int = DATASET_ABSENT
    Status: int
    OffendingElement: tuple[int, ...] | None = None
    ErrorComment: str | None = None
    ErrorID: int | None = None
    AffectedSOPInstanceUID: str | None = None


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
    | N_EVENT_REPORT_RQ
    | N_EVENT_REPORT_RSP
    | N_GET_RQ
    | N_GET_RSP
    | N_SET_RQ
    | N_SET_RSP
    | N_ACTION_RQ
    | N_ACTION_RSP
    | N_CREATE_RQ
    | N_CREATE_RSP
    | N_DELETE_RQ
    | N_DELETE_RSP
)
NRequest = N_EVENT_REPORT_RQ | N_GET_RQ | N_SET_RQ | N_ACTION_RQ | N_CREATE_RQ | N_DELETE_RQ
NResponse = N_EVENT_REPORT_RSP | N_GET_RSP | N_SET_RSP | N_ACTION_RSP | N_CREATE_RSP | N_DELETE_RSP
Request = C_ECHO_RQ | C_STORE_RQ | C_FIND_RQ | C_GET_RQ | C_MOVE_RQ | C_CANCEL_RQ | NRequest
Response = C_ECHO_RSP | C_STORE_RSP | C_FIND_RSP | C_GET_RSP | C_MOVE_RSP | NResponse

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
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    N_GET_RQ,
    N_GET_RSP,
    N_SET_RQ,
    N_SET_RSP,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_CREATE_RQ,
    N_CREATE_RSP,
    N_DELETE_RQ,
    N_DELETE_RSP,
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


def response_type_for(request: Message) -> type[Message]:
    """The class of the response to ``request`` (its Command Field with the response bit)."""
    return MESSAGE_BY_COMMAND_FIELD[request.command_field | RESPONSE_BIT]
