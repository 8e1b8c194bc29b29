"""services.nservices without a socket: DIMSE-N requests answered from their handlers."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.dimse.messages import N_ACTION_RQ, N_DELETE_RQ, N_GET_RQ, N_GET_RSP
from dicomnet.services import nservices
from tests.services.port import COMMITMENT, FakePort, context, request

INSTANCE = "1.2.840.10008.1.20.1.1"


def test_n_get_returns_the_handlers_attribute_list() -> None:
    def on_get(event: evt.Event) -> tuple[int, Dataset]:
        ds = Dataset()
        ds.PatientName = "Doe^Jane"
        return 0x0000, ds

    port = FakePort([context(1, COMMITMENT)], [(evt.EVT_N_GET, on_get)])
    rq = N_GET_RQ(MessageID=4, RequestedSOPClassUID=COMMITMENT, RequestedSOPInstanceUID=INSTANCE)
    nservices.serve(port, request(1, rq))
    [(_cid, rsp, data)] = port.sent
    assert isinstance(rsp, N_GET_RSP) and rsp.Status == 0 and data is not None
    [reply] = port.identifiers()
    assert reply is not None and reply.PatientName == "Doe^Jane"


def test_n_action_sees_the_action_information() -> None:
    seen: list[Any] = []

    def on_action(event: evt.Event) -> tuple[int, None]:
        seen.append((event.action_type, str(event.action_information.TransactionUID)))
        return 0x0000, None

    port = FakePort([context(1, COMMITMENT)], [(evt.EVT_N_ACTION, on_action)])
    info = Dataset()
    info.TransactionUID = "1.2.3.99"
    rq = N_ACTION_RQ(
        MessageID=5,
        RequestedSOPClassUID=COMMITMENT,
        RequestedSOPInstanceUID=INSTANCE,
        ActionTypeID=1,
    )
    nservices.serve(port, request(1, rq, info))
    assert seen == [(1, "1.2.3.99")] and port.statuses() == [0]


def test_no_handler_and_bad_returns_give_0110_with_a_comment() -> None:
    rq = N_DELETE_RQ(MessageID=6, RequestedSOPClassUID=COMMITMENT, RequestedSOPInstanceUID=INSTANCE)
    unbound = FakePort([context(1, COMMITMENT)])
    nservices.serve(unbound, request(1, rq))
    bad = FakePort([context(1, COMMITMENT)], [(evt.EVT_N_GET, lambda e: "fine")])
    get = N_GET_RQ(MessageID=7, RequestedSOPClassUID=COMMITMENT, RequestedSOPInstanceUID=INSTANCE)
    nservices.serve(bad, request(1, get))
    [unbound_rsp] = unbound.responses()
    [bad_rsp] = bad.responses()
    assert unbound_rsp.Status == 0x0110 and "EVT_N_DELETE" in str(unbound_rsp.ErrorComment)
    assert bad_rsp.Status == 0x0110 and "(status, dataset)" in str(bad_rsp.ErrorComment)


def test_a_context_that_was_not_accepted_gives_0122() -> None:
    port = FakePort([context(1, COMMITMENT)], [(evt.EVT_N_DELETE, lambda e: 0)])
    rq = N_DELETE_RQ(MessageID=6, RequestedSOPClassUID=COMMITMENT, RequestedSOPInstanceUID=INSTANCE)
    nservices.serve(port, request(3, rq))
    assert port.statuses() == [0x0122]
