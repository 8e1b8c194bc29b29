"""The listening side: accept connections and serve each on its own thread.

The accept loop waits on a selector holding the listening socket and a wake-up pipe, so
:meth:`AssociationServer.shutdown` returns promptly without polling. TLS handshakes happen on
the connection's own thread, bounded by the ACSE timeout, never on the accept loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import threading
from typing import TYPE_CHECKING, Any

from dicomnet import events as evt
from dicomnet.events import HandlerRegistry
from dicomnet.transport.connection import ConnectError, Connection, deadline_in, wrap_tls

if TYPE_CHECKING:
    import ssl

    from dicomnet.ae import AE
    from dicomnet.association import Association

LOGGER = logging.getLogger("dicomnet.server")


class AssociationServer:
    """Accepts associations for an AE on ``address`` (host, port); port 0 picks a free one."""

    def __init__(
        self,
        ae: AE,
        address: tuple[str, int],
        handlers: HandlerRegistry,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.ae = ae
        self.ssl_context = ssl_context
        self._handlers = handlers
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind(address)
            self.socket.listen(128)
        except OSError:
            self.socket.close()
            raise
        self.socket.setblocking(False)
        host, port = self.socket.getsockname()[:2]
        self.server_address: tuple[str, int] = (str(host), int(port))
        self._wake_r, self._wake_w = os.pipe()
        self._lock = threading.Lock()
        self._associations: list[Association] = []
        self._threads: set[threading.Thread] = set()
        # TLS handshakes in progress, by the thread doing them
        self._handshaking: dict[threading.Thread, ssl.SSLSocket] = {}
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # --- handlers -------------------------------------------------------------------------

    def bind(self, event: evt.EventType, handler: Any, args: Any = None) -> None:
        """Bind for future associations and for those already running."""
        self._handlers.bind(event, handler, args)
        for assoc in self.active_associations:
            assoc.bind(event, handler, args)

    def unbind(self, event: evt.EventType, handler: Any) -> None:
        self._handlers.unbind(event, handler)
        for assoc in self.active_associations:
            assoc.unbind(event, handler)

    def get_handlers(self, event: evt.EventType) -> Any:
        handlers = self._handlers.get(event)
        if event.is_intervention:
            return handlers[-1] if handlers else None
        return handlers

    # --- associations -----------------------------------------------------------------------

    @property
    def active_associations(self) -> list[Association]:
        with self._lock:
            return list(self._associations)

    @property
    def active_count(self) -> int:
        with self._lock:
            return len(self._associations)

    # --- running ----------------------------------------------------------------------------

    def start(self) -> None:
        """Run the accept loop on a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever,
            name=f"dicomnet-server-{self.server_address[1]}",
            daemon=True,
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Accept connections until :meth:`shutdown` (blocking)."""
        selector = selectors.DefaultSelector()
        selector.register(self.socket, selectors.EVENT_READ)
        selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                for key, _mask in selector.select():
                    if key.fileobj is self.socket:
                        self._accept()
        finally:
            selector.close()
            self._stopped.set()

    def _accept(self) -> None:
        try:
            sock, _addr = self.socket.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if not self._stopping.is_set():
                LOGGER.error("accept failed: %s", exc)
            return
        sock.setblocking(True)
        thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
        thread.name = f"dicomnet-assoc-{sock.fileno()}"
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _serve(self, sock: socket.socket) -> None:
        from dicomnet.association import Association

        assoc = Association(self.ae, "acceptor", self._handlers.copy(), server=self)
        assoc.thread = threading.current_thread()
        with self._lock:
            self._associations.append(assoc)
        try:
            if self._stopping.is_set():
                sock.close()
                return
            if self.ssl_context is not None:
                peer = _peer_name(sock)
                try:
                    sock = wrap_tls(
                        sock,
                        self.ssl_context,
                        server_side=True,
                        deadline=deadline_in(self.ae.acse_timeout),
                        started=self._tls_started,
                    )
                except ConnectError as exc:
                    LOGGER.warning("%s: %s", peer, exc)
                    return
                finally:
                    with self._lock:
                        self._handshaking.pop(threading.current_thread(), None)
            assoc._run_acceptor(Connection(sock))
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                if assoc in self._associations:
                    self._associations.remove(assoc)
                self._threads.discard(threading.current_thread())

    def _tls_started(self, tls: ssl.SSLSocket) -> None:
        """Track a handshake so that :meth:`shutdown` can cut it short."""
        with self._lock:
            self._handshaking[threading.current_thread()] = tls
            stopping = self._stopping.is_set()
        if stopping:
            _cut(tls)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting, abort running associations, wait for their threads."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self.socket.close()
        for assoc in self.active_associations:
            assoc.abort()
        with self._lock:
            threads = list(self._threads)
            handshaking = list(self._handshaking.values())
        for tls in handshaking:
            _cut(tls)
        deadline = deadline_in(timeout)
        for thread in threads:
            if thread is threading.current_thread():
                continue
            remaining = None if deadline is None else max(0.0, deadline - _now())
            thread.join(remaining)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self in self.ae._servers:
            self.ae._servers.remove(self)

    server_close = shutdown


def _peer_name(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "peer"
    return f"{host}:{port}"


def _cut(tls: ssl.SSLSocket) -> None:
    """Wake a thread blocked in ``tls``'s handshake: it sees end of stream and fails."""
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the SSL object under
    # the feet of the handshaking thread.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(tls, socket.SHUT_RDWR)


def _now() -> float:
    import time

    return time.monotonic()
