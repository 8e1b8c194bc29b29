"""Received data sets: spooled to memory, then to a temporary file past a modest size, and the one
boundary with pydicom (lazy decode).

A received C-STORE data set is written into a :class:`ReceivedDataset` fragment by fragment as it
arrives. The spool starts with our own Part-10 header, so once it rolls over to disk the
temporary file is already a complete DICOM file: ``event.dataset_path`` points at it, and
:meth:`ReceivedDataset.save` moves it into place with a rename when it lies on the same
filesystem. Nothing here holds a large data set in memory.

Limits (DESIGN.md 1.4): a data set larger than ``max_size`` bytes is refused while it arrives
(its bytes are dropped, the temporary file removed, :attr:`ReceivedDataset.refusal` says why).
A Deflated data set is inflated once, incrementally as it arrives, by the structure validator
below (:class:`~dicomnet._inflate.Inflater`: bounded steps, output walked and dropped): over
``max_inflated`` bytes, or over ``max_ratio`` times the bytes received once more than
:data:`~dicomnet._inflate.RATIO_FLOOR` bytes have been inflated, it is refused the same way. It
is never inflated whole in memory: readers (naming fields, ``dataset``) inflate it again as a
stream, within the same limits.

While the bytes arrive they are also walked by a :class:`~dicomnet.validate.StructureValidator`
(structure only, nothing decoded), which keeps the data set's own SOP Class and Instance UIDs:
:meth:`ReceivedDataset.problem` says whether the data set can be kept at all. A write error
while spooling (a full disk, a file size limit) is kept too, not raised: the temporary file is
removed at once, the rest of the data set is received and dropped, and the service answers with
a failure status on an association that goes on.

Temporary files are named ``.dicomnet-*.part`` and hold an exclusive ``flock`` while open, so
that :func:`remove_stale_temp_files` can tell the leftovers of a killed process from files that a
running one is still writing.

:meth:`ReceivedDataset.save` makes a file durable through a :class:`Sync` (``sync=``): the
default, :data:`FSYNC_ALWAYS`, fsyncs the file before its rename and the directory after it;
:data:`FSYNC_NEVER` leaves both to the operating system (a crash may lose files already
answered); another Sync may do the same fsyncs for several files at once (a group commit, as
``storescp --fsync batch``) as long as each call returns only once its fsync is done.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no locks, stale files are left alone
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from pydicom.dataset import Dataset, FileMetaDataset


from dicomnet._inflate import (
    INFLATE_STEP,
    MAX_INFLATED_SIZE,
    RATIO_FLOOR,
    Inflater,
)
from dicomnet._pydicom_fast import read_plain
from dicomnet._pydicom_fast import status_dataset as status_dataset  # its callers' import
from dicomnet.part10 import encode_file_meta
from dicomnet.validate import (
    SOP_CLASS_UID,
    SOP_INSTANCE_UID,
    InflateLimitExceeded,
    StructureError,
    StructureValidator,
)

SPOOL_THRESHOLD = 4 * 1024 * 1024
DEFLATED = "1.2.840.10008.1.2.1.99"
TEMP_PREFIX = ".dicomnet-"
TEMP_SUFFIX = ".part"


class Sync:
    """How :meth:`ReceivedDataset.save` makes a file durable: :meth:`file` (the temporary
    file, before its rename) and :meth:`directory` (after the rename) return once done."""

    def file(self, fd: int) -> None:
        os.fsync(fd)

    def directory(self, path: Path) -> None:
        _fsync_dir(path)


class _NoSync(Sync):
    def file(self, fd: int) -> None:
        pass

    def directory(self, path: Path) -> None:
        pass


#: fsync the file before its rename and the directory after it (the default).
FSYNC_ALWAYS = Sync()
#: No fsync: the rename is still atomic, but a crash may lose files already saved.
FSYNC_NEVER: Sync = _NoSync()


class _ViewReader(io.RawIOBase):
    """A read-only stream over bytes in memory, without copying them (``io.BytesIO`` copies
    its initial value: half a millisecond of a large data set, only to read a few names)."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = (0, self._position, len(self._view))[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        chunk = self._view[self._position : self._position + len(buffer)]
        size = len(chunk)
        buffer[:size] = chunk
        self._position += size
        return size

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        data = bytes(self._view[self._position : end])
        self._position += len(data)
        return data


def _temp_file(directory: str | os.PathLike[str] | None) -> tuple[int, str]:
    """A new private ``.dicomnet-*.part`` file, locked for as long as its descriptor is open."""
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd, name


def remove_stale_temp_files(root: str | os.PathLike[str]) -> tuple[int, int]:
    """Remove the ``.dicomnet-*.part`` files under ``root`` that no process holds open (the
    leftovers of a process that was killed while writing). Returns (files, bytes) removed."""
    if fcntl is None:  # pragma: no cover
        return 0, 0
    removed = size = 0
    for path in _temp_files(root):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            length = os.fstat(fd).st_size
            os.unlink(path)
        except OSError:  # held by a running writer (or already gone)
            continue
        finally:
            os.close(fd)
        removed += 1
        size += length
    return removed, size


def _temp_files(root: str | os.PathLike[str]) -> Iterator[str]:
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _temp_files(entry.path)
            elif (
                entry.name.startswith(TEMP_PREFIX)
                and entry.name.endswith(TEMP_SUFFIX)
                and entry.is_file(follow_symlinks=False)
            ):
                yield entry.path
        except OSError:
            continue


#: Defaults of the limits (AE.maximum_dataset_size, maximum_inflated_size, maximum_deflate_ratio).
MAX_DATASET_SIZE = 4 * 1024**3
MAX_DEFLATE_RATIO = 100.0
#: Identifiers, N-service data sets and other data sets held in memory: at most this much.
MEMORY_SINK_CAP = 64 * 1024 * 1024


class InflatingReader(io.RawIOBase):
    """A read-only stream of the inflated bytes of a Deflated data-set stream, produced as they
    are read (memory: one step); reading past ``limit`` inflated bytes raises
    InflateLimitError. Seeks forward only (by inflating and dropping)."""

    def __init__(self, source: BinaryIO, limit: int | None) -> None:
        super().__init__()
        self._source = source
        self._inflater = Inflater(limit)
        self._pieces: Iterator[bytes] = iter(())
        self._buffer = b""
        self._position = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def _more(self) -> bool:
        while not self._eof:
            piece = next(self._pieces, None)
            if piece is not None:
                self._buffer += piece
                return True
            chunk = self._source.read(INFLATE_STEP)
            if not chunk:
                self._eof = True
                return False
            self._pieces = self._inflater.feed(chunk)
        return False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            while self._more():
                pass
            size = len(self._buffer)
        while len(self._buffer) < size and self._more():
            pass
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        self._position += len(data)
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = offset if whence == io.SEEK_SET else self._position + offset
        if whence not in (io.SEEK_SET, io.SEEK_CUR) or target < self._position:
            raise io.UnsupportedOperation("an inflating stream only seeks forward")
        while self._position < target:
            if not self.read(min(target - self._position, INFLATE_STEP)):
                break
        return self._position

    def close(self) -> None:
        self._source.close()
        super().close()


class ReceivedDataset:
    """A received data set with the header of a Part-10 file in front of it.

    ``directory`` is where the temporary file goes once the data set passes ``threshold``
    bytes; put it on the filesystem where the file will be kept so that :meth:`save` is a rename.
    """

    def __init__(
        self,
        sop_class_uid: str,
        sop_instance_uid: str,
        transfer_syntax_uid: str,
        implementation_class_uid: str,
        implementation_version_name: str = "",
        source_ae_title: str = "",
        *,
        directory: str | os.PathLike[str] | None = None,
        threshold: int = SPOOL_THRESHOLD,
        max_size: int | None = MAX_DATASET_SIZE,
        max_inflated: int | None = MAX_INFLATED_SIZE,
        max_ratio: float | None = MAX_DEFLATE_RATIO,
    ) -> None:
        self.sop_class_uid = sop_class_uid
        self.sop_instance_uid = sop_instance_uid
        self.transfer_syntax_uid = transfer_syntax_uid
        self.source_ae_title = source_ae_title
        self._meta = encode_file_meta(
            sop_class_uid,
            sop_instance_uid,
            transfer_syntax_uid,
            implementation_class_uid,
            implementation_version_name,
            source_ae_title,
        )
        self._directory = os.fspath(directory) if directory is not None else None
        self._threshold = threshold
        self._buffer: bytearray | None = bytearray(self._meta)
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._dataset: Dataset | None = None
        self._kept = False  # save() renamed the spool file into place: _path is the user's file
        self.size = 0  # data-set bytes, without the header
        self.max_size = max_size
        self.max_inflated = max_inflated
        #: Why the data set was refused while it arrived (too large, a deflate bomb), or None.
        self.refusal: str | None = None
        # The validator inflates a Deflated data set once, as it arrives, in bounded steps whose
        # output it walks and drops; it also enforces the inflation limits.
        self._validator = StructureValidator(
            transfer_syntax_uid,
            max_inflated=max_inflated,
            max_ratio=max_ratio,
            ratio_floor=RATIO_FLOOR,
        )
        #: The error that stopped spooling (the data set was dropped), if any.
        self.write_error: OSError | None = None

    # --- the sink side (MessageAssembler writes here) -------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Take the next bytes of the data set. Never raises for a write error (see
        :attr:`write_error`); once refused (:attr:`refusal`), the rest is read and dropped."""
        if self.refusal is not None:
            return len(data)
        self.size += len(data)
        if self.max_size is not None and self.size > self.max_size:
            self._refuse(f"data set larger than the maximum of {self.max_size} bytes")
            return len(data)
        self._validator.feed(data)
        limit = self._validator.error
        if isinstance(limit, InflateLimitExceeded):
            self._refuse(limit.reason)
            return len(data)
        if self.write_error is not None:
            return len(data)
        try:
            if self._buffer is not None:
                self._buffer += data
                if len(self._buffer) > self._threshold:
                    self._rollover()
            else:
                assert self._file is not None
                self._file.write(data)
        except OSError as exc:
            self.write_error = exc
            self.close()  # the temporary file goes now, not after the whole data set arrived
        return len(data)

    def _refuse(self, reason: str) -> None:
        self.refusal = reason[:200]
        self.close()

    def _rollover(self) -> None:
        fd, name = _temp_file(self._directory)
        self._file = os.fdopen(fd, "w+b", buffering=1024 * 1024)
        self._path = Path(name)
        assert self._buffer is not None
        self._file.write(self._buffer)
        self._buffer = None

    # --- what was received ------------------------------------------------------------------

    def problem(self) -> OSError | StructureError | None:
        """Why the data set cannot be kept: the write error that stopped spooling, or the first
        structural problem in the bytes received (call once the data set has ended)."""
        return self.write_error or self._validator.check()

    @property
    def dataset_sop_class_uid(self) -> str:
        """The SOP Class UID (0008,0016) in the data set itself ("" if absent)."""
        return self._validator.uid(SOP_CLASS_UID)

    @property
    def dataset_sop_instance_uid(self) -> str:
        """The SOP Instance UID (0008,0018) in the data set itself ("" if absent)."""
        return self._validator.uid(SOP_INSTANCE_UID)

    # --- the reading side (handlers) ------------------------------------------------------

    @property
    def meta_length(self) -> int:
        return len(self._meta)

    def path(self) -> Path:
        """A Part-10 file holding the data set (created now if it was still in memory)."""
        if self._kept:
            assert self._path is not None
            return self._path
        if self._file is None:
            self._rollover()
        assert self._file is not None and self._path is not None
        self._file.flush()
        return self._path

    def encoded(self, include_meta: bool = True) -> bytes:
        """The whole file (or only the data-set bytes) as bytes. Reads a spilled file whole."""
        data = bytes(self._buffer) if self._buffer is not None else self.path().read_bytes()
        return data if include_meta else data[len(self._meta) :]

    def open_dataset(self) -> BinaryIO:
        """A binary stream of the data-set bytes only (no header), positioned at the start."""
        if self._buffer is not None:
            return io.BytesIO(memoryview(self._buffer)[len(self._meta) :])
        reader = open(self.path(), "rb")  # noqa: SIM115 - the caller closes it
        reader.seek(len(self._meta))
        return reader

    @property
    def file_meta(self) -> FileMetaDataset:
        """A pydicom FileMetaDataset for this data set."""
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import UID

        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(self.sop_class_uid)
        meta.MediaStorageSOPInstanceUID = UID(self.sop_instance_uid)
        meta.TransferSyntaxUID = UID(self.transfer_syntax_uid)
        from dicomnet.part10 import read_file_meta

        header = read_file_meta(io.BytesIO(self._meta))
        meta.ImplementationClassUID = UID(header.implementation_class_uid)
        return meta

    def open_inflated(self, limit: int | None = None) -> BinaryIO:
        """The data-set bytes as they are to be parsed: inflated as they are read for the
        Deflated transfer syntax (at most ``limit`` bytes, else this AE's inflate limit)."""
        if self._buffer is not None:  # read in place (naming a file reads a few values only)
            view = memoryview(self._buffer)[len(self._meta) :]
            stream: BinaryIO = _ViewReader(view)  # type: ignore[assignment]
        else:
            stream = self.open_dataset()
        if self.transfer_syntax_uid != DEFLATED:
            return stream
        return InflatingReader(stream, limit if limit is not None else self.max_inflated)  # type: ignore[return-value]

    @property
    def dataset(self) -> Dataset:
        """The data set decoded by pydicom on first access (then cached)."""
        if self._dataset is None:
            dataset = decode_dataset(
                self.open_dataset(), self.transfer_syntax_uid, max_inflated=self.max_inflated
            )
            dataset.file_meta = self.file_meta
            self._dataset = dataset
        return self._dataset

    # --- keeping and discarding -----------------------------------------------------------

    def save(
        self,
        destination: str | os.PathLike[str],
        *,
        overwrite: bool = True,
        sync: Sync = FSYNC_ALWAYS,
    ) -> Path:
        """Atomically write the Part-10 file to ``destination``: temp file, flush, fsync,
        rename, fsync the directory (the fsyncs through ``sync``, see :class:`Sync`). Raises
        OSError (leaving no partial file) on failure, and FileExistsError when ``overwrite`` is
        False and the file exists — decided by the filesystem (a hard link to the final name),
        so concurrent savers never both succeed."""
        target = Path(destination)
        directory = target.parent
        if self.write_error is not None:
            raise self.write_error
        if not overwrite and target.exists():
            raise FileExistsError(f"{target} exists")
        if (
            self._file is not None
            and self._path is not None
            and not self._kept
            and self._path.parent.resolve() == directory.resolve()
        ):
            self._file.flush()
            sync.file(self._file.fileno())
            self._place(self._path, target, overwrite)
            if not overwrite:
                with contextlib.suppress(OSError):
                    os.unlink(self._path)  # the other name of the hard link
            self._detach(target)
        else:
            fd, name = _temp_file(directory)
            tmp = Path(name)
            placed = False
            try:
                with os.fdopen(fd, "wb") as out:
                    if self._buffer is not None:
                        out.write(self._buffer)
                    else:
                        assert self._path is not None
                        if self._file is not None:
                            self._file.flush()
                        with open(self._path, "rb") as src:
                            while chunk := src.read(1024 * 1024):
                                out.write(chunk)
                    out.flush()
                    sync.file(out.fileno())
                    self._place(tmp, target, overwrite)  # while the lock is held
                    placed = overwrite  # renamed: no name left to remove
            finally:
                if not placed:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
        sync.directory(directory)
        return target

    @staticmethod
    def _place(tmp: Path, target: Path, overwrite: bool) -> None:
        """Give ``tmp`` the name ``target``; without ``overwrite`` a hard link decides
        (FileExistsError if the name is taken) and ``tmp`` stays for the caller to remove."""
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)

    def _detach(self, target: Path) -> None:
        """The spool file was renamed to ``target``: read the data set from there from now on
        (``dataset``, ``encoded()``, a second ``save()``), but never move or delete it."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self._file = None
        self._path = target
        self._kept = True

    def close(self) -> None:
        """Remove the temporary file (if any) and drop buffered bytes."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._path is not None and not self._kept:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
        self._file = None
        self._path = None
        self._buffer = None


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class MemorySink:
    """A plain in-memory sink for small data sets (identifiers, responses), at most
    :data:`MEMORY_SINK_CAP` bytes (beyond: a protocol error, the association is aborted)."""

    def __init__(self, cap: int = MEMORY_SINK_CAP) -> None:
        self.buffer = bytearray()
        self.cap = cap

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if len(self.buffer) + len(data) > self.cap:
            from dicomnet.ul.errors import RemoteProtocolError

            raise RemoteProtocolError(f"a data set held in memory exceeds {self.cap} bytes")
        self.buffer += data
        return len(data)


_PLAIN_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")


def decode_dataset(
    stream: BinaryIO | bytes | bytearray,
    transfer_syntax_uid: str,
    *,
    max_inflated: int | None = MAX_INFLATED_SIZE,
) -> Dataset:
    """Decode data-set bytes (no header) encoded in ``transfer_syntax_uid`` with pydicom. A
    Deflated data set is inflated incrementally into a spooled temporary file (at most
    ``max_inflated`` bytes: InflateLimitError beyond)."""
    from pydicom.filereader import read_dataset

    syntax = str(transfer_syntax_uid)
    if isinstance(stream, bytes | bytearray):
        if syntax in _PLAIN_SYNTAXES:
            ds = read_plain(bytes(stream), syntax == "1.2.840.10008.1.2")
            if ds is not None:
                return ds
        stream = io.BytesIO(stream)
    if syntax == DEFLATED:
        inflated = tempfile.SpooledTemporaryFile(max_size=SPOOL_THRESHOLD)  # noqa: SIM115
        with InflatingReader(stream, max_inflated) as reader:
            while piece := reader.read(INFLATE_STEP):
                inflated.write(piece)
        inflated.seek(0)
        stream = inflated  # type: ignore[assignment]
    try:
        return read_dataset(
            stream,
            is_implicit_VR=syntax == "1.2.840.10008.1.2",
            is_little_endian=syntax != "1.2.840.10008.1.2.2",
        )
    finally:
        stream.close()


def encode_dataset(dataset: Any, transfer_syntax_uid: str) -> bytes:
    """Encode a pydicom Dataset's elements (file meta excluded) in ``transfer_syntax_uid``."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    syntax = str(transfer_syntax_uid)
    out = DicomBytesIO()
    out.is_implicit_VR = syntax == "1.2.840.10008.1.2"
    out.is_little_endian = syntax != "1.2.840.10008.1.2.2"
    write_dataset(out, dataset)
    data = out.getvalue()
    if syntax == DEFLATED:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = compressor.compress(data) + compressor.flush()
        if len(data) % 2:
            data += b"\x00"
    return data
