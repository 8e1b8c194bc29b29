"""DIMSE-C and DIMSE-N message classes: command fields, defaults, data set flag, slots."""

from __future__ import annotations

import pytest

from dicomnet import _record
from dicomnet.dimse import messages as m
from dicomnet.dimse.messages import (
    C_CANCEL_RQ,
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_FIND_RQ,
    C_FIND_RSP,
    C_GET_RQ,
    C_GET_RSP,
    C_MOVE_RQ,
    C_MOVE_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    MESSAGE_BY_COMMAND_FIELD,
    MESSAGE_TYPES,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_CREATE_RQ,
    N_CREATE_RSP,
    N_DELETE_RQ,
    N_DELETE_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    N_GET_RQ,
    N_GET_RSP,
    N_SET_RQ,
    N_SET_RSP,
    Message,
    is_request,
    is_response,
)

UID = "1.2.840.10008.5.1.4.1.1.2"

EXPECTED_COMMAND_FIELDS = {
    C_STORE_RQ: 0x0001,
    C_STORE_RSP: 0x8001,
    C_GET_RQ: 0x0010,
    C_GET_RSP: 0x8010,
    C_FIND_RQ: 0x0020,
    C_FIND_RSP: 0x8020,
    C_MOVE_RQ: 0x0021,
    C_MOVE_RSP: 0x8021,
    C_ECHO_RQ: 0x0030,
    C_ECHO_RSP: 0x8030,
    C_CANCEL_RQ: 0x0FFF,
    N_EVENT_REPORT_RQ: 0x0100,
    N_EVENT_REPORT_RSP: 0x8100,
    N_GET_RQ: 0x0110,
    N_GET_RSP: 0x8110,
    N_SET_RQ: 0x0120,
    N_SET_RSP: 0x8120,
    N_ACTION_RQ: 0x0130,
    N_ACTION_RSP: 0x8130,
    N_CREATE_RQ: 0x0140,
    N_CREATE_RSP: 0x8140,
    N_DELETE_RQ: 0x0150,
    N_DELETE_RSP: 0x8150,
}

N_RESPONSES = (N_EVENT_REPORT_RSP, N_GET_RSP, N_SET_RSP, N_ACTION_RSP, N_CREATE_RSP, N_DELETE_RSP)


def sample(cls: type[Message]) -> Message:
    """A minimal valid instance of each class (mandatory fields only)."""
    if cls is C_ECHO_RQ:
        return C_ECHO_RQ(MessageID=1)
    if cls is C_STORE_RQ:
        return C_STORE_RQ(AffectedSOPClassUID=UID, MessageID=1, AffectedSOPInstanceUID="1.2")
    if cls is C_FIND_RQ:
        return C_FIND_RQ(AffectedSOPClassUID=UID, MessageID=1)
    if cls is C_GET_RQ:
        return C_GET_RQ(AffectedSOPClassUID=UID, MessageID=1)
    if cls is C_MOVE_RQ:
        return C_MOVE_RQ(AffectedSOPClassUID=UID, MessageID=1, MoveDestination="DEST")
    if cls is C_CANCEL_RQ:
        return C_CANCEL_RQ(MessageIDBeingRespondedTo=1)
    if cls is N_EVENT_REPORT_RQ:
        return N_EVENT_REPORT_RQ(
            AffectedSOPClassUID=UID, MessageID=1, AffectedSOPInstanceUID="1.2", EventTypeID=1
        )
    if cls is N_CREATE_RQ:
        return N_CREATE_RQ(AffectedSOPClassUID=UID, MessageID=1)
    if cls is N_ACTION_RQ:
        return N_ACTION_RQ(
            RequestedSOPClassUID=UID, MessageID=1, RequestedSOPInstanceUID="1.2", ActionTypeID=1
        )
    if cls in (N_GET_RQ, N_SET_RQ, N_DELETE_RQ):
        return cls(RequestedSOPClassUID=UID, MessageID=1, RequestedSOPInstanceUID="1.2")
    assert cls in (C_ECHO_RSP, C_STORE_RSP, C_FIND_RSP, C_GET_RSP, C_MOVE_RSP, *N_RESPONSES)
    return cls(MessageIDBeingRespondedTo=1, Status=0)


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_command_field_matches_the_standard(cls: type[Message]) -> None:
    assert cls.command_field == EXPECTED_COMMAND_FIELDS[cls]
    assert MESSAGE_BY_COMMAND_FIELD[cls.command_field] is cls


def test_every_response_is_its_request_with_bit_15_set() -> None:
    pairs: list[tuple[type[Message], type[Message]]] = [
        (C_ECHO_RQ, C_ECHO_RSP),
        (C_STORE_RQ, C_STORE_RSP),
        (C_FIND_RQ, C_FIND_RSP),
        (C_GET_RQ, C_GET_RSP),
        (C_MOVE_RQ, C_MOVE_RSP),
        (N_EVENT_REPORT_RQ, N_EVENT_REPORT_RSP),
        (N_GET_RQ, N_GET_RSP),
        (N_SET_RQ, N_SET_RSP),
        (N_ACTION_RQ, N_ACTION_RSP),
        (N_CREATE_RQ, N_CREATE_RSP),
        (N_DELETE_RQ, N_DELETE_RSP),
    ]
    for rq, rsp in pairs:
        assert rsp.command_field == rq.command_field | 0x8000


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_default_data_set_flag(cls: type[Message]) -> None:
    msg = sample(cls)
    with_data = {C_STORE_RQ, C_FIND_RQ, C_GET_RQ, C_MOVE_RQ, N_SET_RQ}
    assert msg.has_dataset is (cls in with_data)
    assert msg.CommandDataSetType == (0x0001 if cls in with_data else 0x0101)


@pytest.mark.parametrize("value", [0x0000, 0x0001, 0x0102, 0xFFFF])
def test_any_value_but_0101_means_a_data_set(value: int) -> None:
    rsp = C_FIND_RSP(MessageIDBeingRespondedTo=3, Status=0xFF00, CommandDataSetType=value)
    assert rsp.has_dataset


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
def test_request_and_response_helpers(cls: type[Message]) -> None:
    msg = sample(cls)
    assert is_request(msg) is cls.__name__.endswith("_RQ")
    assert is_response(msg) is cls.__name__.endswith("_RSP")


def test_defaults_and_optional_fields() -> None:
    echo = C_ECHO_RQ(MessageID=7)
    assert echo.AffectedSOPClassUID == "1.2.840.10008.1.1"
    store = C_STORE_RQ(AffectedSOPClassUID=UID, MessageID=2, AffectedSOPInstanceUID="1.2.3")
    assert store.Priority == m.PRIORITY_MEDIUM == 0
    assert store.MoveOriginatorApplicationEntityTitle is None
    assert store.MoveOriginatorMessageID is None
    rsp = C_MOVE_RSP(MessageIDBeingRespondedTo=2, Status=0xFF00)
    assert rsp.AffectedSOPClassUID is None
    assert rsp.NumberOfRemainingSuboperations is None
    assert rsp.OffendingElement is None


def test_messages_are_mutable_slotted_and_comparable() -> None:
    rsp = C_STORE_RSP(MessageIDBeingRespondedTo=1, Status=0)
    rsp.Status = 0xA700
    rsp.ErrorComment = "disk full"
    assert rsp == C_STORE_RSP(MessageIDBeingRespondedTo=1, Status=0xA700, ErrorComment="disk full")
    assert not hasattr(rsp, "__dict__")
    with pytest.raises(AttributeError):
        rsp.MoveDestination = "X"  # type: ignore[attr-defined]


def test_mandatory_fields_are_required_keyword_arguments() -> None:
    with pytest.raises(TypeError):
        C_STORE_RQ(AffectedSOPClassUID=UID, MessageID=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        C_ECHO_RSP(1, 0)  # type: ignore[call-arg, arg-type]


def test_field_names_are_dicom_keywords() -> None:
    names = {f.name for cls in MESSAGE_TYPES for f in _record.fields(cls)}
    assert names == {
        "ActionTypeID",
        "AffectedSOPClassUID",
        "AffectedSOPInstanceUID",
        "AttributeIdentifierList",
        "CommandDataSetType",
        "ErrorComment",
        "ErrorID",
        "EventTypeID",
        "MessageID",
        "MessageIDBeingRespondedTo",
        "MoveDestination",
        "MoveOriginatorApplicationEntityTitle",
        "MoveOriginatorMessageID",
        "NumberOfCompletedSuboperations",
        "NumberOfFailedSuboperations",
        "NumberOfRemainingSuboperations",
        "NumberOfWarningSuboperations",
        "OffendingElement",
        "Priority",
        "RequestedSOPClassUID",
        "RequestedSOPInstanceUID",
        "Status",
    }
