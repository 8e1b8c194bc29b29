"""services.storage without a socket: a received data set is refused unless it can be kept as
sent; otherwise the EVT_C_STORE handler's status goes back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.dataset import ReceivedDataset, encode_dataset
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_STORE_RQ, C_STORE_RSP
from dicomnet.services import storage
from tests.services.port import CT, IMPLICIT, VERIFICATION, FakePort, context

UID = "1.2.3.4.5"


def _received(tmp_path: Path, dataset: Dataset | None = None, raw: bytes | None = None) -> Any:
    sink = ReceivedDataset(CT, UID, IMPLICIT, "1.2.3", directory=tmp_path)
    if raw is None:
        ds = dataset if dataset is not None else _dataset()
        raw = encode_dataset(ds, IMPLICIT)
    sink.write(raw)
    return sink


def _dataset(instance: str = UID) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = instance
    ds.PatientName = "Doe^Jane"
    return ds


def _store(port: FakePort, sink: Any, cid: int = 1) -> C_STORE_RSP:
    rq = C_STORE_RQ(MessageID=5, AffectedSOPClassUID=CT, AffectedSOPInstanceUID=UID)
    storage.serve(port, MessageComplete(cid, rq, sink))
    [(_cid, rsp, _data)] = port.sent
    assert isinstance(rsp, C_STORE_RSP)
    assert (rsp.MessageIDBeingRespondedTo, rsp.AffectedSOPInstanceUID) == (5, UID)
    return rsp


def test_the_handler_sees_the_data_set_and_its_status_goes_back(tmp_path: Path) -> None:
    seen: list[str] = []

    def on_store(event: evt.Event) -> int:
        seen.append(str(event.dataset.PatientName))
        return 0xB000

    port = FakePort([context(1, CT)], [(evt.EVT_C_STORE, on_store)])
    assert _store(port, _received(tmp_path)).Status == 0xB000
    assert seen == ["Doe^Jane"]


def test_without_a_handler_0122(tmp_path: Path) -> None:
    rsp = _store(FakePort([context(1, CT)]), _received(tmp_path))
    assert (rsp.Status, rsp.ErrorComment) == (0x0122, "no storage handler is bound")


def test_a_malformed_data_set_never_reaches_the_handler(tmp_path: Path) -> None:
    called: list[bool] = []

    def on_store(event: evt.Event) -> int:
        called.append(True)
        return 0

    port = FakePort([context(1, CT)], [(evt.EVT_C_STORE, on_store)])
    # a tag, then a length running past the end
    rsp = _store(port, _received(tmp_path, raw=b"\x08\x00\x18\x00\xff\x00\x00\x00"))
    assert rsp.Status == 0xC220 and str(rsp.ErrorComment).startswith("malformed at offset")
    assert called == []


def test_uids_that_disagree_with_the_command_give_a900(tmp_path: Path) -> None:
    port = FakePort([context(1, CT)], [(evt.EVT_C_STORE, lambda e: 0)])
    rsp = _store(port, _received(tmp_path, _dataset("9.9.9")))
    assert rsp.Status == 0xA900 and "9.9.9" in str(rsp.ErrorComment)


def test_a_handler_returning_nonsense_gives_c211(tmp_path: Path) -> None:
    port = FakePort([context(1, CT)], [(evt.EVT_C_STORE, lambda e: "yes")])
    rsp = _store(port, _received(tmp_path))
    assert (rsp.Status, rsp.ErrorComment) == (0xC211, "invalid handler status")


def test_a_context_of_another_class_gives_0122(tmp_path: Path) -> None:
    rsp = _store(FakePort([context(1, VERIFICATION)]), _received(tmp_path))
    assert rsp.Status == 0x0122
