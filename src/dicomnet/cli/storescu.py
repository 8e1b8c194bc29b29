"""``storescu PEER PORT PATH...``: send DICOM files and directories.

Every input file's meta information and the SOP Class/Instance UIDs at the start of its data
set are read first (without decoding) to propose the presentation contexts the files need: their
SOP class in their own transfer syntax, plus uncompressed fallbacks for uncompressed files.
Files are then sent on one association, each checked whole (structure, UIDs) just before its
command goes out and streamed from disk undecoded when its transfer syntax was accepted. A file
that cannot be sent is reported and skipped; the association goes on. After an abort the files
not sent are reported as such, or sent on a new association (``--retry N``).
``--associations N`` sends over N parallel associations, each file once (:class:`_Parallel`).
"""

from __future__ import annotations

import enum
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from dicomnet._record import record
from dicomnet._uid import UNCOMPRESSED_SYNTAXES
from dicomnet.cli._common import ScuCommon, failure_text, start
from dicomnet.cli._console import (
    EXIT_ABORTED,
    EXIT_FAILURE_STATUS,
    EXIT_REJECTED,
    EXIT_USAGE,
    CommandError,
    OutputFormat,
    render,
)
from dicomnet.cli._shared import scu_options

HELP = """Send DICOM files (C-STORE SCU); directories are scanned (+r: recursively).

Each file is checked before it is sent (structure in its transfer syntax, SOP Class/Instance
UIDs, taken from the data set); one that cannot be sent is reported and skipped, and the rest
goes on. A file without File Meta (a bare data set) is sent, with a warning, when it carries
its SOP UIDs (its transfer syntax read from its first element, as DCMTK). Non-DICOM inputs are
skipped (exit 2 if nothing could be sent); a malformed or unreadable
DICOM file gives exit 2; files whose SOP class or transfer syntax the peer did not accept (or
that cannot be converted exactly to one it did) are reported and not sent (exit 4); a failure
status for any file gives exit 6; an abort leaves the remaining files not sent (exit 5) unless
--retry sends them on a new association. The summary counts every file. --handler without
EVENT= handles each DIMSE message received (EVT_DIMSE_RECV, i.e. each C-STORE response)."""

MAX_CONTEXTS = 128


class Decompress(enum.StrEnum):
    never = "never"
    lossless = "lossless"
    lossy = "lossy"


class Compress(enum.StrEnum):
    rle = "rle"
    jpeg_ls = "jpeg-ls"
    j2k = "j2k"


@record
class Item:
    path: Path
    size: int
    sop_class: str = ""
    sop_instance: str = ""
    syntax: str = ""
    problem: str = ""
    dicom: bool = True  # False: not a DICOM file at all (skipped without changing the exit)
    warning: str = ""


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
    """Read a file's meta header and the SOP UIDs at the start of its data set (cheap: the data
    set is walked only up to (0008,0018))."""
    from dicomnet.part10 import Part10Error, read_file_meta
    from dicomnet.ul.codec import is_valid_uid
    from dicomnet.validate import SOP_CLASS_UID, SOP_INSTANCE_UID, validate_stream

    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            meta = read_file_meta(handle)
            scan = validate_stream(
                handle, meta.transfer_syntax_uid, stop_after=SOP_INSTANCE_UID, chunk_size=1 << 16
            )
    except FileNotFoundError:
        return Item(path, 0, problem="no such file", dicom=False)
    except Part10Error as exc:
        return _inspect_bare(path, str(exc))
    except (ValueError, OSError) as exc:  # StructureError, unreadable
        return Item(path, 0, problem=str(exc))
    sop_class, sop_instance = scan.uid(SOP_CLASS_UID), scan.uid(SOP_INSTANCE_UID)
    for name, value in (("SOP Class UID", sop_class), ("SOP Instance UID", sop_instance)):
        if not value:
            return Item(path, size, problem=f"the data set has no {name}")
    if not is_valid_uid(sop_class):  # it must go into the association request
        return Item(path, size, problem=f"the data set's SOP Class UID {sop_class!r} is not valid")
    item = Item(path, size, sop_class, sop_instance, meta.transfer_syntax_uid)
    if (sop_class, sop_instance) != (meta.sop_class_uid, meta.sop_instance_uid):
        item.warning = (
            f"the file meta header names {meta.sop_class_uid} / {meta.sop_instance_uid}, the "
            f"data set {sop_class} / {sop_instance}: sending the data set's"
        )
    return item


def _inspect_bare(path: Path, problem: str) -> Item:
    """A file without File Meta: sendable (with a warning) when it is a data set whose first
    element shows its transfer syntax (:func:`dicomnet.part10.detect_bare_dataset`, as DCMTK)
    and that carries valid SOP Class and Instance UIDs; otherwise not DICOM (``problem``)."""
    from dicomnet.part10 import Part10Error, detect_bare_dataset
    from dicomnet.sop_class import uid_name
    from dicomnet.ul.codec import is_valid_uid
    from dicomnet.validate import SOP_CLASS_UID, SOP_INSTANCE_UID, validate_stream

    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            meta = detect_bare_dataset(handle)
            scan = validate_stream(handle, meta.transfer_syntax_uid, stop_after=SOP_INSTANCE_UID)
    except (Part10Error, ValueError, OSError):
        return Item(path, 0, problem=problem, dicom=False)
    sop_class, sop_instance = scan.uid(SOP_CLASS_UID), scan.uid(SOP_INSTANCE_UID)
    if scan.error is not None or not (is_valid_uid(sop_class) and is_valid_uid(sop_instance)):
        return Item(path, 0, problem=problem, dicom=False)
    return Item(
        path,
        size,
        sop_class,
        sop_instance,
        meta.transfer_syntax_uid,
        warning="no File Meta Information header: sending its data set, read as "
        f"{uid_name(meta.transfer_syntax_uid)} (from its first element)",
    )


def _contexts(
    items: list[Item],
    proposed: list[str] | None = None,
    decompress: str = "lossless",
    compress: str | None = None,
) -> list[Any]:
    """The contexts the files need; ``proposed`` (--propose-ts, -x...): the transfer syntaxes
    of one context per SOP class of uncompressed files instead of the default ones (a file in
    another uncompressed syntax is converted to the accepted one; compressed files keep a
    context of their own syntax). Unless ``decompress`` is "never", a class with a compressed
    file also gets the uncompressed context, used if its own syntax is refused; with
    ``compress`` (a transfer syntax UID) a class with uncompressed files gets a context for it
    first."""
    from dicomnet.presentation import PresentationContext
    from dicomnet.transcode import can_decompress

    wanted: dict[tuple[str, str], None] = {}
    for item in items:
        wanted[(item.sop_class, item.syntax)] = None
    first = []
    if compress:
        plain = dict.fromkeys(c for c, syntax in wanted if syntax in UNCOMPRESSED_SYNTAXES)
        first = [PresentationContext(c, [compress]) for c in plain]
    # lossy data also gets the uncompressed context unless decompression is off: then a peer
    # that refuses its syntax is told why the file is skipped (and that 'lossy' would send it)
    if decompress != "never":
        for c, syntax in list(wanted):
            if syntax not in UNCOMPRESSED_SYNTAXES and can_decompress(syntax, "lossy"):
                wanted.setdefault((c, UNCOMPRESSED_SYNTAXES[0]), None)
    if proposed is not None:
        contexts = [
            PresentationContext(sop_class, [syntax])
            for sop_class, syntax in wanted
            if syntax not in UNCOMPRESSED_SYNTAXES
        ]
        classes = {c: None for c, syntax in wanted if syntax in UNCOMPRESSED_SYNTAXES}
        contexts += [PresentationContext(c, list(proposed)) for c in classes]
        return first + contexts
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
    return first + contexts


@scu_options("STORESCU", handles="each DIMSE message received")
def storescu(
    common: ScuCommon,
    paths: Annotated[
        list[Path], typer.Argument(help="Files and directories to send.", show_default=False)
    ],
    scan_directories: Annotated[
        bool,
        typer.Option(
            "--scan-directories",
            "+sd",
            help="DCMTK's +sd, accepted for scripts: directories given are always scanned.",
        ),
    ] = False,
    recursive: Annotated[
        bool, typer.Option("--recursive", "+r", help="Scan directories recursively.")
    ] = False,
    retry: Annotated[
        int,
        typer.Option(
            "--retry",
            min=0,
            help="After an abort, send the files not yet sent on a new association, up to N times.",
        ),
    ] = 0,
    associations: Annotated[
        int,
        typer.Option(
            "--associations",
            min=1,
            help="Send over N parallel associations, each file once (results in file order).",
        ),
    ] = 1,
    decompress: Annotated[
        Decompress,
        typer.Option(
            "--decompress",
            help="A compressed file the peer accepts only uncompressed is decompressed: "
            "'lossless' compression only (default; dcmsend's +dls), 'lossy' too (+dly: the "
            "receiver gets the lossy pixels), or 'never' (-dn: skipped). Needs dicomnet[codecs].",
        ),
    ] = Decompress.lossless,
    compress: Annotated[
        Compress | None,
        typer.Option(
            "--compress",
            help="Propose this lossless compression for uncompressed files and compress them "
            "when the peer accepts it (else they go uncompressed). Needs dicomnet[codecs].",
        ),
    ] = None,
) -> None:
    from dicomnet import events as evt
    from dicomnet.cli._handlers import build_evt_handlers
    from dicomnet.cli._logging import logging_handlers

    user = start(common, evt.EVT_DIMSE_RECV)
    ssl_context = common.client_tls()
    identity = common.user_identity(ssl_context)
    peer, port, quiet, fmt, no_color = (
        common.peer,
        common.port,
        common.quiet,
        common.fmt,
        common.no_color,
    )

    from dicomnet.transcode import COMPRESSIONS

    compress_uid = COMPRESSIONS[compress.value] if compress is not None else None
    batch = _Batch(quiet=quiet)
    batch.transcode = {"decompress": decompress.value, "compress": compress_uid}
    items: list[Item] = []
    for path in _walk(paths, recursive):
        item = _inspect(path)
        if item.problem:
            batch.skip(item, item.problem, invalid=item.dicom)
        else:
            if item.warning:
                sys.stderr.write(f"storescu: warning: {path}: {item.warning}\n")
            items.append(item)
    if not items:
        _finish(batch.rows, fmt, no_color)
        raise CommandError("nothing to send (no readable DICOM file)", EXIT_USAGE)
    contexts = _contexts(items, common.proposal(), decompress.value, compress_uid)
    if len(contexts) > MAX_CONTEXTS:
        raise CommandError(
            f"the files need {len(contexts)} presentation contexts; at most {MAX_CONTEXTS} fit "
            "in one association (send them in smaller batches)",
            EXIT_USAGE,
        )

    ae = common.ae()
    handlers = build_evt_handlers(logging_handlers(common.level), user)

    def associate() -> Any:
        return ae.associate(
            peer,
            port,
            contexts,
            ae_title=common.called_aet,
            ssl_context=ssl_context,
            tls_args=common.tls_args(ssl_context),
            user_identity=identity,
            evt_handlers=handlers,
        )

    assoc = associate()
    common.check_established(assoc)

    total_bytes = sum(i.size for i in items)
    batch.began = time.perf_counter()
    progress = _Progress(len(items), total_bytes, enabled=not quiet and sys.stderr.isatty())
    pending = items
    abort_message = ""
    interrupted = False
    try:
        if associations > 1:
            parallel = _Parallel(batch, associate, retry, progress)
            pending, abort_message = parallel.run(assoc, pending, associations)
        else:
            while True:
                pending, abort_message = batch.send(assoc, pending, progress)
                if not pending or retry <= 0:
                    break
                retry -= 1
                sys.stderr.write(
                    f"storescu: {abort_message}; sending the {len(pending)} file(s) not sent on a "
                    "new association\n"
                )
                assoc = associate()
                if not assoc.is_established:
                    abort_message = (
                        f"cannot make a new association with {peer}:{port}: "
                        f"{failure_text(assoc, 'the association failed')}"
                    )
                    break
    except KeyboardInterrupt:
        interrupted = True
        pending = batch.in_flight
        assoc.abort()
        raise
    finally:
        progress.close()
        if assoc.is_established:
            assoc.release()
        batch.not_sent(pending, "interrupted" if interrupted else "aborted", batch.unknown)
        try:
            _finish(batch.rows, fmt, no_color)
        finally:  # the summary on stderr even when stdout has gone
            batch.summary(total_bytes)
    if pending:
        raise CommandError(f"{abort_message}; {len(pending)} file(s) not sent", EXIT_ABORTED)
    exit_code = batch.exit_code()
    if exit_code:
        raise typer.Exit(exit_code)


class _Batch:
    """The rows and counts of one storescu run: every file ends up in exactly one count."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.rows: list[dict[str, Any]] = []
        self.sent = self.failed = self.skipped = self.warned = self.unsent = 0
        self.no_context = self.invalid = 0
        self.began = time.perf_counter()
        self.in_flight: list[Item] = []  # the files being sent, then those not sent yet
        self.unknown = 1  # how many of in_flight (or of the files not sent) were being sent
        self.lock = threading.Lock()  # rows and counts (--associations: one thread each)
        self.transcode: dict[str, Any] = {}  # store_instance's decompress= and compress=

    def skip(
        self, item: Item, reason: str, *, invalid: bool = False, context: bool = False
    ) -> None:
        """A file not sent: not DICOM, or (``invalid``) a DICOM file that cannot be sent as it
        is, or (``context``) one the peer's accepted contexts cannot carry."""
        sys.stderr.write(f"storescu: skipping {item.path}: {reason}\n")
        self.rows.append(
            {"file": str(item.path), "result": "skipped", "status": "", "meaning": reason}
        )
        self.skipped += 1
        self.invalid += invalid
        self.no_context += context

    def send(self, assoc: Any, items: list[Item], progress: _Progress) -> tuple[list[Item], str]:
        """Send ``items`` on ``assoc``; returns the items not sent when it was aborted (the one
        in flight first) and the abort message, else ``([], "")``."""
        for index, item in enumerate(items):
            self.in_flight = items[index:]
            aborted = self.send_one(assoc, item, progress)
            if aborted:
                return items[index:], aborted
        self.in_flight = []
        return [], ""

    def send_one(self, assoc: Any, item: Item, progress: _Progress) -> str:
        """Send one file and record its row; "" or, if the association was aborted while it
        was being sent, the abort message (no row: the caller decides its fate)."""
        from dicomnet.dimse.status import status_category, status_meaning
        from dicomnet.errors import ConversionError, NoContextError

        try:
            rsp = assoc.store_instance(item.path, **self.transcode)
        except (NoContextError, ConversionError) as exc:
            with self.lock:
                self.skip(item, str(exc), context=True)
            progress.advance(item.size)
            return ""
        except (ValueError, OSError) as exc:  # malformed, no UIDs, unreadable
            with self.lock:
                self.skip(item, str(exc), invalid=True)
            progress.advance(item.size)
            return ""
        if rsp is None:
            reason = failure_text(assoc)
            return f"association aborted while sending {item.path}: {reason}"
        category = status_category(rsp.Status)
        meaning = status_meaning(rsp.Status, "C-STORE")
        if rsp.ErrorComment:
            meaning += f" ({rsp.ErrorComment})"
        with self.lock:
            self.rows.append(
                {
                    "file": str(item.path),
                    "result": category.lower(),
                    "status": f"0x{rsp.Status:04X}",
                    "meaning": meaning,
                    "sop_instance_uid": item.sop_instance,
                }
            )
            if category == "Failure":
                self.failed += 1
                sys.stderr.write(f"storescu: {item.path}: 0x{rsp.Status:04X} {meaning}\n")
            else:
                self.sent += 1
                self.warned += category == "Warning"
        progress.advance(item.size)
        return ""

    def not_sent(self, items: list[Item], why: str, unknown: int = 1) -> None:
        """Rows for the files an abort (or interrupt) left unsent: the ``unknown`` first ones
        were in flight (their fate unknown), then the others."""
        for position, item in enumerate(items):
            first = position < unknown
            self.rows.append(
                {
                    "file": str(item.path),
                    "result": why if first else "not sent",
                    "status": "",
                    "meaning": f"{why} while this file was being sent"
                    if first
                    else f"not sent: {why} before",
                }
            )
        self.unsent += len(items)

    def summary(self, total_bytes: int) -> None:
        if self.quiet:
            return
        elapsed = max(time.perf_counter() - self.began, 1e-6)
        sys.stderr.write(
            f"storescu: sent {self.sent}, failed {self.failed}, skipped {self.skipped}, "
            f"not sent {self.unsent}{f', warnings {self.warned}' if self.warned else ''}; "
            f"{total_bytes / elapsed / 1e6:.1f} MB/s in {elapsed:.2f} s\n"
        )

    def exit_code(self) -> int:
        if self.failed:
            return EXIT_FAILURE_STATUS
        if self.no_context:
            # The peer accepted no context for some (or all) of the files: they were not sent,
            # and a script must not take that for success (and, say, delete the source).
            return EXIT_REJECTED
        if self.invalid:
            return EXIT_USAGE  # a DICOM input that cannot be sent as it is
        return 0


class _Parallel:
    """--associations N: N threads, each with its own association, take the files from one
    queue, so each file is sent once. Rows come out in the files' order; an abort stops every
    thread after its current file (the files not sent are reported as today) unless --retry
    lets the thread whose association failed make a new one and put its file back first."""

    def __init__(
        self, batch: _Batch, associate: Callable[[], Any], retry: int, progress: _Progress
    ) -> None:
        self.batch = batch
        self.associate = associate
        self.retry = retry
        self.progress = progress
        self.lock = threading.Lock()
        self.queue: deque[Item] = deque()
        self.live: dict[int, Any] = {}  # worker -> its association
        self.sending: dict[int, Item] = {}  # worker -> the file it is sending
        self.lost: list[Item] = []  # files whose association ended while they were sent
        self.stop = False
        self.abort_message = ""
        self.errors: list[BaseException] = []

    def run(self, first: Any, items: list[Item], count: int) -> tuple[list[Item], str]:
        """Send ``items``; ``first`` is an established association (the others are made
        here; one that cannot be made leaves its share to the rest). Returns the files not
        sent (those in flight first) and the abort message, as :meth:`_Batch.send`."""
        batch = self.batch
        start = len(batch.rows)
        self.queue.extend(items)
        threads = [
            threading.Thread(target=self._worker, args=(n, first if n == 0 else None), daemon=True)
            for n in range(count)
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        except KeyboardInterrupt:
            with self.lock:
                self.stop = True
                in_flight = [self.sending[n] for n in sorted(self.sending)]
                batch.in_flight = in_flight + self.lost + list(self.queue)
                batch.unknown = len(in_flight) + len(self.lost)
                assocs = list(self.live.values())
            for assoc in assocs:
                assoc.abort()
            raise
        if self.errors:
            raise self.errors[0]
        order = {str(item.path): index for index, item in enumerate(items)}
        batch.rows[start:] = sorted(batch.rows[start:], key=lambda r: order.get(r["file"], 0))
        pending = self.lost + list(self.queue)
        batch.unknown = max(len(self.lost), 1)
        return pending, self.abort_message if pending else ""

    def _worker(self, number: int, assoc: Any) -> None:
        try:
            if assoc is None:
                assoc = self.associate()
                if not assoc.is_established:
                    sys.stderr.write(
                        f"storescu: warning: association {number + 1} could not be made "
                        f"({failure_text(assoc, 'the association failed')}); the others send "
                        "its files\n"
                    )
                    return
            while True:
                with self.lock:
                    if self.stop or not self.queue:
                        break
                    item = self.queue.popleft()
                    self.sending[number] = item
                    self.live[number] = assoc
                aborted = self.batch.send_one(assoc, item, self.progress)
                with self.lock:
                    del self.sending[number]
                    if not aborted:
                        continue
                    again = self.retry > 0 and not self.stop
                    if again:
                        self.retry -= 1
                        self.queue.appendleft(item)
                    else:
                        self.stop = True
                        self.lost.append(item)
                        self.abort_message = self.abort_message or aborted
                    del self.live[number]
                if not again:
                    break
                sys.stderr.write(
                    f"storescu: {aborted}; sending the files not sent on a new association\n"
                )
                assoc = self.associate()
                if not assoc.is_established:
                    with self.lock:
                        self.stop = True
                        self.abort_message = self.abort_message or (
                            f"cannot make a new association: "
                            f"{failure_text(assoc, 'the association failed')}"
                        )
                    break
        except BaseException as exc:  # re-raised by run() in the main thread
            with self.lock:
                self.errors.append(exc)
                self.stop = True
        finally:
            with self.lock:
                self.live.pop(number, None)
            if assoc is not None and assoc.is_established:
                assoc.release()


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
