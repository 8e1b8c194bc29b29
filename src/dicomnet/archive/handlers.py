"""The archive's event handlers, bound through ``evt_handlers`` like every built-in handler.

* :class:`IndexingStore` (EVT_C_STORE): the storage handler of ``storescp`` (same naming,
  validation, atomic durable write, statuses), then the index row committed **before** the
  success status; if the index cannot be written the new file is removed (a duplicate's
  replaced file put back) and the sender gets 0xA700 (database unavailable) or 0xC000 (cannot
  read the attributes to index), so that success means both the file and its row are there,
  and failure means nothing of the store remains.
* :class:`ArchiveSCP` ``find`` / ``get`` / ``move`` (EVT_C_FIND, EVT_C_GET, EVT_C_MOVE).

Failure statuses of the query handlers, each with an ErrorComment saying what is wrong:

======  ============================================================================
0xA900  identifier does not match the SOP class: no or invalid QueryRetrieveLevel,
        missing unique keys (of the levels above too, unless relational queries were
        negotiated for the SOP class), unique keys of a lower level, malformed ranges or
        dates
0xA700  C-FIND: the index database is unavailable (refused: out of resources)
0xA701  C-GET / C-MOVE: the index database is unavailable (cannot compute the matches)
0xA801  C-MOVE: the move destination is not configured (``--move-dest``)
0xB000  C-GET / C-MOVE: some sub-operations failed (the Failed SOP Instance UID List says
        which); a file missing or unreadable at retrieve time is such a failed one
======  ============================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dicomnet.archive.attributes import INDEX_TAGS
from dicomnet.archive.index import Index, IndexUnavailable
from dicomnet.archive.matching import MatchError
from dicomnet.archive.query import charset_terms, plan, response, retrieve_statement
from dicomnet.qr import model_for_uid, validate_identifier

LOG = logging.getLogger("dicomnet.archive")

IDENTIFIER_DOES_NOT_MATCH = 0xA900
OUT_OF_RESOURCES = 0xA700
CANNOT_CALCULATE_MATCHES = 0xA701
CANNOT_INDEX = 0xC000


def status(code: int, comment: str) -> Any:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.Status = code
    ds.ErrorComment = comment[:64]
    return ds


def read_for_index(path: Path) -> Any:
    """The indexed attributes of a Part-10 file (pixel data and the rest are not read)."""
    from pydicom import dcmread

    return dcmread(path, stop_before_pixels=True, specific_tags=list(INDEX_TAGS))


def index_texts(event: Any, path: Path) -> Any:
    """What to index for a received instance: read from the received bytes without pydicom
    when they allow it (Implicit/Explicit VR Little Endian, a single-byte or UTF-8 character
    set), else from the stored file with pydicom."""
    from dicomnet.archive.attributes import texts_from_raw
    from dicomnet.part10 import scan_top_level

    received = event.received
    with received.open_dataset() as stream:
        raw = scan_top_level(stream, received.transfer_syntax_uid, _TAGS)
    implicit = received.transfer_syntax_uid == "1.2.840.10008.1.2"
    texts = texts_from_raw(raw, implicit) if raw is not None else None
    return texts if texts is not None else read_for_index(path)


_TAGS = set(INDEX_TAGS)


class _IndexFailed(Exception):
    def __init__(self, path: Path, code: int, comment: str) -> None:
        super().__init__(comment)
        self.path = path
        self.code = code
        self.comment = comment


class IndexingStore:
    """EVT_C_STORE: ``storage`` (a :class:`dicomnet.cli._storage.StorageHandler`) writes the
    file; this indexes it in ``index`` before the success response. The storage handler's
    ``on_stored`` callback (output lines) still runs, after the row is committed."""

    def __init__(self, storage: Any, index: Index) -> None:
        self.storage = storage
        self.index = index
        self._then = storage.on_stored
        storage.on_stored = self._stored

    def _stored(self, path: Path, event: Any) -> None:
        try:
            ds = index_texts(event, path)
        except Exception as exc:
            raise _IndexFailed(path, CANNOT_INDEX, f"cannot read it to index: {exc}") from exc
        try:
            self.index.add(ds, path, str(event.context.transfer_syntax))
        except IndexUnavailable as exc:
            raise _IndexFailed(path, OUT_OF_RESOURCES, "index database unavailable") from exc
        except ValueError as exc:
            raise _IndexFailed(path, CANNOT_INDEX, f"cannot index: {exc}") from exc
        except Exception as exc:  # a bug or a value the database refuses: neither is kept
            LOG.exception("indexing %s failed", path)
            raise _IndexFailed(path, CANNOT_INDEX, f"cannot index: {type(exc).__name__}") from exc
        if self._then is not None:
            self._then(path, event)

    def __call__(self, event: Any) -> Any:
        try:
            return self.storage(event)
        except _IndexFailed as exc:
            LOG.error("Not stored %s: %s", event.request.AffectedSOPInstanceUID, exc.comment)
            if exc.__cause__ is not None and not isinstance(exc.__cause__, ValueError):
                LOG.debug("index failure", exc_info=exc.__cause__)
            # the storage handler has undone the store already: the new file removed, or the
            # file it replaced put back (whose index row the failed transaction left as it was)
            return status(exc.code, exc.comment)


class StoredFile(str):
    """A file path yielded to the retrieve service, knowing its SOP Instance UID (so that a
    file gone missing is reported in the Failed SOP Instance UID List)."""

    sop_instance_uid: str

    def __new__(cls, path: str, sop_instance_uid: str) -> StoredFile:
        made = super().__new__(cls, path)
        made.sop_instance_uid = sop_instance_uid
        return made


def _short(identifier: Any, model: Any, message: str, operation: str = "find") -> str:
    """An ErrorComment (64 characters at most) naming the problem's key first."""
    from dicomnet.qr import LEVELS, UNIQUE_KEYS

    value = identifier.get("QueryRetrieveLevel")
    if value is None:
        return "no QueryRetrieveLevel (0008,0052)"
    level = str(value).strip()
    if level not in model.levels:
        return f"invalid QueryRetrieveLevel {level[:16]!r} for {model.name}"
    for above in model.levels[: model.levels.index(level)]:
        upper = UNIQUE_KEYS[above][0]
        if "needs" in message and upper in message:
            if operation != "find":  # C-GET / C-MOVE: always needed
                return f"{level}: {upper} above it needs exactly one value"
            if "got" in message:  # a list or a wildcard
                return f"{upper} must be one value (relational not negotiated)"
            return f"{upper} missing: relational queries not negotiated"
    keyword = UNIQUE_KEYS[level][0]
    if keyword not in identifier or ("needs" in message and keyword in message):
        return f"{level}: unique key {keyword} missing or empty"
    for below in LEVELS[LEVELS.index(level) + 1 :]:
        if UNIQUE_KEYS[below][0] in identifier:
            return f"{UNIQUE_KEYS[below][0]} is below the {level} level"
    return message


class ArchiveSCP:
    """The Query/Retrieve handlers over ``index``."""

    def __init__(
        self,
        index: Index,
        ae_title: str,
        destinations: dict[str, tuple[str, int]] | None = None,
        move_options: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.index = index
        self.ae_title = ae_title
        self.destinations = dict(destinations or {})
        #: host -> extra ``AE.associate`` options for a move destination there (TLS)
        self.move_options = move_options

    # --- C-FIND ----------------------------------------------------------------------------

    def _checked(self, event: Any, operation: str) -> tuple[Any, str, Any] | Any:
        """(identifier, level, model), or a failure status Dataset."""
        known = model_for_uid(str(event.request.AffectedSOPClassUID))
        identifier = event.identifier
        if known is None or not known[0].is_hierarchical:
            return status(0x0122, "SOP class not supported by this archive")
        try:
            # A relational query (no unique keys of the levels above, PS3.4 C.4.1.2.2) is
            # answered only when relational queries were negotiated for this SOP class.
            relational = operation == "find" and relational_accepted(
                event, str(event.request.AffectedSOPClassUID)
            )
            validate_identifier(identifier, known[0], operation, relational=relational)
        except ValueError as exc:
            LOG.warning("C-%s refused: %s", operation.upper(), exc)
            return status(
                IDENTIFIER_DOES_NOT_MATCH, _short(identifier, known[0], str(exc), operation)
            )
        return identifier, str(identifier.QueryRetrieveLevel).strip(), known[0]

    def find(self, event: Any) -> Iterator[tuple[Any, Any]]:
        checked = self._checked(event, "find")
        if not isinstance(checked, tuple):
            yield checked, None
            return
        identifier, level, model = checked
        try:
            statement, requested = plan(
                identifier, level, sqlite=self.index.is_sqlite, levels=model.levels
            )
        except MatchError as exc:
            LOG.warning("C-FIND refused: %s", exc)
            yield status(IDENTIFIER_DOES_NOT_MATCH, str(exc)), None
            return
        syntax = str(event.context.transfer_syntax)
        terms = charset_terms(identifier)
        try:
            for row in self.index.stream(statement):
                if event.is_cancelled:
                    yield 0xFE00, None
                    return
                answer = response(row, requested, identifier, level, self.ae_title, syntax, terms)
                if answer is not None:  # None: its sequences do not match
                    yield 0xFF00, answer
        except IndexUnavailable as exc:
            LOG.error("C-FIND: %s", exc)
            yield status(OUT_OF_RESOURCES, "index database unavailable"), None

    # --- C-GET / C-MOVE --------------------------------------------------------------------

    def _matches(self, event: Any, operation: str) -> list[StoredFile] | Any:
        checked = self._checked(event, operation)
        if not isinstance(checked, tuple):
            return checked
        identifier, level, _model = checked
        try:
            rows = self.index.fetch(retrieve_statement(identifier, level))
        except MatchError as exc:
            return status(IDENTIFIER_DOES_NOT_MATCH, str(exc))
        except IndexUnavailable as exc:
            LOG.error("C-%s: %s", operation.upper(), exc)
            return status(CANNOT_CALCULATE_MATCHES, "index database unavailable")
        return [
            StoredFile(str(self.index.file_path(row["path"])), row["sopinstanceuid"])
            for row in rows
        ]

    def _sub_operations(self, event: Any, found: list[StoredFile] | Any) -> Iterator[Any]:
        if not isinstance(found, list):
            yield 0
            yield found, None
            return
        yield len(found)
        for item in found:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, item

    def get(self, event: Any) -> Iterator[Any]:
        yield from self._sub_operations(event, self._matches(event, "get"))

    def move(self, event: Any) -> Iterator[Any]:
        destination = self.destinations.get(str(event.move_destination).strip())
        if destination is None:
            LOG.warning("C-MOVE: unknown move destination %r", event.move_destination)
            yield None, None
            return
        if self.move_options is not None:
            host, port = destination
            yield host, port, self.move_options(host)
        else:
            yield destination
        yield from self._sub_operations(event, self._matches(event, "move"))


def relational_accepted(event: Any, sop_class_uid: str) -> bool:
    """Whether this association accepted relational queries for ``sop_class_uid``: our
    A-ASSOCIATE-AC answered its SOP Class Extended Negotiation with relational-queries = 1
    (PS3.4 C.5.1.1; :func:`sop_extended` gives that answer when the requestor asks for it)."""
    accepted = getattr(getattr(event.assoc, "acceptor", None), "primitive", None)
    information = getattr(accepted, "user_information", None)
    for item in getattr(information, "sop_class_extended", ()):
        if item.sop_class_uid == sop_class_uid and item.app_info[:1] == b"\x01":
            return True
    return False


def sop_extended(event: Any) -> dict[str, bytes]:
    """EVT_SOP_EXTENDED: accept relational queries for the C-FIND classes (PS3.4 C.5.1.1)."""
    answer = {}
    for uid, info in event.app_info.items():
        known = model_for_uid(str(uid))
        if known is not None and known[1] == "find" and known[0].is_hierarchical and info:
            answer[str(uid)] = bytes([1 if info[0] == 1 else 0])
    return answer
