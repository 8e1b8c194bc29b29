"""The library's C-STORE from a path checks the file before its command goes out: a malformed
file or one without SOP UIDs raises (nothing is sent, the association stays usable); an odd
deflate stream is padded; the UIDs sent are the data set's. Each holds for both ways a file is
sent: read once into memory, checked there and sent from there (data sets up to
``IN_MEMORY_LIMIT``), or checked reading the file and then streamed from it (larger ones)."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import UID

import dicomnet.association
from dicomnet import AE, evt
from dicomnet.sop_class import CTImageStorage, MRImageStorage, SecondaryCaptureImageStorage
from dicomnet.validate import StructureError
from tests.conftest import ServerFactory
from tests.helpers import dataset_bytes, pydicom_test_file, write_ct_file

EXPLICIT = "1.2.840.10008.1.2.1"
DEFLATED = "1.2.840.10008.1.2.1.99"


@pytest.fixture(autouse=True, params=["in memory", "streamed"])
def read_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with files sent from memory (the default for small files), then with
    every file streamed (as files above the limit are)."""
    if request.param == "streamed":
        monkeypatch.setattr(dicomnet.association, "IN_MEMORY_LIMIT", 0)
    return str(request.param)


def connect(port: int) -> Any:
    ae = AE("CHECKS")
    ae.acse_timeout = ae.dimse_timeout = 10.0
    ae.add_requested_context(CTImageStorage, [EXPLICIT])
    ae.add_requested_context(MRImageStorage, [EXPLICIT])
    ae.add_requested_context(SecondaryCaptureImageStorage, [DEFLATED])
    assoc = ae.associate("127.0.0.1", port)
    assert assoc.is_established
    return assoc


def test_bad_files_raise_before_sending_and_the_association_goes_on(
    dicomnet_server: ServerFactory, tmp_path: Path
) -> None:
    received: list[str] = []

    def on_store(event: Any) -> int:
        received.append(event.request.AffectedSOPInstanceUID)
        return 0x0000

    server = dicomnet_server([(evt.EVT_C_STORE, on_store)])
    assoc = connect(server.server_address[1])
    try:
        with pytest.raises(StructureError, match="offset 1154"):
            assoc.send_c_store(pydicom_test_file("MR_truncated.dcm"))
        empty = write_ct_file(tmp_path / "empty.dcm", 1, EXPLICIT)
        ds = pydicom.dcmread(empty)
        ds.SOPInstanceUID = UID("")
        ds.save_as(empty, enforce_file_format=False)
        with pytest.raises(ValueError, match="no SOP Instance UID"):
            assoc.send_c_store(empty)
        good = write_ct_file(tmp_path / "good.dcm", 2, EXPLICIT)
        assert assoc.send_c_store(good).Status == 0x0000
    finally:
        assoc.release()
    assert received == [str(pydicom.dcmread(good).SOPInstanceUID)]


def test_odd_deflate_stream_is_sent_padded_without_its_trailer(
    dicomnet_server: ServerFactory, tmp_path: Path
) -> None:
    got: dict[str, bytes] = {}

    def on_store(event: Any) -> int:
        got["raw"] = event.encoded_dataset(include_meta=False)
        return 0x0000

    server = dicomnet_server([(evt.EVT_C_STORE, on_store)])
    source = shutil.copyfile(pydicom_test_file("image_dfl.dcm"), tmp_path / "dfl.dcm")
    assoc = connect(server.server_address[1])
    try:
        assert assoc.send_c_store(source).Status == 0x0000
    finally:
        assoc.release()
    stream = dataset_bytes(Path(source))
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    inflater.decompress(stream)
    end = len(stream) - len(inflater.unused_data)  # image_dfl.dcm has a gzip trailer after it
    assert end % 2 == 1
    assert got["raw"] == stream[:end] + b"\x00"


def test_what_is_checked_is_what_is_sent(
    dicomnet_server: ServerFactory, tmp_path: Path, read_mode: str
) -> None:
    """The bytes that arrive are the file's data set exactly, read once (in memory) or
    streamed; a file whose data set is cut short is refused before anything is sent."""
    got: list[bytes] = []

    def on_store(event: Any) -> int:
        got.append(event.encoded_dataset(include_meta=False))
        return 0x0000

    server = dicomnet_server([(evt.EVT_C_STORE, on_store)])
    good = write_ct_file(tmp_path / "good.dcm", 7, EXPLICIT)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[:-10])
    assoc = connect(server.server_address[1])
    try:
        with pytest.raises(StructureError):
            assoc.send_c_store(cut)
        assert assoc.is_established
        assert assoc.send_c_store(good).Status == 0x0000
    finally:
        assoc.release()
    assert got == [dataset_bytes(good)]


def test_files_of_different_sizes_on_one_association_arrive_exactly(
    dicomnet_server: ServerFactory, tmp_path: Path
) -> None:
    """Files sent one after the other on one association (larger, smaller, larger again, and
    one that grew after it was first sent) each arrive as their own data set: nothing of an
    earlier file is sent with a later one."""
    got: list[bytes] = []

    def on_store(event: Any) -> int:
        got.append(event.encoded_dataset(include_meta=False))
        return 0x0000

    server = dicomnet_server([(evt.EVT_C_STORE, on_store)])
    sizes = [(64, 64), (8, 8), (32, 16), (128, 64)]
    files = [
        write_ct_file(tmp_path / f"f{n}.dcm", n, EXPLICIT, rows, columns)
        for n, (rows, columns) in enumerate(sizes)
    ]
    expected = [dataset_bytes(path) for path in files]
    assoc = connect(server.server_address[1])
    try:
        for path in files:
            assert assoc.send_c_store(path).Status == 0x0000
        write_ct_file(files[1], 1, EXPLICIT, 96, 96)  # the same file, larger now
        expected.append(dataset_bytes(files[1]))
        assert assoc.send_c_store(files[1]).Status == 0x0000
    finally:
        assoc.release()
    assert got == expected
