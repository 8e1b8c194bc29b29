"""A bounded flood of silent TCP (or TLS-less, handshake-less) connections for robustness tests:
``Flood(host, port, n)`` keeps ``n`` connections open that never send a byte, re-opening each
one as soon as the server closes it, until the ``with`` block ends."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType


class Flood:
    def __init__(self, host: str, port: int, count: int, *, limit: int = 20000) -> None:
        self.address = (host, port)
        self.count = count
        self.limit = limit  # connections opened in all, so that the flood is bounded
        self.opened = 0
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flood", daemon=True)

    def __enter__(self) -> Flood:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(10)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once all ``count`` connections have been opened at least once."""
        return self._ready.wait(timeout)

    def _open(self, selector: selectors.BaseSelector) -> None:
        if self.opened >= self.limit:
            return
        try:
            sock = socket.create_connection(self.address, timeout=5)
        except OSError:
            return
        self.opened += 1
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        try:
            for _ in range(self.count):
                self._open(selector)
            self._ready.set()
            while not self._stop.is_set():
                for key, _mask in selector.select(timeout=0.1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    with contextlib.suppress(OSError):
                        if sock.recv(4096):
                            continue  # the server said something; keep listening
                    selector.unregister(sock)
                    sock.close()
                    self.closed_by_server += 1
                    self._open(selector)
        finally:
            for key in list(selector.get_map().values()):
                with contextlib.suppress(OSError):
                    key.fileobj.close()  # type: ignore[union-attr]
            selector.close()
