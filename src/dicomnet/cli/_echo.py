"""What ``echoscu`` does once its options are parsed, free of Typer and click.

:mod:`dicomnet.cli.echoscu` declares the command (its options and help, the one source of both)
and calls :func:`run`; so does the console script's fast path (:mod:`dicomnet.cli._fastpath`),
which parses the common invocations itself and so starts without importing Typer.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from dicomnet.cli._common import ScuCommon, failure_text, start
from dicomnet.cli._console import (
    EXIT_ABORTED,
    EXIT_FAILURE_STATUS,
    EXIT_OK,
    CommandError,
    OutputFormat,
    error,
    render,
    resolve_format,
)


def run(common: ScuCommon, repeat: int, count: int, interval: float) -> int:
    """Make ``count`` associations, ``interval`` seconds apart, each sending ``repeat``
    C-ECHOs; print a row per echo. Returns the exit code (the worst of all checks)."""
    from dicomnet import events as evt
    from dicomnet.cli._handlers import build_evt_handlers
    from dicomnet.cli._logging import logging_handlers

    user = start(common, evt.EVT_DIMSE_RECV)
    tls = common.tls_args(common.client_tls())
    identity = common.user_identity(tls[0] if tls else None)
    handlers = build_evt_handlers(logging_handlers(common.level), user)
    peer, port, fmt, no_color = common.peer, common.port, common.fmt, common.no_color

    ae = common.ae()
    ae.add_requested_context("1.2.840.10008.1.1", common.proposal() or ["1.2.840.10008.1.2"])

    rows: list[dict[str, Any]] = []
    columns = ["peer", "port", "message_id", "status", "result", "rtt_ms"]
    # Line formats are written as results come (watching --count in a terminal or a pipe);
    # json and tables need every row first.
    streaming = resolve_format(fmt) in (OutputFormat.text, OutputFormat.jsonl, OutputFormat.csv)
    shown = 0
    worst = EXIT_OK
    stop = threading.Event()
    try:
        for attempt in range(count):
            if attempt:
                stop.wait(interval)
            try:
                code = _one_check(ae, common, repeat, tls, handlers, rows, identity)
            except CommandError as exc:
                if count == 1:
                    raise
                error("echoscu", str(exc))
                rows.append({"peer": peer, "port": port, "result": str(exc)})
                code = exc.code
            worst = max(worst, code)
            if streaming:
                # Count them as shown first: a Ctrl-C during the write must not repeat them.
                new, first, shown = rows[shown:], not shown, len(rows)
                render(new, columns, fmt, no_color=no_color, header=first)
    finally:
        if len(rows) > shown:
            render(rows[shown:], columns, fmt, no_color=no_color, header=not shown)
    return worst


def _one_check(
    ae: Any,
    common: ScuCommon,
    repeat: int,
    tls: Any,
    handlers: list[Any],
    rows: list[dict[str, Any]],
    identity: Any = None,
) -> int:
    from dicomnet.dimse.status import status_category, status_meaning

    peer, port = common.peer, common.port
    assoc = ae.associate(
        peer,
        port,
        ae_title=common.called_aet,
        tls_args=tls,
        evt_handlers=handlers,
        user_identity=identity,
    )
    common.check_established(assoc)
    code = EXIT_OK
    try:
        for _ in range(repeat):
            began = time.perf_counter()
            rsp = assoc.echo_response()
            elapsed = (time.perf_counter() - began) * 1000.0
            if rsp is None:
                reason = failure_text(assoc)
                raise CommandError(f"C-ECHO to {peer}:{port} failed: {reason}", EXIT_ABORTED)
            category = status_category(rsp.Status)
            rows.append(
                {
                    "peer": peer,
                    "port": port,
                    "message_id": rsp.MessageIDBeingRespondedTo,
                    "status": f"0x{rsp.Status:04X}",
                    "result": status_meaning(rsp.Status, "C-ECHO"),
                    "rtt_ms": round(elapsed, 3),
                }
            )
            if category == "Failure":
                code = EXIT_FAILURE_STATUS
    except KeyboardInterrupt:
        assoc.abort()  # do not wait for a release the peer may not answer soon
        raise
    finally:
        if assoc.is_established:
            assoc.release()
    return code
