"""``qrscp PORT -od DIR``: a Query/Retrieve archive node — storage, index, C-FIND, C-GET,
C-MOVE — and ``qrscp index DIR``, which (re)builds the index from files on disk.

Built like storescp: an AE whose built-in handlers (logging, storage + index, query, retrieve)
are bound through ``evt_handlers``; ``--handler`` adds the user's. The archive logic lives in
:mod:`dicomnet.archive` (SQLAlchemy is imported from there only, when this command runs).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from dicomnet.cli import _options as o
from dicomnet.cli._common import Common, start
from dicomnet.cli._console import (
    EXIT_CONNECT,
    EXIT_USAGE,
    CommandError,
    StdoutClosed,
)
from dicomnet.cli._shared import shared_options

HELP = """Query/Retrieve archive node: receive (C-STORE), index, and answer C-FIND, C-GET and
C-MOVE.

qrscp PORT -od DIR stores received instances exactly like storescp (same --filepath naming,
atomic durable write, statuses) and indexes each one before answering success: the file is on
disk and its index row committed, or the sender gets a failure and neither remains. The index
is a SQLite database in DIR (dicomnet-index.sqlite3) unless --db names another, such as
postgresql://user:password@host/db so that several qrscp and storescp --index nodes share one
index over shared storage. C-FIND: Patient Root, Study Root and Patient/Study Only at every
level, with the matching rules of PS3.4 C.2.2.2 (single value, universal, * and ? wildcards,
date/time ranges, UID lists, sequence matching; person names case-insensitive; relational
queries when the SCU negotiated them, refused with 0xA900 otherwise).
C-GET and C-MOVE send the stored files undecoded when the transfer syntax allows; C-MOVE
destinations come from --move-dest AE=host:port (repeatable) or --move-dest-file. --worklist
DIR adds Modality Worklist C-FIND from the worklist files in DIR (reloaded when they change).
qrscp index DIR [--db URL] rebuilds the index from the files under DIR and reports unreadable
ones. One line per stored instance goes to stdout; SIGINT/SIGTERM stop the server (exit 0).
--handler without EVENT= handles each received C-STORE, after the built-in storage and index;
with EVENT=EVT_C_FIND, EVT_C_GET or EVT_C_MOVE it is added to the built-in query or
retrieve: the archive's responses come first, then the handler's (the first failure ends it)."""


def parse_move_dest(text: str) -> tuple[str, tuple[str, int]]:
    """``AE=host:port`` -> (AE, (host, port)); ValueError with the reason."""
    from dicomnet.ul.codec import validate_ae_title

    title, sep, where = text.partition("=")
    host, colon, port_text = where.rpartition(":")
    if not sep or not colon or not host or not port_text.isdigit():
        raise ValueError(f"{text!r} is not AE=host:port")
    port = int(port_text)
    if not 0 < port <= 65535:
        raise ValueError(f"{text!r}: {port} is not a TCP port")
    return validate_ae_title(title.strip()), (host.strip("[] "), port)


def read_move_dest_file(path: Path) -> list[str]:
    """Lines ``AE=host:port`` or ``AE host port`` (``#`` comments, blank lines ignored)."""
    entries = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        entries.append(line if len(parts) == 1 else f"{parts[0]}={parts[1]}:{parts[2]}")
    return entries


@shared_options(handles="each received C-STORE", accepts=True)
def qrscp(
    common: Common,
    port: Annotated[
        str,
        typer.Argument(
            help="TCP port to listen on (0: any free port), or 'index' to (re)build the index "
            "of DIRECTORY and exit.",
            show_default=False,
            metavar="PORT|index",
        ),
    ],
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="With 'index': the directory whose files to index.", show_default=False
        ),
    ] = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-od", help="Where received files are kept.")
    ] = Path("."),
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Index database: postgresql://user:pass@host/db, sqlite:///file or a SQLite "
            "file path. Default: dicomnet-index.sqlite3 in the storage directory.",
        ),
    ] = None,
    filepath: Annotated[
        str | None,
        typer.Option("--filepath", help="File name template, as storescp's --filepath."),
    ] = None,
    sort_on_study_uid: o.SortOnStudyUID = False,
    on_duplicate: o.OnDuplicate = "replace",
    move_dest: Annotated[
        list[str] | None,
        typer.Option("--move-dest", help="A C-MOVE destination AE=host:port (repeatable)."),
    ] = None,
    move_dest_file: Annotated[
        Path | None,
        typer.Option(
            "--move-dest-file",
            help="A file of C-MOVE destinations: one 'AE host port' or 'AE=host:port' a line.",
        ),
    ] = None,
    worklist: Annotated[
        Path | None,
        typer.Option(
            "--worklist", help="Answer Modality Worklist C-FIND from the files in this directory."
        ),
    ] = None,
    bind: Annotated[str, typer.Option("--bind", help="Address to listen on.")] = "0.0.0.0",
    ae_title: o.ScpAETitle = "QRSCP",
    require_called_aet: o.RequireCalledAET = False,
    require_calling_aet: o.RequireCallingAET = None,
    allow_plain_password: o.AllowPlainPasswordScp = False,
    require_user: o.RequireUser = None,
    hash_password: o.HashPassword = None,
    max_associations: o.MaxAssociations = 10,
    idle_timeout: Annotated[
        float,
        typer.Option("--idle-timeout", min=0.001, help="Seconds an association may sit idle."),
    ] = 60.0,
) -> None:
    from dicomnet import events as evt

    user = start(common, evt.EVT_C_STORE)
    if port == "index":
        if directory is None:
            raise CommandError("qrscp index needs the DIRECTORY to index", EXIT_USAGE)
        _index_command(directory, db, common.quiet)
        return
    if directory is not None:
        raise CommandError(f"unexpected argument {str(directory)!r}", EXIT_USAGE)
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CommandError(f"PORT must be a TCP port (0-65535) or 'index', not {port!r}", 2)
    _serve(locals(), user)


def open_index(db: str | None, root: Path, *, create: bool = True) -> Any:
    from dicomnet.archive.index import Index, IndexUnavailable, database_url, describe_url
    from dicomnet.archive.schema import SchemaError

    try:
        url = database_url(db, root)
    except ValueError as exc:
        raise CommandError(f"--db: {exc}", EXIT_USAGE) from None
    try:
        return Index(url, root=root, create=create)
    except SchemaError as exc:
        raise CommandError(f"{describe_url(url)}: {exc}", EXIT_USAGE) from None
    except IndexUnavailable as exc:
        raise CommandError(str(exc), EXIT_CONNECT) from None


def _index_command(directory: Path, db: str | None, quiet: bool) -> None:
    from dicomnet.archive.index import IndexUnavailable
    from dicomnet.archive.rebuild import rebuild

    if not directory.is_dir():
        raise CommandError(f"{directory} is not a directory", EXIT_USAGE)
    index = open_index(db, directory)

    def report(path: Path, problem: str | None) -> None:
        if problem is not None:
            sys.stderr.write(f"qrscp: warning: cannot index {path}: {problem}\n")

    try:
        done = rebuild(index, directory, on_file=report)
    except IndexUnavailable as exc:
        raise CommandError(str(exc), EXIT_CONNECT) from None
    finally:
        index.close()
    if not quiet:
        sys.stderr.write(
            f"qrscp: indexed {done.indexed} file(s) under {directory}; "
            f"{len(done.unreadable)} unreadable\n"
        )


def _serve(options: dict[str, Any], user: list[Any]) -> None:
    from dicomnet import events as evt
    from dicomnet.ae import AE
    from dicomnet.archive.handlers import ArchiveSCP, IndexingStore, sop_extended
    from dicomnet.cli._handlers import build_evt_handlers
    from dicomnet.cli._logging import logging_handlers
    from dicomnet.cli._storage import (
        DEFAULT_TEMPLATE,
        PRESETS,
        FailureCounter,
        StopNow,
        StopSignals,
        StorageHandler,
        StoredLines,
        TemplateError,
        prepare_output_dir,
    )
    from dicomnet.qr import MODELS
    from dicomnet.sop_class import AllStorageClasses, Verification
    from dicomnet.ul.codec import validate_ae_title

    o_ = options
    common: Common = o_["common"]
    quiet = common.quiet
    output_dir: Path = o_["output_dir"]
    try:
        ae_title = validate_ae_title(o_["ae_title"])
        calling = [validate_ae_title(a) for a in o_["require_calling_aet"] or []]
    except ValueError as exc:
        raise CommandError(f"invalid AE title: {exc}", EXIT_USAGE) from None
    entries = list(o_["move_dest"] or [])
    if o_["move_dest_file"] is not None:
        try:
            entries += read_move_dest_file(o_["move_dest_file"])
        except OSError as exc:
            raise CommandError(f"--move-dest-file: {exc}", EXIT_USAGE) from None
    destinations: dict[str, tuple[str, int]] = {}
    for entry in entries:
        try:
            title, where = parse_move_dest(entry)
        except ValueError as exc:
            raise CommandError(f"--move-dest: {exc}", EXIT_USAGE) from None
        destinations[title] = where
    template = o_["filepath"] or (PRESETS["study"] if o_["sort_on_study_uid"] else DEFAULT_TEMPLATE)
    ssl_context = common.server_tls()
    users = None
    if o_["require_user"] is not None:
        from dicomnet.cli._identity import require_user

        users = require_user(o_["require_user"])  # exit 2 before anything is created
    prepare_output_dir("qrscp", output_dir, quiet)

    done = threading.Event()
    stored = StoredLines(common.fmt, common.no_color, done)

    try:
        storage = StorageHandler(output_dir, template, o_["on_duplicate"], on_stored=stored)
    except (TemplateError, ValueError) as exc:
        raise CommandError(f"--filepath/--on-duplicate: {exc}", EXIT_USAGE) from None
    index = open_index(o_["db"], storage.output_dir)
    move_options = None
    if ssl_context is not None:
        # TLS on, as dcmqrscp +tls: the associations to move destinations use it too (our
        # certificate, the destination's verified against --tls-ca and its host name)
        move_tls = common.tls_client_context()

        def move_options(host: str) -> dict[str, Any]:
            return {"tls_args": (move_tls, host)}

    archive = ArchiveSCP(index, ae_title, destinations, move_options)
    worklist_scp = None
    if o_["worklist"] is not None:
        from dicomnet.archive.worklist import WorklistSCP

        if not o_["worklist"].is_dir():
            raise CommandError(f"--worklist: {o_['worklist']} is not a directory", EXIT_USAGE)
        worklist_scp = WorklistSCP(o_["worklist"])

    def find(event: Any) -> Any:
        if worklist_scp is not None and event.request.AffectedSOPClassUID == MODELS["W"].find:
            return worklist_scp.find(event)
        return archive.find(event)

    builtin: list[tuple[Any, Any]] = list(logging_handlers(common.level))
    builtin.append((evt.EVT_C_STORE, IndexingStore(storage, index)))
    failed = FailureCounter()
    builtin.append((evt.EVT_DIMSE_SENT, failed))
    for event_type, func in (
        (evt.EVT_C_FIND, find),
        (evt.EVT_C_GET, archive.get),
        (evt.EVT_C_MOVE, archive.move),
        (evt.EVT_SOP_EXTENDED, sop_extended),
    ):
        builtin.append((event_type, func))  # a user --handler for it is composed after it

    ae = AE(ae_title)
    ae.acse_timeout = common.acse_timeout
    ae.dimse_timeout = common.dimse_timeout
    ae.network_timeout = o_["idle_timeout"]
    ae.maximum_associations = o_["max_associations"]
    ae.require_called_aet = o_["require_called_aet"]
    ae.require_calling_aet = calling
    ae.allow_plain_password = o_["allow_plain_password"]
    if users is not None:
        ae.require_user_identity = True
        builtin.append((evt.EVT_USER_ID, users))
    ae.maximum_pdu_size = common.receive_pdu
    ae.spool_directory = str(storage.output_dir)
    accepted = common.acceptance()
    accepted.apply(ae)
    syntaxes = accepted.syntaxes
    import gc

    # Everything loaded so far (SQLAlchemy, the SOP class tables) lives until exit: out of the
    # garbage collector's sight, full collections stay short (as the CLI does at start-up).
    gc.freeze()
    ae.add_supported_context(Verification)
    for model in MODELS.values():
        for uid in (model.find, model.get, model.move):
            if uid and (model.is_hierarchical or worklist_scp is not None):
                ae.add_supported_context(uid)
    for sop_class in AllStorageClasses:
        # scp_role for C-GET: the requestor stores what we send on its association.
        ae.add_supported_context(sop_class, syntaxes, scu_role=True, scp_role=True)

    stops = StopSignals(done)
    stops.install()
    handlers = build_evt_handlers(builtin, user)
    bind, port = o_["bind"], int(o_["port"])
    try:
        server = ae.start_server(
            (bind, port), block=False, ssl_context=ssl_context, evt_handlers=handlers
        )
    except OSError as exc:
        stops.restore()
        index.close()
        raise CommandError(
            f"cannot listen on {bind}:{port}: {exc.strerror or exc}", EXIT_CONNECT
        ) from None
    assert server is not None
    host, real_port = server.server_address
    if not quiet:
        from dicomnet.archive.index import describe_url

        moves = ", ".join(sorted(destinations)) or "none"
        sys.stderr.write(
            f"qrscp: listening on {host}:{real_port} as {ae_title}; storing in {output_dir} as "
            f"{template}; index {describe_url(index.url)}; move destinations: {moves}"
            f"{'; worklist ' + str(o_['worklist']) if worklist_scp else ''}"
            f"{'; TLS' if ssl_context else ''}\n"
        )
        sys.stderr.flush()
    try:
        done.wait()
    except StopNow:
        pass
    finally:
        stops.restore()
        server.shutdown()
        index.close()
        stored.close()
        if not quiet:
            sys.stderr.write(
                f"qrscp: {storage.stored} instance(s) stored, {failed.count} failed"
                f"{'; stopped: stdout was closed' if stored.closed.is_set() else ''}\n"
            )
    if stored.closed.is_set():
        raise StdoutClosed()
