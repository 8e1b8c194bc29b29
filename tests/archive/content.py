"""What the archive tests store: the Q/R tests' eight instances (tests/qr/archive.py: PAT001
Alpha^Anna with studies 1 and 2, PAT002 Beta^Bob with study 3) plus instances whose values
test character sets and SQL metacharacters::

    PAT100 Müller^Jörg        ISO_IR 100   study 10, 20230505 101500, "Knie rechts"
    PAT101 Ωμέγα^Αλφα         ISO_IR 192   study 11, 20230601 235959, "Θώρακας"
    O'Neil  O'Neil^Ann          (no set)    study 12, "50% done", comments C:\\temp\\x
    50%     Percent^Fifty                   study 13, "A_B"
    A_B     Under^Score                     study 14, "AXB"
    50X     Percent^Not                     study 15, "under_score"

and sequences (:data:`SEQUENCES`) for sequence matching: study 10 has two Procedure Code items
and a series with a Request Attributes item, study 11 one Procedure Code item in UTF-8, patient
O'Neil an Other Patient IDs item.
"""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from tests.helpers import TEST_UID_PREFIX, make_ct_dataset
from tests.qr.archive import ROOT, Archive

EXTRA_ROOT = f"{ROOT}.5"

#: (PatientID, PatientName, charset, study number, date, time, description, comments)
EXTRAS: tuple[tuple[str, str, str | None, int, str, str, str, str | None], ...] = (
    ("PAT100", "Müller^Jörg", "ISO_IR 100", 10, "20230505", "101500", "Knie rechts", None),
    ("PAT101", "Ωμέγα^Αλφα", "ISO_IR 192", 11, "20230601", "235959", "Θώρακας", None),
    ("O'Neil", "O'Neil^Ann", None, 12, "20230701", "080000", "50% done", "C:\\temp\\x"),
    ("50%", "Percent^Fifty", None, 13, "20230702", "090000", "A_B", None),
    ("A_B", "Under^Score", None, 14, "20230703", "100000", "AXB", None),
    ("50X", "Percent^Not", None, 15, "20230704", "110000", "under_score", None),
)


def _item(**values: str) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


#: study number -> {sequence keyword: items}
SEQUENCES: dict[int, dict[str, list[Dataset]]] = {
    10: {
        "ProcedureCodeSequence": [
            _item(CodeValue="KNEE1", CodingSchemeDesignator="LOCAL", CodeMeaning="Knie MRT"),
            _item(CodeValue="XR22", CodingSchemeDesignator="DCM", CodeMeaning="Röntgen Knie"),
        ],
        "RequestAttributesSequence": [
            _item(
                RequestedProcedureID="RP10",
                ScheduledProcedureStepID="SPS10",
                ScheduledProcedureStepStartDate="20230505",
            )
        ],
    },
    11: {
        "ProcedureCodeSequence": [
            _item(CodeValue="CHEST", CodingSchemeDesignator="LOCAL", CodeMeaning="Θώρακας CT")
        ]
    },
    12: {"OtherPatientIDsSequence": [_item(PatientID="ALT-12", IssuerOfPatientID="SITE2")]},
}


def extra_study_uid(study: int) -> str:
    return f"{EXTRA_ROOT}.{study}"


def write_extras(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, (pid, name, charset, study, date, time, desc, comments) in enumerate(EXTRAS):
        ds = make_ct_dataset(500 + n)
        if charset:
            ds.SpecificCharacterSet = charset
        ds.PatientID = pid
        ds.PatientName = name
        ds.StudyInstanceUID = UID(extra_study_uid(study))
        ds.SeriesInstanceUID = UID(f"{extra_study_uid(study)}.1")
        ds.SOPInstanceUID = UID(f"{extra_study_uid(study)}.1.1")
        ds.StudyDate = date
        ds.StudyTime = time
        ds.StudyDescription = desc
        ds.AccessionNumber = f"X{study}"
        if comments:
            ds.PatientComments = comments
        for keyword, items in SEQUENCES.get(study, {}).items():
            setattr(ds, keyword, [_item(**{e.keyword: e.value for e in i}) for i in items])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = UID(f"{TEST_UID_PREFIX}.99")
        ds.file_meta = meta
        path = directory / f"extra_{n}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def build_all(directory: Path) -> tuple[Archive, list[Path]]:
    """The Q/R archive's files and the extras, under ``directory``."""
    archive = Archive.build(directory / "qr")
    return archive, write_extras(directory / "extra")


def query(level: str | None, charset: str | None = None, **keys: object) -> Dataset:
    ds = Dataset()
    if charset:
        ds.SpecificCharacterSet = charset
    if level is not None:
        ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds
