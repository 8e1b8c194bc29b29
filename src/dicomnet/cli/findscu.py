"""``findscu PEER PORT [-k KEY[=VALUE]]... [QUERYFILE]``: C-FIND queries.

Matches go to stdout (a table on a terminal; ``--format json`` gives the DICOM JSON model of
PS3.18, ``jsonl`` one object per line, ``csv`` one row per match); logs to stderr. Zero matches is
success. ``--cancel-after N`` sends C-CANCEL after N matches; Ctrl-C cancels, then exits 130.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dicomnet.cli import _options as o
from dicomnet.cli._common import ScuCommon, start
from dicomnet.cli._console import (
    EXIT_ABORTED,
    EXIT_FAILURE_STATUS,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandError,
    OutputFormat,
    StdoutClosed,
    render,
    resolve_format,
    write_stdout,
)
from dicomnet.cli._shared import scu_options

HELP = """Query a PACS or worklist with C-FIND and print the matches.

Keys: -k PatientName=SMITH*, -k 0010,0020= (an empty value asks for a return key), sequence paths
such as -k ScheduledProcedureStepSequence[0].Modality=MR. Models: -S study root (default),
-P patient root, -O patient/study only, -W modality worklist. Without keys, sensible return keys
for the level are asked for. --handler without EVENT= is called for each C-FIND response as
handler(status, identifier, *args)."""

MODELS = {
    "S": "1.2.840.10008.5.1.4.1.2.2.1",
    "P": "1.2.840.10008.5.1.4.1.2.1.1",
    "O": "1.2.840.10008.5.1.4.1.2.3.1",
    "W": "1.2.840.10008.5.1.4.31",
}


def _model(patient: bool, study: bool, patient_study: bool, worklist: bool) -> str:
    chosen = [
        k for k, v in (("P", patient), ("S", study), ("O", patient_study), ("W", worklist)) if v
    ]
    if len(chosen) > 1:
        raise CommandError("choose one information model (-P, -S, -O or -W)", EXIT_USAGE)
    return chosen[0] if chosen else "S"


@scu_options("FINDSCU", handles="each C-FIND response")
def findscu(
    common: ScuCommon,
    query_file: Annotated[
        Path | None,
        typer.Argument(help="A DICOM or DICOM JSON file holding the query.", show_default=False),
    ] = None,
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key", "-k", help="KEY[=VALUE]: a keyword, tag or sequence path; repeatable."
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option(
            "--level", "-L", help="PATIENT, STUDY, SERIES or IMAGE (default STUDY; none for -W)."
        ),
    ] = None,
    patient_root: o.PatientRoot = False,
    study_root: o.StudyRoot = False,
    patient_study_only: o.PatientStudyOnly = False,
    worklist: Annotated[
        bool, typer.Option("--worklist", "-W", help="Modality Worklist model.")
    ] = False,
    relational: Annotated[
        bool,
        typer.Option(
            "--relational",
            help="Allow a relational query: no unique keys of the "
            "levels above (-L SERIES -k Modality=CT); asks the archive for relational "
            "queries (SOP Class Extended Negotiation), which it must accept.",
        ),
    ] = False,
    cancel_after: Annotated[
        int | None,
        typer.Option(
            "--cancel-after",
            min=1,
            help="Output at most N matches, then send C-CANCEL (matches a fast server sent "
            "already are read but not output).",
        ),
    ] = None,
    write: Annotated[
        Path | None, typer.Option("--write", help="Save each match as a DICOM file in DIR.")
    ] = None,
    charset: Annotated[
        str | None,
        typer.Option(
            "--charset",
            help="SpecificCharacterSet of the query, e.g. 'ISO_IR 100' or '\\ISO 2022 IR 87' "
            "(default: the query's own, else ISO_IR 192 when a key value is not ASCII). "
            "Responses are decoded in whatever character set they declare.",
            show_default=False,
        ),
    ] = None,
) -> None:
    from dicomnet import events as evt
    from dicomnet.cli._handlers import build_evt_handlers
    from dicomnet.cli._logging import logging_handlers
    from dicomnet.cli._pixels import pydicom_without_pixels
    from dicomnet.cli._query import (
        LEVELS,
        KeyError_,
        apply_charset,
        build_identifier,
        finish_identifier,
        flatten,
    )

    user = start(common, evt.EVT_DIMSE_RECV)
    pydicom_without_pixels(user_code=bool(user))  # no pixel data here (cli._pixels)
    peer, port, quiet, fmt = common.peer, common.port, common.quiet, common.fmt
    # Handlers without EVENT= are called for each C-FIND response: handler(status, identifier).
    response_handlers = [h for h in user if not h.explicit]
    user = [h for h in user if h.explicit]
    letter = _model(patient_root, study_root, patient_study_only, worklist)
    model = MODELS[letter]
    explicit_level = level is not None
    if level is not None:
        level = level.upper()
        if level not in LEVELS:
            raise CommandError(f"--level must be one of {', '.join(LEVELS)}", EXIT_USAGE)
    elif letter != "W":
        level = "STUDY" if letter != "P" else "PATIENT"
    try:
        identifier = build_identifier(
            key or [], None, query_file, "WORKLIST" if letter == "W" else level
        )
        finish_identifier(identifier, level, explicit_level, model, "find", relational)
        apply_charset(identifier, charset)
    except KeyError_ as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    if write is not None:
        try:
            write.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(
                f"cannot create {write}: {exc.strerror or exc}", EXIT_USAGE
            ) from None
    ssl_context = common.client_tls()
    identity = common.user_identity(ssl_context)

    ae = common.ae()
    ae.add_requested_context(
        model, common.proposal() or ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
    )
    handlers = build_evt_handlers(logging_handlers(common.level), user)
    ext_neg = None
    if relational and letter != "W":
        from dicomnet.ul.items import SOPClassExtended

        # PS3.4 C.5.1.1: ask for relational queries (byte 1 = 1); an archive refuses a
        # relational query it has not accepted
        ext_neg = [SOPClassExtended(model, b"\x01")]
    assoc = ae.associate(
        peer,
        port,
        ae_title=common.called_aet,
        ssl_context=ssl_context,
        tls_args=common.tls_args(ssl_context),
        user_identity=identity,
        ext_neg=ext_neg,
        evt_handlers=handlers,
    )
    common.check_established(assoc)

    matches: list[Any] = []
    final: Any = None
    streaming = resolve_format(fmt) in (OutputFormat.jsonl,)
    interrupted = False
    stdout_closed = False
    cut = False  # --cancel-after reached: later matches are read but not output
    message_id = 1
    try:
        try:
            responses = assoc.send_c_find(
                identifier, model, msg_id=message_id, relational=relational, validate=True
            )
            for status, found in responses:
                code = getattr(status, "Status", None)
                if code not in (0xFF00, 0xFF01):
                    _call_response_handlers(response_handlers, status, found)
                    final = status
                    continue
                if cut or stdout_closed or found is None:
                    continue  # in flight when we stopped: drained, not output
                _call_response_handlers(response_handlers, status, found)
                matches.append(found)
                if streaming:
                    try:
                        write_stdout(json.dumps(found.to_json_dict()) + "\n")
                    except StdoutClosed:
                        stdout_closed = True
                        responses.cancel()  # nobody reads the rest: stop the query
                        continue
                if write is not None:
                    _save(found, write / f"rsp{len(matches):04d}.dcm", model)
                if cancel_after is not None and len(matches) >= cancel_after:
                    # A fast server may have sent every match already: what arrives after
                    # this one is read (to reach the final response) but not output.
                    cut = True
                    responses.cancel()
        except KeyboardInterrupt:
            interrupted = True
            if assoc.is_established:
                assoc.send_c_cancel(message_id)
                for status, _found in _drain(assoc, message_id):
                    final = status
    finally:
        if assoc.is_established:
            assoc.release()
    if not streaming and not stdout_closed:
        _output(matches, fmt, common.no_color, flatten)
    if not quiet:
        note = f"; output cut after {cancel_after} (--cancel-after, C-CANCEL sent)" if cut else ""
        sys.stderr.write(f"findscu: {len(matches)} match(es){note}\n")
    if stdout_closed:
        raise StdoutClosed()
    if interrupted:
        raise CommandError("interrupted (the query was cancelled)", EXIT_INTERRUPTED)
    _final_status(final, assoc)


def _call_response_handlers(specs: Any, status: Any, found: Any) -> None:
    """The user's --handler functions for one C-FIND response; one that raises is logged."""
    for spec in specs:
        assert spec.func is not None
        try:
            spec.func(status, found, *spec.args)
        except Exception:
            import logging

            logging.getLogger("dicomnet.cli").exception("Exception in --handler %s", spec.text)


def _drain(assoc: Any, message_id: int) -> list[tuple[Any, Any]]:
    """After a C-CANCEL on Ctrl-C: read responses until the final one (bounded by the DIMSE
    timeout); matches that were still in flight are dropped."""
    from dicomnet.dataset import status_dataset

    out: list[tuple[Any, Any]] = []
    while True:
        done = assoc.next_message(assoc.dimse_timeout)
        if done is None:
            return out
        message = done.message
        if getattr(message, "MessageIDBeingRespondedTo", None) != message_id:
            continue
        out.append((status_dataset(message), None))
        if message.Status not in (0xFF00, 0xFF01):
            return out


def _save(ds: Any, path: Path, model: str) -> None:
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    copy = ds.copy()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(model)
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    copy.file_meta = meta
    copy.save_as(path, enforce_file_format=True)


def _output(matches: list[Any], fmt: OutputFormat, no_color: bool, flatten: Any) -> None:
    chosen = resolve_format(fmt)
    if chosen is OutputFormat.json:
        json.dump([m.to_json_dict() for m in matches], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    rows = [flatten(m) for m in matches]
    columns: list[str] = []
    for row in rows:
        for column in row:
            if column not in columns:
                columns.append(column)
    if chosen is OutputFormat.table and not rows:
        return
    render(rows, columns, chosen, no_color=no_color, whole=True)


def _final_status(final: Any, assoc: Any) -> None:
    from dicomnet.dimse.status import status_category, status_meaning

    code = getattr(final, "Status", None)
    if code is None:
        reason = assoc.failure_reason or "no final response"
        raise CommandError(f"the query did not complete: {reason}", EXIT_ABORTED)
    category = status_category(code)
    if category == "Failure":
        comment = getattr(final, "ErrorComment", None)
        meaning = status_meaning(code, "C-FIND") + (f" ({comment})" if comment else "")
        raise CommandError(f"C-FIND failed: 0x{code:04X} {meaning}", EXIT_FAILURE_STATUS)
