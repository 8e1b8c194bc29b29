"""Status fields a handler returns reach the peer in a response that encodes (issue 16): an
ErrorComment with a backslash (a pydicom multi-value), control or non-ASCII characters, or too
long is cut down to LO; an ErrorID out of range is left out. The association goes on."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from dicomnet import AE, evt
from dicomnet.sop_class import CTImageStorage, Verification
from dicomnet.transport.server import AssociationServer
from tests.helpers import make_ct_dataset

HOST = "127.0.0.1"


@pytest.fixture
def server() -> Iterator[AssociationServer]:
    def on_store(event: evt.Event) -> Dataset:
        status = Dataset()
        status.Status = 0xC000
        status.ErrorComment = "disk\\full\x01 at caf\xe9 " + "x" * 80
        status.ErrorID = 0x12345  # out of range for US
        return status

    def on_echo(event: evt.Event) -> Dataset:
        status = Dataset()
        status.Status = 0x0110
        status.ErrorComment = "\t\n"
        return status

    ae = AE("ENCODE-SCP")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5.0
    ae.add_supported_context(Verification)
    ae.add_supported_context(CTImageStorage)
    started = ae.start_server(
        (HOST, 0),
        block=False,
        evt_handlers=[(evt.EVT_C_STORE, on_store), (evt.EVT_C_ECHO, on_echo)],
    )
    assert started is not None
    try:
        yield started
    finally:
        started.shutdown()


@pytest.mark.filterwarnings("ignore:.*(exceeds the maximum|must be between).*:UserWarning")
def test_handler_status_fields_are_made_encodable(
    server: AssociationServer, caplog: pytest.LogCaptureFixture
) -> None:
    ae = AE("ENCODE-SCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 5.0
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage)
    caplog.set_level(logging.WARNING)
    assoc = ae.associate(HOST, server.server_address[1], ae_title="ENCODE-SCP")
    assert assoc.is_established, assoc.failure_reason
    try:
        ds = make_ct_dataset(1)
        ds.SOPInstanceUID = generate_uid()
        status = assoc.send_c_store(ds)
        assert status.Status == 0xC000
        assert status.ErrorComment == "disk/full? at caf? " + "x" * 45
        assert "ErrorID" not in status
        echo = assoc.send_c_echo()
        assert echo.Status == 0x0110
        assert "ErrorComment" not in echo
    finally:
        assoc.release()
    assert assoc.is_released
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
