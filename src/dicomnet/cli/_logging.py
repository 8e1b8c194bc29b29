"""Built-in logging: stderr (and ``--log-file``) set up per ``-q``/``-v``/``-d``, and the event
handlers that write association and DIMSE summaries (``-v``) and PDU summaries and state
transitions (``-d``). They are ordinary handlers bound through ``evt_handlers``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet._log import get_logger

if TYPE_CHECKING:
    import logging

LOG = get_logger("dicomnet")

# logging's levels (fixed numbers): named here so that choosing one does not import logging.
DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50

_PREFIX = {DEBUG: "D", INFO: "I", WARNING: "W", ERROR: "E", CRITICAL: "F"}


def level_for(quiet: bool, verbose: bool, debug: bool) -> int:
    if debug:
        return DEBUG
    if verbose:
        return INFO
    if quiet:
        return ERROR
    return WARNING


def setup(level: int, log_file: str | None = None) -> None:
    """Route dicomnet's loggers to stderr (and a file) at ``level``. At WARNING or above, with
    no log file and while nothing has imported :mod:`logging`, nothing can be logged before it
    is imported (:mod:`dicomnet._log`): the set-up is then done when it is, so that a plain run
    never loads it."""
    from dicomnet.cli._import_hook import around_next_import, cancel

    cancel("logging")
    if log_file or level < WARNING or "logging" in sys.modules:
        _set_up(level, log_file)
    else:

        def then_set_up(load: Callable[[], None]) -> None:
            load()
            _set_up(level, None)

        around_next_import("logging", then_set_up)


def _set_up(level: int, log_file: str | None) -> None:
    import logging

    log = logging.getLogger("dicomnet")
    log.handlers.clear()
    log.setLevel(level)
    log.propagate = False
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(_formatter())
    log.addHandler(stream)
    if log_file:
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(to_file)


def _formatter() -> logging.Formatter:
    import logging

    class Prefixed(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            text = f"{_PREFIX.get(record.levelno, 'I')}: {record.getMessage()}"
            if record.exc_info:
                text += "\n" + self.formatException(record.exc_info)
            return text

    return Prefixed()


def _name(message: Any) -> str:
    return type(message).__name__.replace("_", "-")


def _summary(message: Any) -> str:
    parts = []
    for field in ("MessageID", "MessageIDBeingRespondedTo", "AffectedSOPInstanceUID", "Status"):
        value = getattr(message, field, None)
        if value is not None:
            parts.append(f"{field}={value:#06x}" if field == "Status" else f"{field}={value}")
    return f"{_name(message)} ({', '.join(parts)})"


def _on_accepted(event: evt.Event) -> None:
    assoc = event.assoc
    LOG.info(
        "Association accepted: %s -> %s (%d accepted context(s))",
        assoc.requestor.ae_title,
        assoc.acceptor.ae_title,
        len(assoc.accepted_contexts),
    )


def _on_requested(event: evt.Event) -> None:
    assoc = event.assoc
    if assoc.is_acceptor:
        LOG.info(
            "Association request from %s (%s:%s)",
            assoc.requestor.ae_title,
            assoc.requestor.address,
            assoc.requestor.port,
        )
    else:
        LOG.info(
            "Requesting association with %s at %s:%s",
            assoc.acceptor.ae_title,
            assoc.acceptor.address,
            assoc.acceptor.port,
        )


def _on_rejected(event: evt.Event) -> None:
    from dicomnet.ul.errors import describe_rejection

    assoc = event.assoc
    if assoc.rejection is not None:
        LOG.info("Association rejected: %s", describe_rejection(assoc.rejection))


def _on_released(event: evt.Event) -> None:
    LOG.info("Association released")


def _on_aborted(event: evt.Event) -> None:
    assoc = event.assoc
    reason = assoc.failure_reason or (
        f"A-ABORT source {assoc.abort_pdu.source} reason {assoc.abort_pdu.reason}"
        if assoc.abort_pdu is not None
        else "aborted"
    )
    LOG.info("Association aborted: %s", reason)


def _on_dimse_sent(event: evt.Event) -> None:
    LOG.info("Sent %s", _summary(event.message))


def _on_dimse_recv(event: evt.Event) -> None:
    LOG.info("Received %s", _summary(event.message))


def _on_pdu(direction: str) -> Callable[[evt.Event], None]:
    def handler(event: evt.Event) -> None:
        pdu = event.pdu
        name = type(pdu).__name__
        if name == "PDataTF":
            pdvs = ", ".join(
                f"ctx {p.context_id} {'cmd' if p.is_command else 'data'}"
                f"{' last' if p.is_last else ''} {len(p.data)} B"
                for p in pdu.pdvs
            )
            LOG.debug("%s P-DATA-TF [%s]", direction, pdvs)
        else:
            LOG.debug("%s %s", direction, pdu)

    return handler


def _on_transition(event: evt.Event) -> None:
    LOG.debug(
        "FSM %s + %s -> %s -> %s",
        event.current_state,
        event.fsm_event,
        event.action,
        event.next_state,
    )


def logging_handlers(level: int) -> list[tuple[evt.EventType, Callable[..., Any]]]:
    """The built-in logging handlers for a log level (none above INFO)."""
    handlers: list[tuple[evt.EventType, Callable[..., Any]]] = []
    if level <= INFO:
        handlers += [
            (evt.EVT_REQUESTED, _on_requested),
            (evt.EVT_ACCEPTED, _on_accepted),
            (evt.EVT_REJECTED, _on_rejected),
            (evt.EVT_RELEASED, _on_released),
            (evt.EVT_ABORTED, _on_aborted),
            (evt.EVT_DIMSE_SENT, _on_dimse_sent),
            (evt.EVT_DIMSE_RECV, _on_dimse_recv),
        ]
    if level <= DEBUG:
        handlers += [
            (evt.EVT_PDU_SENT, _on_pdu("Sent")),
            (evt.EVT_PDU_RECV, _on_pdu("Received")),
            (evt.EVT_FSM_TRANSITION, _on_transition),
        ]
    return handlers
