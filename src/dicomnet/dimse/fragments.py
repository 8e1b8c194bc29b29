"""Splitting DIMSE messages into PDVs and putting them back together (PS3.8 Annex E).

Sending: :func:`fragment_message` yields encoded P-DATA-TF PDUs, one PDV each, sized to the
peer's Maximum Length (PS3.8 D.1): command fragments first, the last one flagged, then data
set fragments. A data set given as a file object is read one fragment at a time.

An empty data set (``b""``) is still sent as one empty "last" data PDV. Annex E discourages
empty PDVs, but the command set has promised a data set, and a receiver only learns that it
has ended from a last-fragment PDV.

Receiving: :class:`MessageAssembler` takes PDVs in arrival order, decodes the command set when
its last fragment arrives, and streams data set fragments to a sink the caller supplies, so a
large data set is never held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

from dicomnet._record import record
from dicomnet.dimse.command_codec import DIMSEError, decode_command
from dicomnet.dimse.messages import DATASET_ABSENT, Message
from dicomnet.ul.codec import encode_pdata_single
from dicomnet.ul.pdu import PDV

__all__ = [
    "DataSink",
    "MessageAssembler",
    "MessageComplete",
    "SupportsRead",
    "fragment_message",
    "max_fragment_size",
]

DEFAULT_SEND_CAP = 1 << 20
"""Largest P-DATA-TF PDU-length we send when the peer sets no maximum (Maximum Length 0)."""

DEFAULT_MAX_COMMAND_SIZE = 64 * 1024
"""Largest command set the assembler accepts; real ones are a few hundred bytes."""

# Overhead of one PDV inside a P-DATA-TF PDU-length: item length (4), context ID, control byte.
_PDV_OVERHEAD = 6


class SupportsRead(Protocol):
    """A binary file object: ``read(n)`` returns at most ``n`` bytes, ``b""`` at the end."""

    def read(self, size: int = ..., /) -> bytes: ...


class DataSink(Protocol):
    """Where the assembler writes data set fragments (e.g. a temporary file)."""

    def write(self, data: bytes, /) -> object: ...


SinkT = TypeVar("SinkT", bound=DataSink)


def max_fragment_size(peer_max_pdu: int, send_cap: int = DEFAULT_SEND_CAP) -> int:
    """Largest even fragment that fits one PDV in a P-DATA-TF the peer accepts.

    ``peer_max_pdu`` is the peer's Maximum Length (0 = no maximum, so ``send_cap`` applies).
    """
    if peer_max_pdu < 0:
        raise ValueError(f"peer maximum PDU length {peer_max_pdu} is negative")
    limit = send_cap if peer_max_pdu == 0 else min(peer_max_pdu, send_cap)
    if limit < _PDV_OVERHEAD + 2:
        raise ValueError(
            f"maximum PDU length {limit} is too small: a P-DATA-TF needs {_PDV_OVERHEAD} bytes "
            "of PDV header plus a fragment of at least 2 bytes (8 in all)"
        )
    return (limit - _PDV_OVERHEAD) & ~1


def _read_exactly(source: SupportsRead, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at end of file (copes with short reads)."""
    chunk = source.read(size)
    if len(chunk) > size:
        raise ValueError(f"file object returned {len(chunk)} bytes when asked for {size}")
    if len(chunk) == size or not chunk:
        return chunk
    parts = [chunk]
    missing = size - len(chunk)
    while missing:
        more = source.read(missing)
        if not more:
            break
        if len(more) > missing:
            raise ValueError(f"file object returned {len(more)} bytes when asked for {missing}")
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def fragment_message(
    context_id: int,
    command: bytes,
    dataset: bytes | bytearray | memoryview | SupportsRead | None,
    peer_max_pdu: int,
) -> Iterator[bytes]:
    """Encoded P-DATA-TF PDUs (one PDV each) carrying one DIMSE message.

    ``command`` is an encoded command set; ``dataset`` the encoded data set (bytes-like or a
    binary file object read in fragment-sized chunks), or ``None`` when there is none.
    Arguments are checked before the first PDU is produced; an odd-length data set raises
    :class:`ValueError` (for a file object, only when its end is reached: the PDUs already
    yielded then form an incomplete message and the association should be aborted).
    """
    if not 1 <= context_id <= 255 or not context_id & 1:
        raise ValueError(f"presentation context ID {context_id} is not an odd number 1-255")
    if not command or len(command) & 1:
        raise ValueError(f"command set length {len(command)} is not a positive even number")
    fragment = max_fragment_size(peer_max_pdu)
    if isinstance(dataset, bytes | bytearray | memoryview):
        view = memoryview(dataset)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        if len(view) & 1:
            raise ValueError(f"data set length {len(view)} is odd; DICOM values are even")
        return _fragments(context_id, command, view, fragment)
    return _fragments(context_id, command, dataset, fragment)


def _fragments(
    context_id: int,
    command: bytes,
    dataset: memoryview | SupportsRead | None,
    fragment: int,
) -> Iterator[bytes]:
    encode = encode_pdata_single
    size = len(command)
    for start in range(0, size, fragment):
        end = start + fragment
        yield encode(context_id, True, end >= size, command[start:end])
    if dataset is None:
        return
    if isinstance(dataset, memoryview):
        size = len(dataset)
        if not size:
            yield encode(context_id, False, True, b"")
            return
        for start in range(0, size, fragment):
            end = start + fragment
            yield encode(context_id, False, end >= size, dataset[start:end])
        return
    chunk = _read_exactly(dataset, fragment)
    while True:
        if len(chunk) < fragment:  # end of file: this is the last fragment
            if len(chunk) & 1:
                raise ValueError("data set read from the file object has an odd length")
            yield encode(context_id, False, True, chunk)
            return
        following = _read_exactly(dataset, fragment)
        yield encode(context_id, False, not following, chunk)
        if not following:
            return
        chunk = following


@record(frozen=True, slots=True)
class MessageComplete(Generic[SinkT]):
    """A whole DIMSE message has arrived; ``dataset`` is the sink that received its data set."""

    context_id: int
    message: Message
    dataset: SinkT | None


class MessageAssembler(Generic[SinkT]):
    """Rebuilds DIMSE messages from PDVs, enforcing the ordering rules of PS3.8 Annex E.

    Feed every received PDV to :meth:`receive_pdv`; it returns a :class:`MessageComplete` when
    a message ends, else ``None``. When a command set announcing a data set is complete,
    ``sink_factory(context_id, message)`` is called once and each data fragment is written to
    the sink it returns as it arrives; until the data set ends the message is visible as
    :attr:`pending_message`. Protocol violations raise :class:`DIMSEError`; exceptions from the
    sink factory or the sink propagate unchanged (the association should then abort).

    Tolerated: empty PDVs, fragments of odd length (only the command set as a whole must
    decode), several messages in one P-DATA-TF.
    """

    __slots__ = (
        "_after_no_dataset",
        "_command",
        "_context_id",
        "_factory",
        "_max_command",
        "_message",
        "_sink",
    )

    def __init__(
        self,
        sink_factory: Callable[[int, Message], SinkT],
        max_command_size: int = DEFAULT_MAX_COMMAND_SIZE,
    ) -> None:
        self._factory = sink_factory
        self._max_command = max_command_size
        self._command = bytearray()
        self._context_id: int | None = None
        self._message: Message | None = None
        self._sink: SinkT | None = None
        self._after_no_dataset = False

    @property
    def pending_message(self) -> Message | None:
        """The decoded command of a message whose data set is still arriving."""
        return self._message

    @property
    def in_progress(self) -> bool:
        """True between the first PDV of a message and its end."""
        return self._context_id is not None

    @property
    def context_id(self) -> int | None:
        """Presentation context of the message in progress."""
        return self._context_id

    def receive_pdvs(self, pdvs: Iterable[PDV]) -> list[MessageComplete[SinkT]]:
        """Feed the PDVs of one P-DATA-TF; returns the messages they complete (usually 0 or 1)."""
        done: list[MessageComplete[SinkT]] = []
        for pdv in pdvs:
            event = self.receive_pdv(pdv)
            if event is not None:
                done.append(event)
        return done

    def receive_pdv(self, pdv: PDV) -> MessageComplete[SinkT] | None:
        """Take one PDV; return the message it completes, if any."""
        context_id = pdv.context_id
        if self._context_id is None:
            if not pdv.is_command:
                if self._after_no_dataset:
                    raise DIMSEError(
                        f"data set PDV (context {context_id}) for a message whose Command Data "
                        "Set Type said no data set follows (0x0101)"
                    )
                raise DIMSEError(f"data set PDV (context {context_id}) before any command set")
            self._context_id = context_id
            self._after_no_dataset = False
        elif context_id != self._context_id:
            raise DIMSEError(
                f"PDV for presentation context {context_id} inside a message on context "
                f"{self._context_id}"
            )

        data = pdv.data
        if pdv.is_command:
            if self._message is not None:
                raise DIMSEError(
                    "command PDV while the data set of the previous message is still arriving "
                    "(messages must not interleave)"
                )
            command = self._command
            if len(command) + len(data) > self._max_command:
                raise DIMSEError(
                    f"command set exceeds {self._max_command} bytes; refusing to buffer more"
                )
            command += data
            if not pdv.is_last:
                return None
            try:
                message = decode_command(command)
            except DIMSEError:
                self._context_id = None
                raise
            finally:
                command.clear()
            if message.CommandDataSetType == DATASET_ABSENT:
                self._context_id = None
                self._after_no_dataset = True
                return MessageComplete(context_id, message, None)
            self._message = message
            self._sink = self._factory(context_id, message)
            return None

        pending = self._message
        sink = self._sink
        if pending is None or sink is None:
            raise DIMSEError("data set PDV before the command set was complete")
        if data:
            sink.write(data)
        if not pdv.is_last:
            return None
        self._context_id = None
        self._message = None
        self._sink = None
        return MessageComplete(context_id, pending, sink)
