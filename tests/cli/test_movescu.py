"""movescu as a user runs it: against our own Q/R SCP (the in-test archive of tests/qr) moving
to movescu's own receiver (``--store-port``) or to DCMTK's storescp, and against DCMTK's
dcmqrscp. Received files are compared byte for byte with the originals."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomnet import AssociationServer, evt
from tests.cli.conftest import CliResult, closed_port
from tests.cli.qr_support import (
    DCMQRSCP,
    DCMQRSCP_AET,
    Dcmqrscp,
    assert_same_files,
    files_under,
    run,
    start_dcmqrscp,
)
from tests.conftest import ServerFactory, StorescpFactory
from tests.helpers import free_port, sop_instance_of, transfer_syntax_of
from tests.qr.archive import Archive, move_handler, series_uid, study_uid
from tests.qr.conftest import qr_scp_ae

pytestmark = pytest.mark.interop

StartSCP = Callable[..., AssociationServer]


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive.build(tmp_path / "archive")


@pytest.fixture
def qr_scp(dicomnet_server: ServerFactory, archive: Archive) -> StartSCP:
    """``qr_scp(destinations={AE: (host, port)}, move=handler)`` starts our Q/R SCP; by default
    C-MOVE serves the archive to the destinations it knows."""

    def start(
        destinations: dict[str, tuple[str, int]] | None = None,
        move: Callable[[Any], Any] | None = None,
    ) -> AssociationServer:
        handler = move or move_handler(archive, destinations or {})
        return dicomnet_server([(evt.EVT_C_MOVE, handler)], ae=qr_scp_ae())

    return start


def movescu(port: AssociationServer | int, *args: str | os.PathLike[str]) -> CliResult:
    number = port if isinstance(port, int) else port.server_address[1]
    return run("movescu", "127.0.0.1", str(number), "-aec", "QRSCP", *args)


def files_of(archive: Archive, study: int, series: int | None = None) -> list[Path]:
    return [
        i.path
        for i in archive.instances
        if str(i.header.StudyInstanceUID) == study_uid(study)
        and (series is None or str(i.header.SeriesInstanceUID) == series_uid(study, series))
    ]


def test_store_port_receives_byte_for_byte(
    qr_scp: StartSCP, archive: Archive, tmp_path: Path
) -> None:
    port = free_port()
    server = qr_scp({"MOVEDEST": ("127.0.0.1", port)})
    out = tmp_path / "out"
    result = movescu(
        server,
        "-aem",
        "MOVEDEST",
        "--store-port",
        str(port),
        "-od",
        out,
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
    )
    assert result.returncode == 0, result
    assert_same_files(files_under(out), files_of(archive, 1))
    assert "movescu: completed 4, failed 0, warning 0" in result.stderr
    assert "movescu: 4 file(s) written" in result.stderr


def test_move_to_dcmtk_storescp(
    qr_scp: StartSCP, archive: Archive, dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    receiver = dcmtk_storescp(output_dir=tmp_path / "storescp", ae_title="DCMTKDEST")
    server = qr_scp({"DCMTKDEST": ("127.0.0.1", receiver.port)})
    result = movescu(
        server,
        "-aem",
        "DCMTKDEST",
        "-L",
        "SERIES",
        "-k",
        f"StudyInstanceUID={study_uid(2)}",
        "-k",
        f"SeriesInstanceUID={series_uid(2, 1)}",
    )
    assert result.returncode == 0, result
    assert "movescu: completed 2, failed 0, warning 0" in result.stderr
    assert_same_files(receiver.files(), files_of(archive, 2, 1))


def test_failed_sub_operation_exits_6_with_counts(
    qr_scp: StartSCP, archive: Archive, tmp_path: Path
) -> None:
    port = free_port()
    good = files_of(archive, 3)

    def one_missing(event: Any) -> Iterator[Any]:
        yield "127.0.0.1", port
        yield 3
        yield 0xFF00, good[0]
        yield 0xFF00, tmp_path / "gone.dcm"
        yield 0xFF00, good[1]

    out = tmp_path / "out"
    result = movescu(
        qr_scp(move=one_missing),
        "-aem",
        "MOVEDEST",
        "--store-port",
        str(port),
        "-od",
        out,
        "-k",
        f"StudyInstanceUID={study_uid(3)}",
    )
    assert result.returncode == 6, result
    assert "movescu: completed 2, failed 1, warning 0" in result.stderr, result
    assert "0xB000" in result.stderr
    assert_same_files(files_under(out), good)


def test_unknown_destination_exits_6_with_the_meaning(qr_scp: StartSCP, tmp_path: Path) -> None:
    result = movescu(
        qr_scp({"MOVEDEST": ("127.0.0.1", closed_port())}),
        "-aem",
        "STRANGER",
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
    )
    assert result.returncode == 6, result
    errors = [line for line in result.stderr_lines if "error" in line]
    assert len(errors) == 1, result
    assert "0xA801" in errors[0] and "destination unknown" in errors[0].lower(), result


def test_destination_not_listening_exits_6(qr_scp: StartSCP) -> None:
    result = movescu(
        qr_scp({"MOVEDEST": ("127.0.0.1", closed_port())}),
        "-aem",
        "MOVEDEST",
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
    )
    assert result.returncode == 6, result
    assert "0xA801" in result.stderr, result


def test_store_port_in_use_exits_3(qr_scp: StartSCP, tmp_path: Path) -> None:
    """The receiver listens once the association with the peer is up (on its local address)."""
    with socket.create_server(("0.0.0.0", 0)) as taken:
        port = taken.getsockname()[1]
        result = movescu(
            qr_scp(),
            "--store-port",
            str(port),
            "-od",
            tmp_path / "out",
            "-k",
            "StudyInstanceUID=1.2.3",
        )
    assert result.returncode == 3, result
    assert len(result.stderr_lines) == 1, result
    assert result.stderr_lines[0].startswith(
        f"movescu: error: cannot listen on 127.0.0.1:{port}"
    ), result


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-k", "StudyInstanceUID=1.2.3"], "give the destination AE title with -aem"),
        (["-aem", "BAD\\AE", "-k", "StudyInstanceUID=1.2.3"], "invalid --move-aet"),
        (["-aem", "DEST", "-k", "PatientName[0].X"], "PatientName is not a sequence"),
        (["-aem", "DEST", "-L", "IMAGE", "-k", "SOPInstanceUID=1.2"], "needs StudyInstanceUID"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], says: str) -> None:
    result = movescu(closed_port(), *args)
    assert result.returncode == 2, result
    assert len(result.stderr_lines) == 1, result
    assert result.stderr_lines[0].startswith("movescu: error:") and says in result.stderr, result


@pytest.fixture
def dcmqrscp(tmp_path: Path, archive: Archive) -> Iterator[Dcmqrscp]:
    """DCMTK's dcmqrscp loaded with the archive's files; it knows MOVEDEST at
    ``dcmqrscp.move_port``."""
    if not DCMQRSCP.is_file():
        pytest.skip(f"DCMTK dcmqrscp is not installed ({DCMQRSCP})")
    server = start_dcmqrscp(tmp_path / "dcmqrscp", [i.path for i in archive.instances])
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "port_option",
    [
        ["--store-port"],
        ["+P"],  # DCMTK's name
        ["-xi", "+P"],  # the C-MOVE context proposed in Implicit VR LE only
    ],
)
def test_against_dcmtk_dcmqrscp(
    dcmqrscp: Dcmqrscp, archive: Archive, tmp_path: Path, port_option: list[str]
) -> None:
    out = tmp_path / "out"
    result = run(
        "movescu",
        "127.0.0.1",
        str(dcmqrscp.port),
        "-aec",
        DCMQRSCP_AET,
        "-aem",
        "MOVEDEST",
        *port_option,
        str(dcmqrscp.move_port),
        "-od",
        out,
        "-P",
        "-L",
        "PATIENT",
        "-k",
        "PatientID=PAT002",
    )
    assert result.returncode == 0, result
    # the files arrive exactly as dcmqrscp holds them
    wanted = {sop_instance_of(p) for p in files_of(archive, 3)}
    held = [p for p in files_under(dcmqrscp.storage) if p.suffix == ".dcm"]
    assert_same_files(files_under(out), [p for p in held if sop_instance_of(p) in wanted])
    assert "movescu: completed 2, failed 0, warning 0" in result.stderr


@pytest.mark.parametrize(
    ("accept", "syntax"),
    [(["+xi"], "1.2.840.10008.1.2"), (["--prefer-ts", "big"], "1.2.840.10008.1.2.2")],
)
def test_the_receiver_takes_storescps_acceptance_options(
    dcmqrscp: Dcmqrscp, archive: Archive, tmp_path: Path, accept: list[str], syntax: str
) -> None:
    """movescu's receiver accepts what +x=/+xe/+xb/+xd/+xi/+xa/--prefer-ts say, as storescp:
    with +xi (Implicit VR LE only) dcmqrscp converts and sends Implicit VR."""
    out = tmp_path / "out"
    result = run("movescu", "127.0.0.1", str(dcmqrscp.port), "-aec", DCMQRSCP_AET,
                 "-aem", "MOVEDEST", "+P", str(dcmqrscp.move_port), *accept, "-od", out,
                 "-P", "-L", "PATIENT", "-k", "PatientID=PAT002")  # fmt: skip
    assert result.returncode == 0, result
    received = files_under(out)
    assert len(received) == 2
    assert {transfer_syntax_of(p) for p in received} == {syntax}
