"""findscu's character sets against Orthanc (issue 13, item 6): Latin-1, UTF-8 and ISO 2022 IR
87 names stored by our storescu, found by non-ASCII keys (the query goes out as ISO_IR 192) and
printed as they are, in whatever character set Orthanc answers: its DefaultEncoding, Latin1
out of the box (where the ideographic groups cannot be written: Orthanc drops them), UTF-8 once
set so."""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest

from tests.cli.qr_support import run
from tests.cli.test_findscu_charset import NAMES, find, names, write_people
from tests.orthanc.conftest import Orthanc

pytestmark = pytest.mark.interop


def default_encoding(orthanc: Orthanc, encoding: str) -> None:
    """Orthanc's DefaultEncoding, set through its REST API; returns once Orthanc answers C-ECHO
    and reports the new encoding (the change may restart its servers)."""
    request = urllib.request.Request(
        orthanc.rest_url + "tools/default-encoding", data=encoding.encode(), method="PUT"
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200
    deadline = time.monotonic() + 30
    while True:
        try:
            if orthanc.rest_bytes("tools/default-encoding").decode().strip() == encoding:
                echo = run("echoscu", "127.0.0.1", str(orthanc.dicom_port), "-aec", orthanc.aet)
                if echo.returncode == 0:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"Orthanc did not come back:\n{orthanc.log()[-2000:]}"
        threading.Event().wait(0.2)


@pytest.fixture(scope="module")
def people(orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory) -> Orthanc:
    """Orthanc with the three patients, answering in UTF-8 (after its Latin1 default is seen)."""
    files = write_people(tmp_path_factory.mktemp("people"))
    stored = run("storescu", "127.0.0.1", str(orthanc.dicom_port), "-aec", orthanc.aet,
                 *map(str, files))  # fmt: skip
    assert stored.returncode == 0, stored
    # Out of the box Orthanc answers in Latin1 (ISO_IR 100): a name that fits prints right;
    # the ideographic groups that do not are dropped by Orthanc itself.
    result, rows = find(orthanc.dicom_port, orthanc.aet, "-k", "PatientName=*",
                        "-k", "SpecificCharacterSet")  # fmt: skip
    assert result.returncode == 0, result
    assert {row["SpecificCharacterSet"] for row in rows} == {"ISO_IR 100"}
    assert names(rows)["LATIN1"] == "Müller^Hans"
    assert names(rows)["UTF8"] == "Ñandú^José=^"
    default_encoding(orthanc, "Utf8")
    return orthanc


@pytest.mark.parametrize(
    ("key", "wanted"),
    [
        ("PatientName=Müller*", {"LATIN1"}),
        ("PatientName=Ñandú*", {"UTF8"}),
        ("PatientID=JIS", {"JIS"}),
        ("PatientName=*", {"LATIN1", "UTF8", "JIS"}),
    ],
)
def test_orthanc_finds_and_names_print_right(people: Orthanc, key: str, wanted: set[str]) -> None:
    result, rows = find(people.dicom_port, people.aet, "-k", key)
    assert result.returncode == 0, result
    assert names(rows) == {pid: NAMES[pid] for pid in wanted}
