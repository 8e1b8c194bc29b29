"""Interoperability with DCMTK 3.6.7 (``/usr/bin``): echoscu/storescu against our SCP, our SCU
against storescp; every stored data set is compared byte for byte with what was sent."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicomnet import AE, evt
from dicomnet.sop_class import CTImageStorage, Verification
from tests.conftest import ServerFactory, StorescpFactory, default_ae
from tests.helpers import (
    ECHOSCU,
    STORESCU,
    dataset_bytes,
    run_dcmtk,
    sop_instance_of,
    transfer_syntax_of,
    write_ct_file,
)

# 1100 x 2000 x 16 bits: 4.4 MB, past the 4 MiB threshold where received data sets are spooled
# to a temporary file, and hundreds of PDUs long.
LARGE_ROWS, LARGE_COLUMNS = 1100, 2000

pytestmark = pytest.mark.interop


class StoreRecorder:
    """An EVT_C_STORE handler that keeps what a user's storage handler would see."""

    def __init__(self, directory: Path, status: Any = 0x0000) -> None:
        self.directory = directory
        self.status = status
        self.lock = threading.Lock()
        self.files: dict[str, Path] = {}
        self.syntaxes: dict[str, str] = {}
        self.from_path: dict[str, bytes] = {}
        self.datasets: dict[str, Dataset] = {}
        self.calling_ae_titles: list[str] = []

    def __call__(self, event: Any) -> Any:
        uid = str(event.request.AffectedSOPInstanceUID)
        target = self.directory / f"{uid}.dcm"
        target.write_bytes(event.encoded_dataset())
        with self.lock:
            self.files[uid] = target
            self.syntaxes[uid] = str(event.context.transfer_syntax)
            self.from_path[uid] = Path(event.dataset_path).read_bytes()
            self.datasets[uid] = event.dataset
            self.calling_ae_titles.append(event.assoc.requestor.ae_title.strip())
        return self.status


def our_scu(*syntaxes: str) -> AE:
    """Our requestor: Verification, and CT Image Storage once per transfer syntax (separate
    contexts, so that the peer accepts each and nothing has to be converted)."""
    ae = AE(ae_title="DICOMNETSCU")
    ae.acse_timeout = ae.dimse_timeout = 10.0
    ae.add_requested_context(Verification)
    for syntax in syntaxes or (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
        ae.add_requested_context(CTImageStorage, syntax)
    return ae


# --- DCMTK SCUs -> our SCP ------------------------------------------------------------------


def test_echoscu_gets_success_and_handler_sees_calling_ae(
    dicomnet_server: ServerFactory,
) -> None:
    seen: list[tuple[str, str]] = []

    def on_echo(event: Any) -> int:
        seen.append((event.assoc.requestor.ae_title.strip(), event.assoc.acceptor.ae_title))
        return 0x0000

    server = dicomnet_server([(evt.EVT_C_ECHO, on_echo)])
    port = str(server.server_address[1])
    result = run_dcmtk(ECHOSCU, "-v", "-aet", "ECHOTEST", "-aec", "DICOMNET", "127.0.0.1", port)
    assert result.returncode == 0, result.stderr
    assert "Received Echo Response (Success)" in result.stderr
    assert seen == [("ECHOTEST", "DICOMNET")]


def test_echoscu_repeat_uses_one_association(dicomnet_server: ServerFactory) -> None:
    message_ids: list[int] = []
    released = threading.Event()

    def on_echo(event: Any) -> int:
        message_ids.append(event.message_id)
        return 0x0000

    server = dicomnet_server(
        [(evt.EVT_C_ECHO, on_echo), (evt.EVT_RELEASED, lambda event: released.set())]
    )
    port = str(server.server_address[1])
    result = run_dcmtk(ECHOSCU, "-v", "--repeat", "3", "127.0.0.1", port)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Received Echo Response (Success)") == 3
    assert message_ids == [1, 2, 3]
    assert released.wait(5.0)


def test_echoscu_rejected_for_wrong_called_ae_title(dicomnet_server: ServerFactory) -> None:
    ae = default_ae("DICOMNET")
    ae.require_called_aet = True
    server = dicomnet_server(ae=ae)
    port = str(server.server_address[1])
    result = run_dcmtk(ECHOSCU, "-aec", "SOMEONEELSE", "127.0.0.1", port)
    assert result.returncode != 0
    assert "Association Rejected" in result.stderr
    assert "Result: Rejected Permanent, Source: Service User" in result.stderr
    assert "Reason: Called AE Title Not Recognized" in result.stderr
    ok = run_dcmtk(ECHOSCU, "-aec", "DICOMNET", "127.0.0.1", port)
    assert ok.returncode == 0, ok.stderr


def test_echoscu_abort_then_server_goes_on(dicomnet_server: ServerFactory) -> None:
    aborted = threading.Event()
    server = dicomnet_server([(evt.EVT_ABORTED, lambda event: aborted.set())])
    port = str(server.server_address[1])
    first = run_dcmtk(ECHOSCU, "-v", "--abort", "127.0.0.1", port)
    assert first.returncode == 0, first.stderr
    assert "Aborting Association" in first.stderr
    assert aborted.wait(5.0), "EVT_ABORTED was not fired for the peer's A-ABORT"
    second = run_dcmtk(ECHOSCU, "-v", "127.0.0.1", port)
    assert second.returncode == 0, second.stderr
    assert "Received Echo Response (Success)" in second.stderr


def test_over_maximum_associations_echoscu_gets_transient_rejection(
    dicomnet_server: ServerFactory,
) -> None:
    ae = default_ae()
    ae.maximum_associations = 1
    server = dicomnet_server(ae=ae)
    port = server.server_address[1]
    held = our_scu().associate("127.0.0.1", port, ae_title="DICOMNET")
    assert held.is_established
    [serving] = server.active_associations
    try:
        result = run_dcmtk(ECHOSCU, "127.0.0.1", str(port))
    finally:
        held.release()
    assert result.returncode != 0
    assert "Result: Rejected Transient, Source: Service Provider (Presentation" in result.stderr
    assert "Reason: Local Limit Exceeded" in result.stderr
    # Once the held association has ended on the server, the next one is served.
    assert serving.thread is not None
    serving.thread.join(5.0)
    assert not serving.thread.is_alive()
    again = run_dcmtk(ECHOSCU, "127.0.0.1", str(port))
    assert again.returncode == 0, again.stderr


def test_storescu_files_arrive_byte_for_byte(
    dicomnet_server: ServerFactory, ct_files: list[Path], tmp_path: Path
) -> None:
    received = tmp_path / "received"
    received.mkdir()
    recorder = StoreRecorder(received)
    server = dicomnet_server([(evt.EVT_C_STORE, recorder)])
    port = str(server.server_address[1])

    result = run_dcmtk(STORESCU, "-v", "-aet", "STORETEST", "127.0.0.1", port, *ct_files)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Received Store Response (Success)") == len(ct_files)
    assert recorder.calling_ae_titles == ["STORETEST"] * len(ct_files)

    syntaxes = {transfer_syntax_of(p) for p in ct_files}
    assert syntaxes == {ExplicitVRLittleEndian, ImplicitVRLittleEndian}
    for sent in ct_files:
        uid = sop_instance_of(sent)
        stored = recorder.files[uid]
        # DCMTK found a context in the file's own syntax: nothing was converted.
        assert recorder.syntaxes[uid] == transfer_syntax_of(sent)
        assert transfer_syntax_of(stored) == transfer_syntax_of(sent)
        assert sop_instance_of(stored) == uid
        assert dataset_bytes(stored) == dataset_bytes(sent)
        # event.dataset_path holds the same Part-10 file as event.encoded_dataset().
        assert recorder.from_path[uid] == stored.read_bytes()
        assert pydicom.dcmread(stored).PatientID == pydicom.dcmread(sent).PatientID


def test_storescu_converting_to_implicit_gives_the_same_dataset(
    dicomnet_server: ServerFactory, ct_files: list[Path], tmp_path: Path
) -> None:
    # -xi: DCMTK proposes Implicit VR only and converts the Explicit files itself, so the
    # bytes differ; the decoded data sets must not.
    recorder = StoreRecorder(tmp_path)
    server = dicomnet_server([(evt.EVT_C_STORE, recorder)])
    port = str(server.server_address[1])
    explicit = [p for p in ct_files if transfer_syntax_of(p) == ExplicitVRLittleEndian]
    result = run_dcmtk(STORESCU, "-xi", "127.0.0.1", port, *explicit)
    assert result.returncode == 0, result.stderr
    for sent in explicit:
        uid = sop_instance_of(sent)
        assert recorder.syntaxes[uid] == ImplicitVRLittleEndian
        original = pydicom.dcmread(sent)
        decoded = recorder.datasets[uid]
        assert decoded.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
        assert list(decoded.keys()) == list(original.keys())
        for element in original:
            assert decoded[element.tag].value == element.value, element.keyword


@pytest.mark.parametrize(
    ("status", "verbose_text", "failed"),
    [
        (0xA700, "Refused: OutOfResources", True),
        (0xB000, "Warning: CoercionOfDataElements", False),
        (0xC211, "Error: CannotUnderstand", True),
    ],
)
def test_handler_status_is_what_storescu_reports(
    dicomnet_server: ServerFactory,
    ct_files: list[Path],
    tmp_path: Path,
    status: int,
    verbose_text: str,
    failed: bool,
) -> None:
    server = dicomnet_server([(evt.EVT_C_STORE, StoreRecorder(tmp_path, status))])
    port = str(server.server_address[1])
    result = run_dcmtk(STORESCU, "-v", "127.0.0.1", port, ct_files[0])
    assert f"Received Store Response ({verbose_text})" in result.stderr
    assert (result.returncode != 0) is failed, (result.returncode, result.stderr)


def test_handler_status_dataset_with_comment_reaches_storescu(
    dicomnet_server: ServerFactory, ct_files: list[Path], tmp_path: Path
) -> None:
    status = Dataset()
    status.Status = 0xA700
    status.ErrorComment = "disk full"
    server = dicomnet_server([(evt.EVT_C_STORE, StoreRecorder(tmp_path, status))])
    port = str(server.server_address[1])
    result = run_dcmtk(STORESCU, "-d", "127.0.0.1", port, ct_files[0])
    assert result.returncode != 0
    assert "DIMSE Status                  : 0xa700" in result.stderr
    assert "(0000,0902) LO [disk full]" in result.stderr


def test_storescu_large_files_spooled_and_cleaned_up(
    dicomnet_server: ServerFactory, tmp_path: Path
) -> None:
    sent = [
        write_ct_file(
            tmp_path / "large_explicit.dcm", 100, ExplicitVRLittleEndian, LARGE_ROWS, LARGE_COLUMNS
        ),
        write_ct_file(
            tmp_path / "large_implicit.dcm", 101, ImplicitVRLittleEndian, LARGE_ROWS, LARGE_COLUMNS
        ),
    ]
    spool = tmp_path / "spool"
    spool.mkdir()
    received = tmp_path / "received"
    received.mkdir()
    ae = default_ae()
    ae.spool_directory = str(spool)
    spooled: list[Path] = []

    class SpoolWatcher(StoreRecorder):
        def __call__(self, event: Any) -> Any:
            path = Path(event.dataset_path)
            spooled.append(path)
            assert path.parent == spool  # the data set went to disk, not memory
            return super().__call__(event)

    recorder = SpoolWatcher(received)
    server = dicomnet_server([(evt.EVT_C_STORE, recorder)], ae=ae)
    port = str(server.server_address[1])
    result = run_dcmtk(STORESCU, "-pdu", "4096", "127.0.0.1", port, *sent)
    assert result.returncode == 0, result.stderr
    for path in sent:
        stored = recorder.files[sop_instance_of(path)]
        assert dataset_bytes(stored) == dataset_bytes(path)
    assert len(spooled) == len(sent)
    # The temporary files are gone once the handler returned.
    assert list(spool.iterdir()) == []


# --- our SCU -> DCMTK storescp --------------------------------------------------------------


def test_our_echo_to_storescp(dcmtk_storescp: StorescpFactory) -> None:
    scp = dcmtk_storescp("-v")
    assoc = our_scu().associate("127.0.0.1", scp.port, ae_title="STORESCP")
    try:
        assert assoc.is_established
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    assert status.Status == 0x0000
    assert assoc.is_released
    assert "Received Echo Request" in scp.log()


def test_our_store_to_storescp_byte_for_byte(
    dcmtk_storescp: StorescpFactory, ct_files: list[Path]
) -> None:
    # +B: storescp writes the data set exactly as it arrived, behind its own file meta.
    scp = dcmtk_storescp("-v", "+B")
    assoc = our_scu().associate("127.0.0.1", scp.port, ae_title="STORESCP")
    statuses = []
    try:
        assert assoc.is_established
        accepted = {cx.transfer_syntax[0] for cx in assoc.accepted_contexts}
        assert {ExplicitVRLittleEndian, ImplicitVRLittleEndian} <= accepted
        by_path, by_dataset = ct_files[:2], ct_files[2:]
        statuses += [assoc.send_c_store(p) for p in by_path]
        statuses += [assoc.send_c_store(pydicom.dcmread(p)) for p in by_dataset]
    finally:
        assoc.release()
    assert [s.Status for s in statuses] == [0x0000] * len(ct_files)
    assert [s.AffectedSOPInstanceUID for s in statuses] == [sop_instance_of(p) for p in ct_files]

    written = {sop_instance_of(p): p for p in scp.files()}
    assert len(written) == len(ct_files)
    for sent in ct_files:
        stored = written[sop_instance_of(sent)]
        assert transfer_syntax_of(stored) == transfer_syntax_of(sent)
        assert dataset_bytes(stored) == dataset_bytes(sent)
    assert scp.log().count("Received Store Request") == len(ct_files)


def test_our_store_converts_when_only_implicit_is_accepted(
    dcmtk_storescp: StorescpFactory, ct_files: list[Path]
) -> None:
    # We propose Implicit VR only: an Explicit file is decoded and re-encoded by us.
    scp = dcmtk_storescp("+B")
    assoc = our_scu(ImplicitVRLittleEndian).associate("127.0.0.1", scp.port)
    try:
        status = assoc.send_c_store(ct_files[0])
    finally:
        assoc.release()
    assert transfer_syntax_of(ct_files[0]) == ExplicitVRLittleEndian
    assert status.Status == 0x0000
    [stored] = scp.files()
    assert transfer_syntax_of(stored) == ImplicitVRLittleEndian
    original, received = pydicom.dcmread(ct_files[0]), pydicom.dcmread(stored)
    assert list(received.keys()) == list(original.keys())
    assert all(received[e.tag].value == e.value for e in original)


@pytest.mark.parametrize("peer_pdu", ["4096", "131072"])
def test_our_large_store_to_storescp_byte_for_byte(
    dcmtk_storescp: StorescpFactory, tmp_path: Path, peer_pdu: str
) -> None:
    sent = [
        write_ct_file(
            tmp_path / "large_explicit.dcm", 200, ExplicitVRLittleEndian, LARGE_ROWS, LARGE_COLUMNS
        ),
        write_ct_file(
            tmp_path / "large_implicit.dcm", 201, ImplicitVRLittleEndian, LARGE_ROWS, LARGE_COLUMNS
        ),
    ]
    scp = dcmtk_storescp("+B", "-pdu", peer_pdu)
    assoc = our_scu().associate("127.0.0.1", scp.port, ae_title="STORESCP")
    try:
        by_path = assoc.send_c_store(sent[0])
        by_dataset = assoc.send_c_store(pydicom.dcmread(sent[1]))
    finally:
        assoc.release()
    assert (by_path.Status, by_dataset.Status) == (0x0000, 0x0000)
    written = {sop_instance_of(p): p for p in scp.files()}
    for path in sent:
        assert dataset_bytes(written[sop_instance_of(path)]) == dataset_bytes(path)


@pytest.mark.parametrize("option", ["--abort-during", "--abort-after"])
def test_storescp_abort_gives_empty_status_and_aborted(
    dcmtk_storescp: StorescpFactory, tmp_path: Path, option: str
) -> None:
    sent = write_ct_file(
        tmp_path / "large.dcm", 400, ExplicitVRLittleEndian, LARGE_ROWS, LARGE_COLUMNS
    )
    scp = dcmtk_storescp(option)
    assoc = our_scu().associate("127.0.0.1", scp.port, ae_title="STORESCP")
    assert assoc.is_established
    status = assoc.send_c_store(sent)  # no exception: an empty status, as pynetdicom gives
    assert "Status" not in status
    assert assoc.is_aborted
    assert not assoc.is_established
    assert scp.files() == []


def test_storescp_refuse_gives_rejection(dcmtk_storescp: StorescpFactory) -> None:
    scp = dcmtk_storescp("--refuse")
    assoc = our_scu().associate("127.0.0.1", scp.port, ae_title="STORESCP")
    assert not assoc.is_established
    assert assoc.is_rejected
    assert assoc.rejection is not None
    # DCMTK --refuse: rejected-permanent, service user, no reason given.
    assert (assoc.rejection.result, assoc.rejection.source, assoc.rejection.reason) == (1, 1, 1)
    with pytest.raises(RuntimeError):
        assoc.send_c_echo()
