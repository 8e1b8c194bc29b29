"""A throttled TCP proxy on loopback: a slow link between two peers for slow-link tests.

``ThrottledProxy(target_port, up=bytes_per_second, down=bytes_per_second)`` listens on a free
port of 127.0.0.1 and forwards every connection to ``127.0.0.1:target_port``; ``up`` paces the
client-to-server direction and ``down`` the other (None: as fast as possible). The pacing keeps
the average rate from the first byte, sending small chunks, as a steady slow link would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class ThrottledProxy:
    def __init__(self, target_port: int, *, up: float | None, down: float | None) -> None:
        self.target = ("127.0.0.1", target_port)
        self.up = up
        self.down = down
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ThrottledProxy:
        self._accepting.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target, timeout=10)
            server.settimeout(None)
            self._sockets += [client, server]
            for source, sink, rate in ((client, server, self.up), (server, client, self.down)):
                thread = threading.Thread(target=self._pump, args=(source, sink, rate), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket, rate: float | None) -> None:
        chunk = 65536 if rate is None else max(1, int(rate / 50))
        started: float | None = None
        sent = 0
        try:
            while not self._stop.is_set():
                data = source.recv(chunk)
                if not data:
                    break
                if rate is not None:
                    if started is None:
                        started = time.monotonic()
                    # pace: this chunk is due when the average rate allows it
                    self._stop.wait(max(0.0, started + sent / rate - time.monotonic()))
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
