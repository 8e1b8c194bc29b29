"""findscu's row view of a match (``_query.flatten``) reads raw text elements with pydicom's
converter instead of making each a DataElement: the text must be what the DataElement path
gives, for every text VR, in both byte orders of VR (explicit, implicit), with odd values."""

from __future__ import annotations

import itertools
import warnings

import pytest
from pydicom.dataset import Dataset

from dicomnet.cli._query import _flatten_elements, flatten
from dicomnet.dataset import decode_dataset, encode_dataset

EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"

#: keyword -> values to try (VR in the comment)
VALUES: dict[str, list[str]] = {
    "RetrieveAETitle": ["QRSCP", " QRSCP ", "A\\B", ""],  # AE
    "PatientAge": ["042Y", ""],  # AS
    "Modality": ["CT", "CT ", ""],  # CS
    "ModalitiesInStudy": ["CT\\MR", "CT\\MR\\", "OT"],  # CS, several values
    "StudyDate": ["20240102", "20240101-20240131", " 2024 ", ""],  # DA
    "SliceThickness": ["1.50", " 2 ", "1\\2.5", ""],  # DS
    "AcquisitionDateTime": ["20240102101010.5", ""],  # DT
    "InstanceNumber": [
        "12",
        "0012",
        " 7",
        "1\\2",
        "",
        "+5",
        "-0",
        " -03 ",
        "1234567890123",
    ],  # IS
    "StudyDescription": ["Head  ", "a\\b ", " lead", ""],  # LO
    "PatientComments": ["line\\with backslash  ", ""],  # LT
    "PatientName": ["Doe^John", "Doe^John  ", "A^B=C^D", "X\\Y", ""],  # PN
    "AccessionNumber": ["A123 ", ""],  # SH
    "StudyTime": ["101010", "101010.123 ", ""],  # TM
    "SOPInstanceUID": [
        "1.2.3",
        "1.2.3\x00",
        "1.2.3\\4.5",
        "",
        "1.02.3",
        "1." + "2" * 63,
        "1.2 ",
    ],  # UI
    "RetrieveURL": ["http://x/y ", ""],  # UR
    "TextValue": ["long text  ", ""],  # UT
}


def _datasets() -> list[Dataset]:
    keywords = list(VALUES)
    out = []
    widest = max(len(v) for v in VALUES.values())
    for index in range(widest):
        ds = Dataset()
        for keyword in keywords:
            values = VALUES[keyword]
            setattr(ds, keyword, values[index % len(values)])
        ds.QueryRetrieveLevel = "IMAGE"
        ds.NumberOfStudyRelatedInstances = str(index)  # IS
        ds.add_new(0x00090010, "LO", "PRIVATE CREATOR")  # private: the DataElement path
        ds.add_new(0x00091001, "SH", "private value")
        ds.add_new(0x00281050, "DS", "40")  # WindowCenter
        ds.add_new(0x00280010, "US", 512)  # Rows: not a text VR
        item = Dataset()
        item.CodeValue = "X1 "
        ds.ProcedureCodeSequence = [item]
        out.append(ds)
    return out


@pytest.mark.parametrize("syntax", [EXPLICIT, IMPLICIT])
def test_flatten_gives_the_dataelement_text(syntax: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the odd values are meant to be odd
        for ds in _datasets():
            encoded = encode_dataset(ds, syntax)
            fast = flatten(decode_dataset(encoded, syntax))
            slow = _flatten_elements(decode_dataset(encoded, syntax))
            assert fast == slow
            assert list(fast) == list(slow)  # same columns in the same order


def test_flatten_with_a_character_set_and_converted_elements() -> None:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Müller^Jörg"
    ds.StudyInstanceUID = "1.2.3"
    encoded = encode_dataset(ds, EXPLICIT)
    assert flatten(decode_dataset(encoded, EXPLICIT)) == {
        "SpecificCharacterSet": "ISO_IR 100",
        "PatientName": "Müller^Jörg",
        "StudyInstanceUID": "1.2.3",
    }
    decoded = decode_dataset(encoded, EXPLICIT)
    del decoded.SpecificCharacterSet
    _ = decoded.PatientName  # converted already: read from the DataElement
    assert flatten(decoded)["PatientName"] == _flatten_elements(decoded)["PatientName"]


def test_flatten_leaves_the_match_raw_and_equal() -> None:
    ds = _datasets()[0]
    encoded = encode_dataset(ds, EXPLICIT)
    decoded = decode_dataset(encoded, EXPLICIT)
    flatten(decoded)
    # a --handler or --write still sees the whole data set, converted on access
    for a, b in itertools.zip_longest(decoded, decode_dataset(encoded, EXPLICIT)):
        assert a == b


def test_flatten_warns_as_pydicom_for_invalid_uids_and_numbers() -> None:
    """Valid UIDs and IS values are read without pydicom's objects; invalid ones still go
    through pydicom's converter, with its warnings."""
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.3"
    ds.InstanceNumber = "7"
    encoded = encode_dataset(ds, EXPLICIT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert flatten(decode_dataset(encoded, EXPLICIT)) == {
            "InstanceNumber": "7",
            "SOPInstanceUID": "1.2.3",
        }
    assert not caught
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.SOPInstanceUID = "1.02.x"
        ds.InstanceNumber = "1234567890123"
    encoded = encode_dataset(ds, EXPLICIT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        row = flatten(decode_dataset(encoded, EXPLICIT))
    assert row == {"InstanceNumber": "1234567890123", "SOPInstanceUID": "1.02.x"}
    assert len(caught) == 2
