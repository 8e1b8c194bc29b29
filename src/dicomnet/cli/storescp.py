"""``storescp PORT``: receive DICOM instances into a directory.

Accepts every storage SOP class (uncompressed transfer syntaxes; ``--accept-all``/``+xa`` for
every one, keeping the sender's first proposed; DCMTK's ``+x…`` presets and ``--prefer-ts``; see
:mod:`dicomnet.cli._transfer`), unknown ones too with ``--promiscuous`` (``-pm``), and
Verification. Files are written by the built-in storage handler (see
:mod:`dicomnet.cli._storage`) unless ``--no-store``; user handlers run after it.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from dicomnet.cli import _options as o
from dicomnet.cli._common import Common, apply_size_limit, start
from dicomnet.cli._console import (
    EXIT_CONNECT,
    EXIT_USAGE,
    CommandError,
    StdoutClosed,
)
from dicomnet.cli._shared import shared_options

HELP = """Receive DICOM instances (C-STORE SCP) and write them as Part-10 files.

Every storage SOP class is accepted (--promiscuous: unknown ones too) in the uncompressed
transfer syntaxes (--accept-all/+xa: any, the sender's first proposed kept; +x=, +xe, +xb, +xd,
+xi: DCMTK's presets; --prefer-ts: our preference).

Files are named by --filepath (default {Modality}.{SOPInstanceUID}.dcm; --dcmtk-names: DCMTK's
CT.<uid>, SC.<uid>, ...) from validated UIDs only, written atomically (temp file, fsync, rename,
fsync of the directory: see --fsync) before the success response; a data set that is
malformed, whose UIDs differ from the command's, or that cannot be written gets a failure status
and nothing is kept. A file that exists already is replaced (--on-duplicate keep|fail to change
that; decided atomically). Temporary files left by a killed storescp are removed at start. One
line per stored instance goes to stdout (a table on a terminal, text otherwise, or --format), a
summary to stderr at the end. SIGINT/SIGTERM stop the server cleanly (exit 0); a closed stdout
stops it too (exit 141). --handler without EVENT= handles each received C-STORE (EVT_C_STORE),
after the built-in storage handler; the first failure status wins."""


@shared_options(handles="each received C-STORE", receives=True, accepts=True)
def storescp(
    common: Common,
    port: Annotated[
        int, typer.Argument(help="TCP port to listen on (0: any free port).", show_default=False)
    ],
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-od", help="Where received files go.")
    ] = Path("."),
    filepath: Annotated[
        str | None,
        typer.Option(
            "--filepath",
            help="File name template: {SOPInstanceUID}, {SOPClassUID}, "
            "{StudyInstanceUID}, {SeriesInstanceUID}, {Modality}, {PatientID}, "
            "{CallingAET}, {TransferSyntaxUID}, {SOPClassPrefix} (DCMTK's: CT, SC, RP, ...).",
        ),
    ] = None,
    sort_on_study_uid: o.SortOnStudyUID = False,
    sort_on_series: Annotated[
        bool, typer.Option("--sort-on-series", help="Study/series subdirectories.")
    ] = False,
    sort_on_patient: Annotated[
        bool, typer.Option("--sort-on-patient-id", help="Patient/study subdirectories.")
    ] = False,
    sort_study_prefix: Annotated[
        str | None,
        typer.Option(
            "--sort-study-prefix",
            "-su",
            help="DCMTK's -su PREFIX: one subdirectory PREFIX_<StudyInstanceUID> per study.",
            show_default=False,
        ),
    ] = None,
    sort_conc_studies: Annotated[
        str | None,
        typer.Option(
            "--sort-conc-studies",
            "-ss",
            help="DCMTK's -ss PREFIX: a directory PREFIX_<YYYYMMDD_HHMMSSmmm> per study, the "
            "time its first instance arrived here.",
            show_default=False,
        ),
    ] = None,
    sort_patient_name: Annotated[
        bool,
        typer.Option(
            "--sort-on-patientname",
            "-sp",
            help="DCMTK's -sp: a directory <PatientName>_<YYYYMMDD_HHMMSSmmm> per study (in "
            "the name, anything but ASCII letters and digits becomes _), the time its first "
            "instance arrived here.",
        ),
    ] = False,
    dcmtk_names: Annotated[
        bool,
        typer.Option(
            "--dcmtk-names",
            help="Name files as DCMTK's storescp does: <prefix>.<SOPInstanceUID>, the prefix "
            "from the SOP class (CT, MR, SC, RP, ...; UNKNOWN for classes DCMTK does not "
            "know), no extension; with the sort options too ({SOPClassPrefix} in --filepath).",
        ),
    ] = False,
    fork: Annotated[
        bool,
        typer.Option(
            "--fork",
            help="DCMTK's --fork, accepted for scripts: not needed, storescp serves "
            "associations concurrently (a warning, nothing else changes).",
        ),
    ] = False,
    on_duplicate: o.OnDuplicate = "replace",
    promiscuous: Annotated[
        bool,
        typer.Option(
            "--promiscuous",
            "-pm",
            help="Also accept SOP classes we do not know (a private or newer storage class), "
            "as DCMTK's -pm; known non-storage classes stay refused.",
        ),
    ] = False,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not write files; leave it to --handler.")
    ] = False,
    index_db: Annotated[
        str | None,
        typer.Option(
            "--index",
            help="Also index each instance, before answering success, in this qrscp index: "
            "postgresql://... URL, SQLite file, or a qrscp storage directory (its index).",
        ),
    ] = None,
    bind: Annotated[
        str,
        typer.Option(
            "--bind",
            help="Address to listen on. The default, 0.0.0.0, is every IPv4 interface (as "
            "DCMTK's storescp); give 127.0.0.1 or one interface's address to restrict it.",
        ),
    ] = "0.0.0.0",
    ae_title: o.ScpAETitle = "STORESCP",
    require_called_aet: o.RequireCalledAET = False,
    require_calling_aet: o.RequireCallingAET = None,
    allow_plain_password: o.AllowPlainPasswordScp = False,
    require_user: o.RequireUser = None,
    hash_password: o.HashPassword = None,
    max_associations: o.MaxAssociations = 10,
    max_pending: Annotated[
        int,
        typer.Option(
            "--max-pending-connections",
            min=1,
            help="Connections that have not associated yet (TLS handshake, waiting for the "
            "request, being rejected); beyond, the oldest silent one is closed. They never take an "
            "association's place.",
        ),
    ] = 32,
    exit_after: Annotated[
        int | None, typer.Option("--exit-after", min=1, help="Stop after N stored instances.")
    ] = None,
    idle_timeout: Annotated[
        float,
        typer.Option(
            "--idle-timeout",
            min=0.001,
            help="Seconds without a byte from the peer before its association is aborted.",
        ),
    ] = 60.0,
    fsync: Annotated[
        str,
        typer.Option(
            "--fsync",
            help="always: fsync each file and its directory before answering success (an "
            "instance answered survives a crash); batch: the same promise, the fsyncs of "
            "instances stored at once (concurrent associations) done together; never: no "
            "fsync (a crash may lose instances already answered; scratch receivers).",
        ),
    ] = "always",
    max_transfer_time: Annotated[
        float | None,
        typer.Option(
            "--max-transfer-time",
            min=0.001,
            help="Seconds one message may take to arrive (default: no limit; a message must "
            "always bring at least 512 bytes/s over each 30 s, against trickling peers).",
            show_default=False,
        ),
    ] = None,
) -> None:
    from dicomnet import events as evt
    from dicomnet.ae import AE
    from dicomnet.cli._handlers import build_evt_handlers
    from dicomnet.cli._logging import logging_handlers
    from dicomnet.cli._storage import (
        FailureCounter,
        StopNow,
        StopSignals,
        StorageHandler,
        StoredLines,
        TemplateError,
        keep_freed_memory,
        prepare_output_dir,
        sync_for,
    )
    from dicomnet.sop_class import AllStorageClasses, UncompressedTransferSyntaxes, Verification
    from dicomnet.ul.codec import validate_ae_title

    user = start(common, evt.EVT_C_STORE)
    quiet, acse_timeout, dimse_timeout = common.quiet, common.acse_timeout, common.dimse_timeout
    try:
        ae_title = validate_ae_title(ae_title)
        calling = [validate_ae_title(a) for a in require_calling_aet or []]
    except ValueError as exc:
        raise CommandError(f"invalid AE title: {exc}", EXIT_USAGE) from None
    template = _template(
        filepath,
        dcmtk_names,
        sort_on_study_uid=sort_on_study_uid,
        sort_on_series=sort_on_series,
        sort_on_patient=sort_on_patient,
        study_prefix=sort_study_prefix,
        conc_prefix=sort_conc_studies,
        patient_name=sort_patient_name,
        quiet=quiet,
    )
    if fork and not quiet:
        sys.stderr.write(
            "storescp: warning: --fork is not needed: storescp serves associations "
            "concurrently (see --max-associations); going on\n"
        )
    ssl_context = common.server_tls()
    try:
        sync = sync_for(fsync)
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    users = None
    if require_user is not None:
        from dicomnet.cli._identity import require_user as users_handler

        users = users_handler(require_user)  # exit 2 before anything is created
    accepted = common.acceptance()

    done = threading.Event()
    lines = StoredLines(common.fmt, common.no_color, done)

    def stored(path: Path, event: Any) -> None:
        lines(path, event)
        if exit_after is not None and storage is not None and storage.stored >= exit_after:
            done.set()

    storage: StorageHandler | None = None
    builtin: list[tuple[Any, Any]] = list(logging_handlers(common.level))
    if not no_store:
        prepare_output_dir("storescp", output_dir, quiet)
        try:
            storage = StorageHandler(
                output_dir, template, on_duplicate, on_stored=stored, sync=sync
            )
        except (TemplateError, ValueError) as exc:
            raise CommandError(f"--filepath/--on-duplicate: {exc}", EXIT_USAGE) from None
        builtin.append((evt.EVT_C_STORE, _indexing(storage, index_db) if index_db else storage))
    elif index_db:
        raise CommandError("--index needs the built-in storage (not --no-store)", EXIT_USAGE)
    elif not user:
        sys.stderr.write(
            "storescp: warning: --no-store without --handler: instances will be refused (0x0122)\n"
        )
    failed = FailureCounter()
    builtin.append((evt.EVT_DIMSE_SENT, failed))
    if exit_after is not None and storage is None:
        counter = {"n": 0}

        def count(event: Any) -> None:
            counter["n"] += 1
            if counter["n"] >= exit_after:
                done.set()

        builtin.append(
            (
                evt.EVT_DIMSE_SENT,
                lambda e: count(e) if type(e.message).__name__ == "C_STORE_RSP" else None,
            )
        )

    ae = AE(ae_title)
    ae.acse_timeout = acse_timeout
    ae.dimse_timeout = dimse_timeout
    ae.network_timeout = idle_timeout
    ae.max_transfer_time = max_transfer_time
    apply_size_limit(ae, common.max_dataset_size)
    ae.maximum_associations = max_associations
    ae.maximum_pending_connections = max_pending
    ae.require_called_aet = require_called_aet
    ae.require_calling_aet = calling
    ae.allow_plain_password = allow_plain_password
    if users is not None:
        ae.require_user_identity = True
        builtin.append((evt.EVT_USER_ID, users))
    ae.maximum_pdu_size = common.receive_pdu
    if storage is not None:
        ae.spool_directory = str(storage.output_dir)
    accepted.apply(ae)
    if promiscuous:
        ae.promiscuous_transfer_syntaxes = accepted.syntaxes or [
            str(t) for t in UncompressedTransferSyntaxes
        ]
    ae.add_supported_context(Verification)
    for sop_class in AllStorageClasses:
        ae.add_supported_context(sop_class, accepted.syntaxes)

    # SIGINT/SIGTERM: a clean stop (exit 0), from the moment we listen; a second one while
    # stopping cuts the wait for running associations short.
    stops = StopSignals(done)
    stops.install()
    handlers = build_evt_handlers(builtin, user)
    keep_freed_memory()
    try:
        server = ae.start_server(
            (bind, port), block=False, ssl_context=ssl_context, evt_handlers=handlers
        )
    except OSError as exc:
        stops.restore()
        raise CommandError(
            f"cannot listen on {bind}:{port}: {exc.strerror or exc}", EXIT_CONNECT
        ) from None
    assert server is not None
    host, real_port = server.server_address
    if not quiet:
        where = f"writing to {output_dir} as {template}" if storage else "not storing (--no-store)"
        sys.stderr.write(
            f"storescp: listening on {host}:{real_port} as {ae_title}; {where}; "
            f"{accepted.describe()}{'; promiscuous' if promiscuous else ''}; "
            f"duplicates: {on_duplicate}; max {max_associations} associations"
            f"{'; TLS' if ssl_context else ''}\n"
        )
        sys.stderr.flush()

    try:
        done.wait()
        # --exit-after: let running associations finish (they are bounded by the timeouts).
        for assoc in () if stops.signalled.is_set() else server.active_associations:
            if assoc.thread is not None:
                assoc.thread.join(acse_timeout + dimse_timeout)
    except StopNow:
        pass
    finally:
        stops.restore()
        server.shutdown()
        lines.close()
        if not quiet and storage is not None:
            sys.stderr.write(
                f"storescp: {storage.stored} instance(s) stored, {failed.count} failed"
                f"{'; stopped: stdout was closed' if lines.closed.is_set() else ''}\n"
            )
    if lines.closed.is_set():
        raise StdoutClosed()


def _template(
    filepath: str | None,
    dcmtk_names: bool,
    *,
    sort_on_study_uid: bool,
    sort_on_series: bool,
    sort_on_patient: bool,
    study_prefix: str | None,
    conc_prefix: str | None,
    patient_name: bool,
    quiet: bool,
) -> str:
    """The file name template of --filepath, the sort options (ours and DCMTK's -su, -ss,
    -sp) and --dcmtk-names; exit 2 for combinations that contradict each other."""
    from dicomnet.cli._storage import (
        DEFAULT_TEMPLATE,
        PRESETS,
        check_dir_prefix,
        dcmtk_template,
    )

    dcmtk_sorts = {"-su": study_prefix is not None, "-ss": conc_prefix is not None}
    dcmtk_sorts["-sp"] = patient_name
    sorts = {
        "--sort-on-study-uid": sort_on_study_uid,
        "--sort-on-series": sort_on_series,
        "--sort-on-patient-id": sort_on_patient,
        **dcmtk_sorts,
    }
    given = [name for name, on in sorts.items() if on]
    if any(dcmtk_sorts.values()) and len(given) > 1:
        raise CommandError(f"{' and '.join(given)} are alternatives: give one", EXIT_USAGE)
    if filepath is not None:
        if dcmtk_names or any(dcmtk_sorts.values()):
            raise CommandError(
                "--filepath sets the whole name: not with --dcmtk-names, -su, -ss or -sp "
                "(use {SOPClassPrefix} in it)",
                EXIT_USAGE,
            )
        return filepath
    prefix = study_prefix if study_prefix is not None else conc_prefix
    file_part = PRESETS["study"].rpartition("/")[2]
    if prefix is not None:
        try:
            prefix = check_dir_prefix(prefix)
        except ValueError as exc:
            raise CommandError(f"-su/-ss: {exc}", EXIT_USAGE) from None
        if conc_prefix is not None:  # DCMTK: PREFIX_<time the study's first instance came>
            template = f"{prefix}_{{StudyTimestamp}}/{file_part}"
        else:
            template = f"{prefix}_{PRESETS['study']}"
    elif sort_on_series:
        template = PRESETS["series"]
    elif patient_name:  # DCMTK: <PatientName>_<time the study's first instance came>
        template = f"{{PatientNameDir}}_{{StudyTimestamp}}/{file_part}"
    elif sort_on_patient:
        template = PRESETS["patient"]
    elif sort_on_study_uid:
        template = PRESETS["study"]
    else:
        template = DEFAULT_TEMPLATE
    return dcmtk_template(template) if dcmtk_names else template


def _indexing(storage: Any, db: str) -> Any:
    """--index: the storage handler with the archive's index (dicomnet.archive, imported only
    here: SQLAlchemy stays off storescp's start-up path)."""
    from dicomnet.archive.handlers import IndexingStore
    from dicomnet.cli.qrscp import open_index

    return IndexingStore(storage, open_index(db, storage.output_dir))
