"""Capture golden PDUs from real DICOM peers (DCMTK, pynetdicom) through a recording TCP proxy.

Run from the checkout root to refresh the fixtures next to this file::

    python tests/golden/capture.py

Each scenario starts a real SCP on a free loopback port, puts a recording proxy in front of it,
runs a real SCU against the proxy and writes selected PDUs as ``*.hex`` fixtures (one PDU per
file, readable ``# `` header lines, then 16 bytes of hex per line). This is a test tool: it uses
sockets, threads, subprocesses and pynetdicom, none of which belong in ``src/``.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import shlex
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian

GOLDEN_DIR = Path(__file__).resolve().parent
DCMTK_BIN = Path("/usr/bin")
HOST = "127.0.0.1"
DEADLINE = 20.0
"""Seconds any single step (a peer starting, an association finishing) may take."""

PDU_NAMES = {
    1: "A-ASSOCIATE-RQ", 2: "A-ASSOCIATE-AC", 3: "A-ASSOCIATE-RJ", 4: "P-DATA-TF",
    5: "A-RELEASE-RQ", 6: "A-RELEASE-RP", 7: "A-ABORT",
}  # fmt: skip

# Fixed identifiers of the CT instance sent by storescu (2.25 UIDs with fixed integers).
CT_SOP_INSTANCE_UID = "2.25.98765432109876543210987654321000001"
CT_STUDY_UID = "2.25.98765432109876543210987654321000002"
CT_SERIES_UID = "2.25.98765432109876543210987654321000003"
CT_FRAME_OF_REFERENCE_UID = "2.25.98765432109876543210987654321000004"
CT_FILE_IMPLEMENTATION_UID = "2.25.98765432109876543210987654321000005"
CT_ROWS = 16
CT_COLUMNS = 16

REQUESTOR = "requestor -> acceptor"
ACCEPTOR = "acceptor -> requestor"


class CaptureError(RuntimeError):
    """A scenario did not produce the PDUs it should have."""


# --------------------------------------------------------------------------------------------
# Recording proxy


class PDUSplitter:
    """Cuts a byte stream into whole PDUs using the 6-byte header (type, reserved, uint32 BE)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        pdus: list[bytes] = []
        while len(self._buffer) >= 6:
            (length,) = struct.unpack_from(">I", self._buffer, 2)
            if len(self._buffer) < 6 + length:
                break
            pdus.append(bytes(self._buffer[: 6 + length]))
            del self._buffer[: 6 + length]
        return pdus

    @property
    def leftover(self) -> bytes:
        return bytes(self._buffer)


@dataclass(frozen=True)
class RecordedPDU:
    direction: str
    data: bytes

    @property
    def pdu_type(self) -> int:
        return self.data[0]


class RecordingProxy:
    """Accepts one TCP connection, relays it to ``upstream`` and records the PDUs both ways."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(DEADLINE)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._records: list[RecordedPDU] = []
        self._errors: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="proxy-accept", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError as exc:
            self._fail(f"proxy accept: {exc!r}")
            self._done.set()
            return
        finally:
            self._listener.close()
        try:
            upstream = socket.create_connection((HOST, self._upstream_port), timeout=DEADLINE)
        except OSError as exc:
            self._fail(f"proxy connect upstream: {exc!r}")
            client.close()
            self._done.set()
            return
        for sock in (client, upstream):
            sock.settimeout(DEADLINE)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pumps = [
            threading.Thread(target=self._pump, args=(client, upstream, REQUESTOR), daemon=True),
            threading.Thread(target=self._pump, args=(upstream, client, ACCEPTOR), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        client.close()
        upstream.close()
        self._done.set()

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        splitter = PDUSplitter()
        try:
            while chunk := src.recv(65536):
                pdus = splitter.feed(chunk)
                with self._lock:
                    self._records.extend(RecordedPDU(direction, pdu) for pdu in pdus)
                dst.sendall(chunk)
            dst.shutdown(socket.SHUT_WR)
        except OSError as exc:
            # A reset or timeout on one side ends the whole connection.
            self._fail(f"{direction}: {exc!r}")
            for sock in (src, dst):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        if splitter.leftover:
            self._fail(f"{direction}: {len(splitter.leftover)} bytes of an incomplete PDU")

    def _fail(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def wait(self) -> list[RecordedPDU]:
        """Wait for both directions to close; return the PDUs in the order they were seen."""
        if not self._done.wait(DEADLINE):
            raise CaptureError("proxy: connection still open at the deadline")
        with self._lock:
            if self._errors:
                logging.warning("proxy: %s", "; ".join(self._errors))
            return list(self._records)

    def close(self) -> None:
        self._listener.close()


@contextmanager
def recording_proxy(upstream_port: int) -> Iterator[RecordingProxy]:
    proxy = RecordingProxy(upstream_port)
    try:
        yield proxy
    finally:
        proxy.close()


# --------------------------------------------------------------------------------------------
# Peers


def free_port() -> int:
    """A loopback port that was free a moment ago (never the well-known 104/11112)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def is_listening(port: int) -> bool:
    """Whether some socket is in LISTEN state on ``port``, read from /proc (no connection made)."""
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(wanted) and fields[3] == "0A":
                return True
    return False


def wait_until(condition: Callable[[], bool], what: str, proc: subprocess.Popen[str]) -> None:
    """Poll ``condition`` until it holds, the process dies or the deadline passes."""
    deadline = time.monotonic() + DEADLINE
    pause = threading.Event()
    while not condition():
        if proc.poll() is not None:
            raise CaptureError(f"{what}: process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise CaptureError(f"{what}: not ready after {DEADLINE} s")
        pause.wait(0.01)


def dcmtk_env() -> dict[str, str]:
    return {**os.environ, "TCP_NODELAY": "1"}


@contextmanager
def dcmtk_server(argv: Sequence[str], port: int) -> Iterator[subprocess.Popen[str]]:
    """Start a DCMTK SCP listening on ``port``; stop it on exit."""
    proc = subprocess.Popen(
        list(argv),
        env=dcmtk_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: is_listening(port), shlex.join(argv), proc)
        yield proc
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        if output.strip():
            logging.info("%s said:\n%s", argv[0], output.rstrip())


def run_dcmtk_client(argv: Sequence[str], expect_success: bool = True) -> None:
    result = subprocess.run(
        list(argv), env=dcmtk_env(), capture_output=True, text=True, timeout=DEADLINE
    )
    if expect_success and result.returncode != 0:
        raise CaptureError(f"{shlex.join(argv)} exited {result.returncode}:\n{result.stderr}")
    logging.info("%s -> %d\n%s", shlex.join(argv), result.returncode, result.stderr.rstrip())


def dcmtk_version(tool: str) -> str:
    """E.g. 'DCMTK echoscu v3.6.7 2022-04-22', from the tool's ``--version``."""
    out = subprocess.run(
        [str(DCMTK_BIN / tool), "--version"], capture_output=True, text=True, timeout=DEADLINE
    ).stdout
    first = out.splitlines()[0] if out else f"{tool} (unknown version)"
    return "DCMTK " + first.replace("$dcmtk:", "").strip(" $")


def pynetdicom_version() -> str:
    import pynetdicom

    return f"pynetdicom {pynetdicom.__version__}"


def show(argv: Sequence[str], port: int, placeholder: str) -> str:
    """The command line with the ephemeral ``port`` replaced by a readable placeholder."""
    return " ".join(placeholder if arg == str(port) else shlex.quote(arg) for arg in argv)


# --------------------------------------------------------------------------------------------
# The CT instance sent by storescu


# fmt: off
CT_ATTRIBUTES: dict[str, object] = {
    "SpecificCharacterSet": "ISO_IR 100", "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"],
    "SOPClassUID": CTImageStorage, "SOPInstanceUID": CT_SOP_INSTANCE_UID, "StudyDate": "20240101",
    "StudyTime": "120000", "AccessionNumber": "GOLDEN1", "Modality": "CT",
    "Manufacturer": "dicomnet golden fixture", "PatientName": "Golden^Fixture",
    "PatientID": "GOLDEN01", "PatientBirthDate": "19700101", "PatientSex": "O", "KVP": "120",
    "StudyInstanceUID": CT_STUDY_UID, "SeriesInstanceUID": CT_SERIES_UID, "StudyID": "1",
    "SeriesNumber": 1, "InstanceNumber": 1, "ImagePositionPatient": [0, 0, 0],
    "ImageOrientationPatient": [1, 0, 0, 0, 1, 0],
    "FrameOfReferenceUID": CT_FRAME_OF_REFERENCE_UID, "SamplesPerPixel": 1,
    "PhotometricInterpretation": "MONOCHROME2", "Rows": CT_ROWS, "Columns": CT_COLUMNS,
    "PixelSpacing": [1, 1], "BitsAllocated": 16, "BitsStored": 12, "HighBit": 11,
    "PixelRepresentation": 0, "RescaleIntercept": -1024, "RescaleSlope": 1,
}
# fmt: on
"""The CT data set's attributes in tag order, except Pixel Data."""


def build_ct_file(path: Path) -> None:
    """Write a small deterministic CT Image Storage instance (Explicit VR Little Endian)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(CT_SOP_INSTANCE_UID)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID(CT_FILE_IMPLEMENTATION_UID)
    meta.ImplementationVersionName = "DICOMNET_GOLDEN"

    ds = Dataset()
    ds.file_meta = meta
    for keyword, value in CT_ATTRIBUTES.items():
        setattr(ds, keyword, value)
    ds.PixelData = b"".join(
        struct.pack("<H", (row * CT_COLUMNS + col) * 16)
        for row in range(CT_ROWS)
        for col in range(CT_COLUMNS)
    )
    ds.save_as(path, enforce_file_format=True)


# --------------------------------------------------------------------------------------------
# Fixtures


@dataclass(frozen=True)
class Session:
    """One captured association and how it was produced."""

    records: list[RecordedPDU]
    requestor: str
    acceptor: str
    command: str
    peer_command: str

    def pdu(self, name: str, what: str, direction: str, pdu_type: int, nth: int = 0) -> Fixture:
        """A fixture of the ``nth`` PDU of ``pdu_type`` sent in ``direction``; fail if missing."""
        found = [r for r in self.records if r.direction == direction and r.pdu_type == pdu_type]
        if len(found) <= nth:
            seen = ", ".join(f"{r.direction[:3]}:{PDU_NAMES.get(r.pdu_type)}" for r in self.records)
            raise CaptureError(f"{name}: no {PDU_NAMES[pdu_type]} #{nth} {direction}; saw {seen}")
        sender, receiver = self.requestor, self.acceptor
        if direction == ACCEPTOR:
            sender, receiver = receiver, sender
        return Fixture(
            name,
            what,
            sender,
            receiver,
            self.command,
            self.peer_command,
            direction,
            found[nth].data,
        )

    def all_pdus(self, direction: str, pdu_type: int) -> list[RecordedPDU]:
        return [r for r in self.records if r.direction == direction and r.pdu_type == pdu_type]


@dataclass(frozen=True)
class Fixture:
    name: str
    description: str
    sender: str
    receiver: str
    command: str
    peer_command: str
    direction: str
    data: bytes
    kind: str = "PDU"


def write_fixture(out_dir: Path, fixture: Fixture, captured: str) -> Path:
    """Write ``<name>.hex``: ``# Key: value`` header lines, then 16 bytes of hex per line."""
    data = fixture.data
    header = [
        f"Golden fixture: {fixture.name}",
        f"What: {fixture.description}",
        f"Kind: {fixture.kind}",
    ]
    if fixture.kind == "PDU":
        header.append(f"PDU type: 0x{data[0]:02X} {PDU_NAMES.get(data[0], 'unknown')}")
    header += [
        f"Length: {len(data)} bytes",
        f"Sender: {fixture.sender}",
        f"Receiver: {fixture.receiver}",
        f"Direction: {fixture.direction}",
        f"Command: {fixture.command}",
        f"Peer command: {fixture.peer_command}",
        f"Captured: {captured} by tests/golden/capture.py (pydicom {pydicom.__version__})",
    ]
    lines = [f"# {line}" for line in header]
    lines += [data[i : i + 16].hex(" ") for i in range(0, len(data), 16)]
    path = out_dir / f"{fixture.name}.hex"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


# --------------------------------------------------------------------------------------------
# Scenarios

ECHOSCU = str(DCMTK_BIN / "echoscu")


def storescp_argv(port: int, out_dir: Path, *extra: str) -> list[str]:
    return [str(DCMTK_BIN / "storescp"), "-aet", "STORESCP", "-od", str(out_dir), *extra, str(port)]


def echoscu_argv(port: int, called: str = "ANY-SCP") -> list[str]:
    return [ECHOSCU, "-aet", "ECHOSCU", "-aec", called, HOST, str(port)]


def dcmtk_session(
    tmp: Path,
    scu_argv: Callable[[int], list[str]],
    scp_argv: Callable[[int], list[str]],
    expect_success: bool = True,
) -> Session:
    """Run a DCMTK SCU against a DCMTK SCP through the recording proxy."""
    scp_port = free_port()
    server_argv = scp_argv(scp_port)
    with dcmtk_server(server_argv, scp_port), recording_proxy(scp_port) as proxy:
        client_argv = scu_argv(proxy.port)
        run_dcmtk_client(client_argv, expect_success)
        records = proxy.wait()
    return Session(
        records,
        dcmtk_version(Path(client_argv[0]).name),
        dcmtk_version(Path(server_argv[0]).name),
        show(client_argv, proxy.port, "<proxy-port>").replace(str(tmp), "<tmpdir>"),
        show(server_argv, scp_port, "<port>").replace(str(tmp), "<tmpdir>"),
    )


def scenario_dcmtk_echo(tmp: Path) -> list[Fixture]:
    """DCMTK echoscu -> proxy -> DCMTK storescp: a whole C-ECHO association."""
    s = dcmtk_session(tmp, echoscu_argv, lambda port: storescp_argv(port, tmp))
    return [
        s.pdu("dcmtk_echoscu_associate_rq", "echoscu proposing Verification", REQUESTOR, 0x01),
        s.pdu("dcmtk_storescp_associate_ac_echo", "storescp accepting Verification", ACCEPTOR, 2),
        s.pdu("dcmtk_echoscu_c_echo_rq", "C-ECHO-RQ command (one PDV)", REQUESTOR, 0x04),
        s.pdu("dcmtk_storescp_c_echo_rsp", "C-ECHO-RSP command, status Success", ACCEPTOR, 4),
        s.pdu("dcmtk_echoscu_release_rq", "echoscu releasing the association", REQUESTOR, 5),
        s.pdu("dcmtk_storescp_release_rp", "storescp confirming the release", ACCEPTOR, 6),
    ]


def scenario_dcmtk_store(tmp: Path) -> list[Fixture]:
    """DCMTK storescu -> proxy -> DCMTK storescp: one C-STORE of the small CT file."""
    ct_file = tmp / "ct_16x16.dcm"
    build_ct_file(ct_file)
    received = tmp / "received"
    received.mkdir()
    s = dcmtk_session(
        tmp,
        lambda port: [
            *(str(DCMTK_BIN / "storescu"), "-aet", "STORESCU", "-aec", "ANY-SCP"),
            *(HOST, str(port), str(ct_file)),
        ],
        lambda port: storescp_argv(port, received),
    )
    what = "storescu proposing all its storage SOP classes"
    fixtures = [
        s.pdu("dcmtk_storescu_associate_rq", what, REQUESTOR, 0x01),
        s.pdu("dcmtk_storescp_associate_ac_store", "storescp's answer", ACCEPTOR, 0x02),
        s.pdu("dcmtk_storescp_c_store_rsp", "C-STORE-RSP command, status Success", ACCEPTOR, 4),
    ]
    count = len(s.all_pdus(REQUESTOR, 0x04))
    for nth in range(count):
        what = f"C-STORE-RQ of ct_16x16_file, P-DATA-TF {nth + 1} of {count}"
        fixtures.append(s.pdu(f"dcmtk_storescu_c_store_rq_{nth + 1}", what, REQUESTOR, 4, nth))
    what = "the Part-10 file storescu sent (written with pydicom by capture.build_ct_file)"
    fixtures.append(
        Fixture(
            "ct_16x16_file",
            what,
            f"pydicom {pydicom.__version__}",
            s.requestor,
            s.command,
            s.peer_command,
            "n/a (read from disk by storescu)",
            ct_file.read_bytes(),
            kind="Part-10 file",
        )
    )
    return fixtures


def scenario_dcmtk_reject(tmp: Path) -> list[Fixture]:
    """A-ASSOCIATE-RJ from storescp --refuse and from dcmqrscp for an unknown called AE title."""
    refused = dcmtk_session(
        tmp, echoscu_argv, lambda port: storescp_argv(port, tmp, "--refuse"), False
    )
    # dcmqrscp accepts only the called AE titles listed in its configuration file.
    storage = tmp / "qrscp"
    storage.mkdir()
    config = tmp / "dcmqrscp.cfg"

    def dcmqrscp_argv(port: int) -> list[str]:
        config.write_text(
            f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 4\n"
            "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
            f"AETable BEGIN\nQRSCP {storage} RW (10, 1024mb) ANY\nAETable END\n"
        )
        return [str(DCMTK_BIN / "dcmqrscp"), "--single-process", "-c", str(config), str(port)]

    wrong = dcmtk_session(tmp, lambda port: echoscu_argv(port, "WRONG-AET"), dcmqrscp_argv, False)
    return [
        refused.pdu("dcmtk_storescp_associate_rj_refuse", "storescp --refuse", ACCEPTOR, 3),
        wrong.pdu(
            "dcmtk_dcmqrscp_associate_rj_called_aet",
            "dcmqrscp (AE table: QRSCP only) rejecting called AE title WRONG-AET",
            ACCEPTOR,
            0x03,
        ),
    ]


def scenario_pynetdicom_scu(tmp: Path) -> list[Fixture]:
    """pynetdicom AE (SCU) C-ECHO -> proxy -> DCMTK storescp."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    scp_port = free_port()
    scp_argv = storescp_argv(scp_port, tmp)
    with dcmtk_server(scp_argv, scp_port), recording_proxy(scp_port) as proxy:
        ae = AE(ae_title="PYNETDICOM")
        ae.add_requested_context(Verification)
        assoc = ae.associate(HOST, proxy.port, ae_title="ANY-SCP")
        if not assoc.is_established:
            raise CaptureError("pynetdicom SCU: association not established")
        status = assoc.send_c_echo(msg_id=1)
        assoc.release()
        if status.Status != 0:
            raise CaptureError(f"pynetdicom SCU: C-ECHO status {status.Status:#06x}")
        records = proxy.wait()
    s = Session(
        records,
        pynetdicom_version(),
        dcmtk_version("storescp"),
        'AE(ae_title="PYNETDICOM"); add_requested_context(Verification); '
        'associate("127.0.0.1", <proxy-port>, ae_title="ANY-SCP"); send_c_echo(msg_id=1); '
        "release()",
        show(scp_argv, scp_port, "<port>").replace(str(tmp), "<tmpdir>"),
    )
    return [
        s.pdu("pynetdicom_scu_associate_rq", "pynetdicom proposing Verification", REQUESTOR, 1),
        s.pdu("pynetdicom_scu_c_echo_rq", "C-ECHO-RQ command (one PDV)", REQUESTOR, 0x04),
    ]


def pynetdicom_session(called: str, require_called_aet: bool, expect_success: bool) -> Session:
    """DCMTK echoscu -> proxy -> a pynetdicom AE serving Verification on an ephemeral port."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title="PYNETDICOM")
    ae.add_supported_context(Verification)
    ae.require_called_aet = require_called_aet
    server = ae.start_server((HOST, 0), block=False)
    if server is None:
        raise CaptureError("pynetdicom start_server(block=False) returned no server")
    try:
        with recording_proxy(server.server_address[1]) as proxy:
            scu_argv = echoscu_argv(proxy.port, called)
            run_dcmtk_client(scu_argv, expect_success)
            records = proxy.wait()
    finally:
        server.shutdown()
    return Session(
        records,
        dcmtk_version("echoscu"),
        pynetdicom_version(),
        show(scu_argv, proxy.port, "<proxy-port>"),
        f'AE(ae_title="PYNETDICOM"); require_called_aet = {require_called_aet}; '
        'add_supported_context(Verification); start_server(("127.0.0.1", 0), block=False)',
    )


def scenario_pynetdicom_scp(tmp: Path) -> list[Fixture]:
    """DCMTK echoscu -> proxy -> pynetdicom AE (SCP); also a reject for a wrong called AE."""
    s = pynetdicom_session("ANY-SCP", require_called_aet=False, expect_success=True)
    wrong = pynetdicom_session("WRONG-AET", require_called_aet=True, expect_success=False)
    return [
        s.pdu("pynetdicom_scp_associate_ac", "pynetdicom accepting Verification", ACCEPTOR, 2),
        s.pdu("pynetdicom_scp_c_echo_rsp", "C-ECHO-RSP command, status Success", ACCEPTOR, 4),
        wrong.pdu(
            "pynetdicom_scp_associate_rj_called_aet",
            "pynetdicom (require_called_aet) rejecting called AE title WRONG-AET",
            ACCEPTOR,
            0x03,
        ),
    ]


SCENARIOS = [
    scenario_dcmtk_echo,
    scenario_dcmtk_store,
    scenario_dcmtk_reject,
    scenario_pynetdicom_scu,
    scenario_pynetdicom_scp,
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Capture golden PDUs from DCMTK and pynetdicom.")
    parser.add_argument("--out", type=Path, default=GOLDEN_DIR, help="fixture directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the peers' output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    captured = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    args.out.mkdir(parents=True, exist_ok=True)
    for scenario in SCENARIOS:
        with tempfile.TemporaryDirectory(prefix="dicomnet-golden-") as tmp:
            for fixture in scenario(Path(tmp)):
                path = write_fixture(args.out, fixture, captured)
                print(f"{path.name}: {len(fixture.data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
