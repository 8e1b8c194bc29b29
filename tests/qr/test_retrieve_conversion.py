"""C-GET and C-MOVE sub-operations that must convert: big-endian files served by our SCP to
peers that accept only Implicit VR Little Endian (pynetdicom as the C-GET SCU, DCMTK's storescp
as the C-MOVE destination). The pixel values that arrive are the little-endian twins' — the
issue measured 905, 1019... arriving as -30461, -1277... with status Success."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.sop_class import (
    MRImageStorage,
    RTDoseStorage,
    StudyRootQueryRetrieveInformationModelGet,
)
from tests.conftest import StorescpFactory
from tests.helpers import pydicom_test_file
from tests.qr.conftest import QRServerFactory, qr_scp_ae, scu_ae

pytestmark = pytest.mark.interop

IMPLICIT = "1.2.840.10008.1.2"
#: Big-endian test files of pydicom and their little-endian twins (same pixel values).
TWINS = {"MR_small_bigendian.dcm": "MR_small.dcm", "rtdose_expb.dcm": "rtdose.dcm"}


def big_endian_files() -> list[Path]:
    return [pydicom_test_file(name) for name in TWINS]


def expected_pixels() -> dict[str, bytes]:
    """SOP Instance UID -> the pixel bytes (little endian) each file must arrive with."""
    out = {}
    for big, little in TWINS.items():
        uid = str(dcmread(pydicom_test_file(big)).SOPInstanceUID)
        out[uid] = dcmread(pydicom_test_file(little)).PixelData
    return out


def handler_yielding(paths: list[Path], move_to: tuple[str, int] | None = None) -> Any:
    def handle(event: Any) -> Iterator[Any]:
        if move_to is not None:
            yield move_to
        yield len(paths)
        for path in paths:
            yield 0xFF00, path

    return handle


def scp_ae() -> Any:
    ae = qr_scp_ae()
    ae.add_supported_context(RTDoseStorage, scu_role=True, scp_role=True)
    return ae


def test_c_get_to_pynetdicom_converts_big_endian_exactly(qr_server: QRServerFactory) -> None:
    from pynetdicom import AE as PynetdicomAE
    from pynetdicom import build_role
    from pynetdicom import evt as pevt

    server = qr_server(
        ae=scp_ae(), handlers=[(evt.EVT_C_GET, handler_yielding(big_endian_files()))]
    )
    received: dict[str, bytes] = {}

    def on_store(event: Any) -> int:
        ds = event.dataset
        received[str(ds.SOPInstanceUID)] = ds.PixelData
        return 0x0000

    ae = PynetdicomAE(ae_title="PYGETSCU")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    for sop_class in (MRImageStorage, RTDoseStorage):
        ae.add_requested_context(sop_class, [IMPLICIT])
    assoc = ae.associate(
        "127.0.0.1",
        server.server_address[1],
        ext_neg=[build_role(c, scp_role=True) for c in (MRImageStorage, RTDoseStorage)],
        evt_handlers=[(pevt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = "1.2.3"
    try:
        results = list(assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet))
    finally:
        assoc.release()
    assert results[-1][0].Status == 0x0000
    assert results[-1][0].NumberOfCompletedSuboperations == len(TWINS)
    assert received == expected_pixels()


def test_c_move_to_dcmtk_implicit_only_converts_big_endian_exactly(
    qr_server: QRServerFactory, dcmtk_storescp: StorescpFactory
) -> None:
    destination = dcmtk_storescp("+xi", ae_title="DEST")  # Implicit VR Little Endian only
    server = qr_server(
        ae=scp_ae(),
        handlers=[
            (
                evt.EVT_C_MOVE,
                handler_yielding(big_endian_files(), ("127.0.0.1", destination.port)),
            )
        ],
    )
    ae = scu_ae()
    assoc = ae.associate("127.0.0.1", server.server_address[1])
    assert assoc.is_established
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = "1.2.3"
    try:
        results = list(assoc.send_c_move(query, "DEST", "S"))
    finally:
        assoc.release()
    final = results[-1][0]
    assert final.Status == 0x0000, final
    stored = {str(ds.SOPInstanceUID): ds for ds in map(dcmread, destination.files())}
    assert {uid: ds.PixelData for uid, ds in stored.items()} == expected_pixels()
    assert {str(ds.file_meta.TransferSyntaxUID) for ds in stored.values()} == {IMPLICIT}
