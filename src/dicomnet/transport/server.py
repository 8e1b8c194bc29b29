"""The listening side: accept connections and serve each on its own thread.

The accept loop waits on a selector holding the listening socket and a wake-up pipe, so
:meth:`AssociationServer.shutdown` returns promptly without polling. TLS handshakes happen on
the connection's own thread, bounded by the ACSE timeout, never on the accept loop.

Connections and associations are separate limits. A connection is *pending* from the moment it
is accepted until its A-ASSOCIATE-RQ has been read and it has been given one of the AE's
``maximum_associations`` slots; a connection being rejected stays pending until it closes.
At most ``maximum_pending_connections`` connections are pending: when another one arrives, the
oldest pending connection of the address holding the most pending connections is cut (the
oldest with nothing waiting to be read, if there is one), so a flood of silent or slow
connections (plain or TLS) delays a real requestor, which sends its A-ASSOCIATE-RQ at once, by
no more than a few milliseconds, and does not cut it before its request is read. Threads are
therefore bounded too: one per association plus one per pending connection (connections past
``maximum_associations + 2 * maximum_pending_connections`` threads are closed at once).
An association whose requestor has gone while a handler still runs gives its slot back when
a new association needs one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import selectors
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from dicomnet import events as evt
from dicomnet.events import HandlerRegistry
from dicomnet.transport.acceptor import AcceptorCore
from dicomnet.transport.connection import ConnectError, Connection, deadline_in, wrap_tls
from dicomnet.transport.driver import AssociationCore

if TYPE_CHECKING:
    import ssl

LOGGER = logging.getLogger("dicomnet.server")


class ServerSettings(Protocol):
    """What the server reads of its AE (:class:`dicomnet.ae.AE` has all of it)."""

    maximum_associations: int
    maximum_pending_connections: int
    acse_timeout: float | None


class AssociationServer:
    """Accepts associations for an AE on ``address`` (host, port); port 0 picks a free one.

    ``factory(server, handlers)`` makes the association object for each connection
    (``AE.make_server`` passes :class:`dicomnet.association.Association`; the server itself
    never imports the layers above it); ``on_shutdown`` is called once the server has
    stopped."""

    def __init__(
        self,
        ae: ServerSettings,
        address: tuple[str, int],
        handlers: HandlerRegistry,
        ssl_context: ssl.SSLContext | None = None,
        *,
        factory: Callable[[AssociationServer, HandlerRegistry], AcceptorCore],
        on_shutdown: Callable[[AssociationServer], None] | None = None,
    ) -> None:
        self.ae = ae
        self.ssl_context = ssl_context
        self._handlers = handlers
        self._factory = factory
        self._on_shutdown = on_shutdown
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
        self._associations: list[AcceptorCore] = []
        # Connections without an association slot, oldest first, with the socket to cut.
        self._pending: dict[AssociationCore, socket.socket] = {}
        self._slots: set[AssociationCore] = set()  # associations holding a slot
        self._evicted: set[AssociationCore] = set()
        self._threads: set[threading.Thread] = set()
        # TLS handshakes in progress, by the thread doing them
        self._handshaking: dict[threading.Thread, ssl.SSLSocket] = {}
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._serving = threading.Event()  # serve_forever entered (by start() or the user)
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
        return self._handlers.get_handlers(event)

    # --- associations -----------------------------------------------------------------------

    @property
    def active_associations(self) -> list[AcceptorCore]:
        with self._lock:
            return list(self._associations)

    @property
    def active_count(self) -> int:
        """Associations holding a slot (pending connections are not counted)."""
        with self._lock:
            return len(self._slots)

    @property
    def stopping(self) -> bool:
        """True once :meth:`shutdown` has begun."""
        return self._stopping.is_set()

    @property
    def pending_count(self) -> int:
        """Connections that have no association (yet)."""
        with self._lock:
            return len(self._pending)

    def claim_slot(self, assoc: AssociationCore) -> bool:
        """Give ``assoc`` (whose A-ASSOCIATE-RQ has arrived) an association slot: False when
        all ``maximum_associations`` are taken (after reclaiming those whose peer has gone)."""
        with self._lock:
            if assoc in self._slots:
                return True
            if assoc in self._evicted:
                return False
            if len(self._slots) >= self.ae.maximum_associations:
                for other in list(self._slots):
                    if _peer_gone(other):
                        LOGGER.warning(
                            "%s:%s has gone while its association was busy; freeing its slot",
                            other.requestor.address,
                            other.requestor.port,
                        )
                        self._slots.discard(other)
            if len(self._slots) >= self.ae.maximum_associations:
                return False
            sock = self._pending.pop(assoc, None)
            if sock is None:
                return False
            self._slots.add(assoc)
            return True

    def release_slot(self, assoc: AssociationCore) -> None:
        """``assoc`` is being rejected after all: it is a pending connection again."""
        with self._lock:
            conn = assoc.connection
            if assoc in self._slots and conn is not None:
                self._slots.discard(assoc)
                self._pending[assoc] = conn.sock

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
        self._serving.set()
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
        assoc = self._factory(self, self._handlers.copy())
        thread = threading.Thread(target=self._serve, args=(sock, assoc), daemon=True)
        thread.name = f"dicomnet-assoc-{sock.fileno()}"
        assoc.thread = thread
        pending_cap = max(1, self.ae.maximum_pending_connections)
        with self._lock:
            if len(self._threads) >= self.ae.maximum_associations + 2 * pending_cap:
                refused = True
            else:
                refused = False
                while len(self._pending) >= pending_cap:
                    self._evict_one()
                self._pending[assoc] = sock
                self._associations.append(assoc)
                self._threads.add(thread)
        if refused:
            LOGGER.warning("refusing a connection from %s: too many connections", _peer_name(sock))
            with contextlib.suppress(OSError):
                sock.close()
            return
        thread.start()

    def _evict_one(self) -> None:
        """Cut a pending connection of the address with the most of them (lock held): the
        oldest with nothing waiting to be read, else the oldest. A requestor whose
        A-ASSOCIATE-RQ (or TLS hello) has arrived but not yet been read is about to be served;
        a silent connection is not."""
        counts: dict[str, int] = {}
        for sock in self._pending.values():
            host = _peer_host(sock)
            counts[host] = counts.get(host, 0) + 1
        busiest = max(counts, key=lambda host: counts[host])
        candidates = [
            (assoc, sock) for assoc, sock in self._pending.items() if _peer_host(sock) == busiest
        ]
        waiting = _with_bytes_waiting([sock for _assoc, sock in candidates])
        victim, sock = next((c for c in candidates if c[1].fileno() not in waiting), candidates[0])
        del self._pending[victim]
        self._evicted.add(victim)
        LOGGER.info(
            "too many pending connections: closing %s, which has not associated",
            _peer_name(sock),
        )
        _cut(sock)

    def _serve(self, sock: socket.socket, assoc: AcceptorCore) -> None:
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
                    with self._lock:
                        evicted = assoc in self._evicted
                    (LOGGER.info if evicted else LOGGER.warning)("%s: %s", peer, exc)
                    return
                finally:
                    with self._lock:
                        self._handshaking.pop(threading.current_thread(), None)
            assoc.run_acceptor(Connection(sock))
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                if assoc in self._associations:
                    self._associations.remove(assoc)
                self._pending.pop(assoc, None)
                self._slots.discard(assoc)
                self._evicted.discard(assoc)
                self._threads.discard(threading.current_thread())

    def _tls_started(self, tls: ssl.SSLSocket) -> None:
        """Track a handshake so that :meth:`shutdown` (or an eviction) can cut it short."""
        current = threading.current_thread()
        with self._lock:
            self._handshaking[current] = tls
            evicted = False
            for assoc in self._associations:
                if assoc.thread is current:
                    if assoc in self._pending:
                        self._pending[assoc] = tls
                    evicted = assoc in self._evicted
                    break
            stopping = self._stopping.is_set()
        if stopping or evicted:
            _cut(tls)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting, abort running associations, wait for their threads."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        elif self._serving.is_set():
            # serve_forever on a thread of the caller's (AE.make_server): let it see the wake
            # byte before the wake pipe is closed below
            self._stopped.wait(timeout)
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
        if self._on_shutdown is not None:
            on_shutdown, self._on_shutdown = self._on_shutdown, None
            on_shutdown(self)

    server_close = shutdown


def _peer_name(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "peer"
    return f"{host}:{port}"


def _peer_host(sock: socket.socket) -> str:
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return ""


def _peer_gone(assoc: AssociationCore) -> bool:
    """True when the peer of ``assoc`` has closed or reset its connection (a peek, no read)."""
    conn = assoc.connection
    if conn is None or conn.closed:
        return True
    try:
        poller = select.poll()  # no FD_SETSIZE limit, unlike select()
        poller.register(conn.sock, select.POLLIN)
        if not poller.poll(0):
            return False
        return socket.socket.recv(conn.sock, 1, socket.MSG_PEEK) == b""
    except ValueError:
        return False  # cannot tell (e.g. closed under us): keep the slot
    except OSError:
        return True  # reset by the peer


def _with_bytes_waiting(socks: list[socket.socket]) -> set[int]:
    """The file descriptors among ``socks`` with bytes to read (or an end of stream), now."""
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            for sock in socks:
                poller.register(sock, select.POLLIN)
            return {fd for fd, _event in poller.poll(0)}
        ready, _w, _x = select.select(socks, [], [], 0)
        return {sock.fileno() for sock in ready}
    except (OSError, ValueError):
        return set()  # a socket closed under us: fall back to the oldest


def _cut(tls: socket.socket) -> None:
    """Wake a thread blocked in ``tls``'s handshake: it sees end of stream and fails."""
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the SSL object under
    # the feet of the handshaking thread.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(tls, socket.SHUT_RDWR)


def _now() -> float:
    import time

    return time.monotonic()
