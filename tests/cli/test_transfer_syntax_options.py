"""Transfer-syntax options with DCMTK's names: what our SCUs propose (``--propose-ts``, ``-x=``,
``-xe``, ``-xb``, ``-xi``, ``-xd``) seen by real peers (DCMTK's storescp, pynetdicom's SCP), and
what our SCPs accept (``--prefer-ts``, ``+x=``, ``+xe``, ``+xb``, ``+xi``, ``+xd``, ``+xa`` /
``--accept-all``) seen by DCMTK's storescu and pynetdicom's requestor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pynetdicom
import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
)

from tests.cli.conftest import CliRunner, StorescpStarter
from tests.conftest import StorescpFactory
from tests.helpers import STORESCU, run_dcmtk, sop_instance_of, transfer_syntax_of

pytestmark = pytest.mark.interop

CT = "1.2.840.10008.5.1.4.1.1.2"
VERIFICATION = "1.2.840.10008.1.1"


def received_file(od: Path, source: Path) -> Path:
    return od / f"CT.{sop_instance_of(source)}.dcm"


def same_data(a: Path, b: Path) -> None:
    """The same data set whatever the transfer syntax: every element value equal (OW values
    as 16-bit words: their bytes are swapped in big endian)."""
    left, right = pydicom.dcmread(a), pydicom.dcmread(b)
    assert [e.tag for e in left] == [e.tag for e in right]
    for element in left:
        assert words(left, element.tag) == words(right, element.tag), element.tag


def words(ds: Any, tag: int) -> Any:
    element = ds[tag]
    if element.VR != "OW":
        return element.value
    raw = bytes(element.value)
    if ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian:
        return b"".join(raw[i + 1 : i + 2] + raw[i : i + 1] for i in range(0, len(raw), 2))
    return raw


# --- our SCUs propose ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("-xi", ImplicitVRLittleEndian),
        ("--propose-implicit", ImplicitVRLittleEndian),
        ("-x=", ExplicitVRLittleEndian),
        ("-xe", ExplicitVRLittleEndian),
    ],
)
def test_storescu_proposal_presets_reach_dcmtk_storescp(
    cli: CliRunner,
    dcmtk_storescp: StorescpFactory,
    ct_files: list[Path],
    option: str,
    expected: str,
) -> None:
    """DCMTK's storescp (+x=: explicit LE first) stores what was accepted: with -xi only
    Implicit VR LE was proposed, so the Explicit VR files are converted to it."""
    scp = dcmtk_storescp()
    done = cli("storescu", option, "127.0.0.1", str(scp.port), *ct_files[:2])
    assert done.returncode == 0, done
    scp.stop()
    for source in ct_files[:2]:
        target = scp.output_dir / f"CT.{sop_instance_of(source)}"
        assert transfer_syntax_of(target) == expected
        same_data(target, source)


def test_storescu_propose_ts_by_name_to_dcmtk_preferring_big_endian(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, ct_files: list[Path]
) -> None:
    """--propose-ts implicit, --propose-ts explicit: one context with these two only; a DCMTK
    storescp preferring big endian (+xb) cannot have it and takes Explicit VR LE."""
    scp = dcmtk_storescp("+xb")
    source = ct_files[1]  # Implicit VR LE
    done = cli(
        "storescu",
        "--propose-ts",
        "ExplicitVRLittleEndian",
        "--propose-ts",
        "implicit",
        "127.0.0.1",
        str(scp.port),
        source,
    )
    assert done.returncode == 0, done
    scp.stop()
    target = scp.output_dir / f"CT.{sop_instance_of(source)}"
    assert transfer_syntax_of(target) == ExplicitVRLittleEndian
    same_data(target, source)


def test_storescu_big_endian_first_to_dcmtk_preferring_big_endian(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, ct_files: list[Path]
) -> None:
    """-xb and DCMTK's storescp +xb: the Little Endian file is converted to Explicit VR BE."""
    scp = dcmtk_storescp("+xb")
    source = ct_files[0]
    done = cli("storescu", "-xb", "127.0.0.1", str(scp.port), source)
    assert done.returncode == 0, done
    scp.stop()
    target = scp.output_dir / f"CT.{sop_instance_of(source)}"
    assert transfer_syntax_of(target) == ExplicitVRBigEndian
    same_data(target, source)


def test_echoscu_proposals_to_pynetdicom(cli: CliRunner) -> None:
    """echoscu proposes Verification in the -x/--propose-ts syntaxes: a pynetdicom SCP that
    accepts only Explicit VR LE answers -xe, and refuses -xi (exit 4)."""
    ae = pynetdicom.AE(ae_title="PYSCP")
    ae.add_supported_context(VERIFICATION, [ExplicitVRLittleEndian])
    server = ae.start_server(("127.0.0.1", 0), block=False)
    assert server is not None
    try:
        port = str(server.server_address[1])
        ok = cli("echoscu", "-xe", "--format", "csv", "127.0.0.1", port)
        assert ok.returncode == 0, ok
        assert ",0x0000," in ok.stdout
        refused = cli("echoscu", "-xi", "127.0.0.1", port)
        assert refused.returncode == 4, refused
        assert "accepted none of the proposed presentation contexts" in refused.stderr
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-xi", "-xb"], "-xb and -xi are alternatives"),
        (["--propose-ts", "jpeg-2001"], "--propose-ts: unknown transfer syntax 'jpeg-2001'"),
    ],
)
def test_bad_proposals_exit_2(cli: CliRunner, args: list[str], message: str) -> None:
    done = cli("echoscu", *args, "127.0.0.1", "9")
    assert done.returncode == 2, done
    assert message in done.stderr.replace("-xi and -xb", "-xb and -xi")


# --- our SCPs accept ------------------------------------------------------------------------


@pytest.fixture
def pynetdicom_requestor() -> Iterator[list[Any]]:
    """Associations a test makes with pynetdicom; released at teardown."""
    made: list[Any] = []
    try:
        yield made
    finally:
        for assoc in made:
            if assoc.is_established:
                assoc.release()


def pynetdicom_accepted(port: int | None, syntaxes: list[str], made: list[Any]) -> str | None:
    """The transfer syntax our SCP accepted for one CT context proposing ``syntaxes`` (None:
    rejected), as pynetdicom saw it."""
    ae = pynetdicom.AE(ae_title="PYSCU")
    ae.add_requested_context(CT, syntaxes)
    ae.add_requested_context(VERIFICATION, [ImplicitVRLittleEndian])  # keeps it established
    assoc = ae.associate("127.0.0.1", int(port or 0))
    made.append(assoc)
    assert assoc.is_established
    accepted = [cx.transfer_syntax[0] for cx in assoc.accepted_contexts if cx.abstract_syntax == CT]
    return accepted[0] if accepted else None


@pytest.mark.parametrize(
    ("args", "proposed", "expected"),
    [
        # our default: our preference (Explicit VR LE), uncompressed only
        ([], [ImplicitVRLittleEndian, ExplicitVRLittleEndian], ExplicitVRLittleEndian),
        ([], [JPEGBaseline8Bit], None),
        # +xa / --accept-all: every syntax, the sender's first proposed kept
        (["+xa"], [ImplicitVRLittleEndian, ExplicitVRLittleEndian], ImplicitVRLittleEndian),
        (["--accept-all"], [JPEGBaseline8Bit, ExplicitVRLittleEndian], JPEGBaseline8Bit),
        # ... after any --prefer-ts the sender proposed
        (
            ["+xa", "--prefer-ts", "explicit"],
            [JPEGBaseline8Bit, ExplicitVRLittleEndian],
            ExplicitVRLittleEndian,
        ),
        # DCMTK's presets
        (["+xi"], [ExplicitVRLittleEndian, ImplicitVRLittleEndian], ImplicitVRLittleEndian),
        (["+xi"], [ExplicitVRLittleEndian], None),
        (["+xb"], [ExplicitVRLittleEndian, ExplicitVRBigEndian], ExplicitVRBigEndian),
        (["+xe"], [ExplicitVRBigEndian, ExplicitVRLittleEndian], ExplicitVRLittleEndian),
        (["+x="], [DeflatedExplicitVRLittleEndian], None),  # DCMTK's +x=: no Deflated
        (
            ["+xd"],
            [ExplicitVRLittleEndian, DeflatedExplicitVRLittleEndian],
            DeflatedExplicitVRLittleEndian,
        ),
        # --prefer-ts: our preference, the uncompressed ones still accepted after it
        (
            ["--prefer-ts", "implicit"],
            [ExplicitVRLittleEndian, ImplicitVRLittleEndian],
            ImplicitVRLittleEndian,
        ),
        (["--prefer-ts", "jpeg-baseline"], [JPEGBaseline8Bit], JPEGBaseline8Bit),
        (["--prefer-ts", "jpeg-baseline"], [ExplicitVRLittleEndian], ExplicitVRLittleEndian),
    ],
)
def test_storescp_acceptance_options_seen_by_pynetdicom(
    our_storescp: StorescpStarter,
    pynetdicom_requestor: list[Any],
    args: list[str],
    proposed: list[str],
    expected: str | None,
) -> None:
    scp = our_storescp(*args)
    assert pynetdicom_accepted(scp.port, proposed, pynetdicom_requestor) == expected


def test_accept_all_keeps_dcmtk_storescu_big_endian_as_sent(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    """DCMTK's storescu -xb +C proposes one context, Explicit VR BE first: +xa keeps it (the
    file arrives and is stored in big endian), our default takes Explicit VR LE."""
    source = ct_files[0]
    for args, expected in (([], ExplicitVRLittleEndian), (["+xa"], ExplicitVRBigEndian)):
        od = tmp_path / f"od{len(args)}"
        scp = our_storescp(*args, "--exit-after", "1", output_dir=od)
        done = run_dcmtk(STORESCU, "-xb", "+C", "-R", "127.0.0.1", str(scp.port), source)
        assert done.returncode == 0, done.stdout + done.stderr
        assert scp.wait(20) == 0, scp
        target = received_file(od, source)
        assert transfer_syntax_of(target) == expected
        same_data(target, source)


def test_storescp_implicit_only_stores_dcmtk_files_as_implicit(
    our_storescp: StorescpStarter, ct_files: list[Path], tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp("+xi", "--exit-after", "2", output_dir=od)
    assert "transfer syntaxes Implicit VR Little Endian;" in scp.stderr
    done = run_dcmtk(STORESCU, "127.0.0.1", str(scp.port), *ct_files[:2])
    assert done.returncode == 0, done.stdout + done.stderr
    assert scp.wait(20) == 0, scp
    for source in ct_files[:2]:
        target = received_file(od, source)
        assert transfer_syntax_of(target) == ImplicitVRLittleEndian
        same_data(target, source)


def test_two_acceptance_presets_exit_2(cli: CliRunner, tmp_path: Path) -> None:
    done = cli("storescp", "0", "-od", tmp_path, "+xi", "+xa")
    assert done.returncode == 2, done
    assert "+xi and +xa are alternatives" in done.stderr
