"""getscu over a slow link (issue 10, item 3): ``-td`` is "no bytes for N seconds", so a
C-STORE sub-operation that takes several times ``-td`` to arrive, steadily, is received."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from dicomnet import evt
from tests.assoc.throttle import ThrottledProxy
from tests.cli.qr_support import run
from tests.conftest import ServerFactory
from tests.golden import load_golden
from tests.qr.conftest import qr_scp_ae

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
