"""C-FIND: our SCU against our SCP (serving the in-test archive) on loopback."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.association import Association, NoContextError
from dicomnet.dimse.messages import C_FIND_RSP
from dicomnet.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)
from tests.qr.archive import ROOT, series_uid, study_uid
from tests.qr.conftest import QRServerFactory, qr_scp_ae, scu_ae

Associate = Callable[..., Association]


def query(level: str | None, **keys: Any) -> Dataset:
    ds = Dataset()
    if level is not None:
        ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def collect(responses: Any) -> list[tuple[int, Dataset | None]]:
    return [(int(status.Status), identifier) for status, identifier in responses]


def matches_of(results: list[tuple[int, Dataset | None]]) -> list[Dataset]:
    """The identifiers of the Pending responses, after checking the response shape: Pending
    ones carry an identifier, then exactly one final Success without."""
    assert results, "no response at all"
    *pending, final = results
    assert final == (0x0000, None)
    assert all(status == 0xFF00 and ident is not None for status, ident in pending)
    return [ident for _status, ident in pending if ident is not None]


@pytest.fixture
def assoc(qr_server: QRServerFactory, associate: Associate) -> Association:
    server = qr_server()
    return associate(server.server_address[1])


# --- levels of Patient Root and Study Root ----------------------------------------------------


def test_patient_root_patient_level(assoc: Association) -> None:
    found = matches_of(
        collect(assoc.send_c_find(query("PATIENT", PatientID="", PatientName=""), "P"))
    )
    assert sorted((d.PatientID, str(d.PatientName)) for d in found) == [
        ("PAT001", "Alpha^Anna"),
        ("PAT002", "Beta^Bob"),
    ]
    assert all(d.QueryRetrieveLevel == "PATIENT" for d in found)


def test_patient_root_study_level(assoc: Association) -> None:
    identifier = query("STUDY", PatientID="PAT001", StudyInstanceUID="", StudyDate="")
    found = matches_of(
        collect(assoc.send_c_find(identifier, PatientRootQueryRetrieveInformationModelFind))
    )
    assert sorted((d.StudyInstanceUID, d.StudyDate, d.PatientID) for d in found) == [
        (study_uid(1), "20240101", "PAT001"),
        (study_uid(2), "20240315", "PAT001"),
    ]


def test_patient_root_series_level(assoc: Association) -> None:
    identifier = query(
        "SERIES",
        PatientID="PAT001",
        StudyInstanceUID=study_uid(1),
        SeriesInstanceUID="",
        Modality="",
    )
    found = matches_of(collect(assoc.send_c_find(identifier, "P")))
    assert sorted((d.SeriesInstanceUID, d.Modality) for d in found) == [
        (series_uid(1, 1), "CT"),
        (series_uid(1, 2), "CT"),
    ]
    # the unique keys of the higher levels come back too (PS3.4 C.4.1.2.2)
    assert {(d.PatientID, d.StudyInstanceUID) for d in found} == {("PAT001", study_uid(1))}


def test_patient_root_image_level(assoc: Association) -> None:
    identifier = query(
        "IMAGE",
        PatientID="PAT001",
        StudyInstanceUID=study_uid(1),
        SeriesInstanceUID=series_uid(1, 1),
        SOPInstanceUID="",
        InstanceNumber="",
    )
    found = matches_of(collect(assoc.send_c_find(identifier, "P")))
    assert sorted((d.SOPInstanceUID, int(d.InstanceNumber)) for d in found) == [
        (f"{ROOT}.1.1.{n}", n) for n in (1, 2, 3)
    ]


def test_study_root_study_level_with_wildcard_and_date_range(assoc: Association) -> None:
    by_name = matches_of(
        collect(
            assoc.send_c_find(
                query("STUDY", StudyInstanceUID="", PatientName="Alpha*", StudyDescription=""),
                StudyRootQueryRetrieveInformationModelFind,
            )
        )
    )
    assert sorted(str(d.StudyDescription) for d in by_name) == ["Chest MR", "Head CT"]
    by_date = matches_of(
        collect(
            assoc.send_c_find(
                query("STUDY", StudyInstanceUID="", StudyDate="20240201-", PatientID=""), "S"
            )
        )
    )
    assert sorted((d.StudyInstanceUID, d.PatientID) for d in by_date) == [
        (study_uid(2), "PAT001"),
        (study_uid(3), "PAT002"),
    ]


def test_study_root_series_and_image_levels(assoc: Association) -> None:
    series = matches_of(
        collect(
            assoc.send_c_find(
                query("SERIES", StudyInstanceUID=study_uid(2), SeriesInstanceUID="", Modality=""),
                "S",
            )
        )
    )
    assert [(d.SeriesInstanceUID, d.Modality, d.StudyInstanceUID) for d in series] == [
        (series_uid(2, 1), "MR", study_uid(2))
    ]
    images = matches_of(
        collect(
            assoc.send_c_find(
                query(
                    "IMAGE",
                    StudyInstanceUID=study_uid(3),
                    SeriesInstanceUID=series_uid(3, 1),
                    SOPInstanceUID="",
                    SOPClassUID="",
                ),
                "S",
            )
        )
    )
    assert sorted(d.SOPInstanceUID for d in images) == [f"{ROOT}.3.1.1", f"{ROOT}.3.1.2"]
    assert {d.SOPClassUID for d in images} == {"1.2.840.10008.5.1.4.1.1.2"}


def test_patient_study_only_model(assoc: Association) -> None:
    found = matches_of(
        collect(assoc.send_c_find(query("STUDY", PatientID="PAT002", StudyInstanceUID=""), "O"))
    )
    assert [d.StudyInstanceUID for d in found] == [study_uid(3)]


def test_no_match_is_a_single_success_without_identifier(assoc: Association) -> None:
    results = collect(assoc.send_c_find(query("PATIENT", PatientID="NOBODY"), "P"))
    assert results == [(0x0000, None)]


def test_modality_worklist(assoc: Association) -> None:
    step = Dataset()
    step.Modality = "MR"
    step.ScheduledStationAETitle = ""
    identifier = query(None, PatientName="", PatientID="", ScheduledProcedureStepSequence=[step])
    found = matches_of(collect(assoc.send_c_find(identifier, "W")))
    assert [(d.PatientID, d.ScheduledProcedureStepSequence[0].Modality) for d in found] == [
        ("PAT002", "MR")
    ]
    everyone = matches_of(collect(assoc.send_c_find(query(None, PatientName="*"), "W")))
    assert sorted(str(d.PatientName) for d in everyone) == [
        "Alpha^Anna",
        "Beta^Bob",
        "Gamma^Gus",
    ]


def test_pending_responses_carry_the_identifier_final_ones_not(
    qr_server: QRServerFactory, associate: Associate
) -> None:
    """PS3.7 C1 on the wire: Command Data Set Type of each C-FIND-RSP."""
    server = qr_server()
    seen: list[tuple[int, int]] = []

    def on_dimse(event: Any) -> None:
        if isinstance(event.message, C_FIND_RSP):
            seen.append((event.message.Status, event.message.CommandDataSetType))

    assoc = associate(server.server_address[1], handlers=[(evt.EVT_DIMSE_RECV, on_dimse)])
    collect(assoc.send_c_find(query("PATIENT", PatientID=""), "P"))
    assert [s for s, _ in seen] == [0xFF00, 0xFF00, 0x0000]
    assert [t != 0x0101 for _, t in seen] == [True, True, False]


# --- C-CANCEL ---------------------------------------------------------------------------------


@pytest.mark.parametrize("by_query_model", [False, True])
def test_cancel_mid_query(
    qr_server: QRServerFactory, associate: Associate, by_query_model: bool
) -> None:
    """Our SCU cancels after 3 matches; the handler (1000 matches) sees ``is_cancelled`` and the
    operation ends with 0xFE00 long before its end; the association goes on. The C-CANCEL's
    context is found from the Message ID, or (pynetdicom's call) from ``query_model``."""
    cancel_sent = threading.Event()
    seen_cancel = threading.Event()
    closed = threading.Event()
    yielded: list[int] = []

    def many(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        if event.identifier.PatientID:
            yield 0xFF00, query("PATIENT", PatientID=event.identifier.PatientID)
            return
        try:
            for n in range(1000):
                if n == 3:
                    # wait until the SCU has sent its C-CANCEL (an event, not a sleep)
                    assert cancel_sent.wait(10)
                if event.is_cancelled:
                    seen_cancel.set()
                    yield 0xFE00, None
                    return
                yielded.append(n)
                yield 0xFF00, query("PATIENT", PatientID=f"P{n:04d}")
        finally:
            closed.set()

    server = qr_server(handlers=[(evt.EVT_C_FIND, many)])
    assoc = associate(server.server_address[1])
    responses = assoc.send_c_find(query("PATIENT", PatientID=""), "P", msg_id=42)
    assert responses.message_id == 42
    statuses = []
    for status, identifier in responses:
        statuses.append(int(status.Status))
        if len(statuses) == 3:
            if by_query_model:
                model = "1.2.840.10008.5.1.4.1.2.1.1"  # Patient Root FIND
                assoc.send_c_cancel(42, query_model=model)
            else:
                assoc.send_c_cancel(42)
            cancel_sent.set()
        if status.Status == 0xFF00:
            assert identifier is not None
        else:
            assert identifier is None
    assert statuses[-1] == 0xFE00
    assert statuses[:-1] == [0xFF00] * (len(statuses) - 1)
    assert 3 <= len(statuses) - 1 < 10
    assert seen_cancel.is_set() and closed.wait(5)
    assert len(yielded) < 10
    # the association carries on
    again = matches_of(collect(assoc.send_c_find(query("PATIENT", PatientID="P0001"), "P")))
    assert [d.PatientID for d in again] == ["P0001"]


def test_cancel_without_handler_cooperation(
    qr_server: QRServerFactory, associate: Associate
) -> None:
    """A handler that never looks at ``is_cancelled`` is stopped by the service itself."""
    cancel_sent = threading.Event()
    closed = threading.Event()

    def oblivious(event: Any) -> Iterator[tuple[int, Dataset]]:
        try:
            for n in range(1000):
                if n == 2:
                    assert cancel_sent.wait(10)
                yield 0xFF00, query("PATIENT", PatientID=f"P{n:04d}")
        finally:
            closed.set()

    server = qr_server(handlers=[(evt.EVT_C_FIND, oblivious)])
    assoc = associate(server.server_address[1])
    responses = assoc.send_c_find(query("PATIENT", PatientID=""), "P")
    statuses = []
    for status, _identifier in responses:
        statuses.append(int(status.Status))
        if len(statuses) == 2:
            responses.cancel()
            cancel_sent.set()
    assert statuses[-1] == 0xFE00 and len(statuses) < 10
    assert closed.wait(5)
    assert responses.finished


# --- failures: documented statuses, and the association carries on ---------------------------


def test_handler_raising_gives_c311_and_the_association_carries_on(
    qr_server: QRServerFactory, associate: Associate, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def flaky(event: Any) -> Iterator[tuple[int, Dataset]]:
        calls.append(event.identifier.PatientID)
        if event.identifier.PatientID == "BOOM":
            raise RuntimeError("index unavailable")
        yield 0xFF00, query("PATIENT", PatientID="OK")

    server = qr_server(handlers=[(evt.EVT_C_FIND, flaky)])
    assoc = associate(server.server_address[1])
    with caplog.at_level(logging.ERROR, logger="dicomnet"):
        results = list(assoc.send_c_find(query("PATIENT", PatientID="BOOM"), "P"))
    assert len(results) == 1
    status, identifier = results[0]
    assert status.Status == 0xC311 and identifier is None
    assert "RuntimeError: index unavailable" in status.ErrorComment
    assert (
        sum("index unavailable" in r.getMessage() or r.exc_info is not None for r in caplog.records)
        >= 1
    )
    # next request on the same association works
    assert [
        d.PatientID
        for d in matches_of(collect(assoc.send_c_find(query("PATIENT", PatientID="X"), "P")))
    ] == ["OK"]
    assert calls == ["BOOM", "X"]


def test_handler_raising_mid_way(qr_server: QRServerFactory, associate: Associate) -> None:
    def two_then_boom(event: Any) -> Iterator[tuple[int, Dataset]]:
        yield 0xFF00, query("PATIENT", PatientID="A")
        yield 0xFF00, query("PATIENT", PatientID="B")
        raise KeyError("lost")

    server = qr_server(handlers=[(evt.EVT_C_FIND, two_then_boom)])
    assoc = associate(server.server_address[1])
    results = collect(assoc.send_c_find(query("PATIENT", PatientID=""), "P"))
    assert [s for s, _ in results] == [0xFF00, 0xFF00, 0xC311]
    assert results[-1][1] is None


@pytest.mark.parametrize(
    "bad_yield",
    [
        pytest.param(0xFF00, id="not-a-pair"),
        pytest.param((0xFF00, None), id="pending-without-identifier"),
        pytest.param(("pending", Dataset()), id="bad-status"),
    ],
)
def test_invalid_yields_give_c312(
    qr_server: QRServerFactory, associate: Associate, bad_yield: Any
) -> None:
    def handler(event: Any) -> Iterator[Any]:
        yield bad_yield

    server = qr_server(handlers=[(evt.EVT_C_FIND, handler)])
    assoc = associate(server.server_address[1])
    results = collect(assoc.send_c_find(query("PATIENT", PatientID=""), "P"))
    assert results == [(0xC312, None)]
    assert collect(assoc.send_c_find(query("PATIENT", PatientID=""), "P")) == [(0xC312, None)]


def test_handler_final_status_ends_the_operation(
    qr_server: QRServerFactory, associate: Associate
) -> None:
    def refuse(event: Any) -> Iterator[tuple[Any, Any]]:
        yield 0xFF01, query("PATIENT", PatientID="A")
        status = Dataset()
        status.Status = 0xA700
        status.ErrorComment = "out of resources"
        yield status, query("PATIENT", PatientID="ignored")  # finals carry no identifier (C1)
        yield 0xFF00, query("PATIENT", PatientID="never sent")

    server = qr_server(handlers=[(evt.EVT_C_FIND, refuse)])
    assoc = associate(server.server_address[1])
    results = list(assoc.send_c_find(query("PATIENT", PatientID=""), "P"))
    assert [int(s.Status) for s, _ in results] == [0xFF01, 0xA700]
    assert results[-1][0].ErrorComment == "out of resources" and results[-1][1] is None


def test_no_find_handler_gives_0122(dicomnet_server: Any, associate: Associate) -> None:
    server = dicomnet_server([], ae=qr_scp_ae())
    assoc = associate(server.server_address[1])
    results = list(assoc.send_c_find(query("PATIENT", PatientID=""), "P"))
    assert [int(s.Status) for s, _ in results] == [0x0122]
    assert "no C-FIND handler" in results[0][0].ErrorComment


# --- the SCU checks before sending ------------------------------------------------------------


def test_invalid_identifier_is_refused_before_sending_when_validating(
    qr_server: QRServerFactory, associate: Associate
) -> None:
    calls: list[int] = []

    def counting(event: Any) -> Iterator[tuple[int, Dataset]]:
        calls.append(1)
        yield 0xFF00, query("STUDY", StudyInstanceUID="1.2")

    server = qr_server(handlers=[(evt.EVT_C_FIND, counting)])
    assoc = associate(server.server_address[1])
    with pytest.raises(ValueError, match="needs PatientID"):
        assoc.send_c_find(query("STUDY", StudyInstanceUID=""), "P", validate=True)
    with pytest.raises(ValueError, match="needs PatientID"):
        assoc.send_c_get(query("STUDY", StudyInstanceUID="1.2"), "P", validate=True)
    with pytest.raises(ValueError, match="Modality Worklist information model supports C-FIND"):
        assoc.send_c_get(query(None, PatientID="A"), "W")
    with pytest.raises(ValueError, match="must be a pydicom Dataset"):
        assoc.send_c_find("PatientID=A", "S")  # type: ignore[arg-type]
    assert calls == []
    assert assoc.is_established
    results = collect(assoc.send_c_find(query("STUDY", StudyInstanceUID=""), "S"))
    assert [s for s, _ in results] == [0xFF00, 0x0000] and calls == [1]


def test_identifier_is_sent_as_built_by_default(
    qr_server: QRServerFactory, associate: Associate, caplog: pytest.LogCaptureFixture
) -> None:
    """As pynetdicom: a PATIENT-level query without PatientID is sent (the archive decides),
    with a warning saying what the check found."""
    seen: list[Dataset] = []

    def recording(event: Any) -> Iterator[tuple[int, Dataset]]:
        seen.append(event.identifier)
        yield 0xFF00, query("PATIENT", PatientID="A", PatientName="CITIZEN^Jan")

    server = qr_server(handlers=[(evt.EVT_C_FIND, recording)])
    assoc = associate(server.server_address[1])
    sent = query("PATIENT", PatientName="CITIZEN^Jan")
    with caplog.at_level("WARNING", logger="dicomnet"):
        results = collect(assoc.send_c_find(sent, "P"))
    assert [s for s, _ in results] == [0xFF00, 0x0000]
    assert len(seen) == 1 and seen[0] == sent
    assert "sending the C-FIND identifier as it is" in caplog.text
    assert "PatientID" in caplog.text


def test_no_accepted_context_raises(qr_server: QRServerFactory) -> None:
    server = qr_server()
    ae = scu_ae()
    ae.requested_contexts = []
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate("127.0.0.1", server.server_address[1], ae_title="QRSCP")
    try:
        assert assoc.is_established
        with pytest.raises(NoContextError, match="Patient Root Query/Retrieve"):
            assoc.send_c_find(query("PATIENT", PatientID=""), "P")
    finally:
        assoc.release()


def test_cancel_needs_a_request_in_progress(assoc: Association) -> None:
    with pytest.raises(ValueError, match="Message ID 999 is in progress"):
        assoc.send_c_cancel(999)
    with pytest.raises(ValueError, match=r"no accepted presentation context for 1\.2\.3"):
        assoc.send_c_cancel(999, query_model="1.2.3")
