"""services.query without a socket: C-FIND responses from a handler generator, C-CANCEL, bad
yields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.dimse.messages import C_FIND_RQ, C_FIND_RSP
from dicomnet.services import query
from tests.services.port import CT, STUDY_FIND, FakePort, context, request


def _identifier(level: str = "STUDY") -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    ds.PatientName = "*"
    return ds


def _match(name: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.PatientName = name
    return ds


def _find(port: FakePort, identifier: Dataset | None = None, cid: int = 1) -> None:
    rq = C_FIND_RQ(MessageID=11, AffectedSOPClassUID=STUDY_FIND)
    query.serve(port, request(cid, rq, identifier if identifier is not None else _identifier()))


def test_pending_matches_then_success() -> None:
    def on_find(event: evt.Event) -> Iterator[tuple[int, Any]]:
        assert event.identifier.PatientName == "*"
        yield 0xFF00, _match("Doe^Jane")
        yield 0xFF00, _match("Roe^Rick")

    port = FakePort([context(1, STUDY_FIND)], [(evt.EVT_C_FIND, on_find)])
    _find(port)
    assert port.statuses() == [0xFF00, 0xFF00, 0x0000]
    names = [None if ds is None else str(ds.PatientName) for ds in port.identifiers()]
    assert names == ["Doe^Jane", "Roe^Rick", None]
    assert all(
        isinstance(m, C_FIND_RSP) and m.MessageIDBeingRespondedTo == 11 for m in port.responses()
    )


def test_a_cancel_between_matches_ends_with_fe00() -> None:
    port = FakePort([context(1, STUDY_FIND)])

    def on_find(event: evt.Event) -> Iterator[tuple[int, Any]]:
        yield 0xFF00, _match("A")
        port.session.note_cancel(11)  # as if a C-CANCEL-RQ had arrived
        yield 0xFF00, _match("B")

    port.handlers.bind(evt.EVT_C_FIND, on_find)
    _find(port)
    assert port.statuses() == [0xFF00, 0xFE00]
    assert port.session.cancelled(11) is False  # no longer watched once answered


def test_a_raising_generator_gives_c311_after_what_it_yielded() -> None:
    def on_find(event: evt.Event) -> Iterator[tuple[int, Any]]:
        yield 0xFF00, _match("A")
        raise KeyError("index gone")

    port = FakePort([context(1, STUDY_FIND)], [(evt.EVT_C_FIND, on_find)])
    _find(port)
    assert port.statuses() == [0xFF00, 0xC311]


def test_pending_without_an_identifier_is_an_invalid_yield() -> None:
    port = FakePort([context(1, STUDY_FIND)], [(evt.EVT_C_FIND, lambda e: iter([(0xFF00, None)]))])
    _find(port)
    assert port.statuses() == [0xC312]


def test_no_handler_or_wrong_context_gives_0122() -> None:
    port = FakePort([context(1, STUDY_FIND)])
    _find(port)
    other = FakePort([context(1, CT)], [(evt.EVT_C_FIND, lambda e: iter(()))])
    _find(other)
    assert port.statuses() == [0x0122] and other.statuses() == [0x0122]


def test_an_undecodable_identifier_gives_c310_without_calling_the_handler() -> None:
    called: list[bool] = []
    port = FakePort([context(1, STUDY_FIND)], [(evt.EVT_C_FIND, lambda e: called.append(True))])
    rq = C_FIND_RQ(MessageID=11, AffectedSOPClassUID=STUDY_FIND)
    done = request(1, rq, _identifier())
    assert done.dataset is not None
    # a sequence of undefined length whose item never starts
    done.dataset.buffer[:] = b"\x08\x00\x40\x11\xff\xff\xff\xff\x10\x00\x10\x00\x04\x00\x00\x00ABCD"
    query.serve(port, done)
    assert port.statuses() == [0xC310] and called == []


def test_nothing_is_sent_once_the_association_is_gone() -> None:
    port = FakePort(
        [context(1, STUDY_FIND)], [(evt.EVT_C_FIND, lambda e: iter([(0xFF00, _match("A"))]))]
    )
    port.open_live = False
    _find(port)
    assert port.sent == []
