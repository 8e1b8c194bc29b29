"""Shared fixtures: small CT files, a DCMTK ``storescp`` on a free port, and our own server.

* ``ct_files`` — four distinct small CT Part-10 files written by pydicom (unique SOP Instance
  UIDs; even indexes Explicit VR Little Endian, odd ones Implicit VR Little Endian). For other
  counts or syntaxes call :func:`tests.helpers.write_ct_files` directly.
* ``dcmtk_storescp`` — a factory: ``dcmtk_storescp("+B", output_dir=...)`` starts
  ``/usr/bin/storescp`` with those extra options on a free port and returns a
  :class:`tests.helpers.DcmtkStorescp` once it listens; every one started is stopped afterwards.
* ``dicomnet_server`` — a factory: ``dicomnet_server(handlers, ae=None, contexts=None)`` starts
  our AE's server non-blocking on ``127.0.0.1:0`` and returns the ``AssociationServer``
  (``server.server_address[1]`` is the port); each is shut down afterwards. Without ``ae`` it
  uses a fresh ``AE("DICOMNET")`` supporting Verification and every storage SOP class in the
  uncompressed transfer syntaxes, with short timeouts.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from dicomnet import AE, AssociationServer
from tests.helpers import DcmtkStorescp, start_dcmtk_storescp, write_ct_files
from tests.pg import PostgresServer, start_postgres

CT_FILE_COUNT = 4

StorescpFactory = Callable[..., DcmtkStorescp]
ServerFactory = Callable[..., AssociationServer]


@pytest.fixture
def ct_files(tmp_path: Path) -> list[Path]:
    """Four distinct CT files: ``ct_000.dcm`` (Explicit VR LE), ``ct_001.dcm`` (Implicit VR
    LE), ``ct_002.dcm`` (Explicit), ``ct_003.dcm`` (Implicit), in ``tmp_path / "ct"``."""
    return write_ct_files(tmp_path / "ct", CT_FILE_COUNT)


@pytest.fixture
def dcmtk_storescp(tmp_path: Path) -> Iterator[StorescpFactory]:
    started: list[DcmtkStorescp] = []

    def start(
        *args: str, output_dir: Path | None = None, ae_title: str = "STORESCP"
    ) -> DcmtkStorescp:
        server = start_dcmtk_storescp(tmp_path, *args, output_dir=output_dir, ae_title=ae_title)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def default_ae(ae_title: str = "DICOMNET") -> AE:
    """An AE supporting Verification and every storage SOP class, with short timeouts."""
    from dicomnet.sop_class import AllStorageClasses, Verification

    ae = AE(ae_title=ae_title)
    ae.acse_timeout = 10.0
    ae.dimse_timeout = 10.0
    ae.network_timeout = 30.0
    ae.add_supported_context(Verification)
    for sop_class in AllStorageClasses:
        ae.add_supported_context(sop_class)
    return ae


@pytest.fixture
def dicomnet_server() -> Iterator[ServerFactory]:
    started: list[AssociationServer] = []

    def start(
        handlers: Iterable[Any] = (),
        *,
        ae: AE | None = None,
        contexts: Sequence[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ae_title: str = "DICOMNET",
    ) -> AssociationServer:
        if ae is None:
            if contexts is None:
                ae = default_ae(ae_title)
            else:
                ae = AE(ae_title=ae_title)
                for abstract_syntax in contexts:
                    ae.add_supported_context(abstract_syntax)
        server = ae.start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=list(handlers),
            ssl_context=ssl_context,
        )
        assert server is not None
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.shutdown()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL cluster for the session (tests/pg.py): skipped only when the
    PostgreSQL programs are not installed."""
    try:
        server = start_postgres()
    except FileNotFoundError as exc:
        pytest.skip(f"PostgreSQL is not installed: {exc}")
    try:
        yield server
    finally:
        server.stop()
