"""The Python peers the benchmark runs, each in its own process.

    python benchmarks/_peers.py scp-dicomnet OUT_DIR MAX_PDU {save,write}
    python benchmarks/_peers.py scp-pynetdicom OUT_DIR MAX_PDU
    python benchmarks/_peers.py scu-dicomnet HOST PORT MAX_PDU IN_DIR
    python benchmarks/_peers.py scu-pynetdicom HOST PORT MAX_PDU IN_DIR

SCPs listen on an ephemeral port of 127.0.0.1, print ``PORT <n>`` on stdout once listening, and
run until SIGTERM/SIGINT. Each received data set is written to OUT_DIR as ``<SOP Instance
UID>.dcm``. dicomnet's SCP writes it either with ``event.save()`` (``save``: the atomic,
fsync'd write the product uses) or as ``event.encoded_dataset()`` bytes with a plain write
(``write``: what the pynetdicom SCP does, no fsync).

SCUs send every file of IN_DIR (sorted by name) on one association, print ``ELAPSED <seconds>``
and ``CPU <seconds>`` (association request to release, excluding interpreter start-up and
imports; pydicom is imported before the clock starts for both) and ``SENT <ok> FAILED <n>``, and
exit 1 if any store failed.

Set ``DICOMNET_BENCH_PROFILE=<file>`` for ``scp-dicomnet`` to profile the association thread
with cProfile; the stats of the last association are dumped to that file.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"


def _wait_for_signal() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(3600):
        pass


def _announce(port: int) -> None:
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()


def scp_dicomnet(out_dir: str, max_pdu: str, mode: str) -> int:
    from dicomnet import AE, evt
    from dicomnet.sop_class import StorageClasses

    out = Path(out_dir)
    if mode not in ("save", "write"):
        raise SystemExit(f"unknown mode {mode!r}")

    def on_store_save(event: Any) -> int:
        event.save(out / f"{event.request.AffectedSOPInstanceUID}.dcm")
        return 0x0000

    def on_store_write(event: Any) -> int:
        path = out / f"{event.request.AffectedSOPInstanceUID}.dcm"
        with open(path, "wb") as handle:
            handle.write(event.encoded_dataset())
        return 0x0000

    handlers: list[Any] = [(evt.EVT_C_STORE, on_store_save if mode == "save" else on_store_write)]
    profile_path = os.environ.get("DICOMNET_BENCH_PROFILE")
    if profile_path:
        import cProfile

        profilers: dict[int, cProfile.Profile] = {}

        def on_open(event: Any) -> None:
            profiler = cProfile.Profile()
            profilers[threading.get_ident()] = profiler
            profiler.enable()

        def on_close(event: Any) -> None:
            profiler = profilers.pop(threading.get_ident(), None)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile_path)

        handlers += [(evt.EVT_CONN_OPEN, on_open), (evt.EVT_CONN_CLOSE, on_close)]

    ae = AE("BENCHSCP")
    ae.maximum_pdu_size = int(max_pdu)
    for sop_class in StorageClasses:
        ae.add_supported_context(sop_class)  # uncompressed transfer syntaxes by default
    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
    assert server is not None
    _announce(server.server_address[1])
    try:
        _wait_for_signal()
    finally:
        server.shutdown()
    return 0


def scp_pynetdicom(out_dir: str, max_pdu: str) -> int:
    from pynetdicom import AE, AllStoragePresentationContexts, evt

    out = Path(out_dir)

    def on_store(event: Any) -> int:
        path = out / f"{event.request.AffectedSOPInstanceUID}.dcm"
        with open(path, "wb") as handle:
            handle.write(event.encoded_dataset())
        return 0x0000

    ae = AE("BENCHSCP")
    ae.maximum_pdu_size = int(max_pdu)
    ae.supported_contexts = AllStoragePresentationContexts
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    assert server is not None
    _announce(server.server_address[1])
    try:
        _wait_for_signal()
    finally:
        server.shutdown()
    return 0


def _report(started: float, cpu_started: float, sent: int, failed: int) -> int:
    print(f"ELAPSED {time.perf_counter() - started:.6f}")
    print(f"CPU {time.process_time() - cpu_started:.6f}")
    print(f"SENT {sent} FAILED {failed}")
    return 0 if failed == 0 and sent > 0 else 1


def scu_dicomnet(host: str, port: str, max_pdu: str, in_dir: str) -> int:
    import pydicom.dataset  # noqa: F401 - imported before the clock starts, as pynetdicom does

    from dicomnet import AE

    files = sorted(Path(in_dir).iterdir())
    ae = AE("BENCHSCU")
    ae.add_requested_context(CT_IMAGE_STORAGE, EXPLICIT_VR_LE)
    cpu_started = time.process_time()
    started = time.perf_counter()
    assoc = ae.associate(host, int(port), ae_title="BENCHSCP", max_pdu=int(max_pdu))
    if not assoc.is_established:
        print(f"association failed: {assoc.failure_reason}", file=sys.stderr)
        return 1
    sent = failed = 0
    for path in files:
        status = assoc.send_c_store(path)
        if getattr(status, "Status", None) == 0x0000:
            sent += 1
        else:
            failed += 1
    assoc.release()
    return _report(started, cpu_started, sent, failed)


def scu_pynetdicom(host: str, port: str, max_pdu: str, in_dir: str) -> int:
    from pynetdicom import AE

    files = sorted(Path(in_dir).iterdir())
    ae = AE("BENCHSCU")
    ae.add_requested_context(CT_IMAGE_STORAGE, EXPLICIT_VR_LE)
    cpu_started = time.process_time()
    started = time.perf_counter()
    assoc = ae.associate(host, int(port), ae_title="BENCHSCP", max_pdu=int(max_pdu))
    if not assoc.is_established:
        print("association failed", file=sys.stderr)
        return 1
    sent = failed = 0
    for path in files:
        status = assoc.send_c_store(path)  # streamed from the file, not decoded
        if getattr(status, "Status", None) == 0x0000:
            sent += 1
        else:
            failed += 1
    assoc.release()
    return _report(started, cpu_started, sent, failed)


COMMANDS: dict[str, Callable[..., int]] = {
    "scp-dicomnet": scp_dicomnet,
    "scp-pynetdicom": scp_pynetdicom,
    "scu-dicomnet": scu_dicomnet,
    "scu-pynetdicom": scu_pynetdicom,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    return COMMANDS[argv[0]](*argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
