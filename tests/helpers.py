"""Helpers shared by the tests: free ports, DCMTK processes, small CT files, Part-10 parsing.

Everything here is independent of :mod:`dicomnet` so that tests compare our behaviour against
code we did not reuse from ``src/`` (the Part-10 walker below is written separately from
``dicomnet.part10`` on purpose).
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

DCMTK_BIN = Path("/usr/bin")
ECHOSCU = str(DCMTK_BIN / "echoscu")
STORESCU = str(DCMTK_BIN / "storescu")
STORESCP = str(DCMTK_BIN / "storescp")

#: Seconds any DCMTK client run in a test may take before it is killed.
DCMTK_TIMEOUT = 30.0

#: A UID root for test instances (2.25 + a fixed number: valid and unmistakably ours).
TEST_UID_PREFIX = "2.25.1193046"

_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)


# --- ports and processes ------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def dcmtk_env() -> dict[str, str]:
    """The environment for DCMTK tools: Debian's DCMTK keeps Nagle on unless told."""
    env = dict(os.environ)
    env["TCP_NODELAY"] = "1"
    return env


def run_dcmtk(
    program: str, *args: str | os.PathLike[str], timeout: float = DCMTK_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run a DCMTK tool (absolute path) to completion; stdout and stderr captured as text."""
    return subprocess.run(
        [program, *(os.fspath(a) for a in args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dcmtk_env(),
        check=False,
    )


def wait_listening(
    process: subprocess.Popen[bytes], host: str, port: int, timeout: float = 10.0
) -> None:
    """Return once ``host:port`` accepts a TCP connection; raise if ``process`` exits first or
    ``timeout`` passes. Between attempts it waits on the process itself (not a sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")
        try:
            code = process.wait(timeout=min(left, 0.02))
        except subprocess.TimeoutExpired:
            continue
        raise RuntimeError(f"the process exited with code {code} before listening on {port}")


# --- small CT instances -------------------------------------------------------------------


def make_ct_dataset(index: int, rows: int = 16, columns: int = 16) -> Dataset:
    """A small CT Image Storage data set; ``index`` makes its UIDs and pixels distinct."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid(prefix=f"{TEST_UID_PREFIX}.{index}.")
    ds.StudyInstanceUID = UID(f"{TEST_UID_PREFIX}.1")
    ds.SeriesInstanceUID = UID(f"{TEST_UID_PREFIX}.1.1")
    ds.Modality = "CT"
    ds.PatientName = f"Test^Patient{index}"
    ds.PatientID = f"TEST{index:04d}"
    ds.StudyDate = "20240102"
    ds.StudyDescription = "dicomnet interop"
    ds.SeriesNumber = 1
    ds.InstanceNumber = index + 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SliceThickness = "1.25"
    ds.ImagePositionPatient = [0, 0, index * 1.25]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.5, 0.5]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    # Every 12-bit value once, rotated by the index, repeated to the image size (fast for big
    # images, distinct per index).
    ramp = struct.pack("<4096H", *range(4096))
    shift = (index * 131 % 4096) * 2
    unit = ramp[shift:] + ramp[:shift]
    size = rows * columns * 2
    ds.PixelData = (unit * (size // len(unit) + 1))[:size]
    return ds


def write_ct_file(
    path: Path, index: int, transfer_syntax: str, rows: int = 16, columns: int = 16
) -> Path:
    """Write ``make_ct_dataset(index, rows, columns)`` as a Part-10 file in
    ``transfer_syntax`` (Explicit or Implicit VR Little Endian)."""
    ds = make_ct_dataset(index, rows, columns)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = UID(f"{TEST_UID_PREFIX}.99")
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)
    return path


def write_ct_files(
    directory: Path,
    count: int,
    syntaxes: Sequence[str] = (ExplicitVRLittleEndian, ImplicitVRLittleEndian),
) -> list[Path]:
    """``count`` distinct CT files in ``directory``, cycling through ``syntaxes``."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        write_ct_file(directory / f"ct_{i:03d}.dcm", i, syntaxes[i % len(syntaxes)])
        for i in range(count)
    ]


# --- reading Part-10 files without dicomnet -------------------------------------------------


def split_part10(data: bytes) -> tuple[dict[int, bytes], bytes]:
    """Split Part-10 file bytes into (file meta element values by element number, data set
    bytes). Walks the group 0002 elements (Explicit VR Little Endian) after the preamble."""
    if data[128:132] != b"DICM":
        raise ValueError("not a Part-10 file: no DICM prefix")
    offset = 132
    values: dict[int, bytes] = {}
    while offset + 8 <= len(data):
        group, element = struct.unpack_from("<HH", data, offset)
        if group != 0x0002:
            break
        vr = data[offset + 4 : offset + 6]
        if vr in _LONG_VRS:
            (length,) = struct.unpack_from("<I", data, offset + 8)
            start = offset + 12
        else:
            (length,) = struct.unpack_from("<H", data, offset + 6)
            start = offset + 8
        values[element] = data[start : start + length]
        offset = start + length
    return values, data[offset:]


def dataset_bytes(source: bytes | os.PathLike[str]) -> bytes:
    """The data set part of a Part-10 file (what follows the file meta information)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    return split_part10(data)[1]


def meta_text(source: bytes | os.PathLike[str], element: int) -> str:
    """A text value of the file meta (e.g. 0x0010: Transfer Syntax UID), padding stripped."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    return split_part10(data)[0][element].rstrip(b"\x00 ").decode("ascii")


def transfer_syntax_of(source: bytes | os.PathLike[str]) -> str:
    return meta_text(source, 0x0010)


def sop_instance_of(source: bytes | os.PathLike[str]) -> str:
    return meta_text(source, 0x0003)


# --- a DCMTK storescp process ---------------------------------------------------------------


class DcmtkStorescp:
    """A running ``/usr/bin/storescp`` (started by the ``dcmtk_storescp`` fixture)."""

    def __init__(
        self, process: subprocess.Popen[bytes], port: int, output_dir: Path, log_path: Path
    ) -> None:
        self.process = process
        self.port = port
        self.output_dir = output_dir
        self.log_path = log_path

    def files(self) -> list[Path]:
        """The files storescp has written so far (sorted by name)."""
        return sorted(p for p in self.output_dir.iterdir() if p.is_file())

    def log(self) -> str:
        """What storescp printed so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> str:
        """Terminate storescp (killing it if it lingers) and return its output."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.log()


def start_dcmtk_storescp(
    workdir: Path,
    *args: str,
    output_dir: Path | None = None,
    ae_title: str = "STORESCP",
    attempts: int = 3,
) -> DcmtkStorescp:
    """Start storescp on a free port writing into ``output_dir`` (default: a new directory in
    ``workdir``); return once it listens. Retries on another port if the chosen one was taken
    between picking and binding."""
    if output_dir is None:
        output_dir = workdir / f"storescp-out-{free_port()}"
    output_dir.mkdir(parents=True, exist_ok=True)
    error: Exception | None = None
    for _ in range(attempts):
        port = free_port()
        log_path = workdir / f"storescp-{port}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [STORESCP, "-aet", ae_title, "-od", str(output_dir), *args, str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dcmtk_env(),
            )
        server = DcmtkStorescp(process, port, output_dir, log_path)
        try:
            wait_listening(process, "127.0.0.1", port)
        except (RuntimeError, TimeoutError) as exc:
            error = exc
            server.stop()
            continue
        return server
    raise RuntimeError(f"storescp did not start: {error}")


def sized_dataset(sop_class: str, sop_instance: str, size: int, transfer_syntax: str) -> bytes:
    """A structurally valid data set of exactly ``size`` bytes (even, at least ~120) holding the
    two SOP UIDs and an OB (7FE0,0010) filler of zeros; Implicit/Explicit VR Little Endian.
    Encoded by hand so that tests do not depend on the code under test."""

    implicit = transfer_syntax == ImplicitVRLittleEndian

    def element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
        if implicit:
            return struct.pack("<HHI", group, elem, len(value)) + value
        if vr in _LONG_VRS:
            return struct.pack("<HH2s2xI", group, elem, vr, len(value)) + value
        return struct.pack("<HH2sH", group, elem, vr, len(value)) + value

    def uid(text: str) -> bytes:
        raw = text.encode("ascii")
        return raw + b"\x00" if len(raw) % 2 else raw

    head = element(0x0008, 0x0016, b"UI", uid(sop_class)) + element(
        0x0008, 0x0018, b"UI", uid(sop_instance)
    )
    header = 8 if implicit else 12
    filler = size - len(head) - header
    if filler < 0 or size % 2:
        raise ValueError(f"cannot make a data set of {size} bytes")
    return head + element(0x7FE0, 0x0010, b"OB", bytes(filler))


def pydicom_test_file(name: str) -> Path:
    """One of the test files pydicom ships (MR_truncated.dcm, image_dfl.dcm, ...)."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    assert isinstance(path, str), f"pydicom does not ship {name}"
    return Path(path)
