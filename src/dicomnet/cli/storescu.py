"""``storescu PEER PORT PATH...``: send DICOM files and directories.

Every input file's meta information is read first (without decoding data sets) to propose the
presentation contexts the files need: their SOP class in their own transfer syntax, plus
uncompressed fallbacks for uncompressed files. Files are then sent on one association, each
streamed from disk undecoded when its transfer syntax was accepted.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from dicomnet._record import record
from dicomnet._uid import UNCOMPRESSED_SYNTAXES
from dicomnet.cli import _options as o
from dicomnet.cli._common import (
    Common,
    check_established,
    failure_text,
    scu_ae,
    start,
    tls_args,
    tls_client_context,
)
from dicomnet.cli._console import (
    EXIT_ABORTED,
    EXIT_FAILURE_STATUS,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    OutputFormat,
    render,
)

HELP = """Send DICOM files (C-STORE SCU); directories are scanned (+r: recursively).

Unreadable or non-DICOM inputs are reported and skipped (exit 2 if nothing could be sent); a
failure status for any file gives exit 6; files whose SOP class or transfer syntax the peer did
not accept are reported and not sent (exit 4). --handler without EVENT= handles each DIMSE message
received (EVT_DIMSE_RECV, i.e. each C-STORE response)."""

MAX_CONTEXTS = 128


@record
class Item:
    path: Path
    size: int
    sop_class: str = ""
    sop_instance: str = ""
    syntax: str = ""
    problem: str = ""


def _walk(paths: list[Path], recursive: bool) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            if recursive:
                for root, dirs, files in os.walk(path):
                    dirs.sort()
                    for name in sorted(files):
                        yield Path(root) / name
            else:
                yield from sorted(p for p in path.iterdir() if p.is_file())
        else:
            yield path


def _inspect(path: Path) -> Item:
    from dicomnet.part10 import Part10Error, read_file_meta

    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            meta = read_file_meta(handle)
    except FileNotFoundError:
        return Item(path, 0, problem="no such file")
    except (Part10Error, OSError) as exc:
        return Item(path, 0, problem=str(exc))
    return Item(path, size, meta.sop_class_uid, meta.sop_instance_uid, meta.transfer_syntax_uid)


def _contexts(items: list[Item]) -> list[Any]:
    from dicomnet.presentation import PresentationContext

    wanted: dict[tuple[str, str], None] = {}
    for item in items:
        wanted[(item.sop_class, item.syntax)] = None
    # Each file's own transfer syntax alone in a context of its own, so that the acceptor
    # cannot pick another syntax for it (that would force decoding and re-encoding); then one
    # context per SOP class with the uncompressed fallbacks, used only if the first is refused.
    contexts = []
    fallbacks: dict[str, None] = {}
    for sop_class, syntax in wanted:
        contexts.append(PresentationContext(sop_class, [syntax]))
        if syntax in UNCOMPRESSED_SYNTAXES:
            fallbacks[sop_class] = None
    for sop_class in fallbacks:
        contexts.append(PresentationContext(sop_class, list(UNCOMPRESSED_SYNTAXES[:2])))
    return contexts


def storescu(
    peer: o.Peer,
    port: o.Port,
    paths: Annotated[
        list[Path], typer.Argument(help="Files and directories to send.", show_default=False)
    ],
    recursive: Annotated[
        bool, typer.Option("--recursive", "+r", help="Scan directories recursively.")
    ] = False,
    calling_aet: o.CallingAET = "STORESCU",
    called_aet: o.CalledAET = "ANY-SCP",
    connect_timeout: o.ConnectTimeout = 10.0,
    acse_timeout: o.AcseTimeout = 30.0,
    dimse_timeout: o.DimseTimeout = 30.0,
    max_pdu: o.MaxPDU = None,
    tls_cert: o.TlsCert = None,
    tls_key: o.TlsKey = None,
    tls_ca: o.TlsCA = None,
    tls_no_verify: o.TlsNoVerify = False,
    tls_server_name: o.TlsServerName = None,
    handler: Annotated[list[str] | None, o.handler_option("each DIMSE message received")] = None,
    fmt: o.Format = OutputFormat.auto,
    no_color: o.NoColor = False,
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
    debug: o.Debug = False,
    log_file: o.LogFile = None,
) -> None:
    from dicomnet import events as evt
    from dicomnet.cli._handlers import build_evt_handlers
    from dicomnet.cli._logging import logging_handlers
    from dicomnet.dimse.status import status_category, status_meaning

    common = Common(quiet, verbose, debug, log_file, handler or (), no_color)
    user = start(common, evt.EVT_DIMSE_RECV)
    ssl_context = tls_client_context(tls_cert, tls_key, tls_ca, tls_no_verify, tls_server_name)

    rows: list[dict[str, Any]] = []
    items: list[Item] = []
    for path in _walk(paths, recursive):
        item = _inspect(path)
        if item.problem:
            sys.stderr.write(f"storescu: skipping {path}: {item.problem}\n")
            rows.append(
                {"file": str(path), "result": "skipped", "status": "", "meaning": item.problem}
            )
        else:
            items.append(item)
    skipped = len(rows)
    if not items:
        _finish(rows, fmt, no_color)
        raise CommandError("nothing to send (no readable DICOM file)", EXIT_USAGE)
    contexts = _contexts(items)
    if len(contexts) > MAX_CONTEXTS:
        raise CommandError(
            f"the files need {len(contexts)} presentation contexts; at most {MAX_CONTEXTS} fit "
            "in one association (send them in smaller batches)",
            EXIT_USAGE,
        )

    ae = scu_ae(calling_aet, connect_timeout, acse_timeout, dimse_timeout, max_pdu)
    handlers = build_evt_handlers(logging_handlers(common.level), user)
    assoc = ae.associate(
        peer,
        port,
        contexts,
        ae_title=called_aet,
        ssl_context=ssl_context,
        tls_args=tls_args(ssl_context, tls_server_name),
        evt_handlers=handlers,
    )
    check_established(assoc, peer, port)

    sent = failed = warned = no_context = 0
    total_bytes = sum(i.size for i in items)
    began = time.perf_counter()
    progress = _Progress(len(items), total_bytes, enabled=not quiet and sys.stderr.isatty())
    exit_code = 0
    try:
        for item in items:
            try:
                rsp = assoc._store(item.path)
            except ValueError as exc:  # no accepted context for this file
                rows.append(
                    {"file": str(item.path), "result": "skipped", "status": "", "meaning": str(exc)}
                )
                skipped += 1
                no_context += 1
                sys.stderr.write(f"storescu: skipping {item.path}: {exc}\n")
                progress.advance(item.size)
                continue
            if rsp is None:
                reason = failure_text(assoc)
                rows.append(
                    {"file": str(item.path), "result": "aborted", "status": "", "meaning": reason}
                )
                raise CommandError(
                    f"association aborted while sending {item.path}: {reason}", EXIT_ABORTED
                )
            category = status_category(rsp.Status)
            meaning = status_meaning(rsp.Status, "C-STORE")
            if rsp.ErrorComment:
                meaning += f" ({rsp.ErrorComment})"
            rows.append(
                {
                    "file": str(item.path),
                    "result": category.lower(),
                    "status": f"0x{rsp.Status:04X}",
                    "meaning": meaning,
                    "sop_instance_uid": item.sop_instance,
                }
            )
            if category == "Failure":
                failed += 1
                sys.stderr.write(f"storescu: {item.path}: 0x{rsp.Status:04X} {meaning}\n")
            else:
                sent += 1
                warned += category == "Warning"
            progress.advance(item.size)
    except KeyboardInterrupt:
        assoc.abort()
        raise
    finally:
        progress.close()
        if assoc.is_established:
            assoc.release()
        elapsed = max(time.perf_counter() - began, 1e-6)
        try:
            _finish(rows, fmt, no_color)
        finally:  # the summary on stderr even when stdout has gone
            if not quiet:
                sys.stderr.write(
                    f"storescu: sent {sent}, failed {failed}, skipped {skipped}"
                    f"{f', warnings {warned}' if warned else ''}; "
                    f"{total_bytes / elapsed / 1e6:.1f} MB/s in {elapsed:.2f} s\n"
                )
    if failed:
        exit_code = EXIT_FAILURE_STATUS
    elif no_context:
        # The peer accepted no context for some (or all) of the files: they were not sent, and
        # a script must not take that for success (and, say, delete the source directory).
        exit_code = EXIT_REJECTED
    if exit_code:
        raise typer.Exit(exit_code)


def _finish(rows: list[dict[str, Any]], fmt: OutputFormat, no_color: bool) -> None:
    render(rows, ["file", "result", "status", "meaning"], fmt, no_color=no_color)


class _Progress:
    """A rich progress bar on a terminal (stderr); nothing otherwise."""

    def __init__(self, files: int, total: int, *, enabled: bool) -> None:
        self._bar: Any = None
        if not enabled or files < 2:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TransferSpeedColumn

        from dicomnet.cli._console import console

        self._bar = Progress(
            TextColumn("sending"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} B"),
            TransferSpeedColumn(),
            console=console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task("send", total=total)
        self._bar.start()

    def advance(self, size: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, size)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
