"""DIMSE-N (N-EVENT-REPORT, N-GET, N-SET, N-ACTION, N-CREATE, N-DELETE): our SCU against our
SCP, and pynetdicom 3 as the peer in both directions.

MPPS (1.2.840.10008.3.1.2.3.3) carries N-CREATE, N-SET, N-GET and N-DELETE here; Storage
Commitment Push Model (1.2.840.10008.1.20.1) N-ACTION and N-EVENT-REPORT.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pynetdicom
import pytest
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicomnet import AE, evt
from dicomnet.association import Association, NoContextError
from tests.conftest import ServerFactory
from tests.helpers import TEST_UID_PREFIX

MPPS = "1.2.840.10008.3.1.2.3.3"
COMMITMENT = "1.2.840.10008.1.20.1"
COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"  # the well-known instance
INSTANCE = f"{TEST_UID_PREFIX}.77"
SYNTAXES = [str(ImplicitVRLittleEndian), str(ExplicitVRLittleEndian)]

Seen = dict[str, Any]


def _scp_ae() -> AE:
    ae = AE(ae_title="NSCP")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10.0
    ae.add_supported_context(MPPS, SYNTAXES)
    ae.add_supported_context(COMMITMENT, SYNTAXES)
    return ae


def _scu_ae(syntax: str = str(ExplicitVRLittleEndian)) -> AE:
    ae = AE(ae_title="NSCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10.0
    ae.add_requested_context(MPPS, syntax)
    ae.add_requested_context(COMMITMENT, syntax)
    return ae


@pytest.fixture
def nserver(dicomnet_server: ServerFactory) -> Callable[..., Any]:
    def start(handlers: list[Any]) -> Any:
        return dicomnet_server(handlers, ae=_scp_ae())

    return start


@pytest.fixture
def associate() -> Iterator[Callable[..., Association]]:
    opened: list[Association] = []

    def connect(port: int, syntax: str = str(ExplicitVRLittleEndian), **kw: Any) -> Association:
        assoc = _scu_ae(syntax).associate("127.0.0.1", port, ae_title="NSCP", **kw)
        assert assoc.is_established
        opened.append(assoc)
        return assoc

    try:
        yield connect
    finally:
        for assoc in opened:
            if assoc.is_established:
                assoc.release()


def _ds(**elements: Any) -> Dataset:
    ds = Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


# --- our SCU <-> our SCP ---------------------------------------------------------------------


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_n_get(nserver: Any, associate: Any, syntax: str) -> None:
    seen: Seen = {}

    def on_get(event: evt.Event) -> tuple[int, Dataset]:
        seen["ids"] = event.attribute_identifiers
        seen["request"] = event.request
        seen["context"] = event.context.abstract_syntax
        seen["message_id"] = event.message_id
        return 0x0000, _ds(PatientName="Doe^Jane", PerformedProcedureStepStatus="IN PROGRESS")

    server = nserver([(evt.EVT_N_GET, on_get)])
    assoc = associate(server.server_address[1], syntax)
    status, attrs = assoc.send_n_get(
        [0x00100010, "PerformedProcedureStepStatus"], MPPS, INSTANCE, msg_id=7
    )
    assert status.Status == 0x0000
    assert status.AffectedSOPInstanceUID == INSTANCE
    assert attrs.PatientName == "Doe^Jane"
    assert attrs.PerformedProcedureStepStatus == "IN PROGRESS"
    assert seen["ids"] == [Tag(0x00100010), Tag(0x00400252)]
    assert seen["request"].RequestedSOPClassUID == MPPS
    assert seen["request"].RequestedSOPInstanceUID == INSTANCE
    assert seen["context"] == MPPS
    assert seen["message_id"] == 7


def test_n_get_without_identifiers_asks_for_all(nserver: Any, associate: Any) -> None:
    seen: Seen = {}

    def on_get(event: evt.Event) -> tuple[int, None]:
        seen["ids"] = event.attribute_identifiers
        return 0x0000, None

    server = nserver([(evt.EVT_N_GET, on_get)])
    status, attrs = associate(server.server_address[1]).send_n_get(None, MPPS, INSTANCE)
    assert status.Status == 0x0000
    assert attrs is None
    assert seen["ids"] == []


def test_n_set(nserver: Any, associate: Any) -> None:
    seen: Seen = {}

    def on_set(event: evt.Event) -> tuple[int, Dataset]:
        mods = event.modification_list
        seen["mods"] = mods
        return 0x0000, _ds(PerformedProcedureStepStatus=mods.PerformedProcedureStepStatus)

    server = nserver([(evt.EVT_N_SET, on_set)])
    assoc = associate(server.server_address[1])
    status, attrs = assoc.send_n_set(_ds(PerformedProcedureStepStatus="COMPLETED"), MPPS, INSTANCE)
    assert status.Status == 0x0000
    assert attrs.PerformedProcedureStepStatus == "COMPLETED"
    assert seen["mods"].PerformedProcedureStepStatus == "COMPLETED"


def test_n_action_and_n_event_report(nserver: Any, associate: Any) -> None:
    seen: Seen = {}

    def on_action(event: evt.Event) -> tuple[int, Dataset]:
        seen["action"] = (event.action_type, event.action_information.TransactionUID)
        return 0x0000, _ds(TransactionUID=event.action_information.TransactionUID)

    def on_report(event: evt.Event) -> tuple[int, Dataset]:
        seen["report"] = (event.event_type, event.event_information.TransactionUID)
        seen["uids"] = (event.request.AffectedSOPClassUID, event.request.AffectedSOPInstanceUID)
        return 0x0000, _ds(TransactionUID="1.2.3.4")

    server = nserver([(evt.EVT_N_ACTION, on_action), (evt.EVT_N_EVENT_REPORT, on_report)])
    assoc = associate(server.server_address[1])
    status, reply = assoc.send_n_action(
        _ds(TransactionUID="1.2.3"), 1, COMMITMENT, COMMITMENT_INSTANCE
    )
    assert status.Status == 0x0000
    assert reply.TransactionUID == "1.2.3"
    assert seen["action"] == (1, "1.2.3")
    status, reply = assoc.send_n_event_report(
        _ds(TransactionUID="1.2.3"), 2, COMMITMENT, COMMITMENT_INSTANCE
    )
    assert status.Status == 0x0000
    assert reply.TransactionUID == "1.2.3.4"
    assert seen["report"] == (2, "1.2.3")
    assert seen["uids"] == (COMMITMENT, COMMITMENT_INSTANCE)


def test_n_action_without_information(nserver: Any, associate: Any) -> None:
    seen: Seen = {}

    def on_action(event: evt.Event) -> tuple[int, None]:
        seen["info"] = event.action_information
        return 0x0000, None

    server = nserver([(evt.EVT_N_ACTION, on_action)])
    assoc = associate(server.server_address[1])
    status, reply = assoc.send_n_action(None, 5, COMMITMENT, COMMITMENT_INSTANCE)
    assert status.Status == 0x0000
    assert reply is None
    assert len(seen["info"]) == 0


def test_n_create_instance_uids(nserver: Any, associate: Any) -> None:
    seen: list[Any] = []

    def on_create(event: evt.Event) -> tuple[int, Dataset]:
        attrs = event.attribute_list
        seen.append((event.request.AffectedSOPInstanceUID, attrs.PatientID))
        reply = _ds(PatientID=attrs.PatientID)
        if attrs.PatientID == "SETBYHANDLER":
            reply.SOPInstanceUID = f"{TEST_UID_PREFIX}.99"
        return 0x0000, reply

    server = nserver([(evt.EVT_N_CREATE, on_create)])
    assoc = associate(server.server_address[1])
    # The SCU names the instance: the response carries it.
    status, attrs = assoc.send_n_create(_ds(PatientID="A"), MPPS, INSTANCE)
    assert (status.Status, status.AffectedSOPInstanceUID, attrs.PatientID) == (0, INSTANCE, "A")
    # The handler sets it on the returned data set.
    status, attrs = assoc.send_n_create(_ds(PatientID="SETBYHANDLER"), MPPS)
    assert status.AffectedSOPInstanceUID == f"{TEST_UID_PREFIX}.99"
    assert attrs.SOPInstanceUID == f"{TEST_UID_PREFIX}.99"
    # Neither: the SCP generates one.
    status, attrs = assoc.send_n_create(_ds(PatientID="B"), MPPS)
    generated = status.AffectedSOPInstanceUID
    assert generated and generated not in (INSTANCE, f"{TEST_UID_PREFIX}.99")
    assert all(part.isdigit() for part in generated.split("."))
    assert seen == [(INSTANCE, "A"), (None, "SETBYHANDLER"), (None, "B")]


def test_n_delete(nserver: Any, associate: Any) -> None:
    seen: Seen = {}

    def on_delete(event: evt.Event) -> int:
        seen["uids"] = (event.request.RequestedSOPClassUID, event.request.RequestedSOPInstanceUID)
        return 0x0112 if event.request.RequestedSOPInstanceUID == "1.2.3" else 0x0000

    server = nserver([(evt.EVT_N_DELETE, on_delete)])
    assoc = associate(server.server_address[1])
    status = assoc.send_n_delete(MPPS, INSTANCE)
    assert status.Status == 0x0000
    assert seen["uids"] == (MPPS, INSTANCE)
    assert assoc.send_n_delete(MPPS, "1.2.3").Status == 0x0112


def test_failure_status_dataset_is_not_sent(nserver: Any, associate: Any) -> None:
    def on_get(event: evt.Event) -> tuple[Dataset, Dataset]:
        return _ds(Status=0x0112, ErrorComment="no such instance"), _ds(PatientID="X")

    server = nserver([(evt.EVT_N_GET, on_get)])
    status, attrs = associate(server.server_address[1]).send_n_get([], MPPS, INSTANCE)
    assert status.Status == 0x0112
    assert status.ErrorComment == "no such instance"
    assert attrs is None


def test_raising_handler_gives_0110_and_association_continues(
    nserver: Any, associate: Any, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def on_set(event: evt.Event) -> tuple[int, None]:
        calls.append(event.modification_list.PatientID)
        if event.modification_list.PatientID == "BOOM":
            raise RuntimeError("database is down")
        return 0x0000, None

    server = nserver([(evt.EVT_N_SET, on_set)])
    assoc = associate(server.server_address[1])
    with caplog.at_level(logging.ERROR, logger="dicomnet.services"):
        status, attrs = assoc.send_n_set(_ds(PatientID="BOOM"), MPPS, INSTANCE)
    assert status.Status == 0x0110
    assert "RuntimeError: database is down" in status.ErrorComment
    assert attrs is None
    assert any("database is down" in r.getMessage() or r.exc_info for r in caplog.records)
    status, _ = assoc.send_n_set(_ds(PatientID="OK"), MPPS, INSTANCE)
    assert status.Status == 0x0000
    assert assoc.is_established
    assert calls == ["BOOM", "OK"]


@pytest.mark.parametrize(
    ("returned", "comment"),
    [
        (0x0000, "did not return (status, dataset)"),
        ((0x0000, object()), "cannot encode the returned data set"),
        (("bad", None), "invalid status"),
    ],
)
def test_invalid_handler_returns_give_0110(
    nserver: Any, associate: Any, returned: Any, comment: str
) -> None:
    server = nserver([(evt.EVT_N_ACTION, lambda event: returned)])
    assoc = associate(server.server_address[1])
    status, reply = assoc.send_n_action(None, 1, COMMITMENT, COMMITMENT_INSTANCE)
    assert status.Status == 0x0110
    assert comment in status.ErrorComment
    assert reply is None
    assert assoc.send_n_action(None, 1, COMMITMENT, COMMITMENT_INSTANCE)[0].Status == 0x0110


def test_no_handler_bound_gives_0110(nserver: Any, associate: Any) -> None:
    server = nserver([])
    assoc = associate(server.server_address[1])
    status, attrs = assoc.send_n_get([], MPPS, INSTANCE)
    assert status.Status == 0x0110
    assert status.ErrorComment == "no EVT_N_GET handler is bound"
    assert attrs is None
    assert assoc.send_n_delete(MPPS, INSTANCE).Status == 0x0110
    assert assoc.is_established


def test_event_attributes_belong_to_their_event(nserver: Any, associate: Any) -> None:
    errors: list[str] = []

    def on_get(event: evt.Event) -> tuple[int, None]:
        for name in ("modification_list", "attribute_list", "action_type", "event_type"):
            try:
                getattr(event, name)
            except AttributeError as exc:
                errors.append(str(exc))
        return 0x0000, None

    server = nserver([(evt.EVT_N_GET, on_get)])
    associate(server.server_address[1]).send_n_get([], MPPS, INSTANCE)
    assert len(errors) == 4
    assert "modification_list" in errors[0]


def test_scp_sends_event_report_back_during_n_action(nserver: Any, associate: Any) -> None:
    """Storage Commitment style: the N-ACTION handler reports on the same association; the
    requestor serves the N-EVENT-REPORT while it waits for its N-ACTION response."""
    reports: list[tuple[int, str]] = []
    replies: list[Any] = []

    def on_action(event: evt.Event) -> tuple[int, None]:
        info = _ds(TransactionUID=event.action_information.TransactionUID)
        status, _ = event.assoc.send_n_event_report(info, 1, COMMITMENT, COMMITMENT_INSTANCE)
        replies.append(status.Status)
        return 0x0000, None

    def on_report(event: evt.Event) -> tuple[int, None]:
        reports.append((event.event_type, event.event_information.TransactionUID))
        return 0x0000, None

    server = nserver([(evt.EVT_N_ACTION, on_action)])
    assoc = associate(server.server_address[1], evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)])
    status, _ = assoc.send_n_action(_ds(TransactionUID="1.2.5"), 1, COMMITMENT, COMMITMENT_INSTANCE)
    assert status.Status == 0x0000
    assert reports == [(1, "1.2.5")]
    assert replies == [0x0000]


def test_no_context_raises(nserver: Any) -> None:
    server = nserver([])
    ae = AE(ae_title="NSCU")
    ae.add_requested_context(MPPS)
    assoc = ae.associate("127.0.0.1", server.server_address[1], ae_title="NSCP")
    try:
        with pytest.raises(NoContextError):
            assoc.send_n_action(None, 1, COMMITMENT, COMMITMENT_INSTANCE)
    finally:
        assoc.release()


# --- pynetdicom as the peer ------------------------------------------------------------------

pynetdicom_peer = pytest.mark.interop


@pynetdicom_peer
def test_pynetdicom_scu_to_our_scp(nserver: Any) -> None:
    seen: Seen = {}

    def on_get(event: evt.Event) -> tuple[int, Dataset]:
        seen["ids"] = event.attribute_identifiers
        return 0x0000, _ds(PatientName="Doe^John")

    def on_set(event: evt.Event) -> tuple[int, Dataset]:
        seen["mods"] = event.modification_list.PerformedProcedureStepStatus
        return 0x0000, _ds(PerformedProcedureStepStatus="COMPLETED")

    def on_action(event: evt.Event) -> tuple[int, Dataset]:
        seen["action"] = (event.action_type, event.action_information.TransactionUID)
        return 0x0000, _ds(TransactionUID="9.8.7")

    def on_create(event: evt.Event) -> tuple[int, Dataset]:
        return 0x0000, _ds(PatientID=event.attribute_list.PatientID)

    def on_delete(event: evt.Event) -> int:
        raise ValueError("nope")

    server = nserver(
        [
            (evt.EVT_N_GET, on_get),
            (evt.EVT_N_SET, on_set),
            (evt.EVT_N_ACTION, on_action),
            (evt.EVT_N_CREATE, on_create),
            (evt.EVT_N_DELETE, on_delete),
        ]
    )
    ae = pynetdicom.AE(ae_title="PYNSCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(MPPS)
    ae.add_requested_context(COMMITMENT)
    assoc: Any = ae.associate("127.0.0.1", server.server_address[1], ae_title="NSCP")
    assert assoc.is_established
    try:
        status, attrs = assoc.send_n_get([0x00100010], MPPS, INSTANCE)
        assert status.Status == 0x0000
        assert attrs.PatientName == "Doe^John"
        assert seen["ids"] == [Tag(0x00100010)]

        status, attrs = assoc.send_n_set(
            _ds(PerformedProcedureStepStatus="COMPLETED"), MPPS, INSTANCE
        )
        assert status.Status == 0x0000
        assert attrs.PerformedProcedureStepStatus == "COMPLETED"
        assert seen["mods"] == "COMPLETED"

        status, reply = assoc.send_n_action(
            _ds(TransactionUID="1.2.3"), 1, COMMITMENT, COMMITMENT_INSTANCE
        )
        assert status.Status == 0x0000
        assert reply.TransactionUID == "9.8.7"
        assert seen["action"] == (1, "1.2.3")

        status, attrs = assoc.send_n_create(_ds(PatientID="P1"), MPPS, INSTANCE)
        assert status.Status == 0x0000
        assert attrs.PatientID == "P1"

        status = assoc.send_n_delete(MPPS, INSTANCE)
        assert status.Status == 0x0110
        assert assoc.is_established
    finally:
        assoc.release()


@pytest.fixture
def pynetdicom_nserver() -> Iterator[Callable[[list[Any]], Any]]:
    started: list[Any] = []

    def start(handlers: list[Any]) -> Any:
        ae = pynetdicom.AE(ae_title="PYNSCP")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        ae.add_supported_context(MPPS, SYNTAXES)
        ae.add_supported_context(COMMITMENT, SYNTAXES)
        server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.shutdown()


@pynetdicom_peer
def test_our_scu_to_pynetdicom_scp(pynetdicom_nserver: Any) -> None:
    seen: Seen = {}
    done = threading.Event()

    def on_get(event: Any) -> tuple[int, Dataset]:
        seen["ids"] = list(event.attribute_identifiers)
        return 0x0000, _ds(PatientName="Roe^Richard", SOPInstanceUID=INSTANCE)

    def on_set(event: Any) -> tuple[int, Dataset]:
        seen["mods"] = event.modification_list.PerformedProcedureStepStatus
        return 0x0000, _ds(PerformedProcedureStepStatus="DISCONTINUED")

    def on_action(event: Any) -> tuple[int, Dataset]:
        seen["action"] = (event.action_type, event.action_information.TransactionUID)
        done.set()
        return 0x0000, _ds(TransactionUID="5.6.7")

    def on_create(event: Any) -> tuple[int, Dataset]:
        seen["create"] = event.request.AffectedSOPInstanceUID
        return 0x0000, _ds(PatientID=event.attribute_list.PatientID)

    server = pynetdicom_nserver(
        [
            (pynetdicom.evt.EVT_N_GET, on_get),
            (pynetdicom.evt.EVT_N_SET, on_set),
            (pynetdicom.evt.EVT_N_ACTION, on_action),
            (pynetdicom.evt.EVT_N_CREATE, on_create),
        ]
    )
    ae = _scu_ae()
    assoc = ae.associate("127.0.0.1", server.server_address[1], ae_title="PYNSCP")
    assert assoc.is_established
    try:
        status, attrs = assoc.send_n_get(["PatientName", 0x00100020], MPPS, INSTANCE)
        assert status.Status == 0x0000
        assert attrs is not None
        assert attrs.PatientName == "Roe^Richard"
        assert seen["ids"] == [Tag(0x00100010), Tag(0x00100020)]

        status, attrs = assoc.send_n_set(
            _ds(PerformedProcedureStepStatus="DISCONTINUED"), MPPS, INSTANCE
        )
        assert status.Status == 0x0000
        assert attrs is not None
        assert attrs.PerformedProcedureStepStatus == "DISCONTINUED"
        assert seen["mods"] == "DISCONTINUED"

        status, reply = assoc.send_n_action(
            _ds(TransactionUID="1.2.3"), 1, COMMITMENT, COMMITMENT_INSTANCE
        )
        assert done.is_set()
        assert status.Status == 0x0000
        assert reply is not None
        assert reply.TransactionUID == "5.6.7"
        assert seen["action"] == (1, "1.2.3")

        status, attrs = assoc.send_n_create(_ds(PatientID="Q"), MPPS, INSTANCE)
        assert status.Status == 0x0000
        assert status.AffectedSOPInstanceUID == INSTANCE
        assert attrs is not None
        assert attrs.PatientID == "Q"
        assert seen["create"] == INSTANCE
    finally:
        assoc.release()
