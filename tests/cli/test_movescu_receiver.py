"""movescu's own receiver (``--store-port``) takes files only from the SCP we move from
(issue 10, item 7): it listens on the address the association goes out from, not on every
interface, accepts only the peer's AE title (``-aec`` or ``--accept-from``), and an intruder
makes the command exit 6. It used to write a third party's file into ``-od`` and exit 0."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomnet import AE, evt
from dicomnet.sop_class import CTImageStorage
from tests.cli.qr_support import files_under, run
from tests.conftest import ServerFactory
from tests.helpers import free_port, write_ct_file
from tests.qr.archive import Archive, move_handler, study_uid
from tests.qr.conftest import qr_scp_ae

pytestmark = pytest.mark.interop


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive.build(tmp_path / "archive")


def intruding(
    archive: Archive, port: int, intruder_file: Path, seen: list[str]
) -> Callable[[Any], Iterator[Any]]:
    """A C-MOVE handler that, before the sub-operations, lets a third party try the receiver:
    on another loopback address (not listened on) and as another AE title (rejected)."""
    serve = move_handler(archive, {"MOVEDEST": ("127.0.0.1", port)})

    def handle(event: Any) -> Iterator[Any]:
        intruder = AE("INTRUDER")
        intruder.acse_timeout = intruder.connection_timeout = 5
        intruder.add_requested_context(CTImageStorage)
        elsewhere = intruder.associate("127.0.0.2", port, ae_title="MOVEDEST")
        seen.append("refused" if elsewhere.connect_error is not None else "connected")
        assoc = intruder.associate("127.0.0.1", port, ae_title="MOVEDEST")
        if assoc.is_established:
            seen.append(f"stored 0x{assoc.send_c_store(str(intruder_file)).Status:04X}")
            assoc.release()
        else:
            seen.append("rejected" if assoc.is_rejected else "failed")
        yield from serve(event)

    return handle


def test_receiver_refuses_a_third_party(
    dicomnet_server: ServerFactory, archive: Archive, tmp_path: Path
) -> None:
    port = free_port()
    intruder_file = write_ct_file(tmp_path / "intruder.dcm", 999, "1.2.840.10008.1.2.1")
    seen: list[str] = []
    server = dicomnet_server(
        [(evt.EVT_C_MOVE, intruding(archive, port, intruder_file, seen))], ae=qr_scp_ae()
    )
    out = tmp_path / "out"
    result = run(
        "movescu",
        "127.0.0.1",
        str(server.server_address[1]),
        "-aec",
        "QRSCP",
        "-aem",
        "MOVEDEST",
        "--store-port",
        str(port),
        "-od",
        out,
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
    )
    assert seen == ["refused", "rejected"]
    assert result.returncode == 6, result
    assert "refused 1 unexpected association(s): 'INTRUDER' at 127.0.0.1" in result.stderr
    assert "completed 4, failed 0" in result.stderr  # the move itself went through
    assert len(files_under(out)) == 4  # and only its files were written


def test_accept_from_names_the_sender(
    dicomnet_server: ServerFactory, archive: Archive, tmp_path: Path
) -> None:
    port = free_port()
    server = dicomnet_server(
        [(evt.EVT_C_MOVE, move_handler(archive, {"MOVEDEST": ("127.0.0.1", port)}))],
        ae=qr_scp_ae(),
    )
    common = [
        "movescu",
        "127.0.0.1",
        str(server.server_address[1]),
        "-aec",
        "ANY-SCP",  # what we call the peer is not the title it sends with
        "-aem",
        "MOVEDEST",
        "--store-port",
        str(port),
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
    ]
    refused = run(*common, "-od", tmp_path / "a")
    assert refused.returncode == 6, refused
    assert files_under(tmp_path / "a") == []
    accepted = run(*common, "--accept-from", "QRSCP", "-od", tmp_path / "b")
    assert accepted.returncode == 0, accepted
    assert len(files_under(tmp_path / "b")) == 4
