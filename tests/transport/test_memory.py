"""A 200 MiB data set stored into our SCP must not sit in its memory.

The SCP runs in its own Python process (so the measurement is not mixed with pytest's) and
reports its peak resident set size (``VmHWM`` from ``/proc/self/status``) once it listens and
again after the store. DCMTK ``storescu`` sends a Part-10 file that this test writes to disk in
1 MiB pieces, so the test process never holds the data set either. The handler checks the size
and a SHA-256 of the spooled data set through ``event.dataset_path``, reading it from disk in
pieces.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread

from tests.golden import load_golden

STORESCU = "/usr/bin/storescu"
MiB = 1024 * 1024
PAYLOAD = 200 * MiB
ALLOWED_GROWTH = 50 * MiB

# The SCP process: argv = spool directory. Prints one JSON object per line on stdout.
SCP_SCRIPT = r"""
import hashlib, json, sys, threading
from pathlib import Path
from dicomnet import AE, evt
from dicomnet.sop_class import CTImageStorage

def vm_hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")

def dataset_offset(handle):
    handle.seek(128 + 4 + 8)
    (group_length,) = __import__("struct").unpack("<I", handle.read(4))
    return 128 + 4 + 12 + group_length

stored = []
done = threading.Event()

def on_store(event):
    path = Path(event.dataset_path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        start = dataset_offset(handle)
        handle.seek(start)
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    stored.append({
        "in_spool": str(path.parent) == sys.argv[1],
        "file_size": path.stat().st_size,
        "dataset_size": path.stat().st_size - start,
        "sha256": digest.hexdigest(),
        "hwm_in_handler": vm_hwm(),
    })
    return 0x0000

ae = AE("MEMSCP")
ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 60
ae.spool_directory = sys.argv[1]
ae.add_supported_context(CTImageStorage)
server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[
    (evt.EVT_C_STORE, on_store),
    (evt.EVT_CONN_CLOSE, lambda event: done.set()),
])
print(json.dumps({"port": server.server_address[1], "hwm": vm_hwm()}), flush=True)
ok = done.wait(300)
server.shutdown()
print(json.dumps({"finished": ok, "stored": stored, "hwm": vm_hwm()}), flush=True)
"""


def write_big_ct(path: Path, payload: int) -> tuple[int, str]:
    """The golden CT plus a private OB element of ``payload`` bytes, written in 1 MiB pieces.

    Returns the data-set size (bytes after the file meta) and its SHA-256."""
    ds = dcmread(io.BytesIO(load_golden("ct_16x16_file")))
    ds.SOPInstanceUID = "2.25.1193046.200"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    # A private block after Pixel Data keeps the elements in ascending tag order.
    ds.add_new(0x7FE10010, "LO", "DICOMNET MEMORY TEST")
    head = io.BytesIO()
    ds.save_as(head, enforce_file_format=True)
    header = head.getvalue()
    start = 128 + 4 + 12 + struct.unpack_from("<I", header, 128 + 4 + 8)[0]
    element = struct.pack("<HH2sHI", 0x7FE1, 0x1010, b"OB", 0, payload)
    digest = hashlib.sha256()
    digest.update(header[start:])
    digest.update(element)
    block = bytearray(os.urandom(MiB))
    with open(path, "wb") as out:
        out.write(header)
        out.write(element)
        for index in range(payload // MiB):
            struct.pack_into("<Q", block, 0, index)  # every piece differs
            out.write(block)
            digest.update(block)
    return len(header) - start + len(element) + payload, digest.hexdigest()


def read_json_line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, "the SCP process ended without reporting"
    result: dict[str, Any] = json.loads(line)
    return result


@pytest.mark.slow
@pytest.mark.interop
def test_200_mib_store_does_not_grow_scp_memory(tmp_path: Path) -> None:
    assert shutil.which(STORESCU) == STORESCU
    source = tmp_path / "big.dcm"
    dataset_size, sha256 = write_big_ct(source, PAYLOAD)
    spool = tmp_path / "spool"
    spool.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    scp = subprocess.Popen(
        [sys.executable, "-c", SCP_SCRIPT, str(spool)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        started = read_json_line(scp)
        sent = subprocess.run(
            [STORESCU, "-aec", "MEMSCP", "127.0.0.1", str(started["port"]), str(source)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "TCP_NODELAY": "1"},
        )
        assert sent.returncode == 0, sent.stderr
        finished = read_json_line(scp)
        scp.wait(timeout=30)
    finally:
        if scp.poll() is None:
            scp.kill()
            scp.wait(timeout=30)
        if scp.stdout is not None:
            scp.stdout.close()
        stderr = scp.stderr.read() if scp.stderr is not None else ""
        if scp.stderr is not None:
            scp.stderr.close()
    assert scp.returncode == 0, stderr
    assert finished["finished"]
    [stored] = finished["stored"]
    assert stored["in_spool"]
    assert stored["dataset_size"] == dataset_size
    assert stored["sha256"] == sha256
    assert list(spool.iterdir()) == []  # the temporary file is gone

    growth = max(finished["hwm"], stored["hwm_in_handler"]) - started["hwm"]
    print(
        f"\nSCP peak RSS: {started['hwm'] / MiB:.1f} MiB listening, "
        f"{finished['hwm'] / MiB:.1f} MiB after storing {dataset_size / MiB:.1f} MiB "
        f"(growth {growth / MiB:.1f} MiB)"
    )
    assert growth < ALLOWED_GROWTH, f"SCP memory grew by {growth / MiB:.1f} MiB"
