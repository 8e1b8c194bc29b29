"""services.acceptance without a socket: the acceptor's answer (AC or RJ) to an
A-ASSOCIATE-RQ, from its policy and its handlers."""

from __future__ import annotations

from typing import Any

from dicomnet import AE, evt
from dicomnet.events import HandlerRegistry
from dicomnet.service_user import ServiceUser
from dicomnet.services.acceptance import Answer, answer_request
from dicomnet.ul.items import (
    AsyncOpsWindow,
    PresentationContextRQ,
    SOPClassExtended,
    UserIdentityRQ,
    UserInformation,
)
from dicomnet.ul.pdu import AssociateRQ
from tests.services.port import CT, EXPLICIT, IMPLICIT, VERIFICATION


class Requested:
    """The association being requested (an AcceptancePort)."""

    def __init__(self, handlers: list[Any] | None = None) -> None:
        self.handlers = HandlerRegistry(handlers or [])
        self.requestor = ServiceUser()
        self.acceptor = ServiceUser()


def _ae(**settings: Any) -> AE:
    ae = AE("ARCHIVE")
    ae.add_supported_context(VERIFICATION)
    ae.add_supported_context(CT, [EXPLICIT, IMPLICIT])
    for name, value in settings.items():
        setattr(ae, name, value)
    return ae


def _rq(
    *,
    called: str = "ARCHIVE",
    calling: str = "MODALITY",
    identity: UserIdentityRQ | None = None,
    **info: Any,
) -> AssociateRQ:
    contexts = (
        PresentationContextRQ(1, VERIFICATION, (IMPLICIT,)),
        PresentationContextRQ(3, CT, (IMPLICIT, EXPLICIT)),
        PresentationContextRQ(5, "1.2.3.4", (IMPLICIT,)),
    )
    return AssociateRQ(
        called,
        calling,
        contexts,
        UserInformation(16384, "1.2.3", user_identity_rq=identity, **info),
    )


def _answer(
    port: Requested,
    rq: AssociateRQ,
    ae: AE | None = None,
    *,
    encrypted: bool = False,
    slot: bool = True,
) -> Answer:
    return answer_request(
        port, rq, ae or _ae(), local_max_pdu=32768, encrypted=encrypted, claim_slot=lambda: slot
    )


def _rj(answer: Answer) -> tuple[int, int, int] | None:
    rj = answer.rj
    return None if rj is None else (rj.result, rj.source, rj.reason)


def test_accepts_with_our_preferred_syntax_and_fills_in_both_sides() -> None:
    port = Requested()
    answer = _answer(port, _rq())
    assert answer.ac is not None and answer.rj is None
    by_id = {cx.context_id: cx for cx in answer.contexts}
    assert by_id[1].accepted and by_id[3].transfer_syntax == [EXPLICIT]
    assert not by_id[5].accepted
    assert answer.ac.user_information.max_length == 32768
    assert (port.requestor.ae_title, port.requestor.maximum_length) == ("MODALITY", 16384)
    assert (port.acceptor.ae_title, port.acceptor.primitive) == ("ARCHIVE", answer.ac)


def test_policy_rejections() -> None:
    assert _rj(_answer(Requested(), _rq(), slot=False)) == (2, 3, 2)
    strict = _ae(require_called_aet=True, require_calling_aet=["CT1"])
    assert _rj(_answer(Requested(), _rq(called="OTHER"), strict)) == (1, 1, 7)
    assert _rj(_answer(Requested(), _rq(called="ARCHIVE"), strict)) == (1, 1, 3)
    assert _answer(Requested(), _rq(calling="CT1"), strict).ac is not None


def test_evt_requested_may_reject() -> None:
    def refuse(event: evt.Event) -> None:
        event.reject(1, 1, 3)

    assert _rj(_answer(Requested([(evt.EVT_REQUESTED, refuse)]), _rq())) == (1, 1, 3)


def test_user_identity_verified_refused_and_plain_passwords() -> None:
    def check(event: evt.Event) -> tuple[bool, bytes | None]:
        return event.primary_identity == b"alice", b"token"

    handlers = [(evt.EVT_USER_ID, check)]
    alice = UserIdentityRQ(1, True, b"alice")
    answer = _answer(Requested(handlers), _rq(identity=alice))
    assert answer.ac is not None
    assert answer.ac.user_information.user_identity_ac is not None
    assert _rj(_answer(Requested(handlers), _rq(identity=UserIdentityRQ(1, False, b"eve")))) == (
        1,
        2,
        1,
    )
    password = UserIdentityRQ(2, False, b"alice", b"secret")
    assert _rj(_answer(Requested(handlers), _rq(identity=password))) == (1, 2, 1)
    assert _answer(Requested(handlers), _rq(identity=password), encrypted=True).ac is not None


def test_require_user_identity_rejects_a_request_without_one() -> None:
    def check(event: evt.Event) -> tuple[bool, None]:
        return True, None

    required = _ae(require_user_identity=True)
    handlers = [(evt.EVT_USER_ID, check)]
    assert _rj(_answer(Requested(handlers), _rq(), required)) == (1, 2, 1)
    alice = UserIdentityRQ(1, False, b"alice")
    assert _answer(Requested(handlers), _rq(identity=alice), required).ac is not None
    assert _answer(Requested(handlers), _rq()).ac is not None  # off by default


def test_extended_negotiation_answers_from_the_handlers() -> None:
    handlers = [
        (evt.EVT_ASYNC_OPS, lambda e: (5, 5)),
        (evt.EVT_SOP_EXTENDED, lambda e: {CT: b"\x01", "9.9": b"\x01"}),
    ]
    rq = _rq(
        async_ops=AsyncOpsWindow(3, 0),
        sop_class_extended=(SOPClassExtended(CT, b"\x01\x01"),),
    )
    answer = _answer(Requested(handlers), rq)
    assert answer.ac is not None
    info = answer.ac.user_information
    assert info.async_ops == AsyncOpsWindow(3, 5)  # never more than proposed
    assert info.sop_class_extended == (SOPClassExtended(CT, b"\x01"),)  # only what was proposed
