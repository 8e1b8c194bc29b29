"""Received data sets: spooled to memory, then to a temporary file past a modest size, and the one
boundary with pydicom (lazy decode).

A received C-STORE data set is written into a :class:`ReceivedDataset` fragment by fragment as it
arrives. The spool starts with our own Part-10 header, so once it rolls over to disk the
temporary file is already a complete DICOM file: ``event.dataset_path`` points at it, and
:meth:`ReceivedDataset.save` moves it into place with a rename when it lies on the same
filesystem. Nothing here holds a large data set in memory.

Limits (DESIGN.md 1.4): a data set larger than ``max_size`` bytes is refused while it arrives
(its bytes are dropped, the temporary file removed, :attr:`ReceivedDataset.refusal` says why).
A Deflated data set is inflated incrementally as it arrives, in bounded steps whose output is
counted and dropped: over ``max_inflated`` bytes, or over ``max_ratio`` times the bytes received
once more than :data:`RATIO_FLOOR` bytes have been inflated, it is refused the same way. It is
never inflated whole in memory: readers (naming fields, ``dataset``) inflate it again as a
stream, within the same limits.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from dicomnet.part10 import encode_file_meta

SPOOL_THRESHOLD = 4 * 1024 * 1024
DEFLATED = "1.2.840.10008.1.2.1.99"

#: Defaults of the limits (AE.maximum_dataset_size, maximum_inflated_size, maximum_deflate_ratio).
MAX_DATASET_SIZE = 4 * 1024**3
MAX_INFLATED_SIZE = 4 * 1024**3
MAX_DEFLATE_RATIO = 100.0
#: The ratio limit applies once this much has been inflated (blank images deflate 1000:1).
RATIO_FLOOR = 64 * 1024 * 1024
_INFLATE_STEP = 1024 * 1024  # most output one zlib call may produce
#: Identifiers, N-service data sets and other data sets held in memory: at most this much.
MEMORY_SINK_CAP = 64 * 1024 * 1024


class InflateLimitError(ValueError):
    """A Deflated data set inflates past a limit (size or ratio)."""


class Inflater:
    """Incremental raw-deflate decompression with limits; output in bounded steps."""

    def __init__(
        self, max_inflated: int | None = MAX_INFLATED_SIZE, max_ratio: float | None = None
    ) -> None:
        self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        self.max_inflated = max_inflated
        self.max_ratio = max_ratio
        self.compressed = 0
        self.inflated = 0

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[bytes]:
        """The inflated bytes of ``data``, in pieces of at most 1 MiB; InflateLimitError when
        a limit is passed (checked after every piece)."""
        self.compressed += len(data)
        pending: bytes | bytearray | memoryview = data
        while pending and not self._zlib.eof:
            piece = self._zlib.decompress(pending, _INFLATE_STEP)
            pending = self._zlib.unconsumed_tail
            self.inflated += len(piece)
            self._check()
            if piece:
                yield piece

    def _check(self) -> None:
        if self.max_inflated is not None and self.inflated > self.max_inflated:
            raise InflateLimitError(
                f"the Deflated data set inflates to more than {self.max_inflated} bytes"
            )
        ratio = self.max_ratio
        if (
            ratio is not None
            and self.inflated > RATIO_FLOOR
            and self.inflated > ratio * max(self.compressed, 1)
        ):
            raise InflateLimitError(
                f"the Deflated data set inflates more than {ratio:g} times "
                f"({self.compressed} bytes inflated to over {self.inflated})"
            )


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
            chunk = self._source.read(_INFLATE_STEP)
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
            if not self.read(min(target - self._position, _INFLATE_STEP)):
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
        self._dataset: Any = None
        self._kept = False  # save() renamed the spool file into place: _path is the user's file
        self.size = 0  # data-set bytes, without the header
        self.max_size = max_size
        self.max_inflated = max_inflated
        self._inflater = (
            Inflater(max_inflated, max_ratio) if transfer_syntax_uid == DEFLATED else None
        )
        #: Why the data set was refused while it arrived (too large, a deflate bomb), or None.
        self.refusal: str | None = None

    # --- the sink side (MessageAssembler writes here) -------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self.refusal is not None:
            return len(data)  # refused: the rest of the data set is read and dropped
        self.size += len(data)
        if self.max_size is not None and self.size > self.max_size:
            self._refuse(f"data set larger than the maximum of {self.max_size} bytes")
            return len(data)
        if self._inflater is not None:
            try:
                for _piece in self._inflater.feed(data):
                    pass  # counted and dropped: only the limits matter here
            except InflateLimitError as exc:
                self._refuse(str(exc))
                return len(data)
            except zlib.error as exc:
                self._refuse(f"the Deflated data set is corrupt: {exc}")
                return len(data)
        if self._buffer is not None:
            self._buffer += data
            if len(self._buffer) > self._threshold:
                self._rollover()
        else:
            assert self._file is not None
            self._file.write(data)
        return len(data)

    def _refuse(self, reason: str) -> None:
        self.refusal = reason[:200]
        self.close()

    def _rollover(self) -> None:
        fd, name = tempfile.mkstemp(prefix=".dicomnet-", suffix=".part", dir=self._directory)
        self._file = os.fdopen(fd, "w+b", buffering=1024 * 1024)
        self._path = Path(name)
        assert self._buffer is not None
        self._file.write(self._buffer)
        self._buffer = None

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
    def file_meta(self) -> Any:
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
        stream = self.open_dataset()
        if self.transfer_syntax_uid != DEFLATED:
            return stream
        return InflatingReader(stream, limit if limit is not None else self.max_inflated)  # type: ignore[return-value]

    @property
    def dataset(self) -> Any:
        """The data set decoded by pydicom on first access (then cached)."""
        if self._dataset is None:
            self._dataset = decode_dataset(
                self.open_dataset(), self.transfer_syntax_uid, max_inflated=self.max_inflated
            )
            self._dataset.file_meta = self.file_meta
        return self._dataset

    # --- keeping and discarding -----------------------------------------------------------

    def save(self, destination: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Atomically write the Part-10 file to ``destination``: temp file, flush, fsync,
        rename, fsync the directory. Raises OSError (leaving no partial file) on failure, and
        FileExistsError when ``overwrite`` is False and the file exists."""
        target = Path(destination)
        directory = target.parent
        if not overwrite and target.exists():
            raise FileExistsError(f"{target} exists")
        tmp: Path | None = None
        try:
            if (
                self._file is not None
                and self._path is not None
                and not self._kept
                and self._path.parent.resolve() == directory.resolve()
            ):
                self._file.flush()
                os.fsync(self._file.fileno())
                tmp = self._path
            else:
                fd, name = tempfile.mkstemp(prefix=".dicomnet-", suffix=".part", dir=directory)
                tmp = Path(name)
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
                    os.fsync(out.fileno())
            if overwrite:
                os.replace(tmp, target)
            else:
                os.link(tmp, target)
                os.unlink(tmp)
            if tmp == self._path:
                self._detach(target)
            tmp = None
            _fsync_dir(directory)
        finally:
            if tmp is not None and tmp != self._path:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return target

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


def decode_dataset(
    stream: BinaryIO | bytes | bytearray,
    transfer_syntax_uid: str,
    *,
    max_inflated: int | None = MAX_INFLATED_SIZE,
) -> Any:
    """Decode data-set bytes (no header) encoded in ``transfer_syntax_uid`` with pydicom. A
    Deflated data set is inflated incrementally into a spooled temporary file (at most
    ``max_inflated`` bytes: InflateLimitError beyond)."""
    from pydicom.filereader import read_dataset

    if isinstance(stream, bytes | bytearray):
        stream = io.BytesIO(stream)
    syntax = str(transfer_syntax_uid)
    if syntax == DEFLATED:
        inflated = tempfile.SpooledTemporaryFile(max_size=SPOOL_THRESHOLD)  # noqa: SIM115
        with InflatingReader(stream, max_inflated) as reader:
            while piece := reader.read(_INFLATE_STEP):
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
