"""Peak memory of sending and receiving one large data set (issue 12, row 6).

    python benchmarks/bench_memory.py                      # 20 MiB and 1 GiB
    python benchmarks/bench_memory.py --sizes-mib 4 16     # quick

For each size: a CT data set of that much Pixel Data (Explicit VR LE) is written to a file, then
sent by our `storescu` to our `storescp`, and by DCMTK's `storescu` to DCMTK's `storescp`
(`+B`: written as received, DCMTK's low-memory mode), each program its own process. The peak
resident set size of each process comes from the kernel when it ends (``wait4``). Goal: at most
100 MiB for our storescp and storescu whatever the size (data sets are streamed, never held
whole in memory), and the same figure for 20 MiB and 1 GiB.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MIB = 100
DCMTK = {"storescp": "/usr/bin/storescp", "storescu": "/usr/bin/storescu"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def write_dataset(path: Path, mib: int) -> None:
    """A CT file with ``mib`` MiB of (zero) Pixel Data, written in chunks."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    frames = max(1, mib * 1024 * 1024 // (1024 * 1024 * 2))
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Memory^Test", "MEM", "CT"
    ds.Rows = ds.Columns = 1024
    ds.NumberOfFrames = frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation = 15, 0
    head = io.BytesIO()
    ds.save_as(head, enforce_file_format=True)
    length = frames * 1024 * 1024 * 2
    chunk = bytes(8 * 1024 * 1024)
    with open(path, "wb") as out:
        out.write(head.getvalue())
        out.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, length))
        left = length
        while left:
            out.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))


TIME = "/usr/bin/time"  # GNU time: the peak RSS of the program it runs (%M, KiB)


def timed(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Run ``cmd`` under GNU time, its report in ``log``. (Measured from a process of our own,
    a child would count the pages it shares with this Python process after the fork.)"""
    with open(log, "wb") as err:
        return subprocess.Popen(
            [TIME, "-f", "MAXRSS %M", *cmd],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def peak_mib(log: Path) -> float:
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("MAXRSS "):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no peak RSS in {log}: {log.read_text(errors='replace')[-500:]}")


def measure(
    cmd_scp: list[str], cmd_scu: list[str], port: int, timeout: float, work: Path
) -> tuple[float, float]:
    """Our or DCMTK's pair: (storescp's peak MiB, storescu's peak MiB)."""
    scp_log, scu_log = work / "scp.time", work / "scu.time"
    server = timed(cmd_scp, scp_log)
    try:
        wait_listening(port, time.monotonic() + 20)
        client = timed(cmd_scu, scu_log)
        if client.wait(timeout) != 0:
            raise RuntimeError(f"{cmd_scu[0]} failed: {scu_log.read_text()[-500:]}")
    finally:
        # SIGINT to the server itself (GNU time does not pass it on): it stops cleanly
        for child in subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False
        ).stdout.split():
            os.kill(int(child), 2)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return peak_mib(scp_log), peak_mib(scu_log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[20, 1024])
    parser.add_argument("--workdir", type=Path, default=None, help="where files go (default: temp)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    ours = {name: str(bindir / name) for name in ("storescp", "storescu")}
    if not os.access(TIME, os.X_OK):
        sys.exit(f"{TIME} (GNU time) is needed to read the peak RSS of each program")
    have_dcmtk = all(os.access(tool, os.X_OK) for tool in DCMTK.values())
    env_note = "" if have_dcmtk else " (DCMTK not installed: ours only)"
    print(f"peak RSS, MiB (goal: ours <= {GOAL_MIB} MiB at every size){env_note}")
    columns = ("our storescp", "our storescu", "DCMTK scp", "DCMTK scu")
    print(f"{'size':>8}  " + "  ".join(f"{c:>12}" for c in columns))
    work = Path(tempfile.mkdtemp(dir=args.workdir))
    worst = 0.0
    try:
        for mib in args.sizes_mib:
            source = work / f"ct_{mib}.dcm"
            write_dataset(source, mib)
            out = work / "out"
            out.mkdir(exist_ok=True)
            port = free_port()
            scp_mib, scu_mib = measure(
                [ours["storescp"], str(port), "--bind", "127.0.0.1", "-od", str(out), "-q"],
                [ours["storescu"], "127.0.0.1", str(port), str(source), "-q"],
                port,
                args.timeout,
                work,
            )
            worst = max(worst, scp_mib, scu_mib)
            shutil.rmtree(out)
            dcmtk = ("-", "-")
            if have_dcmtk:
                out.mkdir()
                port = free_port()
                d_scp, d_scu = measure(
                    [DCMTK["storescp"], "+B", "-od", str(out), str(port)],
                    [DCMTK["storescu"], "127.0.0.1", str(port), str(source)],
                    port,
                    args.timeout,
                    work,
                )
                dcmtk = (f"{d_scp:.0f}", f"{d_scu:.0f}")
                shutil.rmtree(out)
            source.unlink()
            row = (f"{scp_mib:.0f}", f"{scu_mib:.0f}", *dcmtk)
            print(f"{mib:>5} MiB  " + "  ".join(f"{c:>12}" for c in row))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdict = "met" if worst <= GOAL_MIB else "NOT met"
    print(f"largest peak of ours: {worst:.0f} MiB; goal <= {GOAL_MIB} MiB: {verdict}")


if __name__ == "__main__":
    main()
