"""The parts of pynetdicom's top-level surface that are not facades of their own:
``debug_logger``, ``register_uid`` and the default transfer syntax lists.

``from dicomnet import debug_logger, register_uid, DEFAULT_TRANSFER_SYNTAXES`` finds them here
(lazily, through :mod:`dicomnet`'s ``__getattr__``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

#: What a requestor proposes when a context names no transfer syntax (pynetdicom's list and
#: order): Implicit VR LE, Explicit VR LE, Deflated Explicit VR LE, Explicit VR BE.
DEFAULT_TRANSFER_SYNTAXES: list[str] = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
]

_LEVEL_LETTERS = {
    logging.DEBUG: "D",
    logging.INFO: "I",
    logging.WARNING: "W",
    logging.ERROR: "E",
    logging.CRITICAL: "C",
}


class _LetterFormatter(logging.Formatter):
    """``D: message``: the level's first letter, then the message."""

    def format(self, record: logging.LogRecord) -> str:
        letter = _LEVEL_LETTERS.get(record.levelno, record.levelname[:1])
        text = f"{letter}: {record.getMessage()}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return text


class _DebugHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler :func:`debug_logger` installs (so calling it twice logs once)."""


#: Set by :func:`debug_logger`: AEs then add :mod:`dicomnet._trace`'s handlers to what they make.
_tracing = False


def tracing() -> bool:
    return _tracing


def debug_logger() -> None:
    """Log everything dicomnet does to stderr, as pynetdicom's ``debug_logger()`` does: the
    ``dicomnet`` logger at DEBUG with one stream handler and a one-letter level prefix
    (``I: Association Accepted``). The associations and servers AEs make from then on also
    report their steps, DIMSE messages and PDUs. Calling it again replaces the handler it
    added."""
    global _tracing
    _tracing = True
    logger = logging.getLogger("dicomnet")
    for handler in list(logger.handlers):
        if isinstance(handler, _DebugHandler):
            logger.removeHandler(handler)
    handler = _DebugHandler(sys.stderr)
    handler.setFormatter(_LetterFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


#: The group a registered SOP class joins, by the service class pynetdicom's callers pass.
_SERVICE_GROUPS = {
    "StorageServiceClass": "storage",
    "QueryRetrieveServiceClass": "qr",
    "BasicWorklistManagementServiceClass": "worklist",
    "VerificationServiceClass": "verification",
}


def register_uid(uid: str, keyword: str, service_class: Any, dimse_msg_type: str = "") -> None:
    """Make a private SOP class known by ``keyword``: ``dicomnet.sop_class.<keyword>`` and
    ``uid_name`` find it, and a storage or Q/R class joins the lists of its service.

    ``service_class`` is pynetdicom's service class (or its name: ``"StorageServiceClass"``,
    ``"QueryRetrieveServiceClass"``, ``"BasicWorklistManagementServiceClass"``, ...).
    ``dimse_msg_type`` ("C-FIND", "C-GET" or "C-MOVE") is required for Q/R, as in pynetdicom.
    Our services are chosen by the DIMSE message, not the SOP class, so an acceptor that adds
    a supported context for the new UID serves it at once.
    """
    from keyword import iskeyword

    from dicomnet import sop_class
    from dicomnet.ul.codec import is_valid_uid

    if not is_valid_uid(str(uid)):
        raise ValueError(f"{uid!r} is not a valid UID")
    if not keyword.isidentifier() or iskeyword(keyword) or keyword.startswith("_"):
        raise ValueError(f"{keyword!r} is not a usable keyword (a Python identifier)")
    name = service_class if isinstance(service_class, str) else service_class.__name__
    group = _SERVICE_GROUPS.get(name)
    if group == "qr" and dimse_msg_type not in ("C-FIND", "C-GET", "C-MOVE"):
        raise ValueError(
            "a Query/Retrieve SOP class needs dimse_msg_type 'C-FIND', 'C-GET' or 'C-MOVE'"
        )
    sop_class.register(uid, keyword, group or "other")


def _all_transfer_syntaxes() -> list[str]:
    """Every transfer syntax that is not retired, and Explicit VR Big Endian (still sent by
    old devices), the defaults first: pynetdicom's ``ALL_TRANSFER_SYNTAXES``."""
    from dicomnet.sop_class import AllTransferSyntaxes

    rest = [
        str(t)
        for t in AllTransferSyntaxes
        if not t.is_retired and str(t) not in DEFAULT_TRANSFER_SYNTAXES
    ]
    return [*DEFAULT_TRANSFER_SYNTAXES, *rest]


def __getattr__(name: str) -> Any:
    if name == "ALL_TRANSFER_SYNTAXES":
        return _all_transfer_syntaxes()
    raise AttributeError(f"module 'dicomnet._compat' has no attribute {name!r}")
