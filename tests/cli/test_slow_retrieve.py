"""Our commands over a slow link (issue 10, item 3): ``-td`` and ``--idle-timeout`` mean "no
bytes for N seconds", so a message that takes several times as long to arrive, steadily, is
received: by getscu (a C-STORE sub-operation) and by storescp (from DCMTK's storescu)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from dicomnet import evt
from tests.cli.conftest import StorescpStarter
from tests.cli.qr_support import run
from tests.conftest import ServerFactory
from tests.golden import load_golden
from tests.helpers import STORESCU, dataset_bytes, run_dcmtk
from tests.qr.conftest import qr_scp_ae
from tests.transport.throttle import ThrottledProxy

pytestmark = pytest.mark.interop

MiB = 1024 * 1024


def test_getscu_td_is_an_idle_timeout(dicomnet_server: ServerFactory, tmp_path: Path) -> None:
    ds = dcmread(io.BytesIO(load_golden("ct_16x16_file")))
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.add_new(0x7FE10010, "LO", "DICOMNET SLOW LINK TEST")
    ds.add_new(0x7FE11010, "OB", bytes(3 * MiB))

    def on_get(event: Any) -> Iterator[Any]:
        yield 1
        yield 0xFF00, ds

    server = dicomnet_server([(evt.EVT_C_GET, on_get)], ae=qr_scp_ae())
    out = tmp_path / "out"
    with ThrottledProxy(server.server_address[1], up=None, down=1 * MiB) as proxy:
        result = run(
            "getscu",
            "127.0.0.1",
            str(proxy.port),
            "-aec",
            "QRSCP",
            "-td",
            "1",
            "-od",
            out,
            "-k",
            f"StudyInstanceUID={ds.StudyInstanceUID}",
        )
    assert result.returncode == 0, result
    [stored] = list(out.iterdir())
    assert dcmread(stored)[0x7FE11010].value == bytes(3 * MiB)


def test_dcmtk_storescu_over_a_slow_link_to_our_storescp(
    our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    """DCMTK's storescu sends 3 MiB at 1 MiB/s to our storescp with --idle-timeout 1 -td 1:
    stored byte for byte (it used to be aborted after 1 s)."""
    ds = dcmread(io.BytesIO(load_golden("ct_16x16_file")))
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.add_new(0x7FE10010, "LO", "DICOMNET SLOW LINK TEST")
    ds.add_new(0x7FE11010, "OB", bytes(range(256)) * (3 * MiB // 256))
    source = tmp_path / "big.dcm"
    ds.save_as(source, enforce_file_format=True)
    od = tmp_path / "od"
    scp = our_storescp("--idle-timeout", "1", "-td", "1", output_dir=od)
    assert scp.port is not None
    with ThrottledProxy(scp.port, up=1 * MiB, down=None) as proxy:
        sent = run_dcmtk(STORESCU, "-aec", "STORESCP", "127.0.0.1", str(proxy.port), source)
    assert sent.returncode == 0, sent.stderr
    [stored] = list(od.iterdir())
    assert dataset_bytes(stored) == dataset_bytes(source)
