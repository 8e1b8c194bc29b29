"""qrscp --worklist matching (WorklistSCP, the handler qrscp binds) through the network with our
SCU: Scheduled Procedure Step Sequence matching item by item (PS3.4 C.2.2.2.6, K.2.2.1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicomnet import AE, evt
from dicomnet.archive.worklist import WorklistSCP
from dicomnet.association import Association

WORKLIST = "1.2.840.10008.5.1.4.31"


def step(modality: str, date: str, sps_id: str) -> Dataset:
    ds = Dataset()
    ds.Modality = modality
    ds.ScheduledProcedureStepStartDate = date
    ds.ScheduledProcedureStepID = sps_id
    ds.ScheduledStationAETitle = f"{modality}01"
    return ds


@pytest.fixture
def assoc(tmp_path: Path) -> Iterator[Association]:
    """Three entries: two steps (CT 20240601, CT 20240603), one step (MR), no step at all."""
    entries = {
        "two": ("PAT1", [step("CT", "20240601", "S1"), step("CT", "20240603", "S2")]),
        "one": ("PAT2", [step("MR", "20240601", "S3")]),
        "none": ("PAT3", []),
    }
    for name, (pid, steps) in entries.items():
        ds = Dataset()
        ds.PatientID = pid
        ds.PatientName = f"{name.title()}^Steps"
        if steps:
            ds.ScheduledProcedureStepSequence = Sequence(steps)
        ds.save_as(tmp_path / f"{name}.wl", implicit_vr=False, little_endian=True)
    scp = WorklistSCP(tmp_path)
    ae = AE("QRSCP")
    ae.add_supported_context(WORKLIST)
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_FIND, scp.find)]
    )
    assert server is not None
    scu = AE("SCU")
    scu.add_requested_context(WORKLIST)
    association = scu.associate("127.0.0.1", server.server_address[1], ae_title="QRSCP")
    assert association.is_established
    try:
        yield association
    finally:
        association.release()
        server.shutdown()


def find(assoc: Association, **sps: str) -> dict[str, list[tuple[str, ...]]]:
    """{PatientID: [(step keyword=value, ...) per returned step]} for a query on the step keys."""
    query = Dataset()
    query.PatientID = ""
    item = Dataset()
    for keyword, value in sps.items():
        setattr(item, keyword, value)
    query.ScheduledProcedureStepSequence = [item]
    found: dict[str, list[tuple[str, ...]]] = {}
    for status, ident in assoc.send_c_find(query, WORKLIST):
        if status.Status in (0xFF00, 0xFF01):
            found[str(ident.PatientID)] = [
                tuple(f"{e.keyword}={e.value}" for e in s)
                for s in ident.ScheduledProcedureStepSequence
            ]
        else:
            assert status.Status == 0x0000, status
    return found


def test_every_matching_step_comes_back_with_the_requested_keys(assoc: Association) -> None:
    assert find(assoc, Modality="CT", ScheduledProcedureStepID="") == {
        "PAT1": [("Modality=CT", "ScheduledProcedureStepID=S1"),
                 ("Modality=CT", "ScheduledProcedureStepID=S2")],
    }  # fmt: skip
    # all keys of the item must match in one same step
    ranged = find(
        assoc,
        Modality="CT",
        ScheduledProcedureStepStartDate="20240602-",
        ScheduledProcedureStepID="",
    )
    assert ranged == {
        "PAT1": [("Modality=CT", "ScheduledProcedureStepStartDate=20240603",
                  "ScheduledProcedureStepID=S2")],
    }  # fmt: skip
    assert find(assoc, Modality="MR", ScheduledProcedureStepStartDate="20240603") == {}


def test_return_keys_only_match_every_entry(assoc: Association) -> None:
    """An item of return keys (universal matching) matches every entry, one without steps
    included (an empty sequence), and returns every step."""
    assert find(assoc, ScheduledStationAETitle="") == {
        "PAT1": [("ScheduledStationAETitle=CT01",), ("ScheduledStationAETitle=CT01",)],
        "PAT2": [("ScheduledStationAETitle=MR01",)],
        "PAT3": [],
    }


def test_a_malformed_date_in_the_item_is_refused(assoc: Association) -> None:
    query = Dataset()
    query.PatientID = ""
    item = Dataset()
    item.ScheduledProcedureStepStartDate = "2024-06-01"
    query.ScheduledProcedureStepSequence = [item]
    [(status, ident)] = list(assoc.send_c_find(query, WORKLIST))
    assert ident is None and status.Status == 0xA900
    assert "ScheduledProcedureStepStartDate" in status.ErrorComment
