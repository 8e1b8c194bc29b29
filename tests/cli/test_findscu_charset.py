"""findscu and character sets (issue 13, item 6): the query's SpecificCharacterSet is set from
the key values (ISO_IR 192 when one is not ASCII, unless --charset), and responses in any
character set are decoded and printed as they are.

``-k PatientName=山田*`` used to go out as ``??*`` (matching every patient) and ``Müller*`` in
Latin-1 bytes without a SpecificCharacterSet (matching none). Peers: DCMTK's dcmqrscp (which
converts between character sets when matching), our qrscp, and pynetdicom (the bytes of the
identifier it receives).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.cli.conftest import PynetdicomStarter
from tests.cli.qr_support import DCMQRSCP, DCMQRSCP_AET, Dcmqrscp, run, start_dcmqrscp
from tests.helpers import make_ct_dataset

pytestmark = pytest.mark.interop

#: (SpecificCharacterSet, PatientName, PatientID) of the three patients.
PEOPLE = [
    ("ISO_IR 100", "Müller^Hans", "LATIN1"),
    ("ISO_IR 192", "Ñandú^José=山田^太郎", "UTF8"),
    ("\\ISO 2022 IR 87", "Yamada^Tarou=山田^太郎=やまだ^たろう", "JIS"),
]
NAMES = {pid: name for _, name, pid in PEOPLE}


def write_people(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (charset, name, pid) in enumerate(PEOPLE):
        ds = make_ct_dataset(index)
        ds.SpecificCharacterSet = charset.split("\\") if "\\" in charset else charset
        ds.PatientName = name
        ds.PatientID = pid
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        path = directory / f"{pid}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    raw = (directory / "JIS.dcm").read_bytes()
    assert b"\x1b$B" in raw and "山田".encode() not in raw  # really ISO 2022 IR 87 on disk
    assert "Müller".encode("latin-1") in (directory / "LATIN1.dcm").read_bytes()
    return paths


@pytest.fixture(scope="module")
def dcmqrscp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dcmqrscp]:
    if not DCMQRSCP.exists():
        pytest.skip("DCMTK dcmqrscp not installed")
    directory = tmp_path_factory.mktemp("dcmqrscp")
    server = start_dcmqrscp(directory, write_people(directory / "in"))
    try:
        yield server
    finally:
        server.stop()


def find(port: int, aet: str, *args: str) -> tuple[Any, list[dict[str, Any]]]:
    result = run(
        "findscu", "127.0.0.1", str(port), "-aec", aet, "-P", "-L", "PATIENT",
        "-k", "PatientID", "-k", "PatientName", "--format", "csv", *args,
    )  # fmt: skip
    ok = result.returncode == 0 and result.stdout
    rows = list(csv.DictReader(io.StringIO(result.stdout))) if ok else []
    return result, rows


def names(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {row["PatientID"]: row["PatientName"] for row in rows}


@pytest.mark.parametrize(
    ("key", "wanted"),
    [
        ("PatientName=Müller*", {"LATIN1"}),  # stored in Latin-1, asked in UTF-8
        ("PatientName=Ñandú*", {"UTF8"}),
        ("PatientName=*山田*", {"UTF8"}),  # used to be *??*: every patient
        ("PatientID=JIS", {"JIS"}),
        ("PatientName=*", {"LATIN1", "UTF8", "JIS"}),
    ],
)
def test_dcmqrscp_matches_and_every_name_prints_right(
    dcmqrscp: Dcmqrscp, key: str, wanted: set[str]
) -> None:
    result, rows = find(dcmqrscp.port, DCMQRSCP_AET, "-k", key)
    assert result.returncode == 0, result
    assert names(rows) == {pid: NAMES[pid] for pid in wanted}


def test_dcmqrscp_with_an_explicit_charset(dcmqrscp: Dcmqrscp) -> None:
    result, rows = find(dcmqrscp.port, DCMQRSCP_AET, "--charset", "ISO_IR 100",
                        "-k", "PatientName=Müller*")  # fmt: skip
    assert result.returncode == 0, result
    assert names(rows) == {"LATIN1": "Müller^Hans"}
    text = run("findscu", "127.0.0.1", str(dcmqrscp.port), "-aec", DCMQRSCP_AET, "-P",
               "-L", "PATIENT", "-k", "PatientID=JIS", "-k", "PatientName",
               "--format", "text")  # fmt: skip
    assert text.returncode == 0, text
    assert "Yamada^Tarou=山田^太郎=やまだ^たろう" in text.stdout


def test_our_qrscp(tmp_path: Path) -> None:
    from tests.cli.qr_support import Spawned

    spawned = Spawned(tmp_path)
    try:
        scp = spawned("qrscp", "0", "--bind", "127.0.0.1", "-od", tmp_path / "store")
        line = scp.wait_for("listening on")
        port = int(line.split("listening on ", 1)[1].split()[0].rstrip(";,").rsplit(":")[1])
        stored = run("storescu", "127.0.0.1", str(port), "-aec", "QRSCP",
                     *map(str, write_people(tmp_path / "in")))  # fmt: skip
        assert stored.returncode == 0, stored
        for key, wanted in (
            ("PatientName=Müller*", {"LATIN1"}),
            ("PatientName=*山田*", {"UTF8", "JIS"}),
            ("PatientName=やまだ*", set()),  # the phonetic group is not the start of the name
            ("PatientName=*", {"LATIN1", "UTF8", "JIS"}),
        ):
            result, rows = find(port, "QRSCP", "-k", key)
            assert result.returncode == 0, result
            assert names(rows) == {pid: NAMES[pid] for pid in wanted}, key
    finally:
        spawned.close()


def test_the_identifier_on_the_wire(pynetdicom_scp: PynetdicomStarter) -> None:
    """Bytes pynetdicom receives: SpecificCharacterSet and the name in its encoding."""
    import pynetdicom

    raw: list[bytes] = []

    def on_find(event: Any) -> Iterator[tuple[int, Dataset | None]]:
        raw.append(event.request.Identifier.getvalue())
        yield 0x0000, None

    find_class = "1.2.840.10008.5.1.4.1.2.1.1"
    _, port = pynetdicom_scp([(pynetdicom.evt.EVT_C_FIND, on_find)], contexts=[find_class])
    for args, name, charset in (
        ([], "Müller*".encode(), b"ISO_IR 192"),
        (["--charset", "ISO_IR 100"], "Müller*".encode("latin-1"), b"ISO_IR 100"),
        (["--charset", "\\ISO 2022 IR 87"], "山田*".encode("iso2022_jp"), b"\\ISO 2022 IR 87"),
    ):
        key = "PatientName=山田*" if b"2022" in charset else "PatientName=Müller*"
        result, _rows = find(port, "PYSCP", "-k", key, *args)
        assert result.returncode == 0, result
        assert charset in raw[-1] and name in raw[-1], raw[-1]
    plain, _ = find(port, "PYSCP", "-k", "PatientName=Smith*")
    assert plain.returncode == 0 and b"\x08\x00\x05\x00" not in raw[-1]  # ASCII: none needed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--charset", "ISO_IR 999"], "unknown character set"),
        (["--charset", "ISO_IR 100", "-k", "PatientName=山田*"], "cannot be written in ISO_IR 100"),
    ],
)
def test_a_charset_that_cannot_work_exits_2(args: list[str], message: str) -> None:
    result = run("findscu", "127.0.0.1", "9", "-k", "PatientName=Müller*", *args)
    assert result.returncode == 2, result
    assert message in result.stderr
