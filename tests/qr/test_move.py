"""C-MOVE: our SCU asks our SCP to move matches to a storage SCP (a second dicomnet server, or
DCMTK's storescp); files are checked byte for byte at the destination."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet import AssociationServer, evt
from dicomnet.association import Association
from dicomnet.sop_class import StudyRootQueryRetrieveInformationModelMove
from tests.helpers import dataset_bytes, free_port, sop_instance_of
from tests.qr.archive import Archive, Receiver, move_handler, series_uid, study_uid
from tests.qr.conftest import QRServerFactory

Associate = Callable[..., Association]


def retrieve(level: str, **keys: Any) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def counts(status: Dataset) -> tuple[int | None, int, int, int]:
    return (
        status.get("NumberOfRemainingSuboperations"),
        status.NumberOfCompletedSuboperations,
        status.NumberOfFailedSuboperations,
        status.NumberOfWarningSuboperations,
    )


def uids_of(archive: Archive, **where: str) -> list[str]:
    return [
        i.sop_instance_uid
        for i in archive.instances
        if all(str(i.header.get(k)) == v for k, v in where.items())
    ]


def assert_same(archive: Archive, received: dict[str, bytes], uids: list[str]) -> None:
    assert sorted(received) == sorted(uids)
    for uid in uids:
        assert dataset_bytes(received[uid]) == archive.by_sop_instance(uid).dataset_bytes(), uid


@pytest.fixture
def destination(dicomnet_server: Any) -> tuple[Receiver, AssociationServer]:
    receiver = Receiver()
    return receiver, dicomnet_server(receiver.handlers, ae_title="DEST")


def test_move_study_to_a_dicomnet_storage_scp(
    archive: Archive,
    qr_server: QRServerFactory,
    associate: Associate,
    destination: tuple[Receiver, AssociationServer],
) -> None:
    receiver, dest = destination
    server = qr_server(destinations={"DEST": ("127.0.0.1", dest.server_address[1])})
    assoc = associate(server.server_address[1])
    responses = assoc.send_c_move(
        retrieve("STUDY", StudyInstanceUID=study_uid(1)),
        "DEST",
        StudyRootQueryRetrieveInformationModelMove,
    )
    results = list(responses)
    *pending, (final, failed) = results
    assert [counts(s) for s, _ in pending] == [(3, 1, 0, 0), (2, 2, 0, 0), (1, 3, 0, 0)]
    assert final.Status == 0x0000 and counts(final) == (None, 4, 0, 0) and failed is None
    assert_same(archive, receiver.files, uids_of(archive, StudyInstanceUID=study_uid(1)))
    # C-STOREs of a C-MOVE carry the Move Originator (PS3.7 9.3.1.1)
    assert {
        (r.MoveOriginatorApplicationEntityTitle, r.MoveOriginatorMessageID)
        for r in receiver.requests
    } == {("QRSCU", responses.message_id)}
    # the destination was called by its AE title, by our SCP
    (dest_assoc,) = receiver.associations
    assert dest_assoc.requestor.primitive.called_ae_title.strip() == "DEST"
    assert dest_assoc.requestor.ae_title.strip() == "QRSCP"


def test_move_patient_with_two_sop_classes_and_both_syntaxes(
    archive: Archive,
    qr_server: QRServerFactory,
    associate: Associate,
    destination: tuple[Receiver, AssociationServer],
) -> None:
    receiver, dest = destination
    server = qr_server(destinations={"DEST": ("127.0.0.1", dest.server_address[1])})
    assoc = associate(server.server_address[1])
    results = list(assoc.send_c_move(retrieve("PATIENT", PatientID="PAT001"), "DEST", "P"))
    assert results[-1][0].Status == 0x0000
    assert counts(results[-1][0]) == (None, 6, 0, 0)
    assert_same(archive, receiver.files, uids_of(archive, PatientID="PAT001"))
    # CT first, then MR: one more association when the new SOP class appeared
    assert len(receiver.associations) == 2


def test_destination_options_from_the_handler(
    archive: Archive,
    qr_server: QRServerFactory,
    associate: Associate,
    destination: tuple[Receiver, AssociationServer],
) -> None:
    receiver, dest = destination
    port = dest.server_address[1]

    def handler(event: Any) -> Iterator[Any]:
        yield "127.0.0.1", port, {"ae_title": "ELSEWHERE"}
        yield 1
        yield 0xFF00, archive.instances[0].path

    server = qr_server(handlers=[(evt.EVT_C_MOVE, handler)])
    assoc = associate(server.server_address[1])
    results = list(assoc.send_c_move(retrieve("PATIENT", PatientID="PAT001"), "DEST", "P"))
    assert results[-1][0].Status == 0x0000
    assert receiver.associations[0].requestor.primitive.called_ae_title.strip() == "ELSEWHERE"


@pytest.mark.interop
def test_move_to_dcmtk_storescp(
    archive: Archive, qr_server: QRServerFactory, associate: Associate, dcmtk_storescp: Any
) -> None:
    storescp = dcmtk_storescp("+B")  # bit-preserving: the data set as it came off the wire
    server = qr_server(destinations={"STORESCP": ("127.0.0.1", storescp.port)})
    assoc = associate(server.server_address[1])
    results = list(assoc.send_c_move(retrieve("PATIENT", PatientID="PAT001"), "STORESCP", "P"))
    assert results[-1][0].Status == 0x0000, storescp.log()
    assert counts(results[-1][0]) == (None, 6, 0, 0)
    files = {sop_instance_of(path): path.read_bytes() for path in storescp.files()}
    assert_same(archive, files, uids_of(archive, PatientID="PAT001"))


def test_failures_at_the_destination(
    archive: Archive,
    qr_server: QRServerFactory,
    associate: Associate,
    destination: tuple[Receiver, AssociationServer],
) -> None:
    receiver, dest = destination
    server = qr_server(destinations={"DEST": ("127.0.0.1", dest.server_address[1])})
    assoc = associate(server.server_address[1])
    bad = f"{series_uid(1, 1)}.1"
    receiver.status_for = lambda uid: 0xA700 if uid == bad else 0x0000
    final, failed = list(
        assoc.send_c_move(retrieve("STUDY", StudyInstanceUID=study_uid(1)), "DEST", "S")
    )[-1]
    assert final.Status == 0xB000 and counts(final) == (None, 3, 1, 0)
    assert failed is not None and failed.FailedSOPInstanceUIDList == bad

    receiver.status_for = lambda uid: 0xB007 if uid == bad else 0x0000
    final, failed = list(
        assoc.send_c_move(retrieve("STUDY", StudyInstanceUID=study_uid(1)), "DEST", "S")
    )[-1]
    # C-MOVE: warnings alone are still Success (0xB000 means failures, PS3.4 C.4.2.1.5)
    assert final.Status == 0x0000 and counts(final) == (None, 3, 0, 1) and failed is None


def test_unknown_destination_gives_a801(qr_server: QRServerFactory, associate: Associate) -> None:
    server = qr_server(destinations={})
    assoc = associate(server.server_address[1])
    results = list(assoc.send_c_move(retrieve("PATIENT", PatientID="PAT001"), "NOWHERE", "P"))
    assert [int(s.Status) for s, _ in results] == [0xA801]
    assert "NOWHERE" in results[0][0].ErrorComment and results[0][1] is None
    # the association carries on
    find = Dataset()
    find.QueryRetrieveLevel = "PATIENT"
    find.PatientID = "PAT002"
    assert [int(s.Status) for s, _ in assoc.send_c_find(find, "P")] == [0xFF00, 0x0000]


def test_unreachable_destination_gives_a801(
    qr_server: QRServerFactory, associate: Associate
) -> None:
    server = qr_server(destinations={"GONE": ("127.0.0.1", free_port())})
    assoc = associate(server.server_address[1])
    results = list(assoc.send_c_move(retrieve("PATIENT", PatientID="PAT001"), "GONE", "P"))
    assert [int(s.Status) for s, _ in results] == [0xA801]
    assert "cannot associate" in results[0][0].ErrorComment


def test_handler_failures(
    archive: Archive,
    qr_server: QRServerFactory,
    associate: Associate,
    destination: tuple[Receiver, AssociationServer],
) -> None:
    receiver, dest = destination
    port = dest.server_address[1]
    plain = move_handler(archive, {"DEST": ("127.0.0.1", port)})

    def handler(event: Any) -> Iterator[Any]:
        patient = event.identifier.get("PatientID")
        if patient == "RAISE":
            raise ValueError("no such patient index")
        if patient == "BADDEST":
            yield "127.0.0.1"
            return
        if patient == "BADCOUNT":
            yield "127.0.0.1", port
            yield -1
            return
        yield from plain(event)

    server = qr_server(handlers=[(evt.EVT_C_MOVE, handler)])
    assoc = associate(server.server_address[1])

    def move(patient: str) -> list[int]:
        return [
            int(s.Status)
            for s, _ in assoc.send_c_move(retrieve("PATIENT", PatientID=patient), "DEST", "P")
        ]

    assert move("RAISE") == [0xC511]
    assert move("BADDEST") == [0xC514]
    assert move("BADCOUNT") == [0xC513]
    assert move("PAT002") == [0xFF00, 0x0000]
    assert len(receiver.files) == 2


def test_cancel_mid_move(
    qr_server: QRServerFactory,
    associate: Associate,
    destination: tuple[Receiver, AssociationServer],
) -> None:
    receiver, dest = destination
    cancel_sent = threading.Event()

    def hold_the_second(uid: str) -> int:
        if len(receiver.files) == 2:  # until the SCU has cancelled (an event, not a sleep)
            assert cancel_sent.wait(10)
        return 0x0000

    receiver.status_for = hold_the_second
    server = qr_server(destinations={"DEST": ("127.0.0.1", dest.server_address[1])})
    assoc = associate(server.server_address[1])
    responses = assoc.send_c_move(retrieve("PATIENT", PatientID="PAT001"), "DEST", "P")
    statuses = []
    for status, _identifier in responses:
        statuses.append(status)
        if len(statuses) == 1:
            responses.cancel()
            cancel_sent.set()
    final = statuses[-1]
    assert final.Status == 0xFE00
    remaining, completed, failed, _warning = counts(final)
    assert completed < 6 and failed == 0 and remaining == 6 - completed
    assert len(receiver.files) == completed


def test_identifier_reaches_the_handler(
    archive: Archive, qr_server: QRServerFactory, associate: Associate, tmp_path: Path
) -> None:
    seen: list[tuple[str, str, Any]] = []

    def handler(event: Any) -> Iterator[Any]:
        seen.append((event.move_destination, event.identifier.StudyInstanceUID, event.message_id))
        yield None, None

    server = qr_server(handlers=[(evt.EVT_C_MOVE, handler)])
    assoc = associate(server.server_address[1])
    responses = assoc.send_c_move(retrieve("STUDY", StudyInstanceUID=study_uid(2)), "X", "S")
    list(responses)
    assert seen == [("X", study_uid(2), responses.message_id)]
