"""Responses built from values we do not control always encode (issue 16): ``make_encodable``
leaves out what a command set cannot carry and ``lo_text`` cuts an ErrorComment down to LO."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from dicomnet.dimse.command_codec import decode_command, encode_command, lo_text, make_encodable
from dicomnet.dimse.messages import (
    C_ECHO_RSP,
    C_FIND_RSP,
    C_GET_RSP,
    C_MOVE_RSP,
    C_STORE_RSP,
    N_ACTION_RSP,
    N_CREATE_RSP,
    N_EVENT_REPORT_RSP,
    N_GET_RSP,
    Message,
)

CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", "plain text"),
        ("invalid SOPInstanceUID '1.2\\x00.3'", "invalid SOPInstanceUID '1.2?x00.3'"),
        ("tab\there\nnewline", "tab?here?newline"),
        ("caf\xe9 \u4e2d", "caf? ?"),
        ("  padded  ", "padded"),
        ("x" * 100, "x" * 64),
        (b"bytes\x00", "bytes?"),
        (["first", "second"], "first/second"),
        (12, "12"),
        ("\x1b[31m", "?[31m"),
    ],
)
def test_lo_text(value: object, expected: str) -> None:
    assert lo_text(value) == expected


def test_lo_text_of_a_pydicom_multi_value() -> None:
    """A handler's status Dataset with a backslash in ErrorComment holds a MultiValue."""
    status = Dataset()
    status.ErrorComment = "disk\\full"
    assert lo_text(status.ErrorComment) == "disk/full"


def test_overlong_and_invalid_echoed_uids_are_left_out() -> None:
    rsp = C_STORE_RSP(
        MessageIDBeingRespondedTo=1,
        AffectedSOPClassUID=CT,
        AffectedSOPInstanceUID="1.2." + "3" * 66,
        Status=0x0117,
        ErrorComment="invalid SOPInstanceUID '1.2\\x00.3'",
    )
    assert make_encodable(rsp) == ["AffectedSOPInstanceUID"]
    decoded = decode_command(encode_command(rsp))
    assert isinstance(decoded, C_STORE_RSP)
    assert decoded.AffectedSOPInstanceUID is None
    assert decoded.AffectedSOPClassUID == CT
    assert decoded.ErrorComment == "invalid SOPInstanceUID '1.2?x00.3'"


@pytest.mark.parametrize("uid", ["1.2\x00.3", "1.2.3\xe9", "", "1.2.a", " 1.2"])
def test_uids_outside_the_ui_repertoire_are_left_out(uid: str) -> None:
    rsp = C_ECHO_RSP(MessageIDBeingRespondedTo=1, AffectedSOPClassUID=uid, Status=0)
    assert make_encodable(rsp) == ["AffectedSOPClassUID"]
    assert encode_command(rsp)


def test_valid_values_are_untouched() -> None:
    rsp = C_MOVE_RSP(
        MessageIDBeingRespondedTo=9,
        AffectedSOPClassUID=CT,
        Status=0xB000,
        NumberOfRemainingSuboperations=0,
        NumberOfCompletedSuboperations=3,
        NumberOfFailedSuboperations=1,
        NumberOfWarningSuboperations=0,
        OffendingElement=(0x00100010,),
        ErrorComment="one failed",
        ErrorID=7,
    )
    before = encode_command(rsp)
    assert make_encodable(rsp) == []
    assert encode_command(rsp) == before


def test_out_of_range_numbers_from_handlers_are_left_out() -> None:
    rsp = C_GET_RSP(
        MessageIDBeingRespondedTo=1,
        Status=0xFF00,
        NumberOfRemainingSuboperations=70000,
        NumberOfCompletedSuboperations=-1,
        ErrorID=True,
        OffendingElement=(0x1_0000_0000,),
    )
    dropped = make_encodable(rsp)
    assert sorted(dropped) == [
        "ErrorID",
        "NumberOfCompletedSuboperations",
        "NumberOfRemainingSuboperations",
        "OffendingElement",
    ]
    assert encode_command(rsp)


def test_an_error_comment_of_nothing_printable_is_left_out() -> None:
    rsp = C_ECHO_RSP(MessageIDBeingRespondedTo=1, Status=0x0110, ErrorComment="   ")
    make_encodable(rsp)
    assert rsp.ErrorComment is None


def test_mandatory_fields_are_not_touched() -> None:
    rsp = C_ECHO_RSP(MessageIDBeingRespondedTo=1, Status=0x1_0000)
    assert make_encodable(rsp) == []
    with pytest.raises(ValueError):
        encode_command(rsp)


_ANYTHING = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.binary(max_size=20),
    st.integers(min_value=-(2**33), max_value=2**33),
    st.booleans(),
    st.lists(st.integers(min_value=-1, max_value=2**33), max_size=3).map(tuple),
    st.lists(st.text(max_size=5), max_size=3),
)
_RESPONSES: list[type[Message]] = [
    C_ECHO_RSP,
    C_STORE_RSP,
    C_FIND_RSP,
    C_GET_RSP,
    C_MOVE_RSP,
    N_EVENT_REPORT_RSP,
    N_GET_RSP,
    N_ACTION_RSP,
    N_CREATE_RSP,
]


@settings(max_examples=300, deadline=None)
@given(
    cls=st.sampled_from(_RESPONSES),
    status=st.integers(min_value=0, max_value=0xFFFF),
    values=st.dictionaries(
        st.sampled_from(
            [
                "AffectedSOPClassUID",
                "AffectedSOPInstanceUID",
                "ErrorComment",
                "ErrorID",
                "OffendingElement",
                "NumberOfRemainingSuboperations",
                "NumberOfCompletedSuboperations",
                "EventTypeID",
                "ActionTypeID",
                "AttributeIdentifierList",
            ]
        ),
        _ANYTHING,
    ),
)
def test_any_response_encodes_after_make_encodable(
    cls: type[Message], status: int, values: dict[str, Any]
) -> None:
    fields = {k: v for k, v in values.items() if hasattr(cls, k)}
    rsp = cls(MessageIDBeingRespondedTo=1, Status=status, **fields)  # type: ignore[call-arg]
    make_encodable(rsp)
    decoded = decode_command(encode_command(rsp))
    assert type(decoded) is cls
    comment = getattr(decoded, "ErrorComment", None)
    if comment is not None:
        assert len(comment) <= 64 and "\\" not in comment and comment.isprintable()
