"""A small in-test archive for the Query/Retrieve tests: Part-10 files on disk, an index of their
attributes, and EVT_C_FIND / EVT_C_GET / EVT_C_MOVE handlers serving them the way a PACS does
(hierarchical matching: single value, wildcard ``*``/``?``, UID list, date range, universal).

Content (8 instances, UIDs under ``tests.helpers.TEST_UID_PREFIX``)::

    PAT001 Alpha^Anna
      study 1  20240101 "Head CT"     series 1.1 CT x3, series 1.2 CT x1
      study 2  20240315 "Chest MR"    series 2.1 MR x2   (MR Image Storage)
    PAT002 Beta^Bob
      study 3  20240220 "Abdomen CT"  series 3.1 CT x2
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
)

from dicomnet import evt
from dicomnet.qr import UNIQUE_KEYS, model_for_uid
from tests.helpers import TEST_UID_PREFIX, dataset_bytes, make_ct_dataset

ROOT = f"{TEST_UID_PREFIX}.77"

#: (PatientID, PatientName, study number, StudyDate, StudyDescription, series number,
#:  Modality, SOP class, instance count)
LAYOUT: tuple[tuple[str, str, int, str, str, int, str, str, int], ...] = (
    ("PAT001", "Alpha^Anna", 1, "20240101", "Head CT", 1, "CT", CTImageStorage, 3),
    ("PAT001", "Alpha^Anna", 1, "20240101", "Head CT", 2, "CT", CTImageStorage, 1),
    ("PAT001", "Alpha^Anna", 2, "20240315", "Chest MR", 1, "MR", MRImageStorage, 2),
    ("PAT002", "Beta^Bob", 3, "20240220", "Abdomen CT", 1, "CT", CTImageStorage, 2),
)

_SKIP = {"QueryRetrieveLevel", "SpecificCharacterSet"}


def study_uid(study: int) -> str:
    return f"{ROOT}.{study}"


def series_uid(study: int, series: int) -> str:
    return f"{ROOT}.{study}.{series}"


@dataclass(frozen=True)
class Instance:
    path: Path
    header: Dataset  # the data set without pixel data

    @property
    def sop_instance_uid(self) -> str:
        return str(self.header.SOPInstanceUID)

    def dataset_bytes(self) -> bytes:
        return dataset_bytes(self.path)


def _write(ds: Dataset, path: Path, syntax: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(syntax)
    meta.ImplementationClassUID = UID(f"{TEST_UID_PREFIX}.99")
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


class Archive:
    """The files and their index."""

    def __init__(self, instances: list[Instance]) -> None:
        self.instances = instances

    @classmethod
    def build(
        cls,
        directory: Path,
        syntaxes: Sequence[str] = (ExplicitVRLittleEndian, ImplicitVRLittleEndian),
    ) -> Archive:
        directory.mkdir(parents=True, exist_ok=True)
        instances = []
        index = 0
        for pid, name, study, date, desc, series, modality, sop_class, count in LAYOUT:
            for number in range(1, count + 1):
                ds = make_ct_dataset(100 + index)
                ds.SOPClassUID = UID(sop_class)
                ds.SOPInstanceUID = UID(f"{ROOT}.{study}.{series}.{number}")
                ds.PatientID = pid
                ds.PatientName = name
                ds.PatientBirthDate = "19800101" if pid == "PAT001" else "19751231"
                ds.StudyInstanceUID = UID(study_uid(study))
                ds.StudyDate = date
                ds.StudyDescription = desc
                ds.AccessionNumber = f"ACC{study:03d}"
                ds.StudyID = str(study)
                ds.SeriesInstanceUID = UID(series_uid(study, series))
                ds.SeriesNumber = series
                ds.Modality = modality
                ds.InstanceNumber = number
                path = directory / f"im_{index:03d}.dcm"
                _write(ds, path, syntaxes[index % len(syntaxes)])
                header = dcmread(path, stop_before_pixels=True)
                instances.append(Instance(path, header))
                index += 1
        return cls(instances)

    # --- matching ----------------------------------------------------------------------------

    def matching(self, identifier: Dataset) -> list[Instance]:
        """Instances whose attributes match every non-universal key of ``identifier``."""
        return [i for i in self.instances if matches(i.header, identifier)]

    def by_sop_instance(self, uid: str) -> Instance:
        return next(i for i in self.instances if i.sop_instance_uid == uid)

    def find(self, identifier: Dataset, levels: Sequence[str]) -> Iterator[Dataset]:
        """C-FIND responses at the identifier's level: one per entity, with the requested keys
        and the unique keys of the higher levels."""
        level = str(identifier.QueryRetrieveLevel)
        key = UNIQUE_KEYS[level][0]
        seen: set[str] = set()
        higher = [UNIQUE_KEYS[lv][0] for lv in levels[: levels.index(level)]]
        for instance in self.matching(identifier):
            value = str(instance.header.get(key, ""))
            if value in seen:
                continue
            seen.add(value)
            response = Dataset()
            response.QueryRetrieveLevel = level
            for elem in identifier:
                if elem.keyword in _SKIP:
                    continue
                if elem.keyword in instance.header:
                    response.add(instance.header[elem.keyword])
                else:
                    response.add_new(elem.tag, elem.VR, None)
            for keyword in higher:
                setattr(response, keyword, instance.header.get(keyword))
            yield response


def _text(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _match_one(pattern: str, candidate: str, vr: str) -> bool:
    if vr == "DA" and "-" in pattern:
        low, _, high = pattern.partition("-")
        return (not low or candidate >= low) and (not high or candidate <= high)
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(candidate, pattern.replace("[", "[[]"))
    return candidate == pattern


def matches(record: Dataset, identifier: Dataset) -> bool:
    for elem in identifier:
        if elem.keyword in _SKIP or elem.VR == "SQ":
            continue
        wanted = [w for w in _text(elem.value) if w != ""]
        if not wanted:
            continue  # universal matching
        if elem.keyword not in record:
            return False
        have = _text(record[elem.keyword].value)
        if not any(_match_one(w, h, elem.VR) for w in wanted for h in have):
            return False
    return True


# --- handlers ----------------------------------------------------------------------------------


def _levels(event: Any) -> Sequence[str]:
    known = model_for_uid(str(event.request.AffectedSOPClassUID))
    assert known is not None
    return known[0].levels


def find_handler(archive: Archive) -> Callable[[Any], Iterator[tuple[int, Dataset | None]]]:
    def handle_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        for response in archive.find(event.identifier, _levels(event)):
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, response

    return handle_find


def get_handler(archive: Archive, *, as_datasets: bool = False) -> Callable[[Any], Iterator[Any]]:
    def handle_get(event: Any) -> Iterator[Any]:
        found = archive.matching(event.identifier)
        yield len(found)
        for instance in found:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, dcmread(instance.path) if as_datasets else instance.path

    return handle_get


def move_handler(
    archive: Archive, destinations: dict[str, tuple[str, int]]
) -> Callable[[Any], Iterator[Any]]:
    def handle_move(event: Any) -> Iterator[Any]:
        destination = destinations.get(event.move_destination)
        if destination is None:
            yield None, None
            return
        yield destination
        found = archive.matching(event.identifier)
        yield len(found)
        for instance in found:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, instance.path

    return handle_move


# --- modality worklist ---------------------------------------------------------------------------


def worklist_items() -> list[Dataset]:
    items = []
    for number, (pid, name, modality, date, station) in enumerate(
        (
            ("PAT001", "Alpha^Anna", "CT", "20240601", "CT01"),
            ("PAT002", "Beta^Bob", "MR", "20240601", "MR01"),
            ("PAT003", "Gamma^Gus", "CT", "20240602", "CT01"),
        ),
        start=1,
    ):
        ds = Dataset()
        ds.PatientID = pid
        ds.PatientName = name
        ds.AccessionNumber = f"WL{number:03d}"
        ds.StudyInstanceUID = UID(f"{ROOT}.9.{number}")
        step = Dataset()
        step.Modality = modality
        step.ScheduledStationAETitle = station
        step.ScheduledProcedureStepStartDate = date
        step.ScheduledProcedureStepID = f"SPS{number}"
        ds.ScheduledProcedureStepSequence = DicomSequence([step])
        items.append(ds)
    return items


def worklist_handler(items: list[Dataset]) -> Callable[[Any], Iterator[tuple[int, Any]]]:
    def handle_worklist(event: Any) -> Iterator[tuple[int, Any]]:
        query = event.identifier
        step_query = None
        if "ScheduledProcedureStepSequence" in query and query.ScheduledProcedureStepSequence:
            step_query = query.ScheduledProcedureStepSequence[0]
        for item in items:
            if not matches(item, query):
                continue
            if step_query is not None and not matches(
                item.ScheduledProcedureStepSequence[0], step_query
            ):
                continue
            response = Dataset()
            for elem in query:
                if elem.keyword in item:
                    response.add(item[elem.keyword])
            yield 0xFF00, response

    return handle_worklist


# --- the receiving end ---------------------------------------------------------------------------


class Receiver:
    """An EVT_C_STORE handler keeping each received file's bytes; ``status_for`` picks the
    status per SOP Instance UID (default Success)."""

    def __init__(self, status_for: Callable[[str], int] | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.status_for = status_for or (lambda uid: 0x0000)
        self.requests: list[Any] = []
        self.associations: list[Any] = []  # each association that delivered, in order

    def __call__(self, event: Any) -> int:
        uid = event.request.AffectedSOPInstanceUID
        self.requests.append(event.request)
        if event.assoc not in self.associations:
            self.associations.append(event.assoc)
        self.files[uid] = event.encoded_dataset()
        return self.status_for(uid)

    @property
    def handlers(self) -> list[Any]:
        return [(evt.EVT_C_STORE, self)]
