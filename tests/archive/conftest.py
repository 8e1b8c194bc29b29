"""Fixtures of the archive tests: an index on each back-end, filled with tests/archive/content.py,
and our Q/R SCP serving it (the same ArchiveSCP handlers qrscp binds) on a free port.

``backend`` is parametrized: every test using it runs against SQLite (a file in tmp_path) and
against the session's real PostgreSQL (a fresh database per test).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomnet import AE, AssociationServer, evt
from dicomnet.archive.handlers import ArchiveSCP, read_for_index, sop_extended
from dicomnet.archive.index import Index, database_url
from dicomnet.association import Association
from dicomnet.presentation import build_role
from dicomnet.qr import MODELS
from dicomnet.sop_class import CTImageStorage, MRImageStorage, Verification
from dicomnet.ul.items import SOPClassExtended
from tests.archive.content import build_all
from tests.pg import PostgresServer
from tests.qr.archive import Archive, Receiver
from tests.qr.conftest import scu_ae

QR_CLASSES = tuple(
    uid
    for model in MODELS.values()
    if model.is_hierarchical
    for uid in (model.find, model.get, model.move)
    if uid
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty index database URL on each back-end."""
    if request.param == "sqlite":
        yield database_url(str(tmp_path / "index.sqlite3"), None)
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.new_database()
    try:
        yield database_url(url, None)
    finally:
        server.drop_database(url)


@pytest.fixture
def filled(db_url: str, tmp_path: Path) -> Iterator[tuple[Index, Archive, list[Path]]]:
    """The index on ``db_url`` with every test instance added (rooted at tmp_path/files)."""
    root = tmp_path / "files"
    archive, extras = build_all(root)
    index = Index(db_url, root=root)
    for path in [i.path for i in archive.instances] + extras:
        index.add(read_for_index(path), path, "1.2.840.10008.1.2.1")
    try:
        yield index, archive, extras
    finally:
        index.close()


def archive_ae() -> AE:
    ae = AE("QRSCP")
    ae.acse_timeout = ae.dimse_timeout = 10.0
    ae.network_timeout = 30.0
    ae.add_supported_context(Verification)
    for uid in QR_CLASSES:
        ae.add_supported_context(uid)
    for uid in (CTImageStorage, MRImageStorage):
        ae.add_supported_context(uid, scu_role=True, scp_role=True)
    return ae


ServeIndex = Callable[..., AssociationServer]


@pytest.fixture
def serve_index() -> Iterator[ServeIndex]:
    """``serve_index(index, destinations={...})``: our SCP with the archive handlers."""
    started: list[AssociationServer] = []

    def start(index: Index, destinations: dict[str, tuple[str, int]] | None = None) -> Any:
        scp = ArchiveSCP(index, "QRSCP", destinations)
        server = archive_ae().start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=[
                (evt.EVT_C_FIND, scp.find),
                (evt.EVT_C_GET, scp.get),
                (evt.EVT_C_MOVE, scp.move),
                (evt.EVT_SOP_EXTENDED, sop_extended),
            ],
        )
        assert server is not None
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.shutdown()


@pytest.fixture
def received() -> Receiver:
    """What C-GET sub-operations deliver to ``assoc``."""
    return Receiver()


def _associate(
    server: AssociationServer, received: Receiver, extended: list[Any]
) -> Iterator[Association]:
    ext_neg = [build_role(uid, scp_role=True) for uid in (CTImageStorage, MRImageStorage)]
    association = scu_ae().associate(
        "127.0.0.1",
        server.server_address[1],
        ae_title="QRSCP",
        ext_neg=ext_neg + extended,
        evt_handlers=received.handlers,
    )
    assert association.is_established, association.failure_reason
    try:
        yield association
    finally:
        if association.is_established:
            association.release()


@pytest.fixture
def assoc(
    filled: tuple[Index, Archive, list[Path]], serve_index: ServeIndex, received: Receiver
) -> Iterator[Association]:
    """Our SCU associated with the archive SCP serving the filled index (C-STOREs of C-GETs
    go to ``received``); no extended negotiation (relational queries are not accepted)."""
    yield from _associate(serve_index(filled[0]), received, [])


@pytest.fixture
def relational_assoc(
    filled: tuple[Index, Archive, list[Path]], serve_index: ServeIndex, received: Receiver
) -> Iterator[Association]:
    """As ``assoc``, having negotiated relational queries (PS3.4 C.5.1.1) for the C-FIND
    classes of the Patient Root and Study Root models."""
    extended = [SOPClassExtended(MODELS[m].find or "", b"\x01") for m in ("P", "S")]
    yield from _associate(serve_index(filled[0]), received, extended)
