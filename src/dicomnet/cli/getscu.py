"""``getscu PEER PORT -k ...``: retrieve with C-GET into an output directory.

The instances arrive as C-STORE sub-operations on the same association (we negotiate the SCP role
for the storage classes) and go through the same built-in storage handler as storescp: names from
validated UIDs only, atomic writes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from click.core import ParameterSource

from dicomnet.cli import _options as o
from dicomnet.cli._common import ScuCommon, apply_size_limit, start
from dicomnet.cli._console import EXIT_INTERRUPTED, EXIT_USAGE, CommandError
from dicomnet.cli._shared import scu_options

HELP = """Retrieve instances with C-GET and write them into a directory.

Identify what to retrieve with -k keys and the level, e.g. -L STUDY -k StudyInstanceUID=1.2.3.
Files are written like storescp does (--filepath, atomic, names from validated UIDs).
As DCMTK's getscu, it proposes a default set of storage classes that fits one association
(127: every storage class cannot); --storage-class adds the ones a peer needs beyond it.
--handler without EVENT= handles each received C-STORE (EVT_C_STORE), after the built-in
storage handler."""


@scu_options(
    "GETSCU",
    handles="each received C-STORE",
    dimse_timeout=60.0,
    results=False,
    receives=True,
)
def getscu(
    ctx: typer.Context,
    common: ScuCommon,
    query_file: o.IdentifierFile = None,
    key: o.RetrieveKey = None,
    level: o.RetrieveLevel = "STUDY",
    patient_root: o.PatientRoot = False,
    study_root: o.StudyRoot = False,
    patient_study_only: o.PatientStudyOnly = False,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-od", help="Where retrieved files go.")
    ] = Path("."),
    filepath: o.RetrieveFilepath = None,
    storage_class: Annotated[
        list[str] | None,
        typer.Option(
            "--storage-class",
            help="Also accept this storage SOP class (keyword or UID); repeatable. Only 127 "
            "fit in one association: these come first, then the default ones while room is "
            "left (the common storage classes, 12-lead ECG and the other waveforms, Label Map "
            "and Height Map Segmentation, ...; not the retired, DICOS, DICONDE and "
            "non-patient ones).",
        ),
    ] = None,
    no_default_storage: Annotated[
        bool,
        typer.Option(
            "--no-default-storage",
            help="Propose only the --storage-class ones: with few enough classes each gets a "
            "context per transfer syntax, so the peer sends every instance in the syntax it "
            "holds it in, untouched (the 127 defaults leave room for one context each: the "
            "peer then converts instances held in another uncompressed syntax).",
        ),
    ] = False,
) -> None:
    from dicomnet import events as evt
    from dicomnet.cli._handlers import build_evt_handlers
    from dicomnet.cli._logging import logging_handlers
    from dicomnet.cli._pixels import pydicom_without_pixels
    from dicomnet.cli._query import LEVELS, KeyError_, build_identifier, finish_identifier
    from dicomnet.cli._retrieve import (
        GET_MODELS,
        Counts,
        Progress,
        finish,
        model_letter,
        storage_classes,
    )
    from dicomnet.cli._storage import DEFAULT_TEMPLATE, StorageHandler, TemplateError
    from dicomnet.presentation import build_role

    user = start(common, evt.EVT_C_STORE)
    pydicom_without_pixels(user_code=bool(user))  # no pixel data here (cli._pixels)
    peer, port, quiet = common.peer, common.port, common.quiet
    model = GET_MODELS[model_letter(patient_root, study_root, patient_study_only)]
    level = level.upper()
    if level not in LEVELS:
        raise CommandError(f"--level must be one of {', '.join(LEVELS)}", EXIT_USAGE)
    try:
        identifier = build_identifier(key or [], None, query_file, None)
        explicit_level = ctx.get_parameter_source("level") is not ParameterSource.DEFAULT
        finish_identifier(identifier, level, explicit_level, model, "get")
    except KeyError_ as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        storage = StorageHandler(output_dir, filepath or DEFAULT_TEMPLATE)
    except (OSError, TemplateError) as exc:
        raise CommandError(f"cannot store into {output_dir}: {exc}", EXIT_USAGE) from None
    if no_default_storage and not storage_class:
        raise CommandError("--no-default-storage needs at least one --storage-class", EXIT_USAGE)
    classes = storage_classes(storage_class, defaults=not no_default_storage)
    ssl_context = common.client_tls()
    identity = common.user_identity(ssl_context)

    ae = common.ae()
    apply_size_limit(ae, common.max_dataset_size)
    ae.spool_directory = str(storage.output_dir)
    proposed = common.proposal()
    ae.add_requested_context(model, proposed or ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    # One context per transfer syntax when they fit (two per class beside the Q/R one): the
    # peer can then send each instance in the syntax it holds it in, untouched, instead of
    # converting it to whichever syntax was accepted for a shared context. With the 127
    # default classes only one context each fits.
    split = proposed is None and 1 + 2 * len(classes) <= 128
    for uid in classes:
        if split:
            ae.add_requested_context(uid, "1.2.840.10008.1.2.1")
            ae.add_requested_context(uid, "1.2.840.10008.1.2")
        else:
            ae.add_requested_context(uid, proposed or ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
    roles = [build_role(uid, scp_role=True) for uid in classes]
    builtin: list[tuple[Any, Any]] = [*logging_handlers(common.level), (evt.EVT_C_STORE, storage)]
    handlers = build_evt_handlers(builtin, user)
    assoc = ae.associate(
        peer,
        port,
        ae_title=common.called_aet,
        ext_neg=roles,
        ssl_context=ssl_context,
        tls_args=common.tls_args(ssl_context),
        user_identity=identity,
        evt_handlers=handlers,
    )
    common.check_established(assoc)

    counts = Counts()
    progress = Progress("retrieving", enabled=not quiet and sys.stderr.isatty())
    final: Any = None
    message_id = 1
    try:
        for status, _identifier in assoc.send_c_get(
            identifier, model, msg_id=message_id, validate=True
        ):
            if getattr(status, "Status", None) in (0xFF00, 0xFF01):
                counts.update(status)
                progress.update(counts)
            else:
                final = status
    except KeyboardInterrupt:
        progress.close()
        if assoc.is_established:
            assoc.send_c_cancel(message_id)
            assoc.abort()
        raise CommandError("interrupted (C-CANCEL sent)", EXIT_INTERRUPTED) from None
    finally:
        progress.close()
        if assoc.is_established:
            assoc.release()
    if not quiet:
        sys.stderr.write(f"getscu: {storage.stored} file(s) written to {output_dir}\n")
    finish("getscu", final, counts, assoc, quiet, "C-GET")
