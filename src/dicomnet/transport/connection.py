"""A TCP (optionally TLS) connection with total deadlines: the only place dicomnet touches a
connected socket.

Every read and write takes an absolute deadline (``time.monotonic()`` based) rather than a
per-call timeout, so a peer trickling one byte at a time cannot stretch a wait. TCP_NODELAY is on
for every socket. :meth:`Connection.interrupt` wakes a thread blocked in :meth:`recv` from any
other thread (used by ``abort()`` and server shutdown) without polling.

On Linux, TCP_QUICKACK is re-armed after every read (the kernel drops back to delayed ACKs on
its own): a peer that keeps Nagle on (Debian's DCMTK without ``TCP_NODELAY=1``, many
modalities) holds its next small segment until our ACK, and a delayed ACK costs it ~40 ms per
DIMSE message. Elsewhere the option does not exist and nothing is done.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl  # imported when TLS is used (it costs ~10 ms at start-up)

RECV_SIZE = 256 * 1024
#: Linux only; None where the platform has no TCP_QUICKACK.
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
SMALL_RECV_SIZE = 16 * 1024
_EMPTY = memoryview(b"")


class ConnectError(OSError):
    """The transport connection could not be made (refused, unreachable, DNS, timeout, TLS)."""


class Deadline(TimeoutError):
    """A deadline passed while waiting for the peer."""


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise Deadline("deadline passed")
    return left


def deadline_in(seconds: float | None) -> float | None:
    """An absolute deadline ``seconds`` from now (None: wait for ever)."""
    return None if seconds is None else time.monotonic() + seconds


def _is_tls_close(exc: OSError) -> bool:
    """True for the peer's TLS close_notify (only a TLS socket raises it, so ssl is loaded)."""
    ssl_module = sys.modules.get("ssl")
    return ssl_module is not None and isinstance(exc, ssl_module.SSLZeroReturnError)


def _configure(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _quickack(sock)


def _quickack(sock: socket.socket) -> None:
    """ACK what we read at once instead of up to ~40 ms later (see the module docstring)."""
    if _QUICKACK is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)


class Connection:
    """One transport connection carrying one association."""

    def __init__(self, sock: socket.socket) -> None:
        _configure(sock)
        self.sock = sock
        try:
            peer = sock.getpeername()
            self.peer: tuple[str, int] = (str(peer[0]), int(peer[1]))
        except OSError:
            self.peer = ("", 0)
        try:
            local = sock.getsockname()
            self.local: tuple[str, int] = (str(local[0]), int(local[1]))
        except OSError:
            self.local = ("", 0)
        self._send_lock = threading.Lock()
        self._closed = False
        # Allocated on first use, small until :meth:`expect_bulk`: a silent connection costs
        # no buffer, and one that has not associated only a small one.
        self._buffer: bytearray | None = None
        self._view = memoryview(b"")
        self._recv_size = SMALL_RECV_SIZE

    def expect_bulk(self) -> None:
        """Use the large receive buffer from now on (the association is established)."""
        if self._recv_size != RECV_SIZE:
            self._recv_size = RECV_SIZE
            self._buffer = None

    # --- making connections -----------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        *,
        timeout: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        bind_address: tuple[str, int] | None = None,
    ) -> Connection:
        """Connect (and do the TLS handshake) within ``timeout`` seconds in total."""
        deadline = deadline_in(timeout)
        # getaddrinfo() passes a str host through the "idna" codec, whose import costs about a
        # millisecond of start-up; an ASCII host name or address needs no IDNA encoding.
        address = host.encode("ascii") if host.isascii() else host
        try:
            sock = socket.create_connection(
                (address, port),  # type: ignore[arg-type]
                timeout=timeout,
                source_address=bind_address,
            )
        except TimeoutError as exc:
            raise ConnectError(f"connection to {host}:{port} timed out") from exc
        except OSError as exc:
            raise ConnectError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
        if ssl_context is not None:
            sock = wrap_tls(
                sock,
                ssl_context,
                server_side=False,
                deadline=deadline,
                server_hostname=server_hostname or host,
            )
        sock.settimeout(None)
        conn = cls(sock)
        conn.expect_bulk()
        return conn

    # --- I/O --------------------------------------------------------------------------------

    def recv(self, deadline: float | None) -> bytes:
        """Bytes from the peer (at least one), or b'' when the peer closed the connection.

        Raises :class:`Deadline` when ``deadline`` passes first, OSError on network failure.
        """
        return bytes(self.recv_view(deadline))

    def readable(self) -> bool:
        """True when a read would not block: bytes (a TLS socket's decrypted ones included),
        the end of the stream, or an error for the read to report."""
        sock = self.sock
        try:
            pending = getattr(sock, "pending", None)
            if pending is not None and pending():
                return True
            ready, _w, _x = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True  # closed under us: let the read report it
        return bool(ready)

    def recv_view(self, deadline: float | None) -> memoryview:
        """:meth:`recv` without the copy: a view of this connection's receive buffer, valid
        until the next read (empty when the peer closed the connection)."""
        self.sock.settimeout(_remaining(deadline))
        if self._buffer is None:
            self._buffer = bytearray(self._recv_size)
            self._view = memoryview(self._buffer)
        try:
            n = self.sock.recv_into(self._buffer)
        except TimeoutError:
            raise Deadline("no data from the peer in time") from None
        except (ConnectionResetError, BrokenPipeError):
            return _EMPTY
        except OSError as exc:
            if self._closed or _is_tls_close(exc):
                return _EMPTY
            raise
        if n:
            _quickack(self.sock)
        return self._view[:n]

    def sendall(
        self,
        data: bytes | bytearray | memoryview,
        deadline: float | None,
        *,
        progress: float | None = None,
    ) -> None:
        """Send every byte before ``deadline`` (Deadline otherwise). With ``progress``, the
        deadline moves to ``progress`` seconds after each send that the peer took bytes from:
        a slow but steady peer is never cut. Thread safe."""
        with self._send_lock:
            view = memoryview(data)
            while view:
                self.sock.settimeout(_remaining(deadline))
                try:
                    sent = self.sock.send(view)
                except TimeoutError:
                    raise Deadline("the peer did not take our data in time") from None
                view = view[sent:]
                if progress is not None and sent:
                    deadline = time.monotonic() + progress

    def shutdown_write(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def interrupt(self) -> None:
        """Wake a thread blocked in :meth:`recv` (it sees end of stream). Any thread."""
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Close without lingering (PS3.8 9.1.4)."""
        self._closed = True
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 0, 0))
        with contextlib.suppress(OSError):
            self.sock.close()

    @property
    def closed(self) -> bool:
        return self._closed


def wrap_tls(
    sock: socket.socket,
    context: ssl.SSLContext,
    *,
    server_side: bool,
    deadline: float | None,
    server_hostname: str | None = None,
    started: Callable[[ssl.SSLSocket], None] | None = None,
) -> ssl.SSLSocket:
    """Do the TLS handshake on ``sock`` within ``deadline``; ConnectError when it fails (the
    socket is then closed).

    ``started`` is called with the TLS socket just before the handshake, so that another
    thread can cut a stalled handshake short by shutting that socket down (``sock`` itself is
    detached by the wrapping and no longer owns the connection).
    """
    import ssl

    tls: ssl.SSLSocket | None = None
    try:
        _configure(sock)
        sock.settimeout(_remaining(deadline))
        tls = context.wrap_socket(
            sock,
            server_side=server_side,
            server_hostname=None if server_side else server_hostname,
            do_handshake_on_connect=False,
        )
        if started is not None:
            started(tls)
        tls.do_handshake()
    except (ssl.SSLError, OSError, Deadline) as exc:
        with contextlib.suppress(OSError):
            (tls if tls is not None else sock).close()
        raise ConnectError(f"TLS handshake failed: {exc}") from exc
    return tls
