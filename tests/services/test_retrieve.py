"""services.retrieve without a socket: C-GET sub-operations on the same association, C-MOVE
sub-operations on an association to the destination, counts and final statuses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.dimse.messages import C_GET_RQ, C_GET_RSP, C_MOVE_RQ, C_MOVE_RSP
from dicomnet.services import retrieve
from tests.services.port import CT, STUDY_GET, STUDY_MOVE, FakePort, Target, context, request


def _identifier() -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = "1.2.3"
    return ds


def _instance(n: int) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = f"1.2.3.{n}"
    return ds


def _get(port: FakePort) -> None:
    rq = C_GET_RQ(MessageID=21, AffectedSOPClassUID=STUDY_GET)
    retrieve.serve(port, request(1, rq, _identifier()))


def _move(port: FakePort, destination: str = "STORE") -> None:
    rq = C_MOVE_RQ(MessageID=31, AffectedSOPClassUID=STUDY_MOVE, MoveDestination=destination)
    retrieve.serve(port, request(1, rq, _identifier()))


def _counts(message: Any) -> tuple[int | None, ...]:
    return tuple(
        getattr(message, f"Number{name}Suboperations", None)
        for name in ("OfRemaining", "OfCompleted", "OfFailed", "OfWarning")
    )


def test_c_get_stores_on_the_same_association_and_counts() -> None:
    def on_get(event: evt.Event) -> Iterator[Any]:
        yield 2
        yield 0xFF00, _instance(1)
        yield 0xFF00, _instance(2)

    port = FakePort([context(1, STUDY_GET)], [(evt.EVT_C_GET, on_get)])
    _get(port)
    assert [str(ds.SOPInstanceUID) for ds, *_ in port.stored] == ["1.2.3.1", "1.2.3.2"]
    assert port.statuses() == [0xFF00, 0x0000]
    pending, final = port.responses()
    assert isinstance(final, C_GET_RSP) and final.MessageIDBeingRespondedTo == 21
    assert _counts(pending) == (1, 1, 0, 0)
    assert _counts(final) == (None, 2, 0, 0)


def test_c_get_with_failed_sub_operations_lists_them() -> None:
    def on_get(event: evt.Event) -> Iterator[Any]:
        yield 1
        yield 0xFF00, _instance(1)

    port = FakePort([context(1, STUDY_GET)], [(evt.EVT_C_GET, on_get)], store_status=0xA700)
    _get(port)
    assert port.statuses() == [0xA702]
    [listed] = [ds for ds in port.identifiers() if ds is not None]
    assert listed.FailedSOPInstanceUIDList == "1.2.3.1"


def test_c_get_needs_the_count_first() -> None:
    port = FakePort([context(1, STUDY_GET)], [(evt.EVT_C_GET, lambda e: iter(["two"]))])
    _get(port)
    assert port.statuses() == [0xC413]


def test_c_move_opens_the_destination_with_the_contexts_it_needs() -> None:
    def on_move(event: evt.Event) -> Iterator[Any]:
        assert event.move_destination == "STORE"
        yield "198.51.100.7", 104
        yield 1
        yield 0xFF00, _instance(1)

    port = FakePort([context(1, STUDY_MOVE)], [(evt.EVT_C_MOVE, on_move)])
    _move(port)
    [(address, port_number, abstracts, options)] = port.destinations
    assert (address, port_number, set(abstracts), options) == (
        "198.51.100.7",
        104,
        {CT},
        {"ae_title": "STORE"},
    )
    [(_ds, originator, originator_id)] = port.destination.stored
    assert (originator, originator_id) == ("PEER", 31)
    assert port.statuses() == [0x0000]
    assert isinstance(port.responses()[-1], C_MOVE_RSP)
    assert port.destination.released


def test_c_move_to_an_unknown_destination_gives_a801() -> None:
    port = FakePort([context(1, STUDY_MOVE)], [(evt.EVT_C_MOVE, lambda e: iter([(None, None)]))])
    _move(port, "NOWHERE")
    assert port.statuses() == [0xA801]


def test_c_move_to_a_destination_that_cannot_be_reached_gives_a801() -> None:
    def on_move(event: evt.Event) -> Iterator[Any]:
        yield "198.51.100.7", 104
        yield 1
        yield 0xFF00, _instance(1)

    port = FakePort([context(1, STUDY_MOVE)], [(evt.EVT_C_MOVE, on_move)])
    port.destination = Target(established=False)
    _move(port)
    [rsp] = port.responses()
    assert rsp.Status == 0xA801 and "connection refused" in str(rsp.ErrorComment)


def test_a_cancel_during_sub_operations_ends_with_fe00() -> None:
    port = FakePort([context(1, STUDY_GET)])

    def on_get(event: evt.Event) -> Iterator[Any]:
        yield 3
        yield 0xFF00, _instance(1)
        port.session.note_cancel(21)
        yield 0xFF00, _instance(2)

    port.handlers.bind(evt.EVT_C_GET, on_get)
    _get(port)
    assert port.statuses()[-1] == 0xFE00
    assert len(port.stored) == 1
