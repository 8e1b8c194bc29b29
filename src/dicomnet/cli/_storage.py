"""The built-in storage handler (storescp, getscu, movescu): received data sets become Part-10
files under an output directory, named by a template, written atomically.

Safety rules: names come only from validated UIDs and sanitised short values; the final path must
lie inside the output directory (a UID such as ``../../x`` is refused with status 0x0117, other
unusable names with 0xC210); the file is written to a temporary file, flushed, fsynced and
renamed before the success response; any write error gives 0xA700 and leaves no partial file.

Duplicates (an instance whose file already exists): ``replace`` (default; the newest copy wins,
atomically), ``keep`` (the existing file stays, success is answered), or ``fail`` (the existing
file stays and the peer gets 0xA7FE "duplicate, not stored"). ``keep`` and ``fail`` are decided
by the filesystem (a hard link of the temporary file to the final name fails if the name is
taken), so concurrent associations storing the same instance never both store it. A replaced
file keeps a second name (``.dicomnet-*.previous``, a hard link) until the store has succeeded,
``on_stored`` included: if the store fails after the rename (``on_stored`` raising, e.g. the
archive's index refusing the row), the previous file is put back and the failure answered, so
that a failed store leaves nothing of itself (DESIGN 1.5). Stores of the same file are
serialised within the process (striped locks by path), so that two associations replacing one
instance at once cannot interleave their writes and ``on_stored`` calls.

Stored files get mode 0666 less the umask, like any other program's files (the temporary file
they are written to is private).

Durability (``storescp --fsync``): ``always`` (the default) fsyncs each file before its rename and
the directory after it, then answers success: an instance answered with success survives a crash
or power loss. ``batch`` keeps that promise and that order, but the fsyncs of the instances being
stored at the same moment (on concurrent associations) are done together by one thread
(:class:`GroupCommit`: a directory is fsynced once for all of them); each answer still waits for
its own file and directory. ``never`` does no fsync: the rename is still atomic (never a partial
file under its final name), but an instance answered with success may be lost if the machine
crashes before the operating system writes it (for scratch receivers and tests).
"""

from __future__ import annotations

import contextlib
import logging
import os
import string
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dicomnet.dataset import FSYNC_ALWAYS, FSYNC_NEVER, Sync
from dicomnet.ul.codec import is_valid_uid

LOG = logging.getLogger("dicomnet.storage")

DEFAULT_TEMPLATE = "{Modality}.{SOPInstanceUID}.dcm"
PRESETS = {
    "study": "{StudyInstanceUID}/{Modality}.{SOPInstanceUID}.dcm",
    "series": "{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm",
    "patient": "{PatientID}/{StudyInstanceUID}/{Modality}.{SOPInstanceUID}.dcm",
}
UID_FIELDS = (
    "SOPInstanceUID",
    "SOPClassUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "TransferSyntaxUID",
)
TEXT_FIELDS = ("Modality", "PatientID", "PatientName", "CallingAET")
#: Fields whose values come from a fixed table of safe names (not escaped):
#: SOPClassPrefix is DCMTK's storescp file-name prefix of the SOP class (CT, SC, RP, ...;
#: UNKNOWN for classes DCMTK does not know).
TABLE_FIELDS = ("SOPClassPrefix", "StudyTimestamp", "PatientNameDir")
#: StudyTimestamp: when this server received the first instance of the study (local time,
#: ``YYYYMMDD_HHMMSSmmm``), the same for every later instance of it; PatientNameDir: Patient's
#: Name as DCMTK's storescp -sp writes it (ASCII letters and digits kept, anything else '_').
#: Together: DCMTK's -ss and -sp study directories.
FIELDS = UID_FIELDS + TEXT_FIELDS + TABLE_FIELDS
#: The file name DCMTK's storescp gives (--dcmtk-names).
DCMTK_NAME = "{SOPClassPrefix}.{SOPInstanceUID}"
_DATASET_FIELDS = {
    "StudyInstanceUID": 0x0020000D,
    "SeriesInstanceUID": 0x0020000E,
    "Modality": 0x00080060,
    "PatientID": 0x00100020,
    "PatientName": 0x00100010,
}
_DEFLATED = "1.2.840.10008.1.2.1.99"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
#: Naming fields are looked for in the first 16 MiB of a data set (inflated), no further.
_NAMING_LIMIT = 16 * 1024 * 1024

STATUS_INVALID_INSTANCE = 0x0117
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_DUPLICATE = 0xA7FE
STATUS_CANNOT_NAME = 0xC210
DUPLICATE_POLICIES = ("replace", "keep", "fail")


class TemplateError(ValueError):
    """A --filepath template that cannot be used."""


def check_template(template: str) -> list[str]:
    """The placeholders of a template; TemplateError if unknown ones, or an absolute or
    parent-escaping template."""
    names: list[str] = []
    for _text, name, spec, conv in string.Formatter().parse(template):
        if name is None:
            continue
        if name not in FIELDS or spec or conv:
            raise TemplateError(
                f"unknown placeholder {{{name}}}; use {', '.join('{' + f + '}' for f in FIELDS)}"
            )
        names.append(name)
    if template.startswith("/") or ".." in Path(template).parts:
        raise TemplateError("the template must be a relative path without '..'")
    if "SOPInstanceUID" not in names:
        raise TemplateError("the template must contain {SOPInstanceUID} (names must be unique)")
    return names


def escape_name(value: str) -> str:
    """A file or folder name for a text value (PatientID, Modality, CallingAET): letters,
    digits, ``-`` and ``_`` are kept, every other character is escaped as ``%XX`` (its UTF-8
    bytes), so distinct values always give distinct names (``A/B`` → ``A%2FB``, ``A_B``,
    ``A?B`` → ``A%3FB``) and no name is ``.``, ``..`` or hidden. An empty value gives
    ``UNKNOWN`` (and a value ``UNKNOWN`` gives ``%55NKNOWN``). Names longer than 200
    characters end with a digest of the value instead of being cut."""
    if not value:
        return "UNKNOWN"
    text = "".join(
        char if char.isascii() and (char.isalnum() or char in "-_") else _percent(char)
        for char in value
    )
    if text == "UNKNOWN":
        text = "%55NKNOWN"
    if len(text) > 200:
        import hashlib

        text = text[:180] + "~" + hashlib.sha256(value.encode()).hexdigest()[:16]
    return text


def _percent(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def _status(code: int, comment: str) -> Any:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.Status = code
    ds.ErrorComment = comment[:64]
    return ds


class StorageHandler:
    """An EVT_C_STORE handler writing files under ``output_dir`` named by ``template``."""

    def __init__(
        self,
        output_dir: Path,
        template: str = DEFAULT_TEMPLATE,
        on_duplicate: str = "replace",
        on_stored: Callable[[Path, Any], None] | None = None,
        sync: Sync = FSYNC_ALWAYS,
    ) -> None:
        self.output_dir = output_dir.resolve()
        self.sync = sync
        self.template = template
        self.fields = check_template(template)
        if on_duplicate not in DUPLICATE_POLICIES:
            raise ValueError(f"on_duplicate must be one of {DUPLICATE_POLICIES}")
        self.on_duplicate = on_duplicate
        self.on_stored = on_stored
        self.stored = 0  # (failures are counted from the responses: see storescp)
        self._lock = threading.Lock()
        # StudyInstanceUID -> (StudyTimestamp, PatientNameDir), set by its first instance
        self._study_dirs: dict[str, tuple[str, str]] = {}
        self._path_locks = [threading.Lock() for _ in range(64)]
        # Temporary files are created 0600; the stored file gets the mode any other program
        # would give it (0666 less the umask), as DCMTK's storescp does. Read once, here,
        # before the server's threads exist (os.umask can only be read by setting it).
        umask = os.umask(0o022)
        os.umask(umask)
        self.file_mode = 0o666 & ~umask

    def _values(self, event: Any) -> dict[str, str]:
        request = event.request
        values = {
            "SOPInstanceUID": str(request.AffectedSOPInstanceUID),
            "SOPClassUID": str(request.AffectedSOPClassUID),
            "TransferSyntaxUID": str(event.context.transfer_syntax),
            "CallingAET": str(
                event.assoc.requestor.ae_title
                if event.assoc.is_acceptor
                else event.assoc.acceptor.ae_title
            ),
        }
        if "SOPClassPrefix" in self.fields:
            from dicomnet.cli._dcmtk_names_generated import DCMTK_PREFIXES

            values["SOPClassPrefix"] = DCMTK_PREFIXES.get(values["SOPClassUID"], "UNKNOWN")
        wanted = [f for f in self.fields if f in _DATASET_FIELDS]
        directory = "StudyTimestamp" in self.fields or "PatientNameDir" in self.fields
        for source in ("StudyInstanceUID", "PatientName") if directory else ():
            if source not in wanted:
                wanted.append(source)
        if wanted:
            values.update(self._read_fields(event, wanted))
        if directory:
            name = values.get("PatientName", "")
            stamp, patient = self._study_directory(values.get("StudyInstanceUID", ""), name)
            values["StudyTimestamp"], values["PatientNameDir"] = stamp, patient
        return values

    def _study_directory(self, study: str, patient_name: str) -> tuple[str, str]:
        """(StudyTimestamp, PatientNameDir) of ``study``: fixed by its first instance here (as
        DCMTK's storescp names a study's directory once)."""
        with self._lock:
            known = self._study_dirs.get(study)
            if known is None:
                from datetime import datetime

                now = datetime.now()
                stamp = now.strftime("%Y%m%d_%H%M%S") + f"{now.microsecond // 1000:03d}"
                dcmtk = "".join(c if c.isascii() and c.isalnum() else "_" for c in patient_name)
                known = self._study_dirs[study] = (stamp, dcmtk or "UNKNOWN")
            return known

    @staticmethod
    def _read_fields(event: Any, wanted: list[str]) -> dict[str, str]:
        """The naming fields, read from the first bytes of the data set only (inflated as
        they are read for Deflated: a deflate bomb is never inflated whole)."""
        from dicomnet.part10 import scan_top_level

        received = event.received
        syntax = received.transfer_syntax_uid
        deflated = syntax == _DEFLATED
        tags = [_DATASET_FIELDS[f] for f in wanted]
        with received.open_inflated(_NAMING_LIMIT) as stream:
            raw = scan_top_level(stream, _EXPLICIT_LE if deflated else syntax, set(tags))
        if raw is not None:  # the fast path: no pydicom for Implicit/Explicit VR LE
            return {
                name: raw.get(tag, b"").rstrip(b"\x00 ").decode("latin-1").strip()
                for name, tag in zip(wanted, tags, strict=True)
            }
        import io

        from pydicom.filereader import read_dataset

        last = max(tags)
        with received.open_inflated(_NAMING_LIMIT) as stream:
            # pydicom may seek back: give it the first bytes, enough for the naming fields
            head = io.BytesIO(stream.read(_NAMING_LIMIT)) if deflated else stream
            ds = read_dataset(
                head,
                is_implicit_VR=syntax == "1.2.840.10008.1.2",
                is_little_endian=syntax != "1.2.840.10008.1.2.2",
                stop_when=lambda tag, vr, length: tag > last,
                specific_tags=tags,
            )
        found: dict[str, str] = {}
        for name in wanted:
            value = ds.get(name)
            found[name] = "" if value is None else str(value).strip()
        return found

    def path_for(self, values: dict[str, str]) -> Path:
        """The target path; ValueError (with the status to answer) if unusable."""
        clean: dict[str, str] = {}
        for name in self.fields:
            value = values.get(name, "")
            if name in UID_FIELDS:
                if not is_valid_uid(value):
                    code = (
                        STATUS_INVALID_INSTANCE if name == "SOPInstanceUID" else STATUS_CANNOT_NAME
                    )
                    raise _Refused(code, f"invalid {name} {value[:40]!r}")
                clean[name] = value
            elif name in TABLE_FIELDS:
                clean[name] = value
            else:
                clean[name] = escape_name(value)
        target = (self.output_dir / self.template.format(**clean)).resolve()
        if not target.is_relative_to(self.output_dir):
            raise _Refused(STATUS_CANNOT_NAME, "file name would leave the output directory")
        return target

    def __call__(self, event: Any) -> Any:
        try:
            target = self.path_for(self._values(event))
        except _Refused as exc:
            LOG.error("Refusing %s: %s", event.request.AffectedSOPInstanceUID, exc.comment)
            return _status(exc.code, exc.comment)
        except Exception as exc:  # a data set we cannot read the naming fields from
            LOG.error("Cannot name %s: %s", event.request.AffectedSOPInstanceUID, exc)
            return _status(STATUS_CANNOT_NAME, f"cannot read naming fields: {type(exc).__name__}")
        # One store of a given file at a time in this process: two associations replacing the
        # same instance at once would otherwise interleave file and on_stored (the index row
        # of one, the file of the other), or put back a file the other has just replaced.
        with self._path_locks[hash(target) % len(self._path_locks)]:
            return self._store(event, target)

    def _store(self, event: Any, target: Path) -> Any:
        previous: Path | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if self.on_duplicate == "replace":
                previous = _keep_previous(target)
            try:
                # keep/fail: a hard link to the final name decides, so that of two
                # associations storing the same instance at once exactly one gets it.
                event.save(target, overwrite=self.on_duplicate == "replace", sync=self.sync)
            except FileExistsError:
                return self._duplicate(target)
            with contextlib.suppress(OSError):  # stored safely already; the mode is a courtesy
                os.chmod(target, self.file_mode)
        except OSError as exc:
            LOG.error("Cannot write %s: %s", target, exc)
            _undo(target, previous, placed=False)
            return _status(STATUS_OUT_OF_RESOURCES, f"cannot write: {exc.strerror or exc}")
        self._count_stored()  # (before on_stored, which may read the count)
        if self.on_stored is not None:
            try:
                self.on_stored(target, event)
            except BaseException:
                _undo(target, previous, placed=True)
                with self._lock:
                    self.stored -= 1  # (the failure is counted from the response sent)
                raise
        if previous is not None:
            with contextlib.suppress(OSError):
                os.unlink(previous)
        LOG.info("Stored %s", target)
        return 0x0000

    def _duplicate(self, target: Path) -> Any:
        """The answer when ``target`` exists already (keep or fail)."""
        if self.on_duplicate == "keep":
            LOG.warning("Duplicate %s: keeping the existing file", target)
            self._count_stored()
            return 0x0000
        LOG.error("Duplicate %s: not stored", target)
        return _status(STATUS_DUPLICATE, "duplicate instance, not stored")

    def _count_stored(self) -> None:
        with self._lock:
            self.stored += 1


# glibc's mallopt() parameters (<malloc.h>)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Have the C allocator (glibc) keep the memory a received data set used for the next one.

    A receiver allocates and frees about a data set's size per instance (the in-memory spool of
    up to SPOOL_THRESHOLD bytes, the socket reads). glibc serves such blocks with mmap and gives
    them back to the kernel when freed (munmap, or madvise when it trims a thread's heap), so
    each instance pays its memory's page faults again (~200 for 512 KiB), and the unmapping
    interrupts the other cores running the process's threads. Serving blocks up to 16 MiB from
    the heap and trimming it only past 64 MiB free keeps the memory mapped and reused; the
    process's size stays at what its concurrent associations need at once. Not glibc (or not
    Linux): nothing is done (False)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: musl's mallopt does nothing)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 16 << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, 64 << 20))


FSYNC_MODES = ("always", "batch", "never")


def sync_for(mode: str) -> Sync:
    """The :class:`~dicomnet.dataset.Sync` of a ``--fsync`` mode (see the module's docstring)."""
    if mode == "always":
        return FSYNC_ALWAYS
    if mode == "never":
        return FSYNC_NEVER
    if mode == "batch":
        return GroupCommit()
    raise ValueError(f"--fsync must be one of {', '.join(FSYNC_MODES)}")


class GroupCommit(Sync):
    """``--fsync batch``: the fsyncs asked for while a round runs are done in the next round,
    by one thread, each directory once per round. :meth:`file` and :meth:`directory` return
    when their own fsync is done (raising its error, for a file), so every caller keeps the
    order file fsync, rename, directory fsync, answer."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: list[list[Any]] = []  # [kind, fd or path, error]
        self._collecting = 0  # the round the requests made now belong to
        self._completed = 0  # rounds below this are done
        self._thread: threading.Thread | None = None
        self.rounds = 0  # rounds run (for tests and benchmarks)

    def file(self, fd: int) -> None:
        self._wait(["file", fd, None])

    def directory(self, path: Path) -> None:
        self._wait(["dir", str(path), None])

    def _wait(self, request: list[Any]) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="dicomnet-group-commit", daemon=True
                )
                self._thread.start()
            self._pending.append(request)
            round_ = self._collecting
            self._cond.notify_all()
            while self._completed <= round_:
                self._cond.wait()
        if request[2] is not None:
            raise request[2]

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                batch, self._pending = self._pending, []
                round_ = self._collecting
                self._collecting += 1
            directories: dict[str, None] = {}
            for request in batch:
                if request[0] == "file":
                    try:
                        os.fsync(request[1])
                    except OSError as exc:
                        request[2] = exc
                else:
                    directories[request[1]] = None
            for directory in directories:  # once each: every rename of the round is before it
                FSYNC_ALWAYS.directory(Path(directory))
            with self._cond:
                self.rounds += 1
                self._completed = round_ + 1
                self._cond.notify_all()


def _keep_previous(target: Path) -> Path | None:
    """A second name (a hard link) for the file a replacing store is about to replace, so that
    it can be put back if the store fails after the rename; None when there is none."""
    import secrets

    backup = target.with_name(f".dicomnet-{secrets.token_hex(8)}.previous")
    try:
        os.link(target, backup)
    except FileNotFoundError:
        return None
    except OSError:  # a file system without hard links: a copy will do
        import shutil

        try:
            shutil.copyfile(target, backup)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(backup)  # a partial copy
            if isinstance(exc, FileNotFoundError):
                return None
            raise
    return backup


def _undo(target: Path, previous: Path | None, *, placed: bool) -> None:
    """A store failed: put the replaced file back (``previous``), or remove the new file
    (``placed``: it was renamed into place), so that nothing of the failed store remains."""
    with contextlib.suppress(OSError):
        if previous is not None:
            os.replace(previous, target)
            from dicomnet.dataset import _fsync_dir

            _fsync_dir(target.parent)
        elif placed:
            os.unlink(target)


class _Refused(Exception):
    def __init__(self, code: int, comment: str) -> None:
        super().__init__(comment)
        self.code = code
        self.comment = comment


class FailureCounter:
    """An EVT_DIMSE_SENT handler counting the C-STORE responses sent with a failure status:
    refusals before any handler (malformed, mismatching UIDs, spool errors) as well as the
    handlers' own."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        message = event.message
        if type(message).__name__ == "C_STORE_RSP":
            from dicomnet.dimse.status import status_category

            if status_category(message.Status) == "Failure":
                with self._lock:
                    self.count += 1


def prepare_output_dir(prog: str, output_dir: Path, quiet: bool) -> None:
    """Make sure a receiving command can write into ``output_dir`` (exit 2 otherwise), then
    remove the temporary files a killed receiver left there (ours, named ``.dicomnet-*.part``,
    that no running process holds locked), reported in one line."""
    import sys

    from dicomnet.cli._console import EXIT_USAGE, CommandError
    from dicomnet.dataset import remove_stale_temp_files

    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / ".dicomnet-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CommandError(f"cannot use output directory {output_dir}: {exc}", EXIT_USAGE) from None
    count, size = remove_stale_temp_files(output_dir)
    if count and not quiet:
        sys.stderr.write(
            f"{prog}: removed {count} stale temporary file(s) ({size} bytes) left in "
            f"{output_dir} by an earlier run\n"
        )


class StoredLines:
    """The ``on_stored`` callback of a receiving command: one result row per stored instance
    (file, SOP Instance UID, calling AE title) as it is stored, in ``fmt``. A closed stdout sets
    :attr:`closed` and ``done``: the instance is stored and answered, the job ends there."""

    COLUMNS = ("file", "sop_instance_uid", "calling_aet")

    def __init__(self, fmt: Any, no_color: bool, done: threading.Event) -> None:
        from dicomnet.cli._console import RowWriter

        self.output = RowWriter(self.COLUMNS, fmt, no_color=no_color)
        self.closed = threading.Event()
        self._done = done

    def __call__(self, path: Path, event: Any) -> None:
        from dicomnet.cli._console import StdoutClosed

        try:
            self.output.write(
                {
                    "file": str(path),
                    "sop_instance_uid": event.request.AffectedSOPInstanceUID,
                    "calling_aet": event.assoc.requestor.ae_title,
                }
            )
        except StdoutClosed:
            self.closed.set()
            self._done.set()

    def close(self) -> None:
        """End the output (a JSON array's closing bracket); a closed stdout sets :attr:`closed`."""
        from dicomnet.cli._console import StdoutClosed

        try:
            self.output.close()
        except StdoutClosed:
            self.closed.set()


def dcmtk_template(template: str) -> str:
    """``template`` with its file name (the last part) replaced by DCMTK's ``PREFIX.uid``."""
    head, _, _ = template.rpartition("/")
    return f"{head}/{DCMTK_NAME}" if head else DCMTK_NAME


def check_dir_prefix(prefix: str) -> str:
    """A -su/-ss directory prefix: letters, digits, '.', '-' and '_' only (it becomes part of
    a directory name); ValueError otherwise."""
    if (
        not prefix
        or prefix.startswith(".")
        or not all(c.isascii() and (c.isalnum() or c in "._-") for c in prefix)
    ):
        raise ValueError(f"{prefix!r} is not a usable directory prefix (letters, digits, . - _)")
    return prefix


class StopNow(Exception):
    """A second SIGINT/SIGTERM while a server command stops: stop waiting at once."""


class StopSignals:
    """SIGINT/SIGTERM for storescp and qrscp: the first sets ``done`` (a clean stop, exit 0),
    a second one raises :class:`StopNow` (cutting the wait for running associations short).
    :meth:`install` before listening, :meth:`restore` puts the previous handlers back."""

    def __init__(self, done: threading.Event) -> None:
        self.done = done
        self.signalled = threading.Event()
        self._previous: list[tuple[int, Any]] = []

    def install(self) -> None:
        import signal

        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous.append((sig, signal.signal(sig, self._on_signal)))

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signalled.is_set():
            raise StopNow()
        self.signalled.set()
        self.done.set()

    def restore(self) -> None:
        import signal

        while self._previous:
            sig, handler = self._previous.pop()
            signal.signal(sig, handler)
