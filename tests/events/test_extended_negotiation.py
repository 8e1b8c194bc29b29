"""EVT_ASYNC_OPS, EVT_SOP_EXTENDED and EVT_SOP_COMMON: fired on the acceptor when the
A-ASSOCIATE-RQ carries the items (sent by the requestor through ``associate(ext_neg=...)``), and
their handlers' answers in the A-ASSOCIATE-AC on the wire."""

from __future__ import annotations

from typing import Any

import pytest

from dicomnet import evt
from dicomnet.sop_class import CTImageStorage
from dicomnet.ul.items import AsyncOpsWindow, SOPClassCommonExtended, SOPClassExtended
from dicomnet.ul.pdu import AssociateAC, AssociateRQ
from tests.events import HOST, running_server, scp_ae, scu_ae

SERVICE_CLASS = "1.2.840.10008.4.2"  # Storage Service Class
EXT_NEG = [
    AsyncOpsWindow(5, 0),
    SOPClassExtended(CTImageStorage, b"\x01\x00\x01"),
    SOPClassCommonExtended(CTImageStorage, SERVICE_CLASS, ("1.2.840.10008.5.1.4.1.1.2.1",)),
]


def _associate(handlers: list[Any]) -> tuple[Any, AssociateRQ | None, AssociateAC]:
    seen: dict[str, Any] = {}

    def on_requested(event: evt.Event) -> None:
        seen["rq"] = event.assoc.requestor.primitive

    with running_server(scp_ae(), [(evt.EVT_REQUESTED, on_requested), *handlers]) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1], ext_neg=EXT_NEG)
        assert assoc.is_established
        ac = assoc.acceptor.primitive
        assoc.release()
    assert isinstance(ac, AssociateAC)
    return assoc, seen.get("rq"), ac


def test_handlers_see_the_proposals_and_their_answers_reach_the_requestor() -> None:
    calls: dict[str, Any] = {}

    def on_async(event: evt.Event) -> tuple[int, int]:
        calls["async"] = (event.invoked, event.performed)
        calls["async (pynetdicom's names)"] = (event.nr_invoked, event.nr_performed)
        return 3, 7  # performed 7 is within "0 = unlimited"

    def on_extended(event: evt.Event) -> dict[str, bytes]:
        calls["extended"] = dict(event.app_info)
        return {CTImageStorage: b"\x01\x00\x00", "1.2.3.4": b"\x09"}  # unknown UID dropped

    def on_common(event: evt.Event) -> dict[str, Any]:
        calls["common"] = dict(event.items)
        return dict(event.items)

    _assoc, rq, ac = _associate(
        [
            (evt.EVT_ASYNC_OPS, on_async),
            (evt.EVT_SOP_EXTENDED, on_extended),
            (evt.EVT_SOP_COMMON, on_common),
        ]
    )
    assert rq is not None and rq.user_information.async_ops == AsyncOpsWindow(5, 0)
    assert calls["async"] == calls["async (pynetdicom's names)"] == (5, 0)
    assert calls["extended"] == {CTImageStorage: b"\x01\x00\x01"}
    assert calls["common"][CTImageStorage].service_class_uid == SERVICE_CLASS
    info = ac.user_information
    assert info.async_ops == AsyncOpsWindow(3, 7)
    assert info.sop_class_extended == (SOPClassExtended(CTImageStorage, b"\x01\x00\x00"),)
    assert info.sop_class_common_extended == ()  # 0x57 never goes in an A-ASSOCIATE-AC


def test_without_handlers_async_is_synchronous_and_nothing_else_is_answered() -> None:
    _assoc, _rq, ac = _associate([])
    assert ac.user_information.async_ops == AsyncOpsWindow(1, 1)
    assert ac.user_information.sop_class_extended == ()


@pytest.mark.parametrize("event_type", [evt.EVT_ASYNC_OPS, evt.EVT_SOP_EXTENDED])
def test_a_raising_handler_is_logged_and_the_association_still_comes_up(
    event_type: evt.EventType, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: evt.Event) -> None:
        raise RuntimeError("boom")

    _assoc, _rq, ac = _associate([(event_type, broken)])
    assert ac.user_information.sop_class_extended == ()
    assert ac.user_information.async_ops == AsyncOpsWindow(1, 1)
    assert sum(event_type.name in r.getMessage() for r in caplog.records) == 1


def test_an_async_window_larger_than_proposed_is_clamped() -> None:
    _assoc, _rq, ac = _associate([(evt.EVT_ASYNC_OPS, lambda event: (99, 0))])
    assert ac.user_information.async_ops == AsyncOpsWindow(5, 0)


def _with_identity(handler: Any) -> Any:
    from dicomnet.ul.items import UserIdentityRQ

    identity = UserIdentityRQ(2, True, b"alice", b"secret")
    handlers = [] if handler is None else [(evt.EVT_USER_ID, handler)]
    ae = scp_ae()
    ae.allow_plain_password = True  # a password over plain TCP: tests/cli/test_identity.py
    with running_server(ae, handlers) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1], user_identity=identity)
        if assoc.is_established:
            assoc.release()
    return assoc


def test_user_identity_verified_with_a_server_response() -> None:
    seen: list[tuple[int, bytes, bytes]] = []

    def check(event: evt.Event) -> tuple[bool, bytes]:
        seen.append((event.user_id_type, event.primary_field, event.secondary_field))
        # the names of earlier dicomnet versions still work
        seen.append((event.user_id_type, event.primary_identity, event.secondary_identity))
        return True, b"token"

    assoc = _with_identity(check)
    assert assoc.is_released
    assert seen == [(2, b"alice", b"secret")] * 2
    ac = assoc.acceptor.primitive
    assert isinstance(ac, AssociateAC)
    assert ac.user_information.user_identity_ac is not None
    assert ac.user_information.user_identity_ac.server_response == b"token"


@pytest.mark.parametrize(
    "handler",
    [
        lambda event: (False, None),
        lambda event: 1 / 0,
        lambda event: "not a pair",
    ],
    ids=["refused", "raises", "bad-return"],
)
def test_user_identity_refused_gives_a_permanent_acse_rejection(handler: Any) -> None:
    assoc = _with_identity(handler)
    assert assoc.is_rejected
    assert (assoc.rejection.result, assoc.rejection.source) == (1, 2)


def test_user_identity_without_a_handler_is_accepted_without_a_response() -> None:
    assoc = _with_identity(None)
    assert assoc.is_released
    assert assoc.acceptor.primitive.user_information.user_identity_ac is None
