"""Information models, query levels and unique keys: what the SCU checks before sending."""

from __future__ import annotations

import warnings

import pytest
from pydicom.dataset import Dataset

from dicomnet import qr
from dicomnet.presentation import build_role
from dicomnet.sop_class import (
    CTImageStorage,
    ModalityWorklistInformationModelFind,
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    PatientStudyOnlyQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

STUDY = "1.2.3.4"
SERIES = "1.2.3.4.5"
IMAGE = "1.2.3.4.5.6"


def ident(level: str | None, **keys: object) -> Dataset:
    ds = Dataset()
    with warnings.catch_warnings():  # some values are invalid on purpose
        warnings.simplefilter("ignore")
        if level is not None:
            ds.QueryRetrieveLevel = level
        for keyword, value in keys.items():
            setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    ("model", "operation", "uid"),
    [
        ("P", "find", PatientRootQueryRetrieveInformationModelFind),
        ("P", "get", PatientRootQueryRetrieveInformationModelGet),
        ("P", "C-MOVE", PatientRootQueryRetrieveInformationModelMove),
        ("s", "find", StudyRootQueryRetrieveInformationModelFind),
        ("S", "c_get", StudyRootQueryRetrieveInformationModelGet),
        ("S", "move", StudyRootQueryRetrieveInformationModelMove),
        ("O", "find", PatientStudyOnlyQueryRetrieveInformationModelFind),
        ("W", "find", ModalityWorklistInformationModelFind),
        (
            StudyRootQueryRetrieveInformationModelGet,
            "get",
            StudyRootQueryRetrieveInformationModelGet,
        ),
    ],
)
def test_query_model_letters_and_uids_resolve(model: str, operation: str, uid: str) -> None:
    resolved, found = qr.resolve_query_model(model, operation)
    assert resolved == uid
    assert found is not None and found.sop_class(operation) == uid


def test_worklist_is_find_only() -> None:
    with pytest.raises(ValueError, match="Modality Worklist information model supports C-FIND"):
        qr.resolve_query_model("W", "move")


def test_a_find_class_for_a_get_names_the_right_class() -> None:
    with pytest.raises(ValueError, match=r"C-FIND SOP class, not C-GET.*2\.2\.3"):
        qr.resolve_query_model(StudyRootQueryRetrieveInformationModelFind, "get")


@pytest.mark.parametrize("bad", ["X", "", "Study Root"])
def test_unknown_models_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"query model|query_model"):
        qr.resolve_query_model(bad, "find")


def test_unknown_operation() -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        qr.resolve_query_model("S", "store")


def test_a_qr_class_we_do_not_model_passes_through() -> None:
    composite_get = "1.2.840.10008.5.1.4.1.2.4.3"
    assert qr.resolve_query_model(composite_get, "get") == (composite_get, None)
    qr.validate_identifier(ident("IMAGE", SOPInstanceUID=IMAGE), composite_get, "get")


# --- valid identifiers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "identifier"),
    [
        ("P", ident("PATIENT", PatientID="", PatientName="A*")),
        ("P", ident("STUDY", PatientID="PAT1", StudyInstanceUID="")),
        ("P", ident("SERIES", PatientID="PAT1", StudyInstanceUID=STUDY, SeriesInstanceUID="")),
        (
            "P",
            ident(
                "IMAGE",
                PatientID="PAT1",
                StudyInstanceUID=STUDY,
                SeriesInstanceUID=SERIES,
                SOPInstanceUID=[IMAGE, IMAGE + ".1"],
            ),
        ),
        ("S", ident("STUDY", StudyInstanceUID="", PatientName="", StudyDate="20240101-")),
        ("S", ident("SERIES", StudyInstanceUID=STUDY, SeriesInstanceUID="", Modality="CT")),
        ("S", ident("IMAGE", StudyInstanceUID=STUDY, SeriesInstanceUID=SERIES, SOPInstanceUID="")),
        ("O", ident("STUDY", PatientID="PAT1", StudyInstanceUID="")),
        ("W", ident(None, PatientName="*", ScheduledProcedureStepSequence=[])),
    ],
)
def test_valid_find_identifiers(model: str, identifier: Dataset) -> None:
    qr.validate_identifier(identifier, model, "find")


@pytest.mark.parametrize(
    ("model", "identifier"),
    [
        ("P", ident("PATIENT", PatientID="PAT1")),
        ("P", ident("STUDY", PatientID="PAT1", StudyInstanceUID=[STUDY, STUDY + ".9"])),
        ("S", ident("STUDY", StudyInstanceUID=STUDY)),
        ("S", ident("SERIES", StudyInstanceUID=STUDY, SeriesInstanceUID=SERIES)),
        (
            "S",
            ident("IMAGE", StudyInstanceUID=STUDY, SeriesInstanceUID=SERIES, SOPInstanceUID=IMAGE),
        ),
    ],
)
@pytest.mark.parametrize("operation", ["get", "move"])
def test_valid_retrieve_identifiers(model: str, identifier: Dataset, operation: str) -> None:
    qr.validate_identifier(identifier, model, operation)


# --- invalid identifiers: each message says what to fix ----------------------------------------


@pytest.mark.parametrize(
    ("model", "operation", "identifier", "message"),
    [
        ("S", "find", ident(None, StudyInstanceUID=""), r"no QueryRetrieveLevel \(0008,0052\)"),
        ("S", "find", ident("PATIENT", PatientID=""), "not valid for Study Root: use one of STUDY"),
        ("O", "find", ident("SERIES", SeriesInstanceUID=""), "not valid for Patient/Study Only"),
        ("P", "find", ident("study", StudyInstanceUID=""), "'study' is not valid"),
        (
            "P",
            "find",
            ident("STUDY", StudyInstanceUID=""),
            r"STUDY-level C-FIND in Patient Root needs PatientID \(0010,0020\) with exactly one",
        ),
        (
            "P",
            "find",
            ident("STUDY", PatientID="PAT*", StudyInstanceUID=""),
            "no list and no wildcard",
        ),
        (
            "S",
            "find",
            ident("SERIES", StudyInstanceUID=[STUDY, STUDY + ".1"], SeriesInstanceUID=""),
            "exactly one value",
        ),
        (
            "S",
            "find",
            ident("SERIES", StudyInstanceUID=STUDY, Modality="CT"),
            r"needs the unique key SeriesInstanceUID \(0020,000E\)",
        ),
        (
            "S",
            "find",
            ident("STUDY", StudyInstanceUID="", SeriesInstanceUID=SERIES),
            "must not contain SeriesInstanceUID.*set QueryRetrieveLevel to SERIES",
        ),
        (
            "S",
            "get",
            ident("STUDY", StudyInstanceUID=""),
            r"needs StudyInstanceUID \(0020,000D\) with a value",
        ),
        ("S", "move", ident("STUDY", StudyInstanceUID="1.2.*"), "must not contain wildcards"),
        ("P", "get", ident("PATIENT", PatientID=["A", "B"]), "single value, not a list"),
        (
            "S",
            "move",
            ident("IMAGE", StudyInstanceUID=STUDY, SOPInstanceUID=IMAGE),
            r"needs SeriesInstanceUID \(0020,000E\) with exactly one value",
        ),
        ("S", "find", {"QueryRetrieveLevel": "STUDY"}, "must be a pydicom Dataset, not dict"),
    ],
)
def test_invalid_identifiers(model: str, operation: str, identifier: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        qr.validate_identifier(identifier, model, operation)


def test_model_objects_are_accepted() -> None:
    qr.validate_identifier(ident("STUDY", StudyInstanceUID=""), qr.STUDY_ROOT, "find")
    with pytest.raises(ValueError, match="C-FIND only"):
        qr.validate_identifier(ident(None), qr.MODALITY_WORKLIST, "get")


def test_build_role_defaults_as_pynetdicom() -> None:
    """Each role False unless given: ``build_role(uid, scp_role=True)`` proposes SCP only."""
    role = build_role(CTImageStorage, scp_role=True)
    assert (role.sop_class_uid, role.scu_role, role.scp_role) == (CTImageStorage, False, True)
    both = build_role(CTImageStorage, scu_role=True, scp_role=True)
    assert (both.scu_role, both.scp_role) == (True, True)
    assert (build_role(CTImageStorage).scu_role, build_role(CTImageStorage).scp_role) == (
        False,
        False,
    )
