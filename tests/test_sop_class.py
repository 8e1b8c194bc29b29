"""``dicomnet.sop_class``: SOP classes by keyword, the ready-made lists, and the generated file
being fresh (regenerating it from pydicom's UID dictionary changes nothing)."""

from __future__ import annotations

import copy
import importlib.util
import pickle
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pydicom.uid
import pytest
from pydicom._uid_dict import UID_dictionary

import dicomnet.sop_class as sop
from dicomnet._uid import SOPClass, TransferSyntax
from dicomnet.sop_class import (
    AllStorageClasses,
    AllTransferSyntaxes,
    CTImageStorage,
    DefaultTransferSyntaxes,
    MRImageStorage,
    QueryRetrieveClasses,
    StorageClasses,
    UncompressedTransferSyntaxes,
    Verification,
    WorklistClasses,
    sop_class_for,
    transfer_syntax_for,
    uid_name,
)

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "gen_sop_class.py"
GENERATED = ROOT / "src" / "dicomnet" / "_sop_class_generated.py"


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_gen_sop_class_tool", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pydicom_keywords() -> dict[str, str]:
    """keyword -> UID of pydicom's SOP classes."""
    return {
        keyword: uid
        for uid, (_name, kind, _info, _retired, keyword) in UID_dictionary.items()
        if kind == "SOP Class" and keyword
    }


def test_generated_file_is_fresh() -> None:
    """Render in a fresh interpreter: importing pynetdicom (other tests do) adds UIDs to
    pydicom's UID dictionary in this process, and the tool must see pydicom's own."""
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('gen_sop_class', {str(TOOL)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "assert 'pynetdicom' not in sys.modules\n"
        "sys.stdout.write(module.render())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120, check=True
    )
    assert done.stdout.decode("utf-8") == GENERATED.read_text(encoding="utf-8"), (
        "src/dicomnet/_sop_class_generated.py is stale: run python tools/gen_sop_class.py"
    )


def test_tool_categories() -> None:
    tool = _load_tool()
    assert tool.category("1.2.840.10008.1.1", "SOP Class", "Verification") == "verification"
    assert tool.category("1.2.840.10008.5.1.4.1.1.2", "SOP Class", "CTImageStorage") == "storage"
    assert (
        tool.category("1.2.840.10008.1.3.10", "SOP Class", "MediaStorageDirectoryStorage") is None
    )
    assert tool.category("1.2.840.10008.1.2", "Transfer Syntax", "ImplicitVRLittleEndian") == (
        "transfer"
    )
    assert (
        tool.category("1.2.840.10008.5.1.4.31", "SOP Class", "ModalityWorklistInformationModelFind")
        == "worklist"
    )
    assert (
        tool.category(
            "1.2.840.10008.5.1.4.38.2", "SOP Class", "HangingProtocolInformationModelFind"
        )
        == "qr"
    )
    assert (
        tool.category("1.2.840.10008.3.1.2.3.3", "SOP Class", "ModalityPerformedProcedureStep")
        is None
    )


def test_seed_imports() -> None:
    from dicomnet.sop_class import CTImageStorage as CT
    from dicomnet.sop_class import Verification as V

    assert V == "1.2.840.10008.1.1"
    assert CT == "1.2.840.10008.5.1.4.1.1.2"
    assert isinstance(CT, SOPClass) and isinstance(CT, str)
    assert CT.keyword == "CTImageStorage"
    assert CT.name == "CT Image Storage"
    assert CT.group == "storage" and not CT.is_retired
    assert Verification.group == "verification"


def test_sop_classes_equal_pydicom_uids() -> None:
    assert CTImageStorage == str(pydicom.uid.CTImageStorage)
    assert MRImageStorage == str(pydicom.uid.MRImageStorage)
    assert hash(CTImageStorage) == hash(str(pydicom.uid.CTImageStorage))


def test_every_pydicom_storage_class_is_in_all_storage_classes() -> None:
    storage = {
        keyword: uid
        for keyword, uid in _pydicom_keywords().items()
        if keyword.endswith("Storage") and keyword != "MediaStorageDirectoryStorage"
    }
    assert len(storage) > 150
    ours = {str(s) for s in AllStorageClasses}
    missing = sorted(k for k, uid in storage.items() if uid not in ours)
    assert missing == []
    for keyword, uid in storage.items():
        assert getattr(sop, keyword) == uid
        assert getattr(sop, keyword).keyword == keyword


def test_storage_lists() -> None:
    assert "1.2.840.10008.1.3.10" not in AllStorageClasses  # Media Storage Directory
    assert "1.2.840.10008.1.20.1" not in AllStorageClasses  # Storage Commitment Push
    assert all(s.group == "storage" for s in AllStorageClasses)
    assert len(set(AllStorageClasses)) == len(AllStorageClasses)
    assert set(StorageClasses) <= set(AllStorageClasses)
    assert all(not s.is_retired for s in StorageClasses)
    retired = set(AllStorageClasses) - set(StorageClasses)
    assert sop.HardcopyGrayscaleImageStorage in retired
    assert CTImageStorage in StorageClasses


QR = [
    "PatientRootQueryRetrieveInformationModelFind",
    "PatientRootQueryRetrieveInformationModelMove",
    "PatientRootQueryRetrieveInformationModelGet",
    "StudyRootQueryRetrieveInformationModelFind",
    "StudyRootQueryRetrieveInformationModelMove",
    "StudyRootQueryRetrieveInformationModelGet",
    "PatientStudyOnlyQueryRetrieveInformationModelFind",
    "CompositeInstanceRootRetrieveMove",
    "CompositeInstanceRootRetrieveGet",
    "CompositeInstanceRetrieveWithoutBulkDataGet",
    "HangingProtocolInformationModelFind",
    "ColorPaletteQueryRetrieveInformationModelGet",
    "GenericImplantTemplateInformationModelMove",
    "DefinedProcedureProtocolInformationModelFind",
]


@pytest.mark.parametrize("keyword", QR)
def test_query_retrieve_classes(keyword: str) -> None:
    cls = getattr(sop, keyword)
    assert cls == _pydicom_keywords()[keyword]
    assert cls.group == "qr"
    assert cls in QueryRetrieveClasses


def test_every_pydicom_find_move_get_class_is_here() -> None:
    for keyword, uid in _pydicom_keywords().items():
        if keyword.endswith(("Find", "Move", "Get")):
            assert getattr(sop, keyword) == uid
            assert uid in QueryRetrieveClasses or uid in WorklistClasses, keyword


def test_worklist_classes() -> None:
    assert sop.ModalityWorklistInformationModelFind == "1.2.840.10008.5.1.4.31"
    assert sop.ModalityWorklistInformationModelFind in WorklistClasses
    assert sop.ModalityWorklistInformationModelFind not in QueryRetrieveClasses
    assert all(s.group == "worklist" for s in WorklistClasses)


def test_transfer_syntaxes() -> None:
    assert [str(t) for t in UncompressedTransferSyntaxes] == [
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.2",
    ]
    assert set(DefaultTransferSyntaxes) == set(UncompressedTransferSyntaxes)
    assert all(isinstance(t, TransferSyntax) for t in AllTransferSyntaxes)
    assert sop.ImplicitVRLittleEndian.is_implicit_vr
    assert not sop.ExplicitVRBigEndian.is_little_endian
    assert sop.DeflatedExplicitVRLittleEndian.is_deflated
    assert sop.JPEGBaseline8Bit.is_compressed
    assert not sop.ExplicitVRLittleEndian.is_compressed
    assert str(pydicom.uid.JPEG2000Lossless) in AllTransferSyntaxes


def test_lookups() -> None:
    assert uid_name("1.2.840.10008.5.1.4.1.1.2") == "CT Image Storage"
    assert uid_name("1.2.840.10008.1.2.1") == "Explicit VR Little Endian"
    assert uid_name("1.2.3.4") == "1.2.3.4"
    assert sop_class_for("1.2.840.10008.1.1") is Verification
    unknown = sop_class_for("1.2.3.4")
    assert unknown == "1.2.3.4" and unknown.keyword == ""
    assert transfer_syntax_for("1.2.840.10008.1.2.2").keyword == "ExplicitVRBigEndian"
    assert transfer_syntax_for("1.2.3").is_compressed


@pytest.mark.parametrize(
    "value",
    [
        CTImageStorage,
        sop.PatientStudyOnlyQueryRetrieveInformationModelFind,  # retired
        sop.ExplicitVRBigEndian,  # retired transfer syntax
        sop.ExplicitVRLittleEndian,
    ],
)
def test_pickle_and_copy_keep_every_attribute(value: SOPClass | TransferSyntax) -> None:
    for clone in (pickle.loads(pickle.dumps(value)), copy.deepcopy(value), copy.copy(value)):
        assert type(clone) is type(value)
        assert clone == value
        assert (clone.name, clone.keyword, clone.is_retired) == (
            value.name,
            value.keyword,
            value.is_retired,
        )
        if isinstance(value, SOPClass):
            assert isinstance(clone, SOPClass) and clone.group == value.group


def test_ready_made_context_lists() -> None:
    from dicomnet import presentation
    from dicomnet.sop_class import (
        AllStorageClasses,
        CTImageStorage,
        ModalityWorklistInformationModelFind,
        StudyRootQueryRetrieveInformationModelMove,
        Verification,
    )

    storage = presentation.StoragePresentationContexts
    assert len(storage) == 120 and CTImageStorage in [cx.abstract_syntax for cx in storage]
    assert {cx.abstract_syntax for cx in storage} <= set(AllStorageClasses)
    assert all(cx.transfer_syntax[0] == "1.2.840.10008.1.2" for cx in storage)
    everything = presentation.AllStoragePresentationContexts
    assert [cx.abstract_syntax for cx in everything] == list(AllStorageClasses)
    assert [cx.abstract_syntax for cx in presentation.VerificationPresentationContexts] == [
        Verification
    ]
    qr = [cx.abstract_syntax for cx in presentation.QueryRetrievePresentationContexts]
    assert StudyRootQueryRetrieveInformationModelMove in qr
    worklist = presentation.ModalityWorklistPresentationContexts
    assert ModalityWorklistInformationModelFind in [cx.abstract_syntax for cx in worklist]
    assert presentation.StoragePresentationContexts is not storage  # a fresh list each time
    with pytest.raises(AttributeError):
        presentation.NoSuchContexts  # noqa: B018
