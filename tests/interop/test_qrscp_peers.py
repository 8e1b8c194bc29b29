"""qrscp with real peers: loaded by DCMTK's storescu, queried by DCMTK's findscu (results
compared with DCMTK's dcmqrscp loaded with the same files), retrieved by DCMTK's getscu and
movescu (DCMTK's storescp as the move destination) and by pynetdicom's SCUs; every retrieved
file is compared byte for byte with the original."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from tests.archive.content import build_all, extra_study_uid
from tests.cli.conftest import Running, argv_for, cli_env
from tests.cli.qr_support import Dcmqrscp, assert_same_files, files_under, start_dcmqrscp
from tests.helpers import (
    STORESCU,
    dataset_bytes,
    free_port,
    run_dcmtk,
    sop_instance_of,
    transfer_syntax_of,
)
from tests.qr.archive import series_uid, study_uid

pytestmark = pytest.mark.interop

FINDSCU = "/usr/bin/findscu"
GETSCU = "/usr/bin/getscu"
MOVESCU = "/usr/bin/movescu"


class Servers:
    def __init__(
        self, qrscp: Running, port: int, dcmqrscp: Dcmqrscp, files: list[Path], move_port: int
    ) -> None:
        self.qrscp = qrscp
        self.port = port
        self.dcmqrscp = dcmqrscp
        self.files = files
        #: where qrscp sends C-MOVEs for DCMTKDEST and PYDEST
        self.move_port = move_port


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Our qrscp and DCMTK's dcmqrscp, both loaded by DCMTK's storescu with the same files."""
    base = tmp_path_factory.mktemp("qrscp-peers")
    archive, extras = build_all(base / "source")
    files = [i.path for i in archive.instances] + extras
    move_port = free_port()
    argv = [
        *argv_for("qrscp"), "0", "--bind", "127.0.0.1", "-od", str(base / "archive"),
        "--move-dest", f"DCMTKDEST=127.0.0.1:{move_port}",
        "--move-dest", f"PYDEST=127.0.0.1:{move_port}",
    ]  # fmt: skip
    qrscp = Running(argv, base, cli_env())
    dcmqrscp: Dcmqrscp | None = None
    try:
        line = qrscp.wait_for("listening on")
        port = int(line.split("listening on ", 1)[1].split()[0].rstrip(";").rsplit(":")[1])
        loaded = run_dcmtk(STORESCU, "-aec", "QRSCP", "127.0.0.1", str(port), *files)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        dcmqrscp = start_dcmqrscp(base / "dcmqrscp", files)
        yield Servers(qrscp, port, dcmqrscp, files, move_port)
    finally:
        qrscp.stop()
        if dcmqrscp is not None:
            dcmqrscp.stop()


def find_with_dcmtk(
    port: int, called: str, keys: list[str], out: Path, model: str = "-S"
) -> list[Dataset]:
    out.mkdir(parents=True, exist_ok=True)
    args: list[str] = []
    for key in keys:
        args += ["-k", key]
    result = run_dcmtk(
        FINDSCU, model, "-aec", called, *args, "-X", "-od", out, "127.0.0.1", str(port)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [dcmread(p) for p in sorted(out.glob("rsp*.dcm"))]


def summary(found: list[Dataset], keywords: list[str]) -> list[tuple[str, ...]]:
    return sorted(tuple(str(d.get(k, "")) for k in keywords) for d in found)


QUERIES: list[tuple[str, list[str], list[str]]] = [
    (
        "-S",
        [
            "QueryRetrieveLevel=STUDY",
            "StudyInstanceUID",
            "PatientName",
            "StudyDate=20240101-20240301",
        ],
        ["StudyInstanceUID", "PatientName", "StudyDate"],
    ),
    (
        "-S",
        [
            "QueryRetrieveLevel=STUDY",
            "StudyInstanceUID",
            "PatientID=PAT*",
            "AccessionNumber",
            "StudyDescription",
        ],
        ["StudyInstanceUID", "PatientID", "AccessionNumber", "StudyDescription"],
    ),
    (
        "-S",
        [
            "QueryRetrieveLevel=STUDY",
            f"StudyInstanceUID={study_uid(1)}\\{extra_study_uid(12)}",
            "PatientID",
        ],
        ["StudyInstanceUID", "PatientID"],
    ),
    (
        "-S",
        [
            "QueryRetrieveLevel=STUDY",
            "StudyInstanceUID",
            "StudyDescription=*CT",
            "StudyDate=-20240201",
        ],
        ["StudyInstanceUID", "StudyDescription", "StudyDate"],
    ),
    (
        "-S",
        [
            "QueryRetrieveLevel=SERIES",
            f"StudyInstanceUID={study_uid(1)}",
            "SeriesInstanceUID",
            "Modality",
            "SeriesNumber",
        ],
        ["SeriesInstanceUID", "Modality", "SeriesNumber"],
    ),
    (
        "-P",
        ["QueryRetrieveLevel=PATIENT", "PatientID", "PatientName=Beta*"],
        ["PatientID", "PatientName"],
    ),
    (
        "-P",
        [
            "QueryRetrieveLevel=IMAGE",
            "PatientID=PAT001",
            f"StudyInstanceUID={study_uid(1)}",
            f"SeriesInstanceUID={series_uid(1, 1)}",
            "SOPInstanceUID",
            "InstanceNumber",
        ],
        ["SOPInstanceUID", "InstanceNumber"],
    ),
    (
        "-S",
        ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "PatientID=A_B"],
        ["StudyInstanceUID", "PatientID"],
    ),
    (
        "-S",
        [
            "QueryRetrieveLevel=STUDY",
            "StudyInstanceUID",
            "StudyTime=0800-1000",
            "StudyDate=20230101-20231231",
        ],
        ["StudyInstanceUID", "StudyTime"],
    ),
]


@pytest.mark.parametrize(("model", "keys", "compared"), QUERIES)
def test_findscu_answers_as_dcmqrscp_does(
    servers: Servers, tmp_path: Path, model: str, keys: list[str], compared: list[str]
) -> None:
    ours = find_with_dcmtk(servers.port, "QRSCP", keys, tmp_path / "ours", model)
    theirs = find_with_dcmtk(servers.dcmqrscp.port, "DCMQRSCP", keys, tmp_path / "theirs", model)
    assert ours, "no matches: the query should have some"
    assert summary(ours, compared) == summary(theirs, compared)


def test_dcmtk_getscu_retrieves_byte_for_byte(servers: Servers, tmp_path: Path) -> None:
    out = tmp_path / "got"
    out.mkdir()
    result = run_dcmtk(
        GETSCU, "-S", "-aec", "QRSCP", "-k", "QueryRetrieveLevel=STUDY",
        "-k", f"StudyInstanceUID={study_uid(1)}", "-od", out, "127.0.0.1", str(servers.port),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    want = [p for p in servers.files if str(dcmread(p).StudyInstanceUID) == study_uid(1)]
    assert_same_or_reencoded(files_under(out), want)


def assert_same_or_reencoded(received: list[Path], originals: list[Path]) -> None:
    """DCMTK's getscu accepts one transfer syntax per storage context (Explicit VR LE): files
    kept in it arrive byte for byte, Implicit VR ones re-encoded with the same content."""
    got = {sop_instance_of(p): p for p in received}
    assert sorted(got) == sorted(sop_instance_of(p) for p in originals)
    exact = 0
    for original in originals:
        copy = got[sop_instance_of(original)]
        if transfer_syntax_of(copy) == transfer_syntax_of(original):
            assert dataset_bytes(copy) == dataset_bytes(original), copy
            exact += 1
        else:
            assert dcmread(copy) == dcmread(original), copy
    assert exact > 0


def test_dcmtk_movescu_to_dcmtk_storescp(servers: Servers, tmp_path: Path) -> None:
    # qrscp knows DCMTKDEST at the port chosen when it started
    receiver = _storescp_on(tmp_path, servers.move_port)
    try:
        result = run_dcmtk(
            MOVESCU, "-S", "-aec", "QRSCP", "-aem", "DCMTKDEST", "-k", "QueryRetrieveLevel=SERIES",
            "-k", f"StudyInstanceUID={study_uid(2)}", "-k", f"SeriesInstanceUID={series_uid(2, 1)}",
            "127.0.0.1", str(servers.port),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        want = [p for p in servers.files if str(dcmread(p).StudyInstanceUID) == study_uid(2)]
        assert_same_files(files_under(tmp_path / "dest"), want)
    finally:
        receiver.stop()


def _storescp_on(workdir: Path, port: int) -> Any:
    import subprocess

    from tests.helpers import STORESCP, DcmtkStorescp, dcmtk_env, wait_listening

    out = workdir / "dest"
    out.mkdir(exist_ok=True)
    log = workdir / "dest.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [STORESCP, "-aet", "DCMTKDEST", "-od", str(out), str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dcmtk_env(),
        )
    server = DcmtkStorescp(process, port, out, log)
    wait_listening(process, "127.0.0.1", port)
    return server


def test_pynetdicom_find_get_and_move(servers: Servers, tmp_path: Path) -> None:
    import pynetdicom
    from pynetdicom import evt as pevt
    from pynetdicom.sop_class import (  # type: ignore[attr-defined]
        CTImageStorage,
        StudyRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelGet,
        StudyRootQueryRetrieveInformationModelMove,
    )

    received: dict[str, bytes] = {}

    def on_store(event: Any) -> int:
        received[str(event.request.AffectedSOPInstanceUID)] = event.encoded_dataset()
        return 0x0000

    ae = pynetdicom.AE(ae_title="PYDEST")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    # one context per transfer syntax, so that every file can come as it is kept
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
    ae.add_requested_context(CTImageStorage, "1.2.840.10008.1.2")
    role = pynetdicom.build_role(CTImageStorage, scp_role=True)
    assoc = ae.associate(
        "127.0.0.1", servers.port, ae_title="QRSCP", ext_neg=[role],
        evt_handlers=[(pevt.EVT_C_STORE, on_store)],
    )  # fmt: skip
    assert assoc.is_established
    try:
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        query.PatientName = "beta*"
        found = [
            ident
            for status, ident in assoc.send_c_find(
                query, StudyRootQueryRetrieveInformationModelFind
            )
            if status and status.Status in (0xFF00, 0xFF01)
        ]
        assert [d.StudyInstanceUID for d in found if d is not None] == [study_uid(3)]
        get = Dataset()
        get.QueryRetrieveLevel = "STUDY"
        get.StudyInstanceUID = study_uid(3)
        statuses = [
            s.Status
            for s, _i in assoc.send_c_get(get, StudyRootQueryRetrieveInformationModelGet)
            if s
        ]
        assert statuses[-1] == 0x0000
    finally:
        assoc.release()
    want = [p for p in servers.files if str(dcmread(p).StudyInstanceUID) == study_uid(3)]
    got_dir = tmp_path / "pyget"
    got_dir.mkdir()
    for uid, data in received.items():
        (got_dir / f"{uid}.dcm").write_bytes(data)
    assert_same_files(files_under(got_dir), want)

    # C-MOVE to pynetdicom's storage SCP listening on the PYDEST port
    moved: dict[str, bytes] = {}

    def on_moved(event: Any) -> int:
        moved[str(event.request.AffectedSOPInstanceUID)] = event.encoded_dataset()
        return 0x0000

    dest = pynetdicom.AE(ae_title="PYDEST")
    dest.add_supported_context(CTImageStorage, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    server = dest.start_server(
        ("127.0.0.1", servers.move_port), block=False, evt_handlers=[(pevt.EVT_C_STORE, on_moved)]
    )
    assert server is not None
    try:
        assoc = ae.associate("127.0.0.1", servers.port, ae_title="QRSCP")
        assert assoc.is_established
        with contextlib.closing(_Releaser(assoc)):
            statuses = [
                s.Status
                for s, _i in assoc.send_c_move(
                    get, "PYDEST", StudyRootQueryRetrieveInformationModelMove
                )
                if s
            ]
        assert statuses[-1] == 0x0000
    finally:
        server.shutdown()
    moved_dir = tmp_path / "pymove"
    moved_dir.mkdir()
    for uid, data in moved.items():
        (moved_dir / f"{uid}.dcm").write_bytes(data)
    assert_same_files(files_under(moved_dir), want)


class _Releaser:
    def __init__(self, assoc: Any) -> None:
        self.assoc = assoc

    def close(self) -> None:
        self.assoc.release()


def test_pynetdicom_relational_query_only_when_negotiated(servers: Servers) -> None:
    """A relational query (SERIES level, no StudyInstanceUID) from pynetdicom: refused with
    0xA900 on an association that did not negotiate relational queries, answered on one
    whose SOP Class Extended Negotiation asked for them (and qrscp accepted: PS3.4 C.5.1.1)."""
    import pynetdicom
    from pynetdicom.pdu_primitives import SOPClassExtendedNegotiation
    from pynetdicom.sop_class import (  # type: ignore[attr-defined]
        StudyRootQueryRetrieveInformationModelFind as FIND,
    )

    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.SeriesInstanceUID = ""
    query.Modality = "MR"

    def ask(ext_neg: list[Any]) -> tuple[list[tuple[int, str]], list[Any], bytes | None]:
        ae = pynetdicom.AE(ae_title="PYSCU")
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
        ae.add_requested_context(FIND)
        assoc = ae.associate("127.0.0.1", servers.port, ae_title="QRSCP", ext_neg=ext_neg)
        assert assoc.is_established
        try:
            accepted = assoc.acceptor.sop_class_extended  # {uid: app info}
            answers = [
                (int(s.Status), str(s.get("ErrorComment", "")))
                for s, _i in assoc.send_c_find(query, FIND)
            ]
            found = [
                i for s, i in assoc.send_c_find(query, FIND) if s and s.Status in (0xFF00, 0xFF01)
            ]
        finally:
            assoc.release()
        return answers, found, (accepted or {}).get(FIND)

    answers, found, accepted = ask([])
    assert answers == [(0xA900, "StudyInstanceUID missing: relational queries not negotiated")]
    assert found == [] and accepted is None
    item = SOPClassExtendedNegotiation()
    item.sop_class_uid = FIND
    item.service_class_application_information = b"\x01"
    answers, found, accepted = ask([item])
    assert accepted == b"\x01"
    assert answers[-1] == (0x0000, "")
    assert [(d.SeriesInstanceUID, d.StudyInstanceUID) for d in found] == [
        (series_uid(2, 1), study_uid(2))
    ]


def test_dcmtk_relational_query_refused_as_dcmqrscp_does(servers: Servers, tmp_path: Path) -> None:
    """DCMTK's findscu cannot negotiate relational queries: a SERIES-level query without
    StudyInstanceUID is refused by qrscp, as by dcmqrscp (which has no relational queries at
    all), with no match."""
    outcomes = []
    for port, called in ((servers.port, "QRSCP"), (servers.dcmqrscp.port, "DCMQRSCP")):
        out = tmp_path / called
        out.mkdir()
        result = run_dcmtk(
            FINDSCU, "-v", "-S", "-aec", called, "-k", "QueryRetrieveLevel=SERIES",
            "-k", "SeriesInstanceUID", "-k", "Modality=MR", "-X", "-od", out,
            "127.0.0.1", str(port),
        )  # fmt: skip
        text = result.stdout + result.stderr
        final = [line for line in text.splitlines() if "Received Final Find Response" in line]
        outcomes.append((list(out.glob("rsp*.dcm")), final))
    # no match from either; dcmqrscp says 0xC0xx "unable to process", qrscp the 0xA900 of
    # PS3.4 C.4.1.1.4 (Identifier does not match SOP Class)
    assert outcomes == [
        ([], ["I: Received Final Find Response (Error: DataSetDoesNotMatchSOPClass)"]),
        ([], ["I: Received Final Find Response (Failed: UnableToProcess)"]),
    ], outcomes


def test_dcmtk_findscu_sequence_matching(servers: Servers, tmp_path: Path) -> None:
    """DCMTK's findscu with a sequence key (PS3.4 C.2.2.2.6) against qrscp, loaded by DCMTK's
    storescu: the study whose Procedure Code Sequence has a matching item, with that item
    only. (dcmqrscp has no sequence matching to compare with.)"""
    found = find_with_dcmtk(
        servers.port,
        "QRSCP",
        [
            "QueryRetrieveLevel=STUDY",
            "StudyInstanceUID",
            "ProcedureCodeSequence[0].CodeValue=XR22",
            "ProcedureCodeSequence[0].CodeMeaning",
        ],
        tmp_path / "seq",
    )
    assert [
        (d.StudyInstanceUID, [(c.CodeValue, c.CodeMeaning) for c in d.ProcedureCodeSequence])
        for d in found
    ] == [(extra_study_uid(10), [("XR22", "Röntgen Knie")])]
