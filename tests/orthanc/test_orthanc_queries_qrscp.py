"""Orthanc as the client of qrscp: Orthanc's REST API (``/modalities/{id}/query``, then the
query's ``/retrieve``) makes Orthanc send C-FIND to our qrscp and C-MOVE the matches to
itself; what Orthanc then holds is compared byte for byte with the originals."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Running, argv_for, cli_env
from tests.cli.qr_support import run
from tests.helpers import dataset_bytes, sop_instance_of
from tests.orthanc.conftest import Orthanc
from tests.qr.archive import Archive, study_uid

pytestmark = pytest.mark.interop


def rest(orthanc: Orthanc, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(orthanc.rest_url + path.lstrip("/"), data=data, method=method)
    with urllib.request.urlopen(request, timeout=60) as reply:
        text = reply.read()
    return json.loads(text) if text.strip() else None


@pytest.fixture(scope="module")
def qrscp_for_orthanc(
    orthanc: Orthanc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Running, int, Archive]]:
    base = tmp_path_factory.mktemp("qrscp-orthanc")
    archive = Archive.build(base / "source")
    argv = [
        *argv_for("qrscp"), "0", "--bind", "127.0.0.1", "-od", str(base / "archive"),
        "--move-dest", f"{orthanc.aet}=127.0.0.1:{orthanc.dicom_port}",
    ]  # fmt: skip
    server = Running(argv, base, cli_env())
    try:
        line = server.wait_for("listening on")
        port = int(line.split("listening on ", 1)[1].split()[0].rstrip(";").rsplit(":")[1])
        loaded = run("storescu", "127.0.0.1", str(port), *[i.path for i in archive.instances])
        assert loaded.returncode == 0, loaded
        rest(orthanc, "PUT", "/modalities/qr", {"AET": "QRSCP", "Host": "127.0.0.1", "Port": port})
        yield server, port, archive
    finally:
        server.stop()


def test_orthanc_queries_and_retrieves_from_qrscp(
    orthanc: Orthanc, qrscp_for_orthanc: tuple[Running, int, Archive], tmp_path: Path
) -> None:
    _server, _port, archive = qrscp_for_orthanc
    query = rest(
        orthanc,
        "POST",
        "/modalities/qr/query",
        {"Level": "Study", "Query": {"PatientName": "ALPHA*", "StudyDate": ""}},
    )
    answers = rest(orthanc, "GET", f"/queries/{query['ID']}/answers?expand")
    found = sorted(
        (a["0020,000d"]["Value"], a["0008,0020"]["Value"]) for a in answers if "0020,000d" in a
    )
    assert found == [(study_uid(1), "20240101"), (study_uid(2), "20240315")]

    rest(
        orthanc,
        "POST",
        f"/queries/{query['ID']}/retrieve",
        {"TargetAet": orthanc.aet, "Synchronous": True},
    )
    held = rest(orthanc, "GET", "/instances")
    wanted = {
        i.sop_instance_uid: i.path
        for i in archive.instances
        if str(i.header.StudyInstanceUID) in (study_uid(1), study_uid(2))
    }
    got: dict[str, bytes] = {}
    for instance in held:
        data = orthanc.rest_bytes(f"/instances/{instance}/file")
        path = tmp_path / f"{instance}.dcm"
        path.write_bytes(data)
        got[sop_instance_of(path)] = dataset_bytes(path)
    assert sorted(got) == sorted(wanted)
    for uid, original in wanted.items():
        assert got[uid] == dataset_bytes(original), uid
