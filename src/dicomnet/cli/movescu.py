"""``movescu PEER PORT -aem DEST -k ...``: retrieve with C-MOVE to a destination AE.

With ``--store-port P`` the command also runs the receiver itself (DCMTK's ``+P``
convenience): a storage SCP titled DEST on port P, writing like storescp into ``-od``. The peer
must know DEST at this host and port. The receiver listens on the address the association with
the peer goes out from (``--bind`` to choose), only once that association is up, and accepts
associations only from the peer's AE title (``-aec``, or ``--accept-from``): anything else is
rejected and makes the command exit 6.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from click.core import ParameterSource

from dicomnet.cli import _options as o
from dicomnet.cli._common import ScuCommon, apply_size_limit, start
from dicomnet.cli._console import (
    EXIT_CONNECT,
    EXIT_FAILURE_STATUS,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandError,
)
from dicomnet.cli._shared import scu_options

HELP = """Retrieve instances with C-MOVE to a destination AE (-aem), optionally receiving them
here (--store-port P runs a storage SCP titled DEST on port P and writes into -od).

The receiver listens on the local address of the association with PEER (or --bind) and accepts
only the SCP we move from: calling AE title -aec, or those given with --accept-from. Other
associations are rejected, logged with their address, and make the exit status 6.

--handler without EVENT= handles each received C-STORE (EVT_C_STORE) of the built-in receiver
(--store-port), after the built-in storage handler."""


@scu_options(
    "MOVESCU",
    handles="each received C-STORE",
    dimse_timeout=600.0,
    results=False,
    receives=True,
    accepts=True,
)
def movescu(
    ctx: typer.Context,
    common: ScuCommon,
    query_file: o.IdentifierFile = None,
    move_aet: Annotated[
        str | None, typer.Option("--move-aet", "-aem", help="Destination AE title.")
    ] = None,
    key: o.RetrieveKey = None,
    level: o.RetrieveLevel = "STUDY",
    patient_root: o.PatientRoot = False,
    study_root: o.StudyRoot = False,
    patient_study_only: o.PatientStudyOnly = False,
    store_port: Annotated[
        int | None,
        typer.Option(
            "--store-port", "+P", help="Receive the instances here on this port (DCMTK's +P)."
        ),
    ] = None,
    accept_from: Annotated[
        list[str] | None,
        typer.Option(
            "--accept-from",
            help="Calling AE titles the receiver accepts (repeatable; default: -aec).",
        ),
    ] = None,
    bind: Annotated[
        str | None,
        typer.Option(
            "--bind",
            help="Address the receiver listens on (default: the local address of the "
            "association with PEER).",
            show_default=False,
        ),
    ] = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", "-od", help="Where received files go (--store-port).")
    ] = Path("."),
    filepath: o.RetrieveFilepath = None,
) -> None:
    from dicomnet import events as evt
    from dicomnet.ae import AE
    from dicomnet.cli._handlers import build_evt_handlers
    from dicomnet.cli._logging import logging_handlers
    from dicomnet.cli._pixels import pydicom_without_pixels
    from dicomnet.cli._query import LEVELS, KeyError_, build_identifier, finish_identifier
    from dicomnet.cli._retrieve import MOVE_MODELS, Counts, Progress, finish, model_letter
    from dicomnet.cli._storage import DEFAULT_TEMPLATE, StorageHandler, TemplateError
    from dicomnet.sop_class import AllStorageClasses, Verification
    from dicomnet.ul.codec import validate_ae_title

    user = start(common, evt.EVT_C_STORE)
    pydicom_without_pixels(user_code=bool(user))  # no pixel data here (cli._pixels)
    peer, port, quiet = common.peer, common.port, common.quiet
    # what the receiver (--store-port) accepts: the +x options as storescp's
    accepted = common.acceptance()
    destination = move_aet or (common.calling_aet if store_port is not None else None)
    if destination is None:
        raise CommandError("give the destination AE title with -aem/--move-aet", EXIT_USAGE)
    try:
        destination = validate_ae_title(destination)
    except ValueError as exc:
        raise CommandError(f"invalid --move-aet: {exc}", EXIT_USAGE) from None
    model = MOVE_MODELS[model_letter(patient_root, study_root, patient_study_only)]
    level = level.upper()
    if level not in LEVELS:
        raise CommandError(f"--level must be one of {', '.join(LEVELS)}", EXIT_USAGE)
    try:
        identifier = build_identifier(key or [], None, query_file, None)
        explicit_level = ctx.get_parameter_source("level") is not ParameterSource.DEFAULT
        finish_identifier(identifier, level, explicit_level, model, "move")
    except KeyError_ as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    ssl_context = common.client_tls()
    identity = common.user_identity(ssl_context)
    log_handlers = logging_handlers(common.level)

    try:
        senders = [validate_ae_title(a) for a in accept_from or [common.called_aet]]
    except ValueError as exc:
        raise CommandError(f"invalid --accept-from: {exc}", EXIT_USAGE) from None
    server: Any = None
    storage: StorageHandler | None = None
    refused: list[str] = []
    receiver: Any = None
    receiver_tls: Any = None
    if store_port is not None and ssl_context is not None:
        # The C-STORE sub-operations come over TLS too: the receiver serves our certificate
        # and, unless --tls-no-verify, requires the sender's, signed by --tls-ca.
        if not common.tls_cert:
            raise CommandError(
                "--store-port with TLS needs --tls-cert (and --tls-key): the receiver serves "
                "TLS with it",
                EXIT_USAGE,
            )
        receiver_tls = common.server_tls()
    if store_port is not None:
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
            storage = StorageHandler(output_dir, filepath or DEFAULT_TEMPLATE)
        except (OSError, TemplateError) as exc:
            raise CommandError(f"cannot store into {output_dir}: {exc}", EXIT_USAGE) from None
        receiver = AE(destination)
        receiver.acse_timeout = common.acse_timeout
        receiver.dimse_timeout = common.dimse_timeout
        receiver.spool_directory = str(storage.output_dir)
        receiver.require_calling_aet = senders
        receiver.maximum_pdu_size = common.receive_pdu
        apply_size_limit(receiver, common.max_dataset_size)
        receiver.add_supported_context(Verification)
        accepted.apply(receiver)
        for sop_class in AllStorageClasses:
            receiver.add_supported_context(sop_class, accepted.syntaxes)

    def on_rejected(event: Any) -> None:
        requestor = event.assoc.requestor
        refused.append(f"{requestor.ae_title!r} at {requestor.address}")

    try:
        ae = common.ae()
        ae.add_requested_context(
            model, common.proposal() or ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
        )
        assoc = ae.associate(
            peer,
            port,
            ae_title=common.called_aet,
            ssl_context=ssl_context,
            tls_args=common.tls_args(ssl_context),
            user_identity=identity,
            evt_handlers=build_evt_handlers(log_handlers, []),
        )
        common.check_established(assoc)
        if receiver is not None and storage is not None:
            address = bind or assoc.requestor.address
            try:
                server = receiver.start_server(
                    (address, store_port),
                    block=False,
                    ssl_context=receiver_tls,
                    evt_handlers=build_evt_handlers(
                        [
                            *log_handlers,
                            (evt.EVT_C_STORE, storage),
                            (evt.EVT_REJECTED, on_rejected),
                        ],
                        user,
                    ),
                )
            except OSError as exc:
                assoc.release()
                raise CommandError(
                    f"cannot listen on {address}:{store_port}: {exc.strerror or exc}",
                    EXIT_CONNECT,
                ) from None
        counts = Counts()
        progress = Progress("moving", enabled=not quiet and sys.stderr.isatty())
        final: Any = None
        message_id = 1
        try:
            for status, _identifier in assoc.send_c_move(
                identifier, destination, model, msg_id=message_id, validate=True
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
    finally:
        if server is not None:
            # Let the peer finish (release) its sub-operation associations, bounded.
            for receiving in server.active_associations:
                if receiving.thread is not None:
                    receiving.thread.join(common.acse_timeout)
            server.shutdown()
    if storage is not None and not quiet:
        sys.stderr.write(f"movescu: {storage.stored} file(s) written to {output_dir}\n")
    finish("movescu", final, counts, assoc, quiet, "C-MOVE")
    if refused:
        raise CommandError(
            f"the receiver refused {len(refused)} unexpected association(s): "
            + ", ".join(refused[:5]),
            EXIT_FAILURE_STATUS,
        )
