"""Size and decompression limits on received data sets (issue 10, items 1 and 4).

* A Deflated data set is inflated incrementally while it arrives, counted and dropped: a deflate
  bomb (1 MiB on the wire, 1 GiB inflated) gets 0xA700 from storescp with default settings,
  nothing is stored and the server's memory does not grow (it used to grow by 2 GiB and answer
  Success). Naming fields come from the first inflated bytes only.
* A data set over ``maximum_dataset_size`` (``--max-dataset-size``) gets 0xA700, its temporary
  file is removed and the association goes on.
"""

from __future__ import annotations

import io
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

from dicomnet import AE, evt
from dicomnet._inflate import InflateLimitError, Inflater
from dicomnet.dataset import (
    DEFLATED,
    MemorySink,
    ReceivedDataset,
    encode_dataset,
)
from dicomnet.part10 import encode_file_meta
from dicomnet.sop_class import CTImageStorage
from dicomnet.ul.errors import RemoteProtocolError
from tests.cli.conftest import argv_for, cli_env
from tests.transport.test_robustness import (
    HOST,
    SCP_TITLE,
    StartServer,
    ct_dataset,
    recorder,
    scp_ae,
    scu_ae,
    start_server,
)

__all__ = ["start_server"]

MiB = 1024 * 1024
CT = "1.2.840.10008.5.1.4.1.1.2"


# --- the pieces ---------------------------------------------------------------------------------


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def test_inflater_stops_at_the_size_limit_in_bounded_steps() -> None:
    inflater = Inflater(max_inflated=8 * MiB, max_ratio=None)
    pieces = 0
    with pytest.raises(InflateLimitError):
        for piece in inflater.feed(deflate(bytes(64 * MiB))):
            assert len(piece) <= MiB  # never more than one step in memory
            pieces += 1
    assert 8 <= pieces <= 9
    assert inflater.inflated <= 9 * MiB


def test_inflater_ratio_applies_past_the_floor_only() -> None:
    blank = deflate(bytes(32 * MiB))  # a blank image deflates far beyond 100:1
    assert sum(len(p) for p in Inflater(None, 100.0).feed(blank)) == 32 * MiB
    with pytest.raises(InflateLimitError, match="100 times"):
        for _ in Inflater(None, 100.0).feed(deflate(bytes(128 * MiB))):
            pass


def test_received_deflated_dataset_over_the_limit_is_refused_and_dropped(tmp_path: Path) -> None:
    received = ReceivedDataset(
        CT, "1.2.3", DEFLATED, "1.2.3.4", directory=tmp_path, threshold=1024, max_inflated=MiB
    )
    # one private OB of 4 MiB of zeros: structurally valid, but past the 1 MiB it may inflate to
    data = deflate(struct.pack("<HH2sHI", 0x7FE1, 0x1010, b"OB", 0, 4 * MiB) + bytes(4 * MiB))
    for start in range(0, len(data), 1000):
        received.write(data[start : start + 1000])
    assert received.refusal is not None and "inflates" in received.refusal
    assert list(tmp_path.iterdir()) == []  # the spool file is gone


def test_memory_sink_is_capped() -> None:
    sink = MemorySink(cap=1000)
    sink.write(bytes(1000))
    with pytest.raises(RemoteProtocolError):
        sink.write(b"x")


# --- over maximum_dataset_size on an association --------------------------------------------


def big_ct(size: int) -> Dataset:
    ds = ct_dataset()
    ds.add_new(0x7FE10010, "LO", "DICOMNET CAP TEST")
    ds.add_new(0x7FE11010, "OB", bytes(size))
    return ds


def test_dataset_over_the_size_limit_gets_a700_and_association_goes_on(
    start_server: StartServer, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    calls: list[object] = []
    server = start_server(
        scp_ae(maximum_dataset_size=MiB, spool_directory=str(spool)),
        [(evt.EVT_C_STORE, recorder(calls))],
    )
    assoc = scu_ae().associate(HOST, server.server_address[1], ae_title=SCP_TITLE)
    try:
        status = assoc.send_c_store(big_ct(2 * MiB))
        assert status.Status == 0xA700
        assert "larger than the maximum" in status.ErrorComment
        assert calls == []
        assert list(spool.iterdir()) == []
        # the association is still usable: a small instance is stored, an echo answered
        assert assoc.send_c_store(ct_dataset()).Status == 0x0000
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()
    assert len(calls) == 1


# --- the deflate bomb against storescp with default settings ------------------------------------


def write_bomb(path: Path, inflated: int) -> int:
    """A Part-10 file in Deflated Explicit VR LE whose data set inflates to ``inflated`` bytes
    (a private OB of zeros after a few naming elements). Returns the size on disk."""
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.add_new(0x7FE10010, "LO", "DICOMNET DEFLATE BOMB")
    head = encode_dataset(ds, "1.2.840.10008.1.2.1")
    head += struct.pack("<HH2sHI", 0x7FE1, 0x1010, b"OB", 0, inflated)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(MiB)
    with open(path, "wb") as out:
        out.write(encode_file_meta(CT, ds.SOPInstanceUID, DEFLATED, "1.2.3.4"))
        body = compressor.compress(head)
        for _ in range(inflated // MiB):
            body += compressor.compress(zeros)
        body += compressor.flush()
        out.write(body + (b"\x00" if len(body) % 2 else b""))
    return path.stat().st_size


def vm_hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_deflate_bomb_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.dcm"
    wire = write_bomb(bomb, 1024 * MiB)
    assert wire < 2 * MiB
    out = tmp_path / "out"
    scp = subprocess.Popen(
        [*argv_for("storescp"), "0", "--bind", "127.0.0.1", "-od", str(out)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=cli_env(None),
    )
    try:
        assert scp.stderr is not None
        line = scp.stderr.readline()
        port = int(line.split("listening on 127.0.0.1:")[1].split()[0].rstrip(";"))
        before = vm_hwm(scp.pid)
        ae = AE("BOMBER")
        ae.add_requested_context(CTImageStorage, [DeflatedExplicitVRLittleEndian])
        ae.dimse_timeout = 60
        assoc = ae.associate(HOST, port, ae_title="STORESCP")
        assert assoc.is_established
        try:
            status = assoc.send_c_store(str(bomb))
        finally:
            assoc.release()
        after = vm_hwm(scp.pid)
    finally:
        scp.terminate()
        scp.wait(10)
        if scp.stderr is not None:
            scp.stderr.close()
    print(
        f"\ndeflate bomb: {wire / MiB:.2f} MiB on the wire, 1024 MiB inflated; storescp peak "
        f"RSS {before / MiB:.1f} -> {after / MiB:.1f} MiB; status 0x{status.Status:04X}"
    )
    assert status.Status == 0xA700
    assert "inflates" in status.ErrorComment
    assert not out.exists() or list(out.rglob("*.dcm")) == []
    assert after - before < 50 * MiB


def test_deflated_instance_is_named_from_its_first_bytes(
    start_server: StartServer, tmp_path: Path
) -> None:
    """A normal Deflated instance is stored by storescp's handler byte for byte, named by its
    Modality, read from the first inflated bytes."""
    from dicomnet.cli._storage import StorageHandler

    storage = StorageHandler(tmp_path / "out")
    ae = AE(SCP_TITLE)
    ae.add_supported_context(CTImageStorage, [DeflatedExplicitVRLittleEndian])
    server = start_server(ae, [(evt.EVT_C_STORE, storage)])
    ds = ct_dataset()
    path = tmp_path / "deflated.dcm"
    ds.save_as(path, implicit_vr=False, little_endian=True, enforce_file_format=True)
    ds = dcmread(path)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    path.write_bytes(buffer.getvalue())
    scu = AE("SCU")
    scu.add_requested_context(CTImageStorage, [DeflatedExplicitVRLittleEndian])
    assoc = scu.associate(HOST, server.server_address[1], ae_title=SCP_TITLE)
    try:
        assert assoc.send_c_store(str(path)).Status == 0x0000
    finally:
        assoc.release()
    [stored] = list((tmp_path / "out").iterdir())
    assert stored.name == f"CT.{ds.SOPInstanceUID}.dcm"
    assert dcmread(stored).PatientName == ds.PatientName
