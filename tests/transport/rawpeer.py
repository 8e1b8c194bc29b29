"""A raw-socket DICOM peer for robustness tests: it sends hand-made PDUs (or any bytes) and reads
whole PDUs back, so a test can do exactly what a broken or hostile requestor would do."""

from __future__ import annotations

import contextlib
import socket
import time
from collections import deque
from types import TracebackType

from dicomnet.dimse.command_codec import decode_command, encode_command
from dicomnet.dimse.messages import Message
from dicomnet.ul.codec import encode_pdata_single, encode_pdu
from dicomnet.ul.framing import PDUReader
from dicomnet.ul.items import PresentationContextRQ, UserInformation
from dicomnet.ul.pdu import PDU, AssociateAC, AssociateRQ, PDataTF

VERIFICATION = "1.2.840.10008.1.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
RAW_IMPLEMENTATION_UID = "1.2.826.0.1.3680043.9.7433.1.1"


def associate_rq(
    called: str = "ANY-SCP",
    calling: str = "RAWPEER",
    contexts: tuple[tuple[int, str, tuple[str, ...]], ...] = (
        (1, VERIFICATION, (IMPLICIT_LE,)),
        (3, CT_IMAGE_STORAGE, (EXPLICIT_LE, IMPLICIT_LE)),
    ),
    max_length: int = 16384,
) -> AssociateRQ:
    """An A-ASSOCIATE-RQ proposing ``contexts`` as (id, abstract syntax, transfer syntaxes)."""
    return AssociateRQ(
        called_ae_title=called,
        calling_ae_title=calling,
        presentation_contexts=tuple(
            PresentationContextRQ(cid, abstract, syntaxes) for cid, abstract, syntaxes in contexts
        ),
        user_information=UserInformation(max_length, RAW_IMPLEMENTATION_UID, "RAWPEER"),
    )


class PeerClosed(Exception):
    """The other side closed the connection while we waited for a PDU."""


class RawPeer:
    """A TCP connection speaking PDUs by hand. Every wait has a deadline."""

    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = PDUReader(max_pdata_length=0)
        self._pdus: deque[PDU] = deque()
        self.closed_by_peer = False

    def __enter__(self) -> RawPeer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- sending ------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_pdu(self, pdu: PDU) -> None:
        self.send(encode_pdu(pdu))

    def send_command(self, context_id: int, message: Message) -> None:
        """A DIMSE command set in one PDV, flagged last."""
        self.send(encode_pdata_single(context_id, True, True, encode_command(message)))

    def send_data(self, context_id: int, data: bytes, is_last: bool) -> None:
        self.send(encode_pdata_single(context_id, False, is_last, data))

    # --- receiving ----------------------------------------------------------------------------

    def read_pdu(self, timeout: float | None = None) -> PDU:
        """The next PDU from the peer. Raises PeerClosed at end of stream, TimeoutError when
        nothing whole arrives within ``timeout`` (default: the peer's timeout) in total."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self._pdus:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no PDU from the peer in time")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed_by_peer = True
                raise PeerClosed("the peer closed the connection")
            self._pdus.extend(self.reader.feed(data))
        return self._pdus.popleft()

    def read_message(self, timeout: float | None = None) -> Message:
        """The next DIMSE message (command set only) the peer sends."""
        command = bytearray()
        while True:
            pdu = self.read_pdu(timeout)
            if not isinstance(pdu, PDataTF):
                raise AssertionError(f"expected P-DATA-TF, got {pdu!r}")
            for pdv in pdu.pdvs:
                if pdv.is_command:
                    command += pdv.data
                    if pdv.is_last:
                        return decode_command(bytes(command))

    def wait_closed(self, timeout: float) -> bool:
        """True once the peer closes the connection within ``timeout`` seconds (PDUs that
        arrive meanwhile are kept for :meth:`read_pdu`)."""
        if self.closed_by_peer:
            return True
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return False
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed_by_peer = True
                return True
            with contextlib.suppress(Exception):
                self._pdus.extend(self.reader.feed(data))

    # --- whole steps --------------------------------------------------------------------------

    def associate(self, rq: AssociateRQ | None = None) -> AssociateAC:
        """Send an A-ASSOCIATE-RQ and return the A-ASSOCIATE-AC (AssertionError otherwise)."""
        self.send_pdu(rq if rq is not None else associate_rq())
        answer = self.read_pdu()
        if not isinstance(answer, AssociateAC):
            raise AssertionError(f"expected A-ASSOCIATE-AC, got {answer!r}")
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
