"""C-GET: our SCU against our SCP on loopback; the C-STORE sub-operations arrive on the same
association (SCP role negotiated with build_role) and are checked byte for byte."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.association import Association
from dicomnet.presentation import build_role
from dicomnet.sop_class import (
    CTImageStorage,
    MRImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
)
from tests.helpers import dataset_bytes, transfer_syntax_of
from tests.qr.archive import Archive, Receiver, get_handler, series_uid, study_uid
from tests.qr.conftest import STORAGE, QRServerFactory, qr_scp_ae, scu_ae

Associate = Callable[..., Association]


def retrieve(level: str, **keys: Any) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def run(responses: Any) -> list[tuple[Dataset, Dataset | None]]:
    return list(responses)


def counts(status: Dataset) -> tuple[int | None, int, int, int]:
    remaining = status.get("NumberOfRemainingSuboperations")
    return (
        remaining,
        status.NumberOfCompletedSuboperations,
        status.NumberOfFailedSuboperations,
        status.NumberOfWarningSuboperations,
    )


def assert_same_files(archive: Archive, received: dict[str, bytes], uids: list[str]) -> None:
    assert sorted(received) == sorted(uids)
    for uid in uids:
        original = archive.by_sop_instance(uid)
        assert dataset_bytes(received[uid]) == original.dataset_bytes(), uid
        assert transfer_syntax_of(received[uid]) == transfer_syntax_of(original.path)


def test_get_study_files_arrive_byte_identical(
    archive: Archive, qr_server: QRServerFactory, associate: Associate
) -> None:
    server = qr_server()
    receiver = Receiver()
    assoc = associate(server.server_address[1], handlers=receiver.handlers)
    identifier = retrieve("STUDY", StudyInstanceUID=study_uid(1))
    results = run(assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet))
    *pending, (final, failed) = results
    assert [int(s.Status) for s, _ in pending] == [0xFF00] * 3
    assert [counts(s) for s, _ in pending] == [(3, 1, 0, 0), (2, 2, 0, 0), (1, 3, 0, 0)]
    assert final.Status == 0x0000 and failed is None
    assert counts(final) == (None, 4, 0, 0)  # no Remaining in a final response (C2)
    wanted = [
        i.sop_instance_uid for i in archive.instances if i.header.StudyInstanceUID == study_uid(1)
    ]
    assert_same_files(archive, receiver.files, wanted)
    # both transfer syntaxes went out undecoded on their own contexts
    assert {transfer_syntax_of(b) for b in receiver.files.values()} == {
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
    }


def test_get_patient_root_patient_level_with_two_sop_classes(
    archive: Archive, qr_server: QRServerFactory, associate: Associate
) -> None:
    server = qr_server()
    receiver = Receiver()
    assoc = associate(server.server_address[1], handlers=receiver.handlers)
    results = run(assoc.send_c_get(retrieve("PATIENT", PatientID="PAT001"), "P"))
    assert results[-1][0].Status == 0x0000
    wanted = [i.sop_instance_uid for i in archive.instances if i.header.PatientID == "PAT001"]
    assert len(wanted) == 6
    assert_same_files(archive, receiver.files, wanted)
    assert {r.AffectedSOPClassUID for r in receiver.requests} == {CTImageStorage, MRImageStorage}
    # C-GET sub-operations carry no Move Originator
    assert {r.MoveOriginatorApplicationEntityTitle for r in receiver.requests} == {None}


def test_get_image_level_with_a_uid_list(
    archive: Archive, qr_server: QRServerFactory, associate: Associate
) -> None:
    server = qr_server()
    receiver = Receiver()
    assoc = associate(server.server_address[1], handlers=receiver.handlers)
    uids = [f"{series_uid(1, 1)}.1", f"{series_uid(1, 1)}.3"]
    identifier = retrieve(
        "IMAGE",
        StudyInstanceUID=study_uid(1),
        SeriesInstanceUID=series_uid(1, 1),
        SOPInstanceUID=uids,
    )
    results = run(assoc.send_c_get(identifier, "S"))
    assert results[-1][0].Status == 0x0000
    assert_same_files(archive, receiver.files, uids)


def test_get_with_datasets_yielded(
    archive: Archive, qr_server: QRServerFactory, associate: Associate
) -> None:
    server = qr_server(handlers=[(evt.EVT_C_GET, get_handler(archive, as_datasets=True))])
    receiver = Receiver()
    assoc = associate(server.server_address[1], handlers=receiver.handlers)
    results = run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(3)), "S"))
    assert results[-1][0].Status == 0x0000
    wanted = [
        i.sop_instance_uid for i in archive.instances if i.header.StudyInstanceUID == study_uid(3)
    ]
    # decoded and re-encoded: the element values survive, whatever the transfer syntax
    assert_same_files(archive, receiver.files, wanted)


def test_failed_and_warning_sub_operations(
    archive: Archive, qr_server: QRServerFactory, associate: Associate
) -> None:
    server = qr_server()
    bad = f"{series_uid(1, 1)}.2"
    receiver = Receiver(lambda uid: 0xA700 if uid == bad else 0x0000)
    assoc = associate(server.server_address[1], handlers=receiver.handlers)
    final, failed = run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(1)), "S"))[-1]
    assert final.Status == 0xB000
    assert counts(final) == (None, 3, 1, 0)
    assert failed is not None and failed.FailedSOPInstanceUIDList == bad
    assert "SpecificCharacterSet" not in failed  # C3

    warn = f"{series_uid(1, 2)}.1"
    receiver.status_for = lambda uid: 0xB007 if uid == warn else 0x0000
    final, failed = run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(1)), "S"))[-1]
    assert final.Status == 0xB000 and failed is None  # C-GET: warnings make 0xB000 too
    assert counts(final) == (None, 3, 0, 1)

    receiver.status_for = lambda uid: 0xC000
    final, failed = run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(1)), "S"))[-1]
    assert final.Status == 0xA702
    assert counts(final) == (None, 0, 4, 0)
    assert failed is not None and len(failed.FailedSOPInstanceUIDList) == 4


def test_without_the_scp_role_every_sub_operation_fails(
    qr_server: QRServerFactory, associate: Associate
) -> None:
    server = qr_server()
    receiver = Receiver()
    assoc = associate(server.server_address[1], handlers=receiver.handlers, roles=False)
    assert not any(cx.as_scp for cx in assoc.accepted_contexts)
    final, failed = run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(3)), "S"))[-1]
    assert final.Status == 0xA702 and counts(final) == (None, 0, 2, 0)
    assert failed is not None and len(failed.FailedSOPInstanceUIDList) == 2
    assert receiver.files == {}


def test_warning_without_a_proposed_scp_role(
    qr_server: QRServerFactory, associate: Associate, caplog: pytest.LogCaptureFixture
) -> None:
    server = qr_server()
    assoc = associate(server.server_address[1], roles=False)
    with caplog.at_level(logging.WARNING, logger="dicomnet"):
        run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(3)), "S"))
    assert "propose the SCP role for the storage classes" in caplog.text


def test_warning_when_the_peer_refuses_the_proposed_scp_role(
    qr_server: QRServerFactory, associate: Associate, caplog: pytest.LogCaptureFixture
) -> None:
    """The role WAS proposed (as pynetdicom's example does): the warning says the peer
    refused it, instead of telling the user to do what they did."""
    scp = qr_scp_ae()
    for uid in STORAGE:
        scp.remove_supported_context(uid)
        scp.add_supported_context(uid)  # no role selection: the requestor's SCP role refused
    server = qr_server(ae=scp)
    assoc = associate(server.server_address[1], roles=True)
    assert not any(cx.as_scp for cx in assoc.accepted_contexts)
    with caplog.at_level(logging.WARNING, logger="dicomnet"):
        final, _ = run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(3)), "S"))[-1]
    assert final.Status == 0xA702
    ours = " ".join(r.getMessage() for r in caplog.records if r.name == "dicomnet.assoc")
    assert "the peer refused the SCP role we proposed" in ours
    assert "CT Image Storage: role refused" in ours
    assert "propose the SCP role for" not in ours


def test_role_selection_reaches_the_contexts(qr_server: QRServerFactory) -> None:
    server = qr_server()
    ae = scu_ae()
    assoc = ae.associate(
        "127.0.0.1",
        server.server_address[1],
        ae_title="QRSCP",
        ext_neg=[
            build_role(CTImageStorage, scu_role=True, scp_role=True),
            build_role(MRImageStorage, scp_role=True),
        ],
    )
    try:
        roles = {
            (cx.abstract_syntax, cx.as_scu, cx.as_scp)
            for cx in assoc.accepted_contexts
            if cx.abstract_syntax in (CTImageStorage, MRImageStorage)
        }
        assert roles == {(CTImageStorage, True, True), (MRImageStorage, False, True)}
        find = next(
            cx
            for cx in assoc.accepted_contexts
            if cx.abstract_syntax == StudyRootQueryRetrieveInformationModelFind
        )
        assert (find.as_scu, find.as_scp) == (True, False)
    finally:
        assoc.release()


def test_cancel_mid_get(qr_server: QRServerFactory, associate: Associate) -> None:
    server = qr_server()
    receiver = Receiver()
    assoc = associate(server.server_address[1], handlers=receiver.handlers)
    responses = assoc.send_c_get(retrieve("PATIENT", PatientID="PAT001"), "P")
    statuses = []
    for status, _identifier in responses:
        statuses.append(status)
        if len(statuses) == 1:
            responses.cancel()
    final = statuses[-1]
    assert final.Status == 0xFE00
    remaining, completed, failed, _warning = counts(final)
    assert completed < 6 and failed == 0 and remaining == 6 - completed
    assert len(receiver.files) == completed
    # the association goes on
    again = run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(3)), "S"))
    assert again[-1][0].Status == 0x0000


def test_scu_aborting_mid_get_leaves_the_server_serving(
    archive: Archive,
    qr_server: QRServerFactory,
    associate: Associate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = threading.Event()
    progress: list[int] = []
    plain = get_handler(archive)

    def tracked(event: Any) -> Iterator[Any]:
        if event.identifier.QueryRetrieveLevel != "PATIENT":
            yield from plain(event)
            return
        try:
            yield 100
            for n in range(100):
                progress.append(n)
                yield 0xFF00, archive.instances[n % len(archive.instances)].path
        finally:
            closed.set()

    server = qr_server(handlers=[(evt.EVT_C_GET, tracked)])
    receiver = Receiver()
    assoc = associate(server.server_address[1], handlers=receiver.handlers)
    with caplog.at_level(logging.WARNING, logger="dicomnet"):
        for status, _identifier in assoc.send_c_get(retrieve("PATIENT", PatientID="PAT001"), "P"):
            assert status.Status == 0xFF00
            if status.NumberOfCompletedSuboperations == 2:
                assoc.abort()
                break
        assert closed.wait(10), "the SCP did not stop the handler"
    assert assoc.is_aborted
    assert len(progress) < 100
    assert not [r for r in caplog.records if "unexpected error" in r.getMessage()]
    # the server keeps serving
    receiver2 = Receiver()
    other = associate(server.server_address[1], handlers=receiver2.handlers)
    results = run(other.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(3)), "S"))
    assert results[-1][0].Status == 0x0000 and len(receiver2.files) == 2


def test_handler_failures(
    qr_server: QRServerFactory, associate: Associate, archive: Archive
) -> None:
    def handler(event: Any) -> Iterator[Any]:
        level = event.identifier.QueryRetrieveLevel
        if level == "PATIENT":
            raise OSError("archive offline")
        if level == "SERIES":
            yield "many"
            return
        yield 3
        yield 0xFF00, archive.instances[0].path
        raise RuntimeError("disk error")

    server = qr_server(handlers=[(evt.EVT_C_GET, handler)])
    receiver = Receiver()
    assoc = associate(server.server_address[1], handlers=receiver.handlers)
    results = run(assoc.send_c_get(retrieve("PATIENT", PatientID="PAT001"), "P"))
    assert [int(s.Status) for s, _ in results] == [0xC411]
    assert "OSError: archive offline" in results[0][0].ErrorComment
    results = run(
        assoc.send_c_get(
            retrieve("SERIES", StudyInstanceUID=study_uid(1), SeriesInstanceUID=series_uid(1, 1)),
            "S",
        )
    )
    assert [int(s.Status) for s, _ in results] == [0xC413]
    results = run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(1)), "S"))
    assert [int(s.Status) for s, _ in results] == [0xFF00, 0xC411]
    assert counts(results[-1][0]) == (None, 1, 0, 0)
    assert list(receiver.files) == [archive.instances[0].sop_instance_uid]


# --- pynetdicom as the peer -------------------------------------------------------------------


@pytest.mark.interop
def test_pynetdicom_get_scu_against_our_scp(archive: Archive, qr_server: QRServerFactory) -> None:
    """pynetdicom proposes SCU=0/SCP=1 for storage (its build_role): our SCP still sends."""
    from pynetdicom import AE as PynetdicomAE
    from pynetdicom import build_role as pynetdicom_build_role
    from pynetdicom import evt as pynetdicom_evt

    server = qr_server()
    received: dict[str, bytes] = {}

    def on_store(event: Any) -> int:
        received[event.request.AffectedSOPInstanceUID] = event.encoded_dataset()
        return 0x0000

    ae = PynetdicomAE(ae_title="PYNETDICOM")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage, ["1.2.840.10008.1.2.1"])
    ae.add_requested_context(CTImageStorage, ["1.2.840.10008.1.2"])
    assoc = ae.associate(
        "127.0.0.1",
        server.server_address[1],
        ext_neg=[pynetdicom_build_role(CTImageStorage, scp_role=True)],
        evt_handlers=[(pynetdicom_evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    try:
        results = list(
            assoc.send_c_get(
                retrieve("STUDY", StudyInstanceUID=study_uid(3)),
                StudyRootQueryRetrieveInformationModelGet,
            )
        )
    finally:
        assoc.release()
    assert results[-1][0].Status == 0x0000
    wanted = [
        i.sop_instance_uid for i in archive.instances if i.header.StudyInstanceUID == study_uid(3)
    ]
    assert_same_files(archive, received, wanted)


@pytest.mark.interop
def test_our_get_scu_against_pynetdicom_scp(archive: Archive, associate: Associate) -> None:
    from pynetdicom import AE as PynetdicomAE
    from pynetdicom import evt as pynetdicom_evt

    def handle_get(event: Any) -> Iterator[Any]:
        found = archive.matching(event.identifier)
        yield len(found)
        for instance in found:
            yield 0xFF00, dcmread(instance.path)

    scp = PynetdicomAE(ae_title="QRSCP")
    scp.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    for syntax in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"):
        scp.add_supported_context(CTImageStorage, syntax, scu_role=True, scp_role=True)
    server = scp.start_server(
        ("127.0.0.1", 0),
        block=False,
        evt_handlers=[(pynetdicom_evt.EVT_C_GET, handle_get)],
    )
    assert server is not None
    try:
        receiver = Receiver()
        assoc = associate(server.server_address[1], handlers=receiver.handlers)
        results = run(assoc.send_c_get(retrieve("STUDY", StudyInstanceUID=study_uid(3)), "S"))
        assoc.release()
    finally:
        server.shutdown()
    assert results[-1][0].Status == 0x0000
    assert counts(results[-1][0])[1:] == (2, 0, 0)
    wanted = [
        i.sop_instance_uid for i in archive.instances if i.header.StudyInstanceUID == study_uid(3)
    ]
    assert sorted(receiver.files) == sorted(wanted)
    for uid in wanted:
        got = dcmread(BytesIO(receiver.files[uid]))
        assert got.PixelData == dcmread(archive.by_sop_instance(uid).path).PixelData
