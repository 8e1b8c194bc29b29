"""Our ``storescp`` in a sandbox, a client that plays one byte stream at it over a real socket,
and the oracles that judge the server afterwards.

Layout of a sandbox (``root``): ``root/out`` is the output directory, ``root/cwd`` the server's
working directory; the server's stdout and stderr go to files *beside* ``root``, so that any
file that appears under ``root`` but outside ``root/out`` is one the server should not have
written.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz import wire

HOST = "127.0.0.1"

#: Seconds the client waits for the server to close after it sent everything.
CLOSE_DEADLINE = 5.0
#: Seconds a C-ECHO (associate, echo, release) may take for the server to count as alive.
ALIVE_DEADLINE = 2.0

SUCCESS_STATUSES = frozenset({0x0000, 0x0001, 0x0107, 0x0116}) | frozenset(range(0xB000, 0xC000))


# --- the server ---------------------------------------------------------------------------


class Server:
    """Our storescp (``python -m dicomnet storescp``) on a free port, output in a sandbox."""

    def __init__(self, base: Path, *args: str) -> None:
        self.root = base / "sandbox"
        self.out = self.root / "out"
        self.cwd = self.root / "cwd"
        self.out.mkdir(parents=True)
        self.cwd.mkdir()
        self.stderr_path = base / "storescp.stderr"
        self.stdout_path = base / "storescp.stdout"
        argv = [
            sys.executable,
            "-m",
            "dicomnet",
            "storescp",
            "0",
            "--bind",
            HOST,
            "-od",
            str(self.out),
            "--max-associations",
            "64",
            "-ta",
            "2",
            "-td",
            "2",
            "--idle-timeout",
            "5",
            *args,
        ]
        env = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1", COLUMNS="200")
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=self.cwd, env=env
            )
        self.port = self._wait_listening(30.0)

    def _wait_listening(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.stderr().splitlines():
                if "listening on " in line:
                    address = line.split("listening on ", 1)[1].split()[0]
                    return int(address.rsplit(":", 1)[1])
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"storescp did not start:\n{self.stderr()}")
            try:
                code = self.process.wait(timeout=min(left, 0.02))
            except subprocess.TimeoutExpired:
                continue
            raise RuntimeError(f"storescp exited with {code}:\n{self.stderr()}")

    def stderr(self, start: int = 0) -> str:
        with open(self.stderr_path, "rb") as fp:
            fp.seek(start)
            return fp.read().decode("utf-8", "replace")

    def stderr_size(self) -> int:
        return self.stderr_path.stat().st_size

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def status(self) -> tuple[int, int]:
        """(RSS in KiB, number of threads) of the server process, from /proc."""
        rss = threads = 0
        with open(f"/proc/{self.process.pid}/status") as fp:
            for line in fp:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return rss, threads

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


# --- the client ---------------------------------------------------------------------------


@dataclass
class Response:
    """A DIMSE response the server sent: command field and the elements we look at."""

    command_field: int
    message_id: int | None
    status: int | None
    sop_instance_uid: str | None
    error_comment: bytes | None
    raw: dict[int, bytes]


@dataclass
class Reply:
    """Everything the server sent back for one stream."""

    responses: list[Response] = field(default_factory=list)
    closed: bool = False  # the server closed the connection (rather than our deadline passing)
    garbled: str = ""  # what our own parse could not make sense of (a finding by itself)
    events: list[str] = field(default_factory=list)

    @property
    def successes(self) -> list[str]:
        """SOP Instance UIDs the server answered a C-STORE with a success or warning for."""
        return [
            r.sop_instance_uid or ""
            for r in self.responses
            if r.command_field == 0x8001 and r.status in SUCCESS_STATUSES
        ]

    def sequence(self) -> list[str]:
        """What arrived, in order: 'AC', 'C-STORE-RSP 0x0000', 'RP', ..."""
        return list(self.events)


_PDU_NAMES = {1: "RQ", 2: "AC", 3: "RJ", 5: "RELEASE-RQ", 6: "RP", 7: "ABORT"}
_COMMANDS = {0x8001: "C-STORE-RSP", 0x8030: "C-ECHO-RSP"}


def play(
    port: int,
    chunks: list[bytes],
    *,
    wait_after: Collection[int] = (),
    close_deadline: float = CLOSE_DEADLINE,
) -> Reply:
    """Send ``chunks`` (each with one ``sendall``), half-close, and read until the server
    closes. After each chunk whose index is in ``wait_after``, wait for one whole PDU from the
    server first (a conforming client's way: A-ASSOCIATE-RQ, then the AC; a request, then its
    response)."""
    reply = Reply()
    received = bytearray()
    with socket.create_connection((HOST, port), timeout=close_deadline) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + close_deadline
        try:
            for index, chunk in enumerate(chunks):
                sock.sendall(chunk)
                if index in wait_after:
                    received += _read_pdu(sock, deadline)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed early: what it sent is still to be read
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            except OSError:
                data = b""
            if not data:
                reply.closed = True
                break
            received += data
    _parse(bytes(received), reply)
    return reply


def _read_pdu(sock: socket.socket, deadline: float) -> bytes:
    """One whole PDU (or whatever came before the deadline or the end of the stream)."""
    data = bytearray()
    while True:
        if len(data) >= 6:
            (length,) = struct.unpack_from(">I", data, 2)
            if len(data) >= 6 + length:
                return bytes(data)
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(data)
        sock.settimeout(left)
        try:
            more = sock.recv(65536)
        except (TimeoutError, OSError):
            return bytes(data)
        if not more:
            return bytes(data)
        data += more


def _parse(data: bytes, reply: Reply) -> None:
    command = bytearray()
    for raw in wire.split_pdus(data):
        if len(raw) < 6 or len(raw) != 6 + struct.unpack_from(">I", raw, 2)[0]:
            reply.garbled = f"truncated PDU from the server: {raw[:16].hex()}"
            return
        if raw[0] != wire.P_DATA_TF:
            reply.events.append(_PDU_NAMES.get(raw[0], f"PDU 0x{raw[0]:02X}"))
            continue
        pos = 6
        while pos < len(raw):
            (length,) = struct.unpack_from(">I", raw, pos)
            control = raw[pos + 5]
            value = raw[pos + 6 : pos + 4 + length]
            pos += 4 + length
            if not control & 1:
                continue  # a data set: none of our responses have one
            command += value
            if control & 2:
                elements = wire.decode_command(bytes(command))
                command.clear()
                response = _response(elements)
                reply.responses.append(response)
                name = _COMMANDS.get(response.command_field, f"0x{response.command_field:04X}")
                reply.events.append(f"{name} 0x{response.status or 0:04X}")


def _response(elements: dict[int, bytes]) -> Response:
    def number(elem: int) -> int | None:
        value = elements.get(elem)
        return struct.unpack("<H", value)[0] if value is not None and len(value) == 2 else None

    uid = elements.get(0x1000)
    return Response(
        command_field=number(0x0100) or 0,
        message_id=number(0x0120),
        status=number(0x0900),
        sop_instance_uid=None if uid is None else uid.rstrip(b"\x00 ").decode("latin-1"),
        error_comment=elements.get(0x0902),
        raw=elements,
    )


# --- whole exchanges ----------------------------------------------------------------------


def rq_stream(rq: wire.AssociateRQ | None = None) -> wire.AssociateRQ:
    """``rq`` (default: a plain one) proposing, unless it has contexts already, Verification
    (ID 1) and CT Image Storage in Explicit (ID 3) and Implicit VR Little Endian (ID 5)."""
    if rq is None:
        rq = wire.AssociateRQ()
    if not rq.contexts:
        rq.contexts = [
            wire.Context(1, wire.VERIFICATION, [wire.IMPLICIT_LE]),
            wire.Context(3, wire.CT_IMAGE_STORAGE, [wire.EXPLICIT_LE]),
            wire.Context(5, wire.CT_IMAGE_STORAGE, [wire.IMPLICIT_LE]),
        ]
    return rq


def store_pdus(
    message_id: int,
    sop_instance: str,
    *,
    context_id: int = 3,
    dataset: bytes | None = None,
    fragment: int = 0,
) -> list[bytes]:
    """A C-STORE as P-DATA-TF PDUs: the command in one, the data set in fragments of
    ``fragment`` bytes (0: one PDU)."""
    if dataset is None:
        syntax = wire.EXPLICIT_LE if context_id == 3 else wire.IMPLICIT_LE
        dataset = wire.encode_dataset(wire.ct_dataset(sop_instance), syntax)
    command = wire.encode_elements(wire.c_store_rq(message_id, wire.CT_IMAGE_STORAGE, sop_instance))
    pdus = [wire.pdata(wire.pdv(context_id, 0x03, command))]
    size = fragment or len(dataset)
    for start in range(0, len(dataset), size):
        last = start + size >= len(dataset)
        pdus.append(
            wire.pdata(wire.pdv(context_id, 0x02 if last else 0x00, dataset[start : start + size]))
        )
    return pdus


def echo_ok(port: int, timeout: float = ALIVE_DEADLINE) -> float:
    """Seconds a whole C-ECHO exchange took (associate, echo, release); AssertionError if it
    was not answered with 0x0000 and released within ``timeout``."""
    started = time.monotonic()
    rq = rq_stream(wire.AssociateRQ(calling="ALIVE"))
    echo = wire.pdata(wire.pdv(1, 0x03, wire.encode_elements(wire.c_echo_rq(1))))
    reply = play(
        port, [rq.encode(), echo, wire.release_rq()], wait_after=(0, 1), close_deadline=timeout
    )
    took = time.monotonic() - started
    assert reply.sequence() == ["AC", "C-ECHO-RSP 0x0000", "RP"], reply
    assert took < timeout, f"C-ECHO took {took:.2f} s"
    return took


def stored_files(server: Server) -> list[Path]:
    return sorted(p for p in server.out.rglob("*") if p.is_file())


def stray_files(server: Server) -> list[Path]:
    """Files under the sandbox but outside the output directory."""
    return sorted(
        p for p in server.root.rglob("*") if p.is_file() and not p.is_relative_to(server.out)
    )


def tracebacks(text: str) -> list[str]:
    """Each traceback in ``text`` with the log line before it."""
    lines = text.splitlines()
    found: list[str] = []
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            found.append("\n".join(lines[max(0, index - 1) : index + 30]))
    return found
