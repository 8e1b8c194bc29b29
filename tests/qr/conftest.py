"""Fixtures of the Query/Retrieve tests: the in-test archive and our Q/R SCP serving it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomnet import AE, AssociationServer, evt
from dicomnet.association import Association
from dicomnet.presentation import build_role
from dicomnet.qr import MODELS
from dicomnet.sop_class import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    Verification,
)
from tests.qr.archive import (
    Archive,
    find_handler,
    get_handler,
    move_handler,
    worklist_handler,
    worklist_items,
)

QR_CLASSES = tuple(
    uid for model in MODELS.values() for uid in (model.find, model.get, model.move) if uid
)
STORAGE = (CTImageStorage, MRImageStorage)

QRServerFactory = Callable[..., AssociationServer]


def qr_scp_ae(ae_title: str = "QRSCP") -> AE:
    """Our Q/R SCP: every FIND/GET/MOVE class of the four models, and CT/MR storage with the
    SCP role allowed to the requestor (what C-GET needs)."""
    ae = AE(ae_title)
    ae.acse_timeout = ae.dimse_timeout = 10.0
    ae.network_timeout = 30.0
    ae.add_supported_context(Verification)
    for uid in QR_CLASSES:
        ae.add_supported_context(uid)
    for uid in STORAGE:
        ae.add_supported_context(uid, scu_role=True, scp_role=True)
    return ae


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive.build(tmp_path / "archive")


@pytest.fixture
def qr_server(archive: Archive) -> Iterator[QRServerFactory]:
    """``qr_server(destinations={...}, handlers=[...overrides])`` starts our Q/R SCP on a free
    port serving ``archive``; each one is shut down afterwards."""
    started: list[AssociationServer] = []

    def start(
        destinations: dict[str, tuple[str, int]] | None = None,
        handlers: list[Any] | None = None,
        ae: AE | None = None,
        source: Archive | None = None,
    ) -> AssociationServer:
        served = source or archive
        bound: dict[Any, Any] = {
            evt.EVT_C_FIND: _find_or_worklist(served),
            evt.EVT_C_GET: get_handler(served),
            evt.EVT_C_MOVE: move_handler(served, destinations or {}),
        }
        extra = []
        for spec in handlers or []:
            if len(spec) == 2:
                bound[spec[0]] = spec[1]
            else:
                extra.append(spec)
        scp = ae or qr_scp_ae()
        server = scp.start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=[*bound.items(), *extra],
        )
        assert server is not None
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.shutdown()


def _find_or_worklist(archive: Archive) -> Callable[[Any], Iterator[Any]]:
    qr = find_handler(archive)
    worklist = worklist_handler(worklist_items())

    def handle(event: Any) -> Iterator[Any]:
        if event.request.AffectedSOPClassUID == MODELS["W"].find:
            return worklist(event)
        return qr(event)

    return handle


def scu_ae(ae_title: str = "QRSCU") -> AE:
    ae = AE(ae_title)
    ae.acse_timeout = ae.dimse_timeout = 10.0
    ae.network_timeout = 30.0
    for uid in QR_CLASSES:
        ae.add_requested_context(uid)
    # one context per transfer syntax, so C-GET sub-operations arrive undecoded
    for uid in STORAGE:
        ae.add_requested_context(uid, ExplicitVRLittleEndian)
        ae.add_requested_context(uid, ImplicitVRLittleEndian)
    return ae


@pytest.fixture
def associate() -> Iterator[Callable[..., Association]]:
    """``associate(port, handlers=[...], roles=True)``: our SCU associated with a server;
    ``roles`` proposes the SCP role for CT and MR storage (C-GET). Released afterwards."""
    made: list[Association] = []

    def connect(
        port: int, handlers: list[Any] | None = None, roles: bool = True, ae: AE | None = None
    ) -> Association:
        ext_neg = [build_role(uid, scp_role=True) for uid in STORAGE] if roles else None
        assoc = (ae or scu_ae()).associate(
            "127.0.0.1", port, ae_title="QRSCP", ext_neg=ext_neg, evt_handlers=handlers
        )
        assert assoc.is_established, assoc.failure_reason
        made.append(assoc)
        return assoc

    try:
        yield connect
    finally:
        for assoc in made:
            if assoc.is_established:
                assoc.release()
            if assoc.is_established:
                assoc.abort()
