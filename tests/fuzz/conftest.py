"""Fixtures of the live fuzzer: our ``storescp`` running in a sandbox.

* ``storescp_server`` — one server per test module (``python -m dicomnet storescp``), output in
  a sandbox; stopped at the end of the module.
* ``fresh_server`` — a factory for a server of the test's own (``fresh_server("-d")``).

The long fuzz run is opt-in: ``DICOMNET_FUZZ_CASES=10000 python -m pytest tests/fuzz -m
fuzz_long`` (see ``tests/fuzz/test_fuzz.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fuzz.harness import Server


@pytest.fixture(scope="module")
def storescp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("storescp"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(*args: str) -> Server:
        server = Server(tmp_path / f"server{len(started)}", *args)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
