"""Issue 9, "Success means the instance was kept exactly as sent, and one bad file never costs the
rest of a batch": each finding measured there, reproduced against the real peers named.

* Big-endian files converted by storescu arrive with their pixel values (DCMTK storescp +xi).
* Truncated or random bytes are never stored as Success by our storescp (a raw peer sends them;
  DCMTK and pynetdicom refuse to), and storescu refuses them before sending.
* One bad file (odd length, truncated, empty SOP Class UID) never costs the batch (DCMTK).
* UIDs: storescu sends the data set's; our storescp refuses a command that disagrees (0xA900).
* Duplicates under --on-duplicate fail are atomic (60 concurrent pairs).
* Disk errors at any size give 0xA700 and keep the association (tmpfs, RLIMIT_FSIZE).
* Stale temporary files are removed at startup, in one line.
* Summaries count every file; --retry sends what an abort left.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import UID

from dicomnet import AE
from dicomnet.dimse.messages import C_STORE_RQ, C_STORE_RSP
from dicomnet.sop_class import CTImageStorage, MRImageStorage, Verification
from tests.cli.conftest import (
    CLI_TESTS_DIR,
    CliRunner,
    PynetdicomStarter,
    Running,
    StorescpStarter,
    argv_for,
    cli_env,
)
from tests.cli.test_storescu import full_summary
from tests.conftest import StorescpFactory
from tests.helpers import (
    STORESCU,
    dataset_bytes,
    pydicom_test_file,
    run_dcmtk,
    sized_dataset,
    sop_instance_of,
    write_ct_file,
)
from tests.transport.rawpeer import RawPeer

pytestmark = pytest.mark.interop

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
DCMDUMP = "/usr/bin/dcmdump"


def dcmdump_ok(path: Path) -> bool:
    done = run_dcmtk(DCMDUMP, "-q", path)
    return done.returncode == 0 and "E:" not in done.stdout + done.stderr


def part_files(root: Path) -> list[Path]:
    return sorted(root.rglob(".dicomnet-*.part"))


def rows_by_name(result: Any) -> dict[str, dict[str, str]]:
    return {Path(r["file"]).name: r for r in json.loads(result.stdout)}


def copy_as(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def empty_sop_class_file(path: Path) -> Path:
    """A CT file whose SOP Class UID is empty, in the meta header and the data set."""
    write_ct_file(path, 77, EXPLICIT)
    ds = pydicom.dcmread(path)
    ds.SOPClassUID = UID("")
    ds.file_meta.MediaStorageSOPClassUID = UID("")
    ds.save_as(path, enforce_file_format=False)
    return path


def odd_length_file(path: Path) -> Path:
    """An Implicit VR CT file whose data set ends with an element of odd length (3 bytes)."""
    write_ct_file(path, 79, IMPLICIT)
    with open(path, "ab") as handle:
        handle.write(struct.pack("<HHI", 0x0009, 0x1010, 3) + b"abc")
    return path


def mismatched_meta_file(path: Path) -> tuple[Path, str]:
    """A CT file whose meta header names another SOP Instance UID than its data set."""
    write_ct_file(path, 78, EXPLICIT)
    ds = pydicom.dcmread(path)
    real = str(ds.SOPInstanceUID)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(real + ".999")
    ds.save_as(path, enforce_file_format=False)
    assert sop_instance_of(path) == real + ".999"
    return path, real


# --- silent pixel corruption ---------------------------------------------------------------


def test_storescu_big_endian_to_dcmtk_implicit_only_keeps_pixel_values(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    """DCMTK accepts only Implicit VR LE: storescu converts; the pixels are the LE twins'."""
    scp = dcmtk_storescp("+xi")
    files = [pydicom_test_file("MR_small_bigendian.dcm"), pydicom_test_file("rtdose_expb.dcm")]
    twins = [pydicom_test_file("MR_small.dcm"), pydicom_test_file("rtdose.dcm")]
    result = cli("storescu", "127.0.0.1", str(scp.port), *files, "--format", "json")
    assert result.returncode == 0, result
    assert full_summary(result) == (2, 0, 0, 0)
    stored = {str(ds.SOPInstanceUID): ds for ds in map(pydicom.dcmread, scp.files())}
    for big, little in zip(files, twins, strict=True):
        ds = stored[str(pydicom.dcmread(big).SOPInstanceUID)]
        assert ds.file_meta.TransferSyntaxUID == IMPLICIT
        assert ds.PixelData == pydicom.dcmread(little).PixelData, big.name


# --- truncated and random bytes --------------------------------------------------------------


def test_storescu_refuses_a_truncated_file_before_sending(
    cli: CliRunner, our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp(output_dir=od)
    truncated = pydicom_test_file("MR_truncated.dcm")
    result = cli("storescu", "127.0.0.1", str(scp.port), truncated, "--format", "json")
    assert result.returncode == 2, result
    assert full_summary(result) == (0, 0, 1, 0)
    row = rows_by_name(result)["MR_truncated.dcm"]
    assert (
        row["result"] == "skipped"
        and "malformed data set at offset 1154: (7FE0,0010) is cut short" in row["meaning"]
    )
    assert "I: Received" not in scp.stderr
    assert list(od.iterdir()) == []


@pytest.mark.parametrize("kind", ["truncated", "random"])
def test_our_storescp_refuses_malformed_data_sets_and_keeps_nothing(
    our_storescp: StorescpStarter, tmp_path: Path, kind: str
) -> None:
    od = tmp_path / "od"
    scp = our_storescp(output_dir=od)
    assert scp.port is not None
    if kind == "truncated":
        source = pydicom_test_file("MR_truncated.dcm")
        sop_class, uid = MRImageStorage, str(pydicom.dcmread(source, force=True).SOPInstanceUID)
        data, offset = dataset_bytes(source), 1154  # cut in the middle of its Pixel Data
    else:
        sop_class, uid = CTImageStorage, "1.2.3.4.5"
        data, offset = random.Random(5).randbytes(30000), None
    with RawPeer("127.0.0.1", scp.port) as peer:
        peer.associate(_rq([(3, sop_class, (EXPLICIT,)), (5, CTImageStorage, (EXPLICIT,))]))
        peer.send_command(
            3, C_STORE_RQ(MessageID=1, AffectedSOPClassUID=sop_class, AffectedSOPInstanceUID=uid)
        )
        for start in range(0, len(data), 16000):
            peer.send_data(3, data[start : start + 16000], start + 16000 >= len(data))
        rsp = peer.read_message()
        assert isinstance(rsp, C_STORE_RSP)
        assert rsp.Status == 0xC220, rsp
        assert rsp.ErrorComment is not None and rsp.ErrorComment.startswith("malformed at offset")
        if offset is not None:
            assert f"offset {offset}:" in rsp.ErrorComment
        # The association goes on: a valid instance is stored next.
        good = sized_dataset(CT, "1.2.3.4.6", 2000, EXPLICIT)
        peer.send_command(
            5, C_STORE_RQ(MessageID=2, AffectedSOPClassUID=CT, AffectedSOPInstanceUID="1.2.3.4.6")
        )
        peer.send_data(5, good, True)
        rsp = peer.read_message()
        assert isinstance(rsp, C_STORE_RSP) and rsp.Status == 0x0000, rsp
    files = sorted(p for p in od.rglob("*") if p.is_file())
    assert [p.name for p in files] == ["UNKNOWN.1.2.3.4.6.dcm"]
    assert dcmdump_ok(files[0])
    assert "0xC220" in scp.wait_for("refusing C-STORE")


def _rq(contexts: list[tuple[int, str, tuple[str, ...]]]) -> Any:
    from tests.transport.rawpeer import associate_rq

    return associate_rq(contexts=((1, Verification, (IMPLICIT,)), *contexts))


# --- one bad file never costs the batch ------------------------------------------------------


def bad_batch(folder: Path, ct: Path, ct2: Path) -> list[Path]:
    return [
        copy_as(ct, folder / "a_good.dcm"),
        copy_as(pydicom_test_file("image_dfl.dcm"), folder / "b_deflated_odd.dcm"),
        copy_as(pydicom_test_file("MR_truncated.dcm"), folder / "c_truncated.dcm"),
        empty_sop_class_file(folder / "d_empty_sop_class.dcm"),
        odd_length_file(folder / "e_odd_implicit.dcm"),
        copy_as(ct2, folder / "f_good.dcm"),
    ]


def test_bad_files_never_cost_the_batch_with_dcmtk(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, ct_files: list[Path], tmp_path: Path
) -> None:
    scp = dcmtk_storescp("+xd")  # DCMTK accepts deflated too
    folder = tmp_path / "batch"
    bad_batch(folder, ct_files[0], ct_files[2])
    result = cli("storescu", "127.0.0.1", str(scp.port), folder, "--format", "json")
    assert result.returncode == 2, result  # malformed inputs were skipped
    assert full_summary(result) == (3, 0, 3, 0)
    rows = rows_by_name(result)
    assert [rows[n]["result"] for n in sorted(rows)] == [
        "success", "success", "skipped", "skipped", "skipped", "success"
    ]  # fmt: skip
    assert (
        "malformed data set at offset 1154: (7FE0,0010) is cut short"
        in rows["c_truncated.dcm"]["meaning"]
    )
    assert "no SOP Class UID" in rows["d_empty_sop_class.dcm"]["meaning"]
    assert "odd length" in rows["e_odd_implicit.dcm"]["meaning"]
    stored = scp.files()
    assert len(stored) == 3 and all(dcmdump_ok(p) for p in stored)
    deflated = pydicom.dcmread(pydicom_test_file("image_dfl.dcm"))
    kept = {str(ds.SOPInstanceUID): ds for ds in map(pydicom.dcmread, stored)}
    assert kept[str(deflated.SOPInstanceUID)].PixelData == deflated.PixelData
    assert "Unexpected PDV" not in scp.log() and "Abort" not in scp.log()


def test_dcmtk_storescu_agrees_the_bad_files_are_bad(
    dcmtk_storescp: StorescpFactory, ct_files: list[Path], tmp_path: Path
) -> None:
    """The reference behaviour: DCMTK's storescu refuses the truncated file before sending."""
    scp = dcmtk_storescp()
    done = run_dcmtk(STORESCU, "127.0.0.1", str(scp.port), pydicom_test_file("MR_truncated.dcm"))
    assert done.returncode != 0
    assert scp.files() == []


# --- UIDs ------------------------------------------------------------------------------------


def test_storescu_sends_the_data_sets_uids_and_warns(
    cli: CliRunner, dcmtk_storescp: StorescpFactory, tmp_path: Path
) -> None:
    path, real = mismatched_meta_file(tmp_path / "mismatch.dcm")
    scp = dcmtk_storescp()
    result = cli("storescu", "127.0.0.1", str(scp.port), path, "--format", "json")
    assert result.returncode == 0, result
    assert f"storescu: warning: {path}: the file meta header names" in result.stderr
    assert rows_by_name(result)["mismatch.dcm"]["sop_instance_uid"] == real
    (stored,) = scp.files()
    assert sop_instance_of(stored) == real


@pytest.mark.parametrize("which", ["class", "instance"])
def test_our_storescp_refuses_command_uids_that_differ_from_the_data_set(
    our_storescp: StorescpStarter, tmp_path: Path, which: str
) -> None:
    od = tmp_path / "od"
    scp = our_storescp(output_dir=od)
    assert scp.port is not None
    data = sized_dataset(CT, "1.2.3.4.7", 1000, EXPLICIT)
    sop_class = MRImageStorage if which == "class" else CT
    instance = "1.2.3.4.8" if which == "instance" else "1.2.3.4.7"
    with RawPeer("127.0.0.1", scp.port) as peer:
        peer.associate(_rq([(3, sop_class, (EXPLICIT,))]))
        peer.send_command(
            3,
            C_STORE_RQ(MessageID=1, AffectedSOPClassUID=sop_class, AffectedSOPInstanceUID=instance),
        )
        peer.send_data(3, data, True)
        rsp = peer.read_message()
    assert isinstance(rsp, C_STORE_RSP)
    assert rsp.Status == 0xA900, rsp
    expected = CT if which == "class" else "1.2.3.4.7"
    assert rsp.ErrorComment == f"data set SOP {which.title()} UID is {expected}"
    assert list(od.iterdir()) == []


# --- duplicates -----------------------------------------------------------------------------


@pytest.mark.slow
def test_duplicates_fail_is_atomic_for_60_concurrent_pairs(
    our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp("--on-duplicate", "fail", "--max-associations", "130", output_dir=od)
    assert scp.port is not None
    (tmp_path / "src").mkdir()
    sources = [write_ct_file(tmp_path / "src" / f"{i}.dcm", 300 + i, EXPLICIT) for i in range(60)]
    statuses: dict[int, list[int]] = {i: [] for i in range(60)}
    lock = threading.Lock()
    barriers = [threading.Barrier(2) for _ in sources]

    port = scp.port

    def send(index: int) -> None:
        ae = AE("DUP")
        ae.acse_timeout = ae.dimse_timeout = 30.0
        ae.add_requested_context(CTImageStorage, [EXPLICIT])
        assoc = ae.associate("127.0.0.1", port)
        try:
            barriers[index].wait(30)
            status = assoc.send_c_store(sources[index]).Status if assoc.is_established else -1
        finally:
            if assoc.is_established:
                assoc.release()
        with lock:
            statuses[index].append(status)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(60) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(sorted(s) == [0x0000, 0xA7FE] for s in statuses.values()), statuses
    stored = sorted(od.iterdir())
    assert len(stored) == 60 and part_files(od) == []
    by_uid = {sop_instance_of(p): p for p in stored}
    for source in sources:
        assert dataset_bytes(by_uid[sop_instance_of(source)]) == dataset_bytes(source)


# --- disk errors -----------------------------------------------------------------------------

SMALL = (256, 400)  # 200 KiB of pixels: kept in memory while it arrives
LARGE = (1600, 1600)  # 5 MiB: spooled to -od while it arrives
TINY = (64, 64)


def store_all(port: int, files: list[Path]) -> list[tuple[int, str]]:
    """Send ``files`` on one association with our library: (status, ErrorComment) each."""
    ae = AE("DISKTEST")
    ae.acse_timeout = ae.dimse_timeout = 30.0
    ae.add_requested_context(CTImageStorage, [EXPLICIT])
    assoc = ae.associate("127.0.0.1", port)
    assert assoc.is_established
    out = []
    try:
        for path in files:
            rsp = assoc.send_c_store(path)
            out.append((int(rsp.Status), str(rsp.get("ErrorComment", ""))))
    finally:
        if assoc.is_established:
            assoc.release()
    return out


def sized_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        name: write_ct_file(folder / f"{name}.dcm", 500 + i, EXPLICIT, *size)
        for i, (name, size) in enumerate([("small", SMALL), ("large", LARGE), ("tiny", TINY)])
    }


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_full_disk_gives_a700_at_any_size_and_keeps_the_association(
    our_storescp: StorescpStarter, small_tmpfs: Path, tmp_path: Path
) -> None:
    od = small_tmpfs / "od"
    scp = our_storescp(output_dir=od)
    assert scp.port is not None
    files = sized_files(tmp_path / "src")
    free = os.statvfs(small_tmpfs)
    filler = small_tmpfs / "filler"
    filler.write_bytes(bytes(free.f_bavail * free.f_frsize - 100 * 1024))  # ~100 KiB left
    results = store_all(scp.port, [files["small"], files["large"], files["tiny"]])
    assert results[0] == (0xA700, "cannot write: No space left on device"), results
    assert results[1] == (0xA700, "cannot spool: No space left on device"), results
    assert results[2][0] == 0x0000, results
    assert part_files(small_tmpfs) == []
    assert [p.name for p in od.iterdir()] == [f"CT.{sop_instance_of(files['tiny'])}.dcm"]
    assert store_all(scp.port, []) == []  # the server goes on


LIMIT_SCRIPT = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1]))); "
    "os.execv(sys.argv[2], sys.argv[2:])"
)


def test_file_size_limit_gives_a700_at_any_size_and_keeps_the_association(
    tmp_path: Path,
) -> None:
    od = tmp_path / "od"
    od.mkdir()
    argv = list(argv_for("storescp"))
    if not os.path.isabs(argv[0]):
        argv[0] = shutil.which(argv[0]) or argv[0]
    limited = [sys.executable, "-c", LIMIT_SCRIPT, str(100 * 1024), *argv]
    server = Running(
        [*limited, "0", "--bind", "127.0.0.1", "-od", str(od), "-v"], CLI_TESTS_DIR, cli_env()
    )
    try:
        line = server.wait_for("listening on")
        port = int(line.split("listening on ", 1)[1].split()[0].rstrip(";,").rsplit(":", 1)[1])
        files = sized_files(tmp_path / "src")
        results = store_all(port, [files["small"], files["large"], files["tiny"]])
        assert results[0] == (0xA700, "cannot write: File too large"), results
        assert results[1] == (0xA700, "cannot spool: File too large"), results
        assert results[2][0] == 0x0000, results
        assert part_files(od) == []
        assert [p.name for p in od.iterdir()] == [f"CT.{sop_instance_of(files['tiny'])}.dcm"]
        assert "Traceback" not in server.stderr
    finally:
        server.stop()


# --- startup recovery ------------------------------------------------------------------------


def test_stale_temp_files_are_removed_at_start_in_one_line(
    our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    od = tmp_path / "od"
    (od / "study").mkdir(parents=True)
    (od / ".dicomnet-abc123.part").write_bytes(b"x" * 1000)
    (od / "study" / ".dicomnet-def456.part").write_bytes(b"y" * 24)
    (od / "not-ours.part").write_bytes(b"z")
    held = od / ".dicomnet-held.part"
    held.write_bytes(b"in progress")
    with open(held, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a running storescp writing it
        scp = our_storescp(output_dir=od)
        line = scp.wait_for("stale temporary")
    assert line.strip() == (
        f"storescp: removed 2 stale temporary file(s) (1024 bytes) left in {od} by an earlier run"
    )
    assert sorted(p.name for p in od.rglob("*") if p.is_file()) == [
        ".dicomnet-held.part",
        "not-ours.part",
    ]


def test_sigkill_leftovers_are_removed_by_the_next_storescp(
    our_storescp: StorescpStarter, tmp_path: Path
) -> None:
    od = tmp_path / "od"
    scp = our_storescp(output_dir=od)
    assert scp.port is not None
    with RawPeer("127.0.0.1", scp.port) as peer:
        peer.associate(_rq([(3, CTImageStorage, (EXPLICIT,))]))
        peer.send_command(
            3, C_STORE_RQ(MessageID=1, AffectedSOPClassUID=CT, AffectedSOPInstanceUID="1.2.3.9")
        )
        chunk = bytes(16000)
        for _ in range(400):  # 6.4 MB, past the 4 MiB spool threshold, never finished
            peer.send_data(3, chunk, False)
        with contextlib.suppress(AssertionError):
            scp.wait_for("never", timeout=0.5)
        leftovers = part_files(od)
        scp.process.send_signal(signal.SIGKILL)
        scp.wait(10)
    assert len(leftovers) == 1 and leftovers[0].exists()
    again = our_storescp(output_dir=od)
    assert "removed 1 stale temporary file(s)" in again.wait_for("stale temporary")
    assert part_files(od) == []


# --- summaries and --retry -------------------------------------------------------------------


def aborting_once_scp(pynetdicom_scp: PynetdicomStarter, abort_at: int) -> tuple[int, list[str]]:
    """pynetdicom's SCP that aborts its first association at the ``abort_at``-th C-STORE (not
    storing it), then stores everything."""
    from pynetdicom import evt

    stored: list[str] = []
    seen = {"n": 0}

    def on_store(event: Any) -> int:
        seen["n"] += 1
        if seen["n"] == abort_at:
            event.assoc.abort()
            return 0xA700
        stored.append(str(event.request.AffectedSOPInstanceUID))
        return 0x0000

    _, port = pynetdicom_scp([(evt.EVT_C_STORE, on_store)])
    return port, stored


def test_after_an_abort_the_rest_is_reported_not_sent(
    cli: CliRunner, pynetdicom_scp: PynetdicomStarter, ct_files: list[Path]
) -> None:
    port, stored = aborting_once_scp(pynetdicom_scp, abort_at=2)
    result = cli("storescu", "127.0.0.1", str(port), *ct_files, "--format", "json")
    assert result.returncode == 5, result
    assert full_summary(result) == (1, 0, 0, 3)
    assert [r["result"] for r in json.loads(result.stdout)] == [
        "success", "aborted", "not sent", "not sent"
    ]  # fmt: skip
    assert "3 file(s) not sent" in result.stderr
    assert stored == [sop_instance_of(ct_files[0])]


def test_retry_sends_the_rest_on_a_new_association(
    cli: CliRunner, pynetdicom_scp: PynetdicomStarter, ct_files: list[Path]
) -> None:
    port, stored = aborting_once_scp(pynetdicom_scp, abort_at=2)
    result = cli("storescu", "127.0.0.1", str(port), *ct_files, "--retry", "1", "--format", "json")
    assert result.returncode == 0, result
    assert full_summary(result) == (4, 0, 0, 0)
    assert "sending the 3 file(s) not sent on a new association" in result.stderr
    assert [r["result"] for r in json.loads(result.stdout)] == ["success"] * 4
    assert sorted(stored) == sorted(sop_instance_of(p) for p in ct_files)
