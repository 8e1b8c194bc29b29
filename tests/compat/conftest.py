"""Peers for the compatibility programs: a DCMTK dcmqrscp archive holding the patient of
pynetdicom's examples (CITIZEN^Jan, ID 1234567), shared by the module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import dcmread

from tests.cli.qr_support import DCMQRSCP_AET, Dcmqrscp, start_dcmqrscp
from tests.helpers import write_ct_files

PATIENT_ID = "1234567"
PATIENT_NAME = "CITIZEN^Jan"


def citizen_files(directory: Path, count: int = 3) -> list[Path]:
    """``count`` CT files of one patient, study and series (pynetdicom's example patient)."""
    paths = write_ct_files(directory, count)
    for path in paths:
        ds = dcmread(path)
        ds.PatientID = PATIENT_ID
        ds.PatientName = PATIENT_NAME
        ds.save_as(path, enforce_file_format=True)
    return paths


@pytest.fixture(scope="module")
def archive_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return citizen_files(tmp_path_factory.mktemp("citizen"))


@pytest.fixture(scope="module")
def archive(
    tmp_path_factory: pytest.TempPathFactory, archive_files: list[Path]
) -> Iterator[Dcmqrscp]:
    """dcmqrscp titled DCMQRSCP, loaded with ``archive_files``; it knows the move destination
    MOVEDEST at 127.0.0.1:``archive.move_port``."""
    server = start_dcmqrscp(tmp_path_factory.mktemp("dcmqrscp"), archive_files)
    try:
        yield server
    finally:
        server.stop()


__all__ = ["DCMQRSCP_AET", "PATIENT_ID", "PATIENT_NAME", "citizen_files"]
