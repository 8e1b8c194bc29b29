"""getscu as a user runs it: against our own Q/R SCP (handlers backed by the in-test archive of
tests/qr, or hostile ones) and against DCMTK's dcmqrscp. Retrieved files are compared byte for
byte with the archive's."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import UID

from dicomnet import AssociationServer, evt
from tests.cli.conftest import AbortingPeer, CliResult, closed_port
from tests.cli.qr_support import (
    DCMQRSCP,
    DCMQRSCP_AET,
    UNTOUCHED,
    Dcmqrscp,
    assert_same_files,
    files_under,
    run,
    start_dcmqrscp,
)
from tests.conftest import ServerFactory
from tests.helpers import sop_instance_of
from tests.qr.archive import Archive, get_handler, series_uid, study_uid
from tests.qr.conftest import qr_scp_ae

pytestmark = pytest.mark.interop

StartSCP = Callable[..., AssociationServer]


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive.build(tmp_path / "archive")


@pytest.fixture
def qr_scp(dicomnet_server: ServerFactory, archive: Archive) -> StartSCP:
    """``qr_scp(get=handler)`` starts our Q/R SCP; by default C-GET serves the archive."""

    def start(get: Callable[[Any], Any] | None = None) -> AssociationServer:
        return dicomnet_server([(evt.EVT_C_GET, get or get_handler(archive))], ae=qr_scp_ae())

    return start


def getscu(port: AssociationServer | int, out: Path, *args: str | os.PathLike[str]) -> CliResult:
    number = port if isinstance(port, int) else port.server_address[1]
    return run("getscu", "127.0.0.1", str(number), "-aec", "QRSCP", "-od", out, *args)


def files_of(archive: Archive, study: int, series: int | None = None) -> list[Path]:
    return [
        i.path
        for i in archive.instances
        if str(i.header.StudyInstanceUID) == study_uid(study)
        and (series is None or str(i.header.SeriesInstanceUID) == series_uid(study, series))
    ]


def test_study_arrives_byte_for_byte(qr_scp: StartSCP, archive: Archive, tmp_path: Path) -> None:
    """With only the classes needed (--no-default-storage), each gets a context per transfer
    syntax and every file arrives untouched."""
    out = tmp_path / "out"
    result = getscu(qr_scp(), out, "-k", f"StudyInstanceUID={study_uid(1)}", *UNTOUCHED)
    assert result.returncode == 0, result
    expected = files_of(archive, 1)
    # both Explicit and Implicit VR files: each kept its own transfer syntax
    assert len({dcmread(p).file_meta.TransferSyntaxUID for p in expected}) == 2
    assert_same_files(files_under(out), expected)
    assert "getscu: completed 4, failed 0, warning 0" in result.stderr


def test_study_arrives_whole_with_the_default_storage_classes(
    qr_scp: StartSCP, archive: Archive, tmp_path: Path
) -> None:
    """The 127 default classes leave one context each (Explicit or Implicit VR LE, the peer
    picks): the files in the other syntax are converted by the peer, their values kept."""
    out = tmp_path / "out"
    result = getscu(qr_scp(), out, "-k", f"StudyInstanceUID={study_uid(1)}")
    assert result.returncode == 0, result
    assert "getscu: completed 4, failed 0, warning 0" in result.stderr
    received = {dcmread(p).SOPInstanceUID: dcmread(p) for p in files_under(out)}
    originals = {dcmread(p).SOPInstanceUID: dcmread(p) for p in files_of(archive, 1)}
    assert received == originals


def test_series_level_and_naming_template(
    qr_scp: StartSCP, archive: Archive, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = getscu(
        qr_scp(),
        out,
        "-L",
        "SERIES",
        "-k",
        f"StudyInstanceUID={study_uid(2)}",
        "-k",
        f"SeriesInstanceUID={series_uid(2, 1)}",
        "--filepath",
        "{PatientID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm",
        *UNTOUCHED,
    )
    assert result.returncode == 0, result
    received = files_under(out)
    assert_same_files(received, files_of(archive, 2, 1))
    assert {p.parent.relative_to(out).as_posix() for p in received} == {
        f"PAT001/{series_uid(2, 1)}"
    }


def test_query_file_level_is_kept_without_l(
    qr_scp: StartSCP, archive: Archive, tmp_path: Path
) -> None:
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_uid(1)
    query.SeriesInstanceUID = series_uid(1, 2)
    path = tmp_path / "query.json"
    path.write_text(json.dumps(query.to_json_dict()))
    out = tmp_path / "out"
    result = getscu(qr_scp(), out, path, *UNTOUCHED)
    assert result.returncode == 0, result
    assert_same_files(files_under(out), files_of(archive, 1, 2))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-k", "NotAKeyword=1"], "unknown attribute 'NotAKeyword'"),
        ([], "StudyInstanceUID (0020,000D) with a value"),
        (["-k", "StudyInstanceUID=1.2.3*"], "must not contain wildcards"),
        (["-L", "SERIES", "-k", "SeriesInstanceUID=1.2.3"], "needs StudyInstanceUID"),
        (["-L", "NONE"], "--level must be one of"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], says: str) -> None:
    result = getscu(closed_port(), tmp_path / "out", *args)
    assert result.returncode == 2, result
    errors = [line for line in result.stderr_lines if not line.startswith("W: ")]
    assert len(errors) == 1 and errors[0].startswith("getscu: error:"), result
    assert says in errors[0], result


def test_failed_sub_operation_exits_6_with_counts(
    qr_scp: StartSCP, archive: Archive, tmp_path: Path
) -> None:
    good = files_of(archive, 3)

    def one_missing(event: Any) -> Iterator[Any]:
        yield 3
        yield 0xFF00, good[0]
        yield 0xFF00, tmp_path / "gone.dcm"  # the archive lost this one
        yield 0xFF00, good[1]

    out = tmp_path / "out"
    result = getscu(
        qr_scp(get=one_missing), out, "-k", f"StudyInstanceUID={study_uid(3)}", *UNTOUCHED
    )
    assert result.returncode == 6, result
    assert "getscu: completed 2, failed 1, warning 0" in result.stderr, result
    assert "0xB000" in result.stderr, result
    assert_same_files(files_under(out), good)


def hostile(ds_from: Path, sop_instance: str, study: str | None = None) -> Dataset:
    ds = dcmread(ds_from)
    ds.SOPInstanceUID = UID(sop_instance)
    if study is not None:
        ds.StudyInstanceUID = UID(study)
    del ds.file_meta  # sent as a data set, encoded by the SCP
    return ds


@pytest.mark.filterwarnings("ignore:.*Invalid value for VR UI")
@pytest.mark.parametrize("template", ["default", "study"])
def test_hostile_uids_never_escape_the_output_directory(
    qr_scp: StartSCP, archive: Archive, tmp_path: Path, template: str
) -> None:
    source = files_of(archive, 1)
    sandbox = tmp_path / "sandbox"
    out = sandbox / "a" / "b" / "out"
    escapes = [
        "../../evil",
        "../../../../evil",
        str(sandbox / "evil_absolute"),
        "1.2.3/../../../evil",
        "..",
    ]

    def malicious(event: Any) -> Iterator[Any]:
        sent = [hostile(source[0], uid) for uid in escapes]
        # a valid SOP Instance UID, but a hostile Study Instance UID (used by --filepath study)
        sent.append(hostile(source[1], "2.25.31337", study="../../evil_study"))
        sent.append(dcmread(source[2]))  # one honest instance
        yield len(sent)
        for ds in sent:
            yield 0xFF00, ds

    args = ["--filepath", "{StudyInstanceUID}/{Modality}.{SOPInstanceUID}.dcm"] * (
        template == "study"
    )
    result = getscu(qr_scp(get=malicious), out, "-k", f"StudyInstanceUID={study_uid(1)}", *args)
    assert result.returncode == 6, result
    failed = len(escapes) + 1 if template == "study" else len(escapes)
    assert f"completed {len(escapes) + 2 - failed}, failed {failed}" in result.stderr, result
    # nothing was written anywhere but inside -od, and nothing named evil at all
    everything = files_under(tmp_path)
    assert not [p for p in everything if "evil" in p.name], everything
    assert {p for p in files_under(sandbox)} == set(files_under(out))
    honest = str(dcmread(source[2]).SOPInstanceUID)
    names = sorted(p.name for p in files_under(out))
    if template == "study":
        assert [p.relative_to(out) for p in files_under(out)] == [
            Path(study_uid(1), f"CT.{honest}.dcm")
        ]
    else:
        assert names == sorted([f"CT.{honest}.dcm", "CT.2.25.31337.dcm"])


def test_peer_aborting_mid_retrieve_exits_5(
    qr_scp: StartSCP, archive: Archive, tmp_path: Path
) -> None:
    first = files_of(archive, 1)[0]

    def abort_after_one(event: Any) -> Iterator[Any]:
        yield 4
        yield 0xFF00, first
        event.assoc.abort()

    out = tmp_path / "out"
    result = getscu(qr_scp(get=abort_after_one), out, "-k", f"StudyInstanceUID={study_uid(1)}")
    assert result.returncode == 5, result
    assert "did not complete" in result.stderr or "abort" in result.stderr.lower(), result
    # what arrived before the abort is complete and intact
    assert_same_files(files_under(out), [first])


def test_peer_aborting_at_the_request_exits_5(aborting_peer: AbortingPeer, tmp_path: Path) -> None:
    result = getscu(aborting_peer.port, tmp_path / "out", "-k", "StudyInstanceUID=1.2.3")
    assert result.returncode == 5, result
    assert aborting_peer.aborted.is_set()
    assert files_under(tmp_path / "out") == []


@pytest.fixture
def dcmqrscp(tmp_path: Path, archive: Archive) -> Iterator[Dcmqrscp]:
    """DCMTK's dcmqrscp loaded with the archive's files by DCMTK's storescu."""
    if not DCMQRSCP.is_file():
        pytest.skip(f"DCMTK dcmqrscp is not installed ({DCMQRSCP})")
    server = start_dcmqrscp(tmp_path / "dcmqrscp", [i.path for i in archive.instances])
    try:
        yield server
    finally:
        server.stop()


def test_against_dcmtk_dcmqrscp(dcmqrscp: Dcmqrscp, archive: Archive, tmp_path: Path) -> None:
    """A DCMTK-based SCP answers one role selection item per presentation context (getscu
    proposes a context for each of its 127 default storage classes); the retrieve must work
    and be byte-faithful."""
    out = tmp_path / "out"
    result = run(
        "getscu",
        "127.0.0.1",
        str(dcmqrscp.port),
        "-aec",
        DCMQRSCP_AET,
        "-od",
        out,
        "-L",
        "SERIES",
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
        "-k",
        f"SeriesInstanceUID={series_uid(1, 1)}",
    )
    assert result.returncode == 0, result
    # dcmqrscp keeps what DCMTK's storescu gave it (all Explicit VR Little Endian here): the
    # files arrive exactly as dcmqrscp holds them, and decode to the archive's data sets
    wanted = files_of(archive, 1, 1)
    held = held_by(dcmqrscp, wanted)
    assert_same_files(files_under(out), held)
    for original in wanted:
        copy = out / f"CT.{sop_instance_of(original)}.dcm"
        assert dcmread(copy, force=True) == dcmread(original)
    assert "getscu: completed 3, failed 0, warning 0" in result.stderr


def test_implicit_only_proposal_against_dcmtk_dcmqrscp(
    dcmqrscp: Dcmqrscp, archive: Archive, tmp_path: Path
) -> None:
    """getscu -xi proposes the C-GET and storage contexts in Implicit VR LE only: dcmqrscp
    converts what it holds and every file arrives in Implicit VR LE, its values kept."""
    out = tmp_path / "out"
    result = run(
        "getscu",
        "127.0.0.1",
        str(dcmqrscp.port),
        "-aec",
        DCMQRSCP_AET,
        "-xi",
        "-od",
        out,
        "-k",
        f"StudyInstanceUID={study_uid(1)}",
    )
    assert result.returncode == 0, result
    assert "getscu: completed 4, failed 0, warning 0" in result.stderr
    received = {dcmread(p).SOPInstanceUID: dcmread(p) for p in files_under(out)}
    assert {str(ds.file_meta.TransferSyntaxUID) for ds in received.values()} == {
        "1.2.840.10008.1.2"
    }
    for original in files_of(archive, 1):
        ds = dcmread(original)
        assert received[ds.SOPInstanceUID] == ds


def held_by(dcmqrscp: Dcmqrscp, originals: list[Path]) -> list[Path]:
    """dcmqrscp's own copies of ``originals``."""
    uids = {sop_instance_of(p) for p in originals}
    held = [p for p in files_under(dcmqrscp.storage) if p.suffix == ".dcm"]
    return [p for p in held if sop_instance_of(p) in uids]


def test_an_ac_repeating_a_role_item_per_context_is_understood() -> None:
    """What DCMTK-based acceptors (Orthanc, dcmqrscp) answer when a SOP class is proposed on two
    contexts, as getscu does: the role item once per context. Identical repeats are one answer;
    conflicting ones remain a protocol error."""
    from dicomnet.ul.codec import decode_pdu, encode_pdu
    from dicomnet.ul.errors import RemoteProtocolError
    from dicomnet.ul.items import PresentationContextAC, RoleSelection, UserInformation
    from dicomnet.ul.pdu import AssociateAC

    def ac(*roles: RoleSelection) -> bytes:
        return encode_pdu(
            AssociateAC(
                called_ae_title="ORTHANC",
                calling_ae_title="GETSCU",
                presentation_contexts=(
                    PresentationContextAC(1, 0, "1.2.840.10008.1.2.1"),
                    PresentationContextAC(3, 0, "1.2.840.10008.1.2"),
                ),
                user_information=UserInformation(16384, "1.2.3", roles=roles),
            )
        )

    ct = "1.2.840.10008.5.1.4.1.1.2"
    both = RoleSelection(ct, True, True)
    decoded = decode_pdu(ac(both, both))
    assert isinstance(decoded, AssociateAC)
    assert decoded.user_information.roles == (both,)
    with pytest.raises(RemoteProtocolError, match="more than one role selection"):
        decode_pdu(ac(both, RoleSelection(ct, False, True)))
