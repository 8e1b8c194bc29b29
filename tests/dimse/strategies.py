"""Hypothesis strategies for DIMSE-C and DIMSE-N messages.

Values are chosen so that they survive a round trip unchanged: no leading or trailing spaces in
AE/LO text and no empty strings (a zero-length element decodes as absent).
"""

from __future__ import annotations

from hypothesis import strategies as st

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
)

us = st.integers(0, 0xFFFF)
uids = st.text(alphabet="0123456789.", min_size=1, max_size=64)
_ae_chars = "".join(chr(c) for c in range(0x20, 0x7F) if c != 0x5C)
ae_titles = st.text(alphabet=_ae_chars, min_size=1, max_size=16).filter(lambda s: s.strip(" ") == s)
long_strings = st.text(alphabet=_ae_chars, min_size=1, max_size=64).filter(
    lambda s: s.strip(" ") == s
)
tags = st.integers(0, 0xFFFFFFFF)
offending = st.lists(tags, min_size=1, max_size=4).map(tuple)


def _status_fields() -> dict[str, st.SearchStrategy[object]]:
    return {
        "AffectedSOPClassUID": st.none() | uids,
        "MessageIDBeingRespondedTo": us,
        "CommandDataSetType": us,
        "Status": us,
        "OffendingElement": st.none() | offending,
        "ErrorComment": st.none() | long_strings,
        "ErrorID": st.none() | us,
    }


def _subop_fields() -> dict[str, st.SearchStrategy[object]]:
    return {
        "NumberOfRemainingSuboperations": st.none() | us,
        "NumberOfCompletedSuboperations": st.none() | us,
        "NumberOfFailedSuboperations": st.none() | us,
        "NumberOfWarningSuboperations": st.none() | us,
    }


def _request_fields() -> dict[str, st.SearchStrategy[object]]:
    return {
        "AffectedSOPClassUID": uids,
        "MessageID": us,
        "Priority": us,
        "CommandDataSetType": us,
    }


echo_rq = st.builds(C_ECHO_RQ, AffectedSOPClassUID=uids, MessageID=us, CommandDataSetType=us)
echo_rsp = st.builds(C_ECHO_RSP, **_status_fields())
store_rq = st.builds(
    C_STORE_RQ,
    **_request_fields(),
    AffectedSOPInstanceUID=uids,
    MoveOriginatorApplicationEntityTitle=st.none() | ae_titles,
    MoveOriginatorMessageID=st.none() | us,
)
store_rsp = st.builds(C_STORE_RSP, **_status_fields(), AffectedSOPInstanceUID=st.none() | uids)
find_rq = st.builds(C_FIND_RQ, **_request_fields())
find_rsp = st.builds(C_FIND_RSP, **_status_fields())
get_rq = st.builds(C_GET_RQ, **_request_fields())
get_rsp = st.builds(C_GET_RSP, **_status_fields(), **_subop_fields())
move_rq = st.builds(C_MOVE_RQ, **_request_fields(), MoveDestination=ae_titles)
move_rsp = st.builds(C_MOVE_RSP, **_status_fields(), **_subop_fields())
cancel_rq = st.builds(C_CANCEL_RQ, MessageIDBeingRespondedTo=us, CommandDataSetType=us)

# DIMSE-N (PS3.7 10.3)
_n_uid_fields = {"RequestedSOPClassUID": uids, "MessageID": us, "CommandDataSetType": us}
n_event_report_rq = st.builds(
    N_EVENT_REPORT_RQ,
    AffectedSOPClassUID=uids,
    MessageID=us,
    CommandDataSetType=us,
    AffectedSOPInstanceUID=uids,
    EventTypeID=us,
)
n_event_report_rsp = st.builds(
    N_EVENT_REPORT_RSP,
    **_status_fields(),
    AffectedSOPInstanceUID=st.none() | uids,
    EventTypeID=st.none() | us,
)
n_get_rq = st.builds(
    N_GET_RQ,
    **_n_uid_fields,
    RequestedSOPInstanceUID=uids,
    AttributeIdentifierList=st.none() | offending,
)
n_get_rsp = st.builds(
    N_GET_RSP,
    **_status_fields(),
    AffectedSOPInstanceUID=st.none() | uids,
    AttributeIdentifierList=st.none() | offending,
)
n_set_rq = st.builds(N_SET_RQ, **_n_uid_fields, RequestedSOPInstanceUID=uids)
n_set_rsp = st.builds(
    N_SET_RSP,
    **_status_fields(),
    AffectedSOPInstanceUID=st.none() | uids,
    AttributeIdentifierList=st.none() | offending,
)
n_action_rq = st.builds(N_ACTION_RQ, **_n_uid_fields, RequestedSOPInstanceUID=uids, ActionTypeID=us)
n_action_rsp = st.builds(
    N_ACTION_RSP,
    **_status_fields(),
    AffectedSOPInstanceUID=st.none() | uids,
    ActionTypeID=st.none() | us,
)
n_create_rq = st.builds(
    N_CREATE_RQ,
    AffectedSOPClassUID=uids,
    MessageID=us,
    CommandDataSetType=us,
    AffectedSOPInstanceUID=st.none() | uids,
)
n_create_rsp = st.builds(
    N_CREATE_RSP,
    **_status_fields(),
    AffectedSOPInstanceUID=st.none() | uids,
    AttributeIdentifierList=st.none() | offending,
)
n_delete_rq = st.builds(N_DELETE_RQ, **_n_uid_fields, RequestedSOPInstanceUID=uids)
n_delete_rsp = st.builds(N_DELETE_RSP, **_status_fields(), AffectedSOPInstanceUID=st.none() | uids)

messages: st.SearchStrategy[Message] = st.one_of(
    echo_rq,
    echo_rsp,
    store_rq,
    store_rsp,
    find_rq,
    find_rsp,
    get_rq,
    get_rsp,
    move_rq,
    move_rsp,
    cancel_rq,
    n_event_report_rq,
    n_event_report_rsp,
    n_get_rq,
    n_get_rsp,
    n_set_rq,
    n_set_rsp,
    n_action_rq,
    n_action_rsp,
    n_create_rq,
    n_create_rsp,
    n_delete_rq,
    n_delete_rsp,
)
