"""P-DATA-TFs of one message go out gathered into sends of about SEND_BATCH bytes when nobody
watches single PDUs, and one by one (each before its EVT_PDU_SENT / EVT_DATA_SENT) when someone
does; the peer receives the same PDUs either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dicomnet import AE, evt
from dicomnet.sop_class import CTImageStorage
from dicomnet.transport import connection
from tests.conftest import ServerFactory
from tests.helpers import dataset_bytes, write_ct_file

EXPLICIT = "1.2.840.10008.1.2.1"


@pytest.mark.parametrize("watched", [False, True], ids=["batched", "pdu-events"])
def test_a_data_set_arrives_whole_in_few_or_many_sends(
    dicomnet_server: ServerFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    watched: bool,
) -> None:
    got: list[bytes] = []

    def on_store(event: Any) -> int:
        got.append(event.encoded_dataset(include_meta=False))
        return 0x0000

    server = dicomnet_server([(evt.EVT_C_STORE, on_store)])
    source = write_ct_file(tmp_path / "ct.dcm", 3, EXPLICIT, rows=256, columns=256)  # 128 KiB
    sends: list[int] = []
    real = connection.Connection.sendall

    def counting(self: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        sends.append(len(data))
        real(self, data, *args, **kwargs)

    monkeypatch.setattr(connection.Connection, "sendall", counting)
    pdus: list[int] = []
    handlers = [(evt.EVT_PDU_SENT, lambda e: pdus.append(1))] if watched else []
    ae = AE("BATCH")
    ae.add_requested_context(CTImageStorage, [EXPLICIT])
    assoc = ae.associate("127.0.0.1", server.server_address[1], evt_handlers=handlers)
    assert assoc.is_established
    try:
        sends.clear()
        assert assoc.send_c_store(source).Status == 0x0000
        data_sends = list(sends)
    finally:
        assoc.release()
    assert got == [dataset_bytes(source)]
    if watched:
        assert len(data_sends) >= 8  # one per PDU: 128 KiB in PDUs of at most 16 KiB
        assert len(pdus) >= len(data_sends) - 1
    else:
        assert 2 <= len(data_sends) <= 4  # about 64 KiB per send (and the response's wait)
