"""The archive writes C-FIND response identifiers itself (for speed): the bytes must be what
pydicom writes for the same data set, in both Little Endian syntaxes; other syntaxes and
character sets it cannot write fall back to a pydicom Dataset."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from dicomnet.archive.query import plan, response
from dicomnet.dataset import encode_dataset

IMPLICIT, EXPLICIT, BIG_ENDIAN = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"


def identifier(charset: str | None = None) -> Dataset:
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = ""
    ds.PatientName = ""
    ds.StudyDate = ""
    ds.ModalitiesInStudy = ""
    ds.NumberOfStudyRelatedInstances = ""
    ds.StudyDescription = ""
    ds.OperatorsName = ""  # not indexed: returned empty
    ds.ReferencedStudySequence = []  # an indexed sequence, none in the row: returned empty
    ds.AnatomicRegionSequence = []  # a sequence not indexed: returned empty
    ds.RetrieveAETitle = ""
    return ds


ROW = {
    "_id": 1,
    "StudyInstanceUID": "1.2.3.45",  # odd length: padded with NUL
    "PatientName": "Müller^Jörg",
    "StudyDate": "20240101",
    "ModalitiesInStudy": "MR,CT",
    "NumberOfStudyRelatedInstances": 12,
    "StudyDescription": "Knie",
    "ReferencedStudySequence": None,
}


@pytest.mark.parametrize("syntax", [IMPLICIT, EXPLICIT])
@pytest.mark.parametrize("charset", [None, "ISO_IR 100", "ISO_IR 192"])
def test_our_bytes_are_pydicoms_bytes(syntax: str, charset: str | None) -> None:
    query = identifier(charset)
    _statement, requested = plan(query, "STUDY", sqlite=True, levels=("STUDY", "SERIES", "IMAGE"))
    ours = response(ROW, requested, query, "STUDY", "QRSCP", syntax)
    reference = response(ROW, requested, query, "STUDY", "QRSCP")
    assert isinstance(ours, bytes) and isinstance(reference, Dataset)
    assert ours == encode_dataset(reference, syntax)
    assert str(reference.PatientName) == "Müller^Jörg"
    assert list(reference.ModalitiesInStudy) == ["CT", "MR"]


def test_other_syntaxes_fall_back_to_a_dataset() -> None:
    query = identifier("ISO_IR 100")
    _statement, requested = plan(query, "STUDY", sqlite=True, levels=("STUDY", "SERIES", "IMAGE"))
    made = response(ROW, requested, query, "STUDY", "QRSCP", BIG_ENDIAN)
    assert isinstance(made, Dataset)
    assert made.StudyInstanceUID == "1.2.3.45"
