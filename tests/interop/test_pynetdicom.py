"""Interoperability with pynetdicom 3 (a test peer only): its SCU against our SCP and our SCU
against its SCP, echo and store, stored bytes compared with what was sent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pynetdicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicomnet import AE, evt
from dicomnet.sop_class import CTImageStorage, Verification
from tests.conftest import ServerFactory, default_ae
from tests.helpers import dataset_bytes, sop_instance_of, transfer_syntax_of, write_ct_file

pytestmark = pytest.mark.interop

VERIFICATION = "1.2.840.10008.1.1"
CT = str(CTImageStorage)
SYNTAXES = [str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian)]

PynetdicomServerFactory = Callable[..., Any]


def pynetdicom_scu(maximum_pdu_size: int = 16382) -> Any:
    """pynetdicom's requestor: Verification, CT Image Storage once per transfer syntax."""
    ae = pynetdicom.AE(ae_title="PYNETDICOM")
    ae.maximum_pdu_size = maximum_pdu_size
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    ae.add_requested_context(VERIFICATION)
    for syntax in SYNTAXES:
        ae.add_requested_context(CT, syntax)
    return ae


def our_scu() -> AE:
    ae = AE(ae_title="DICOMNETSCU")
    ae.acse_timeout = ae.dimse_timeout = 10.0
    ae.add_requested_context(Verification)
    for syntax in SYNTAXES:
        ae.add_requested_context(CTImageStorage, syntax)
    return ae


@pytest.fixture
def pynetdicom_server() -> Iterator[PynetdicomServerFactory]:
    """A factory starting pynetdicom's SCP (Verification, CT) on 127.0.0.1:0, non-blocking."""
    started: list[Any] = []

    def start(handlers: list[Any], maximum_pdu_size: int = 16382) -> Any:
        ae = pynetdicom.AE(ae_title="PYSCP")
        ae.maximum_pdu_size = maximum_pdu_size
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        ae.add_supported_context(VERIFICATION)
        ae.add_supported_context(CT, SYNTAXES)
        server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.shutdown()


# --- pynetdicom SCU -> our SCP --------------------------------------------------------------


def test_pynetdicom_echo_to_our_scp(dicomnet_server: ServerFactory) -> None:
    seen: list[str] = []

    def on_echo(event: Any) -> int:
        seen.append(event.assoc.requestor.ae_title.strip())
        return 0x0000

    server = dicomnet_server([(evt.EVT_C_ECHO, on_echo)])
    assoc = pynetdicom_scu().associate("127.0.0.1", server.server_address[1], ae_title="DICOMNET")
    try:
        assert assoc.is_established
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    assert status.Status == 0x0000
    assert seen == ["PYNETDICOM"]


def test_pynetdicom_store_to_our_scp_byte_for_byte(
    dicomnet_server: ServerFactory, ct_files: list[Path]
) -> None:
    lock = threading.Lock()
    received: dict[str, tuple[str, bytes, bytes]] = {}

    def on_store(event: Any) -> int:
        uid = str(event.request.AffectedSOPInstanceUID)
        with lock:
            received[uid] = (
                str(event.context.transfer_syntax),
                event.encoded_dataset(include_meta=False),
                event.encoded_dataset(),
            )
        return 0x0000

    server = dicomnet_server([(evt.EVT_C_STORE, on_store)])
    assoc = pynetdicom_scu().associate("127.0.0.1", server.server_address[1], ae_title="DICOMNET")
    try:
        assert assoc.is_established
        by_path, by_dataset = ct_files[:2], ct_files[2:]
        statuses = [assoc.send_c_store(p) for p in by_path]
        statuses += [assoc.send_c_store(pydicom.dcmread(p)) for p in by_dataset]
    finally:
        assoc.release()
    assert [s.Status for s in statuses] == [0x0000] * len(ct_files)
    assert len(received) == len(ct_files)
    for sent in ct_files:
        syntax, data, whole = received[sop_instance_of(sent)]
        assert syntax == transfer_syntax_of(sent)
        assert data == dataset_bytes(sent)
        assert dataset_bytes(whole) == data
        assert transfer_syntax_of(whole) == syntax


@pytest.mark.parametrize(
    ("our_pdu", "their_pdu"), [(0, 0), (4096, 131072), (131072, 4096)], ids=str
)
def test_pynetdicom_large_store_to_our_scp(
    dicomnet_server: ServerFactory, tmp_path: Path, our_pdu: int, their_pdu: int
) -> None:
    # 0 = no limit: pynetdicom then sends the whole data set in one P-DATA-TF.
    sent = write_ct_file(tmp_path / "large.dcm", 300, ExplicitVRLittleEndian, 512, 1024)
    received: list[bytes] = []

    def on_store(event: Any) -> int:
        received.append(event.encoded_dataset(include_meta=False))
        return 0x0000

    ae = default_ae()
    ae.maximum_pdu_size = our_pdu
    server = dicomnet_server([(evt.EVT_C_STORE, on_store)], ae=ae)
    scu = pynetdicom_scu(their_pdu)
    assoc = scu.associate("127.0.0.1", server.server_address[1], ae_title="DICOMNET")
    try:
        status = assoc.send_c_store(sent)
    finally:
        assoc.release()
    assert status.Status == 0x0000
    assert received == [dataset_bytes(sent)]


# --- our SCU -> pynetdicom SCP --------------------------------------------------------------


def test_our_echo_and_store_to_pynetdicom_byte_for_byte(
    pynetdicom_server: PynetdicomServerFactory, ct_files: list[Path]
) -> None:
    lock = threading.Lock()
    echoes: list[str] = []
    stored: dict[str, tuple[str, bytes]] = {}

    def on_echo(event: Any) -> int:
        echoes.append(event.assoc.requestor.ae_title.strip())
        return 0x0000

    def on_store(event: Any) -> int:
        with lock:
            stored[str(event.request.AffectedSOPInstanceUID)] = (
                str(event.context.transfer_syntax),
                event.encoded_dataset(),
            )
        return 0x0000

    server = pynetdicom_server(
        [(pynetdicom.evt.EVT_C_ECHO, on_echo), (pynetdicom.evt.EVT_C_STORE, on_store)]
    )
    assoc = our_scu().associate("127.0.0.1", server.server_address[1], ae_title="PYSCP")
    try:
        assert assoc.is_established
        echo = assoc.send_c_echo()
        by_path, by_dataset = ct_files[:2], ct_files[2:]
        statuses = [assoc.send_c_store(p) for p in by_path]
        statuses += [assoc.send_c_store(pydicom.dcmread(p)) for p in by_dataset]
    finally:
        assoc.release()
    assert assoc.is_released
    assert echo.Status == 0x0000
    assert echoes == ["DICOMNETSCU"]
    assert [s.Status for s in statuses] == [0x0000] * len(ct_files)
    assert len(stored) == len(ct_files)
    for sent in ct_files:
        syntax, whole = stored[sop_instance_of(sent)]
        assert syntax == transfer_syntax_of(sent)
        assert dataset_bytes(whole) == dataset_bytes(sent)


def _status_dataset(status: int, comment: str) -> Dataset:
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = comment
    return ds


def _raise(event: Any) -> int:
    raise RuntimeError("handler failed on purpose")


@pytest.mark.parametrize(
    ("handler", "status", "comment"),
    [
        (lambda event: 0xB000, 0xB000, None),
        (lambda event: _status_dataset(0xA700, "disk full"), 0xA700, "disk full"),
        # pynetdicom answers a raising handler with 0xC211 (documented by pynetdicom).
        (_raise, 0xC211, None),
    ],
    ids=["warning-int", "failure-dataset-with-comment", "handler-raises"],
)
def test_pynetdicom_store_statuses_come_back(
    pynetdicom_server: PynetdicomServerFactory,
    ct_files: list[Path],
    handler: Callable[[Any], Any],
    status: int,
    comment: str | None,
) -> None:
    server = pynetdicom_server([(pynetdicom.evt.EVT_C_STORE, handler)])
    assoc = our_scu().associate("127.0.0.1", server.server_address[1], ae_title="PYSCP")
    try:
        result = assoc.send_c_store(ct_files[0])
        # The association goes on after a failure status.
        after = assoc.send_c_echo()
    finally:
        assoc.release()
    assert result.Status == status
    if comment is not None:
        assert result.ErrorComment == comment
    assert after.Status == 0x0000


@pytest.mark.parametrize(
    ("our_pdu", "their_pdu"), [(0, 0), (4096, 131072), (131072, 4096)], ids=str
)
def test_our_large_store_to_pynetdicom(
    pynetdicom_server: PynetdicomServerFactory, tmp_path: Path, our_pdu: int, their_pdu: int
) -> None:
    sent = write_ct_file(tmp_path / "large.dcm", 301, ImplicitVRLittleEndian, 512, 1024)
    stored: list[bytes] = []

    def on_store(event: Any) -> int:
        stored.append(event.encoded_dataset())
        return 0x0000

    server = pynetdicom_server([(pynetdicom.evt.EVT_C_STORE, on_store)], their_pdu)
    ae = our_scu()
    ae.maximum_pdu_size = our_pdu
    assoc = ae.associate("127.0.0.1", server.server_address[1], ae_title="PYSCP")
    try:
        status = assoc.send_c_store(sent)
    finally:
        assoc.release()
    assert status.Status == 0x0000
    assert [dataset_bytes(s) for s in stored] == [dataset_bytes(sent)]


def test_pynetdicom_echo_status_comes_back(pynetdicom_server: PynetdicomServerFactory) -> None:
    server = pynetdicom_server([(pynetdicom.evt.EVT_C_ECHO, lambda event: 0x0110)])
    assoc = our_scu().associate("127.0.0.1", server.server_address[1], ae_title="PYSCP")
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    assert status.Status == 0x0110
