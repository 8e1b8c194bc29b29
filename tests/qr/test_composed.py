"""A built-in query/retrieve handler composed with a user's ``--handler`` generator (the CLI's
composition, :func:`dicomnet.events.compose`), over a real association: our SCU against our
SCP serving the in-test archive. Every response of the built-in arrives, then the user's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.association import Association
from dicomnet.cli._handlers import build_evt_handlers, load_handlers
from dicomnet.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)
from tests.helpers import dataset_bytes, sop_instance_of
from tests.qr.archive import (
    Archive,
    Receiver,
    find_handler,
    get_handler,
    move_handler,
    study_uid,
)
from tests.qr.conftest import QRServerFactory

Associate = Callable[..., Association]
USER = Path(__file__).parent.parent / "cli" / "handler_mods" / "qr.py"


def composed(builtin: tuple[evt.EventType, Any], *specs: str) -> list[Any]:
    """evt_handlers as the CLI builds them: the built-in, then ``--handler`` values."""
    user = load_handlers(list(specs), builtin[0])
    handlers = build_evt_handlers([builtin], user)
    assert len(handlers) == 1 and len(handlers[0]) == 2  # one composed handler
    return handlers


def patients(assoc: Association) -> list[tuple[int, str | None]]:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "PATIENT"
    identifier.PatientID = ""
    identifier.PatientName = ""
    responses = assoc.send_c_find(identifier, PatientRootQueryRetrieveInformationModelFind)
    return [
        (int(status.Status), None if found is None else str(found.PatientID))
        for status, found in responses
    ]


def test_composed_find_gives_the_builtin_matches_then_the_users(
    archive: Archive, qr_server: QRServerFactory, associate: Associate
) -> None:
    handlers = composed(
        (evt.EVT_C_FIND, find_handler(archive)), f"EVT_C_FIND={USER}:extra_patients:Xavier,Yvonne"
    )
    assoc = associate(qr_server(handlers=handlers).server_address[1])
    results = patients(assoc)
    *pending, final = results
    assert final == (0x0000, None)
    assert all(status == 0xFF00 for status, _ in pending)
    archive_ids = sorted(pid for _, pid in pending[:-2] if pid is not None)
    assert archive_ids == ["PAT001", "PAT002"]  # the built-in's first ...
    assert pending[-2:] == [(0xFF00, "EXT-Xavier"), (0xFF00, "EXT-Yvonne")]  # ... then the user's
    assert patients(assoc) == results  # the association goes on


def test_composed_find_first_failure_ends_it(
    archive: Archive, qr_server: QRServerFactory, associate: Associate
) -> None:
    handlers = composed(
        (evt.EVT_C_FIND, find_handler(archive)),
        f"EVT_C_FIND={USER}:one_then_status:Zoe,0xA700",
        f"EVT_C_FIND={USER}:extra_patients:Never",
    )
    assoc = associate(qr_server(handlers=handlers).server_address[1])
    results = patients(assoc)
    assert len(results) == 4
    assert results[-2:] == [(0xFF00, "EXT-Zoe"), (0xA700, None)]


def test_composed_get_sums_the_counts_and_sends_every_file(
    archive: Archive, qr_server: QRServerFactory, associate: Associate, ct_files: list[Path]
) -> None:
    extra = ",".join(str(p) for p in ct_files[:2])
    handlers = composed(
        (evt.EVT_C_GET, get_handler(archive)), f"EVT_C_GET={USER}:extra_files:{extra}"
    )
    receiver = Receiver()
    assoc = associate(qr_server(handlers=handlers).server_address[1], handlers=receiver.handlers)
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid(1)
    responses = list(assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet))
    *pending, (final, _failed) = responses
    in_study = [i for i in archive.instances if i.header.StudyInstanceUID == study_uid(1)]
    total = len(in_study) + 2
    assert [int(s.NumberOfRemainingSuboperations) for s, _ in pending] == list(
        range(total - 1, 0, -1)
    )
    assert final.Status == 0x0000
    assert final.NumberOfCompletedSuboperations == total
    for instance in in_study:
        assert dataset_bytes(receiver.files[instance.sop_instance_uid]) == (
            instance.dataset_bytes()
        )
    for path in ct_files[:2]:
        assert dataset_bytes(receiver.files[sop_instance_of(path)]) == dataset_bytes(path)
    assert len(receiver.files) == total
    sent = [str(r.AffectedSOPInstanceUID) for r in receiver.requests]
    assert sent[-2:] == [sop_instance_of(p) for p in ct_files[:2]]  # the user's files last


def test_composed_move_sends_the_users_files_to_the_builtins_destination(
    archive: Archive,
    qr_server: QRServerFactory,
    associate: Associate,
    dicomnet_server: Any,
    ct_files: list[Path],
) -> None:
    receiver = Receiver()
    dest = dicomnet_server(receiver.handlers, ae_title="DEST")
    destinations = {"DEST": ("127.0.0.1", dest.server_address[1])}
    extra = ",".join(str(p) for p in ct_files[2:4])
    handlers = composed(
        (evt.EVT_C_MOVE, move_handler(archive, destinations)),
        f"EVT_C_MOVE={USER}:extra_files_to_any_destination:{extra}",
    )
    assoc = associate(qr_server(handlers=handlers).server_address[1])
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid(1)
    responses = list(
        assoc.send_c_move(identifier, "DEST", StudyRootQueryRetrieveInformationModelMove)
    )
    final = responses[-1][0]
    in_study = [i for i in archive.instances if i.header.StudyInstanceUID == study_uid(1)]
    assert final.Status == 0x0000
    assert final.NumberOfCompletedSuboperations == len(in_study) + 2
    wanted = {i.sop_instance_uid for i in in_study} | {sop_instance_of(p) for p in ct_files[2:4]}
    assert set(receiver.files) == wanted
    for path in ct_files[2:4]:
        assert dataset_bytes(receiver.files[sop_instance_of(path)]) == dataset_bytes(path)
    # an unknown Move Destination is still refused: the built-in does not know it either
    unknown = list(
        assoc.send_c_move(identifier, "NOWHERE", StudyRootQueryRetrieveInformationModelMove)
    )
    assert [int(status.Status) for status, _ in unknown] == [0xA801]
