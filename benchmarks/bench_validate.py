"""What structural validation costs a receiver: dicomnet.validate against the time to receive.

    python benchmarks/bench_validate.py [--files 200] [--size-kib 512] [--repeat 3]

Part 1 (receive): DCMTK ``storescu`` sends N files (CT, Explicit VR Little Endian, 512 rows x K
columns of 16-bit pixels) on one association to dicomnet's ``storescp`` (its product path:
validation while the bytes arrive, then temp file, fsync, rename), and, for scale, to DCMTK's
``storescp``. Wall-clock ms per file of the sender, and CPU ms per file of our receiver.

Part 2 (validate): the same data set, and a few others (the other uncompressed transfer syntaxes;
an element-dense structured report with 20,000 sequence items), fed to a
:class:`~dicomnet.validate.StructureValidator` in 16,372-byte chunks (one PDV each, as they
arrive with DCMTK's default PDU size). CPU microseconds per data set, median of the repeats.

The line that matters: validation of the received data set as a share of its receive time
(CPU and wall clock); the goal is < 5 %.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DCMTK_STORESCP,
    DCMTK_STORESCU,
    clear_directory,
    count_files,
    dcmtk_env,
    free_port,
    generate_files,
    our_script,
    process_cpu_seconds,
    running,
    wait_listening,
)

CHUNK = 16372  # one PDV of a 16 KiB P-DATA-TF
IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
DEFLATED = "1.2.840.10008.1.2.1.99"
BIG = "1.2.840.10008.1.2.2"


def receive(
    files: Path, count: int, receiver: str, workdir: Path, repeat: int
) -> tuple[float, float]:
    """(wall ms per file of the sender, CPU ms per file of the receiver), medians."""
    walls: list[float] = []
    cpus: list[float] = []
    for run in range(repeat):
        out = workdir / f"out-{receiver}"
        out.mkdir(exist_ok=True)
        clear_directory(out)
        port = free_port()
        if receiver == "dicomnet":
            argv = [
                str(our_script("storescp")),
                str(port),
                "--bind",
                "127.0.0.1",
                "-od",
                str(out),
                "-q",
            ]
            env = None
        else:
            argv = [DCMTK_STORESCP, "-od", str(out), str(port)]
            env = dcmtk_env()
        log = workdir / f"{receiver}-{run}.log"
        with running(argv, env=env, log=log, stdout_to_log=True) as proc:
            wait_listening(port, proc)
            before = process_cpu_seconds(proc.pid)
            began = time.perf_counter()
            done = subprocess.run(
                [DCMTK_STORESCU, "+sd", "127.0.0.1", str(port), str(files)],
                env=dcmtk_env(),
                capture_output=True,
                timeout=600,
                check=False,
            )
            elapsed = time.perf_counter() - began
            cpu = process_cpu_seconds(proc.pid) - before
        if done.returncode != 0 or count_files(out) != count:
            raise SystemExit(
                f"{receiver}: storescu failed or files missing: {done.stderr[-500:]!r}"
            )
        walls.append(elapsed / count * 1000)
        cpus.append(cpu / count * 1000)
    return statistics.median(walls), statistics.median(cpus)


def validation_us(data: bytes, syntax: str, repeat: int) -> float:
    """CPU microseconds to validate ``data`` fed in PDV-sized chunks (median)."""
    from dicomnet.validate import StructureValidator

    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    times = []
    for _ in range(max(repeat, 5)):
        began = time.process_time()
        for _ in range(20):
            validator = StructureValidator(syntax)
            for chunk in chunks:
                validator.feed(chunk)
            validator.close()
        times.append((time.process_time() - began) / 20 * 1e6)
    return statistics.median(times)


def encode(ds: object, syntax: str) -> bytes:
    from dicomnet.dataset import encode_dataset

    return encode_dataset(ds, syntax)


def dense_report() -> object:
    from pydicom.dataset import Dataset

    root = Dataset()
    root.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    root.SOPInstanceUID = "1.2.3.4"
    items = []
    for i in range(20000):
        item = Dataset()
        item.CodeValue = str(i)
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = "finding"
        items.append(item)
    root.ConceptNameCodeSequence = items
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size-kib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from pydicom import dcmread

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workdir = Path(tmp)
        files = workdir / "files"
        size = generate_files(files, args.files, args.size_kib)
        print(f"{args.files} files of {size / 1e3:.0f} kB, {args.repeat} run(s) each\n")
        ours_wall, ours_cpu = receive(files, args.files, "dicomnet", workdir, args.repeat)
        dcmtk_wall, _ = receive(files, args.files, "dcmtk", workdir, args.repeat)
        print("Receive (DCMTK storescu -> receiver, one association):")
        print(f"  dicomnet storescp   {ours_wall:7.2f} ms/file wall   {ours_cpu:6.2f} ms/file CPU")
        print(f"  DCMTK storescp      {dcmtk_wall:7.2f} ms/file wall")

        sample = dcmread(next(iter(sorted(files.iterdir()))))
        print("\nValidate (fed in 16,372-byte chunks):")
        rows = []
        for name, syntax in (
            ("received file, Explicit VR LE", EXPLICIT),
            ("same, Implicit VR LE", IMPLICIT),
            ("same, Explicit VR BE", BIG),
            ("same, Deflated", DEFLATED),
        ):
            data = encode(sample, syntax)
            rows.append((name, len(data), validation_us(data, syntax, args.repeat)))
        report = encode(dense_report(), EXPLICIT)
        rows.append(
            (
                "SR, 20,000 items (80,000 elements)",
                len(report),
                validation_us(report, EXPLICIT, args.repeat),
            )
        )
        for name, length, micros in rows:
            print(
                f"  {name:38s} {length / 1e3:8.0f} kB {micros:9.0f} us {length / micros:7.0f} MB/s"
            )

        received_us = rows[0][2]
        # (a very short run can measure 0 CPU ticks for the receiver: no share then)
        cpu_share = f"{received_us / 10 / ours_cpu:.2f} %" if ours_cpu > 0 else "n/a"
        print(
            f"\nValidation of the received data set: {received_us / 1000:.3f} ms = "
            f"{cpu_share} of our receiver's CPU per file, "
            f"{received_us / 10 / ours_wall:.2f} % of the receive time per file (goal < 5 %)"
        )
        dense_ms = rows[-1][2] / 1000
        print(
            f"Element-dense worst case: {dense_ms:.1f} ms for {rows[-1][1] / 1e6:.1f} MB "
            f"({rows[-1][1] / rows[-1][2]:.0f} MB/s)"
        )


if __name__ == "__main__":
    main()
