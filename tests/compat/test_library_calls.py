"""Library calls that behave as pynetdicom's: context removal by transfer syntax, the
negotiation items of ``dicomnet.pdu_primitives`` (and pynetdicom's own objects) in
``ext_neg``, ``Association.get_events``."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from dicomnet import AE, evt
from dicomnet.pdu_primitives import (
    AsynchronousOperationsWindowNegotiation,
    SCP_SCU_RoleSelectionNegotiation,
    UserIdentityNegotiation,
)
from dicomnet.sop_class import CTImageStorage, MRImageStorage, Verification
from tests.events import HOST, running_server, scp_ae, scu_ae

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"


def test_remove_requested_context_by_transfer_syntax() -> None:
    ae = AE()
    ae.add_requested_context(CTImageStorage, [IMPLICIT, EXPLICIT])
    ae.add_requested_context(MRImageStorage)
    ae.remove_requested_context(CTImageStorage, EXPLICIT)
    first = ae.requested_contexts[0]
    assert (first.abstract_syntax, first.transfer_syntax) == (CTImageStorage, [IMPLICIT])
    ae.remove_requested_context(CTImageStorage, [IMPLICIT])
    assert [cx.abstract_syntax for cx in ae.requested_contexts] == [MRImageStorage]
    ae.remove_requested_context(MRImageStorage)
    assert ae.requested_contexts == []


def test_remove_supported_context_by_transfer_syntax() -> None:
    ae = AE()
    ae.add_supported_context(CTImageStorage, [EXPLICIT, IMPLICIT])
    ae.remove_supported_context(CTImageStorage, IMPLICIT)
    assert ae.supported_contexts[0].transfer_syntax == [EXPLICIT]
    ae.remove_supported_context(CTImageStorage)
    assert ae.supported_contexts == []


def identity(password: bytes) -> UserIdentityNegotiation:
    item = UserIdentityNegotiation()
    item.user_identity_type = 2
    item.primary_field = b"alice"
    item.secondary_field = password
    return item


def check_alice(event: Any) -> tuple[bool, None]:
    return (event.primary_field, event.secondary_field) == (b"alice", b"secret"), None


def identity_scp_ae() -> AE:
    """An SCP that takes a password over plain TCP (ours refuses one by default)."""
    ae = scp_ae()
    ae.allow_plain_password = True
    return ae


@pytest.mark.parametrize(("password", "established"), [(b"secret", True), (b"guess", False)])
def test_user_identity_negotiation_in_ext_neg(password: bytes, established: bool) -> None:
    with running_server(identity_scp_ae(), [(evt.EVT_USER_ID, check_alice)]) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1], ext_neg=[identity(password)])
        assert assoc.is_established is established
        assert assoc.is_rejected is not established
        if established:
            assoc.release()


def test_pynetdicom_negotiation_objects_are_understood() -> None:
    """pynetdicom's own UserIdentityNegotiation (same attributes) works in our ext_neg."""
    primitives = pytest.importorskip("pynetdicom.pdu_primitives")
    item = primitives.UserIdentityNegotiation()
    item.user_identity_type = 2
    item.primary_field = b"alice"
    item.secondary_field = b"secret"
    with running_server(identity_scp_ae(), [(evt.EVT_USER_ID, check_alice)]) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1], ext_neg=[item])
        assert assoc.is_established
        assoc.release()


def test_role_and_async_items_in_ext_neg() -> None:
    role = SCP_SCU_RoleSelectionNegotiation()
    role.sop_class_uid = CTImageStorage
    role.scp_role = True
    window = AsynchronousOperationsWindowNegotiation()
    ae = scp_ae()
    ae.add_supported_context(CTImageStorage, scu_role=True, scp_role=True)
    with running_server(ae) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1], ext_neg=[role, window])
        try:
            assert assoc.is_established
            ct = [cx for cx in assoc.accepted_contexts if cx.abstract_syntax == CTImageStorage]
            assert [(cx.as_scu, cx.as_scp) for cx in ct] == [(False, True)]
        finally:
            assoc.release()


def test_user_identity_needs_a_primary_field() -> None:
    item = UserIdentityNegotiation()
    item.user_identity_type = 2
    with pytest.raises(ValueError, match="primary_field"):
        item.to_item()
    assert "secret" not in repr(identity(b"secret"))


def test_get_events() -> None:
    def on_echo(event: Any) -> int:
        return 0

    ae = scu_ae()
    with running_server(scp_ae()) as server:
        assoc = ae.associate(
            HOST, server.server_address[1], evt_handlers=[(evt.EVT_C_ECHO, on_echo)]
        )
        try:
            assert evt.EVT_C_ECHO in assoc.get_events()
            assert evt.EVT_C_STORE not in assoc.get_events()
        finally:
            assoc.release()
    assert Verification in [cx.abstract_syntax for cx in ae.requested_contexts]


def test_make_server_listens_and_serves_when_told() -> None:
    ae = scp_ae()
    server = ae.make_server((HOST, 0), evt_handlers=[(evt.EVT_C_ECHO, lambda event: 0x0000)])
    try:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assert assoc.is_established
        status = assoc.send_c_echo()
        assoc.release()
        assert status.Status == 0x0000
    finally:
        server.shutdown()
    thread.join(10)
    assert not thread.is_alive()


def test_credentials_without_tls_are_sent_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As pynetdicom, the passcode is sent (the call works); unlike it, we say it went in
    clear text. The warning never contains the secret."""
    with (
        running_server(identity_scp_ae(), [(evt.EVT_USER_ID, check_alice)]) as server,
        caplog.at_level(logging.WARNING, logger="dicomnet"),
    ):
        assoc = scu_ae().associate(HOST, server.server_address[1], ext_neg=[identity(b"secret")])
        assert assoc.is_established
        assoc.release()
    assert "without TLS" in caplog.text
    assert "secret" not in caplog.text and "alice" not in caplog.text


def test_pynetdicom_extended_negotiation_objects_reach_the_handlers() -> None:
    """pynetdicom's own async-ops and SOP class extended items, in our ext_neg, arrive at the
    acceptor's EVT_ASYNC_OPS and EVT_SOP_EXTENDED handlers."""
    primitives = pytest.importorskip("pynetdicom.pdu_primitives")
    window = primitives.AsynchronousOperationsWindowNegotiation()
    window.maximum_number_operations_invoked = 4
    window.maximum_number_operations_performed = 2
    extended = primitives.SOPClassExtendedNegotiation()
    extended.sop_class_uid = CTImageStorage
    extended.service_class_application_information = b"\x01\x00\x01"
    seen: dict[str, Any] = {}

    def on_async(event: Any) -> tuple[int, int]:
        seen["async"] = (event.nr_invoked, event.nr_performed)
        return 1, 1

    def on_extended(event: Any) -> dict[str, bytes]:
        seen["extended"] = dict(event.app_info)
        return {}

    handlers = [(evt.EVT_ASYNC_OPS, on_async), (evt.EVT_SOP_EXTENDED, on_extended)]
    with running_server(scp_ae(), handlers) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1], ext_neg=[window, extended])
        assert assoc.is_established
        assoc.release()
    assert seen == {"async": (4, 2), "extended": {CTImageStorage: b"\x01\x00\x01"}}
