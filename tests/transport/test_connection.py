"""transport.connection: the socket options every connection carries."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest

from dicomnet.transport.connection import Connection, deadline_in

linux_only = pytest.mark.skipif(
    not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux only"
)


@pytest.fixture
def pair() -> Iterator[tuple[Connection, socket.socket]]:
    """Our Connection on one end of a loopback TCP connection, a plain socket on the other."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    conn = Connection(server)
    try:
        yield conn, client
    finally:
        conn.close()
        client.close()


def quickack(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK)


def test_nodelay_is_on(pair: tuple[Connection, socket.socket]) -> None:
    conn, _client = pair
    assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@linux_only
def test_quickack_is_rearmed_after_every_read(pair: tuple[Connection, socket.socket]) -> None:
    """Request/response traffic puts Linux into delayed-ACK ("pingpong") mode; after each of
    our reads the connection is back in quick-ACK mode, so a Nagle sender is not held up."""
    conn, client = pair
    for _ in range(20):
        client.sendall(b"x" * 100)
        assert conn.recv(deadline_in(5.0))
        assert quickack(conn.sock) == 1
        conn.sendall(b"y" * 100, deadline_in(5.0))
        assert client.recv(100)


@linux_only
def test_without_the_rearm_the_kernel_delays_acks() -> None:
    """The check above can fail: plain sockets doing the same exchange leave quick-ACK mode."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with client, server:
        seen = set()
        for _ in range(20):
            client.sendall(b"x" * 100)
            assert server.recv(1000)
            seen.add(quickack(server))
            server.sendall(b"y" * 100)
            assert client.recv(100)
    assert 0 in seen, sys.platform
