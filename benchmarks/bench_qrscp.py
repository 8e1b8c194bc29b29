"""qrscp at scale: C-FIND over a large index, and what indexing costs a receiver.

    python benchmarks/bench_qrscp.py [--instances 100000] [--per-study 10] [--files 300]
                                     [--repeat 3] [--size-kib 4] [--pg postgresql://...]

Part 1 (query): an index of N synthetic instances (N / per-study studies, one series each) is
built in a SQLite file (and, with --pg, in that PostgreSQL database); qrscp serves it on
127.0.0.1, and our SCU sends Study Root STUDY-level C-FINDs with a wildcard key matching every
study: once with plain keys, once also asking for ModalitiesInStudy and
NumberOfStudyRelatedInstances (computed per study). Reported: time to the first match, and
matches per second over the whole answer (the best of --repeat runs). DCMTK's dcmqrscp is not
measured here: it keeps its index in a flat file and scans it whole for every query.

Part 2 (receive): DCMTK's storescu sends the same small files on one association to our
storescp and to qrscp (which also indexes each instance in its SQLite index before answering),
in turn, --repeat times; reported: wall-clock time per file and the ratio qrscp/storescp.

The issue's targets: first match < 100 ms, >= 5,000 matches/s, receive cost <= 1.2 x storescp.
Timings are printed, not asserted (see README.md).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DCMTK_STORESCU,
    dcmtk_env,
    generate_files,
    our_script,
    process_cpu_seconds,
)


def build_index(url: str, root: Path, instances: int, per_study: int) -> float:
    """Fill a fresh index with synthetic instances; seconds taken."""
    from pydicom.dataset import Dataset

    from dicomnet.archive.index import Index

    index = Index(url, root=root)
    index.clear()
    started = time.perf_counter()
    batch: list[tuple[Any, Path, str, int | None]] = []
    studies = instances // per_study
    for study in range(studies):
        for n in range(per_study):
            ds = Dataset()
            ds.PatientID = f"P{study // 3:06d}"
            ds.PatientName = f"Patient^Number{study // 3}"
            ds.PatientBirthDate = "19700101"
            ds.StudyInstanceUID = f"1.2.826.0.1.3680043.10.99.{study}"
            ds.StudyDate = f"2024{1 + study % 12:02d}{1 + study % 28:02d}"
            ds.StudyTime = "101010"
            ds.AccessionNumber = f"A{study:07d}"
            ds.StudyDescription = "Benchmark study"
            ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.99.{study}.1"
            ds.Modality = "CT" if study % 2 else "MR"
            ds.SeriesNumber = 1
            ds.SOPInstanceUID = f"1.2.826.0.1.3680043.10.99.{study}.1.{n}"
            ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            ds.InstanceNumber = n + 1
            batch.append((ds, root / f"{study}/{n}.dcm", "1.2.840.10008.1.2.1", 1000))
        if len(batch) >= 5000:
            index.add_many(batch)
            batch = []
    if batch:
        index.add_many(batch)
    took = time.perf_counter() - started
    index.close()
    return took


def start_qrscp(storage: Path, db: str | None) -> tuple[subprocess.Popen[bytes], int]:
    argv = [str(our_script("qrscp")), "0", "--bind", "127.0.0.1", "-od", str(storage)]
    if db:
        argv += ["--db", db]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"qrscp did not start: {line}")
    port = int(line.split("listening on ", 1)[1].split()[0].rstrip(";").rsplit(":", 1)[1])
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(15)


def query_once(port: int, with_counts: bool) -> tuple[float, float, int]:
    """(seconds to the first match, seconds in all, matches) for one C-FIND."""
    from pydicom.dataset import Dataset

    from dicomnet import AE

    ae = AE("BENCH")
    ae.dimse_timeout = ae.acse_timeout = 120
    ae.add_requested_context("1.2.840.10008.5.1.4.1.2.2.1")
    assoc = ae.associate("127.0.0.1", port, ae_title="QRSCP")
    if not assoc.is_established:
        raise SystemExit("cannot associate with qrscp")
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.PatientName = "Patient^*"
    identifier.StudyInstanceUID = ""
    identifier.StudyDate = ""
    identifier.AccessionNumber = ""
    identifier.PatientID = ""
    if with_counts:
        identifier.ModalitiesInStudy = ""
        identifier.NumberOfStudyRelatedInstances = ""
    first = None
    matches = 0
    started = time.perf_counter()
    for status, _ident in assoc.send_c_find(identifier, "S"):
        if status.Status in (0xFF00, 0xFF01):
            matches += 1
            if first is None:
                first = time.perf_counter() - started
        elif status.Status != 0:
            raise SystemExit(f"C-FIND failed: 0x{int(status.Status):04X}")
    total = time.perf_counter() - started
    assoc.release()
    return first or total, total, matches


def part_query(args: argparse.Namespace, work: Path) -> None:
    targets: list[tuple[str, str | None, str]] = [("SQLite", None, "")]
    if args.pg:
        targets.append(("PostgreSQL", args.pg, args.pg))
    for name, db, url in targets:
        storage = work / f"archive-{name}"
        storage.mkdir()
        from dicomnet.archive.index import database_url

        built = build_index(
            database_url(url or None, storage), storage, args.instances, args.per_study
        )
        print(
            f"{name}: indexed {args.instances} instances ({args.instances // args.per_study} "
            f"studies) in {built:.1f} s ({args.instances / built:.0f} instances/s, bulk)"
        )
        proc, port = start_qrscp(storage, db)
        try:
            for with_counts in (False, True):
                runs = [query_once(port, with_counts) for _ in range(args.repeat)]
                best_first = min(r[0] for r in runs)
                best_rate = max(r[2] / r[1] for r in runs)
                label = "plain keys" if not with_counts else "+ModalitiesInStudy, counts"
                print(
                    f"  STUDY level, PatientName=Patient^*, {label}: {runs[0][2]} matches; "
                    f"first match {best_first * 1000:.1f} ms (target < 100); "
                    f"{best_rate:,.0f} matches/s (target >= 5,000)"
                )
        finally:
            stop(proc)


def part_receive(args: argparse.Namespace, work: Path) -> None:
    files = work / "files"
    generate_files(files, args.files, args.size_kib)
    timings: dict[str, list[float]] = {"storescp": [], "qrscp": []}
    cpu: dict[str, list[float]] = {"storescp": [], "qrscp": []}
    for _round in range(args.repeat):
        for name in ("storescp", "qrscp"):
            out = work / f"in-{name}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            argv = [str(our_script(name)), "0", "--bind", "127.0.0.1", "-od", str(out)]
            proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
            assert proc.stderr is not None
            line = proc.stderr.readline().decode()
            port = int(line.split("listening on ", 1)[1].split()[0].rstrip(";").rsplit(":", 1)[1])
            try:
                cpu_before = process_cpu_seconds(proc.pid)
                started = time.perf_counter()
                sent = subprocess.run(
                    [DCMTK_STORESCU, "-aec", "QRSCP", "127.0.0.1", str(port), "+sd", str(files)],
                    env=dcmtk_env(),
                    capture_output=True,
                    check=False,
                )
                took = time.perf_counter() - started
                cpu[name].append((process_cpu_seconds(proc.pid) - cpu_before) / args.files)
            finally:
                stop(proc)
            stored = len(list(out.glob("*.dcm")))
            if sent.returncode != 0 or stored < args.files:
                raise SystemExit(f"{name}: storescu failed or files missing ({stored})")
            timings[name].append(took / args.files)
    ours, archive = min(timings["storescp"]), min(timings["qrscp"])
    # each round runs storescp then qrscp back to back: the median of the per-round ratios is
    # less moved by load that comes and goes on a shared machine than the ratio of the bests
    paired = sorted(q / s for s, q in zip(timings["storescp"], timings["qrscp"], strict=True))
    print(
        f"receive {args.files} files of {args.size_kib} KiB pixel data (DCMTK storescu, one "
        f"association), best of "
        f"{args.repeat}: storescp {ours * 1000:.2f} ms/file, qrscp {archive * 1000:.2f} ms/file; "
        f"qrscp/storescp = {archive / ours:.2f} (target <= 1.20); median of the per-round "
        f"ratios {paired[len(paired) // 2]:.2f}"
    )
    ours, archive = min(cpu["storescp"]), min(cpu["qrscp"])
    # (a very short run can measure 0 CPU ticks: no ratio then)
    ratio = f"{archive / ours:.2f}" if ours > 0 else "n/a (run too short)"
    print(
        f"  receiver CPU time: storescp {ours * 1000:.2f} ms/file, qrscp {archive * 1000:.2f} "
        f"ms/file; qrscp/storescp = {ratio} (less disturbed by other load)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--per-study", type=int, default=10)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size-kib", type=int, default=4, help="pixel data per received file")
    parser.add_argument("--pg", help="also measure a PostgreSQL index at this URL (emptied)")
    parser.add_argument("--skip-query", action="store_true")
    parser.add_argument("--skip-receive", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-qrscp-"))
    try:
        if not args.skip_query:
            part_query(args, work)
        if not args.skip_receive:
            part_receive(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
