"""Whole conversations between a requestor and an acceptor state machine, wired back to back."""

from __future__ import annotations

from collections import deque

from dicomnet.ul.fsm import (
    Action,
    CloseTransport,
    ConnectTransport,
    Effect,
    Event,
    Indicate,
    Indication,
    SendPDU,
    StartARTIM,
    State,
    StateMachine,
    StopARTIM,
    event_for_pdu,
)
from dicomnet.ul.pdu import PDU, Abort, AssociateRJ, ReleaseRP, ReleaseRQ
from tests.ul.test_fsm import AC, PDATA, PDATA_2, RJ, RQ

REQ, ACC = True, False


class Link:
    """A requestor and an acceptor machine; every SendPDU goes on an in-order wire to the other."""

    def __init__(self) -> None:
        self.machines = {REQ: StateMachine(requestor=True), ACC: StateMachine(requestor=False)}
        self.in_flight: dict[bool, deque[PDU]] = {REQ: deque(), ACC: deque()}  # keyed by receiver

    def state(self, side: bool) -> State:
        return self.machines[side].state

    def step(
        self,
        side: bool,
        event: Event,
        pdu: PDU | None = None,
        *,
        reject_reason: AssociateRJ | None = None,
        expect: tuple[Action, State],
    ) -> list[Effect]:
        transition, effects = self.machines[side].handle(event, pdu, reject_reason=reject_reason)
        assert (transition.action, transition.to_state) == expect
        for effect in effects:
            if isinstance(effect, SendPDU):
                self.in_flight[not side].append(effect.pdu)
        return effects

    def deliver(self, side: bool, *, expect: tuple[Action, State]) -> list[Effect]:
        """The next PDU in flight towards ``side`` arrives there."""
        pdu = self.in_flight[side].popleft()
        return self.step(side, event_for_pdu(pdu), pdu, expect=expect)


def associate(link: Link) -> None:
    """Sta1 -> Sta6 on both sides, checking every step."""
    assert link.step(REQ, Event.EVT1, RQ, expect=(Action.AE_1, State.STA4)) == [ConnectTransport()]
    assert link.step(ACC, Event.EVT5, expect=(Action.AE_5, State.STA2)) == [StartARTIM()]
    assert link.step(REQ, Event.EVT2, expect=(Action.AE_2, State.STA5)) == [SendPDU(RQ)]
    assert link.deliver(ACC, expect=(Action.AE_6, State.STA3)) == [
        StopARTIM(),
        Indicate(Indication.ASSOCIATE_IND, RQ),
    ]
    assert link.step(ACC, Event.EVT7, AC, expect=(Action.AE_7, State.STA6)) == [SendPDU(AC)]
    assert link.deliver(REQ, expect=(Action.AE_3, State.STA6)) == [
        Indicate(Indication.ASSOCIATE_ACCEPT_CONF, AC)
    ]


def test_requestor_associates_transfers_data_and_releases() -> None:
    link = Link()
    associate(link)
    # Data both ways.
    assert link.step(REQ, Event.EVT9, PDATA, expect=(Action.DT_1, State.STA6)) == [SendPDU(PDATA)]
    assert link.deliver(ACC, expect=(Action.DT_2, State.STA6)) == [
        Indicate(Indication.P_DATA_IND, PDATA)
    ]
    link.step(ACC, Event.EVT9, PDATA_2, expect=(Action.DT_1, State.STA6))
    assert link.deliver(REQ, expect=(Action.DT_2, State.STA6)) == [
        Indicate(Indication.P_DATA_IND, PDATA_2)
    ]
    # Requestor releases; the acceptor still sends data before and after it sees the request.
    assert link.step(REQ, Event.EVT11, expect=(Action.AR_1, State.STA7)) == [SendPDU(ReleaseRQ())]
    link.step(ACC, Event.EVT9, PDATA, expect=(Action.DT_1, State.STA6))
    assert link.deliver(ACC, expect=(Action.AR_2, State.STA8)) == [
        Indicate(Indication.RELEASE_IND, ReleaseRQ())
    ]
    assert link.step(ACC, Event.EVT9, PDATA_2, expect=(Action.AR_7, State.STA8)) == [
        SendPDU(PDATA_2)
    ]
    assert link.deliver(REQ, expect=(Action.AR_6, State.STA7)) == [
        Indicate(Indication.P_DATA_IND, PDATA)
    ]
    link.deliver(REQ, expect=(Action.AR_6, State.STA7))
    assert link.step(ACC, Event.EVT14, expect=(Action.AR_4, State.STA13)) == [
        SendPDU(ReleaseRP()),
        StartARTIM(),
    ]
    # The side that asked for the release closes the connection.
    assert link.deliver(REQ, expect=(Action.AR_3, State.STA1)) == [
        Indicate(Indication.RELEASE_CONF, ReleaseRP()),
        CloseTransport(),
    ]
    assert link.step(ACC, Event.EVT17, expect=(Action.AR_5, State.STA1)) == [StopARTIM()]
    assert not link.in_flight[REQ] and not link.in_flight[ACC]


def test_acceptor_releases_and_closes() -> None:
    link = Link()
    associate(link)
    link.step(ACC, Event.EVT11, expect=(Action.AR_1, State.STA7))
    link.step(REQ, Event.EVT9, PDATA, expect=(Action.DT_1, State.STA6))
    link.deliver(REQ, expect=(Action.AR_2, State.STA8))
    link.deliver(ACC, expect=(Action.AR_6, State.STA7))
    link.step(REQ, Event.EVT14, expect=(Action.AR_4, State.STA13))
    assert link.deliver(ACC, expect=(Action.AR_3, State.STA1))[-1] == CloseTransport()
    link.step(REQ, Event.EVT17, expect=(Action.AR_5, State.STA1))


def test_released_side_closes_on_artim_expiry_if_peer_never_closes() -> None:
    link = Link()
    associate(link)
    link.step(REQ, Event.EVT11, expect=(Action.AR_1, State.STA7))
    link.deliver(ACC, expect=(Action.AR_2, State.STA8))
    link.step(ACC, Event.EVT14, expect=(Action.AR_4, State.STA13))
    assert link.step(ACC, Event.EVT18, expect=(Action.AA_2, State.STA1)) == [
        StopARTIM(),
        CloseTransport(),
    ]


def _finish_collision(link: Link) -> None:
    """Steps 4-5 of the collision table: acceptor in Sta12, requestor in Sta11."""
    assert link.step(ACC, Event.EVT14, expect=(Action.AR_4, State.STA13)) == [
        SendPDU(ReleaseRP()),
        StartARTIM(),
    ]
    assert link.deliver(REQ, expect=(Action.AR_3, State.STA1)) == [
        Indicate(Indication.RELEASE_CONF, ReleaseRP()),
        CloseTransport(),
    ]
    link.step(ACC, Event.EVT17, expect=(Action.AR_5, State.STA1))


def test_release_collision_both_requests_cross() -> None:
    link = Link()
    associate(link)
    link.step(REQ, Event.EVT11, expect=(Action.AR_1, State.STA7))
    link.step(ACC, Event.EVT11, expect=(Action.AR_1, State.STA7))
    # Step 1: each side sees the other's A-RELEASE-RQ while in Sta7.
    assert link.deliver(REQ, expect=(Action.AR_8, State.STA9)) == [
        Indicate(Indication.RELEASE_IND, ReleaseRQ())
    ]
    assert link.deliver(ACC, expect=(Action.AR_8, State.STA10)) == [
        Indicate(Indication.RELEASE_IND, ReleaseRQ())
    ]
    # Step 2: the association requestor answers first.
    assert link.step(REQ, Event.EVT14, expect=(Action.AR_9, State.STA11)) == [SendPDU(ReleaseRP())]
    # Step 3: the acceptor gets the A-RELEASE-RP.
    assert link.deliver(ACC, expect=(Action.AR_10, State.STA12)) == [
        Indicate(Indication.RELEASE_CONF, ReleaseRP())
    ]
    _finish_collision(link)


def test_release_collision_requestor_answers_before_acceptor_sees_its_request() -> None:
    link = Link()
    associate(link)
    link.step(REQ, Event.EVT11, expect=(Action.AR_1, State.STA7))
    link.step(ACC, Event.EVT11, expect=(Action.AR_1, State.STA7))
    link.deliver(REQ, expect=(Action.AR_8, State.STA9))
    link.step(REQ, Event.EVT14, expect=(Action.AR_9, State.STA11))
    # The acceptor now receives A-RELEASE-RQ then A-RELEASE-RP, in that order.
    link.deliver(ACC, expect=(Action.AR_8, State.STA10))
    link.deliver(ACC, expect=(Action.AR_10, State.STA12))
    _finish_collision(link)


def test_release_collision_single_machines() -> None:
    """The two columns of the collision table in PS3.8 7.2.2 / section 6 of the reference."""
    requestor = StateMachine(requestor=True)
    setup: list[tuple[Event, PDU | None]] = [(Event.EVT1, RQ), (Event.EVT2, None), (Event.EVT3, AC)]
    for event, pdu in setup:
        requestor.handle(event, pdu)
    steps: list[tuple[Event, PDU | None, Action, State]] = [
        (Event.EVT11, None, Action.AR_1, State.STA7),
        (Event.EVT12, ReleaseRQ(), Action.AR_8, State.STA9),
        (Event.EVT14, None, Action.AR_9, State.STA11),
        (Event.EVT13, ReleaseRP(), Action.AR_3, State.STA1),
    ]
    for event, pdu, action, state in steps:
        transition, _ = requestor.handle(event, pdu)
        assert (transition.action, transition.to_state) == (action, state)

    acceptor = StateMachine(requestor=False)
    setup = [(Event.EVT5, None), (Event.EVT6, RQ), (Event.EVT7, AC)]
    for event, pdu in setup:
        acceptor.handle(event, pdu)
    steps = [
        (Event.EVT11, None, Action.AR_1, State.STA7),
        (Event.EVT12, ReleaseRQ(), Action.AR_8, State.STA10),
        (Event.EVT13, ReleaseRP(), Action.AR_10, State.STA12),
        (Event.EVT14, None, Action.AR_4, State.STA13),
        (Event.EVT17, None, Action.AR_5, State.STA1),
    ]
    for event, pdu, action, state in steps:
        transition, _ = acceptor.handle(event, pdu)
        assert (transition.action, transition.to_state) == (action, state)


def test_provider_rejects_association_in_ae6() -> None:
    link = Link()
    link.step(REQ, Event.EVT1, RQ, expect=(Action.AE_1, State.STA4))
    link.step(ACC, Event.EVT5, expect=(Action.AE_5, State.STA2))
    link.step(REQ, Event.EVT2, expect=(Action.AE_2, State.STA5))
    pdu = link.in_flight[ACC].popleft()
    assert link.step(ACC, Event.EVT6, pdu, reject_reason=RJ, expect=(Action.AE_6, State.STA13)) == [
        StopARTIM(),
        SendPDU(RJ),
        StartARTIM(),
    ]
    assert link.deliver(REQ, expect=(Action.AE_4, State.STA1)) == [
        Indicate(Indication.ASSOCIATE_REJECT_CONF, RJ),
        CloseTransport(),
    ]
    link.step(ACC, Event.EVT17, expect=(Action.AR_5, State.STA1))


def test_user_rejects_association_and_peer_never_closes() -> None:
    link = Link()
    link.step(REQ, Event.EVT1, RQ, expect=(Action.AE_1, State.STA4))
    link.step(ACC, Event.EVT5, expect=(Action.AE_5, State.STA2))
    link.step(REQ, Event.EVT2, expect=(Action.AE_2, State.STA5))
    link.deliver(ACC, expect=(Action.AE_6, State.STA3))
    assert link.step(ACC, Event.EVT8, RJ, expect=(Action.AE_8, State.STA13)) == [
        SendPDU(RJ),
        StartARTIM(),
    ]
    link.deliver(REQ, expect=(Action.AE_4, State.STA1))
    link.step(ACC, Event.EVT18, expect=(Action.AA_2, State.STA1))


def test_user_abort_during_data_transfer() -> None:
    link = Link()
    associate(link)
    link.step(ACC, Event.EVT9, PDATA, expect=(Action.DT_1, State.STA6))
    assert link.step(REQ, Event.EVT15, expect=(Action.AA_1, State.STA13)) == [
        SendPDU(Abort(source=0, reason=0)),
        StartARTIM(),
    ]
    # Data that was already in flight is ignored in Sta13.
    assert link.deliver(REQ, expect=(Action.AA_6, State.STA13)) == []
    assert link.deliver(ACC, expect=(Action.AA_3, State.STA1)) == [
        Indicate(Indication.ABORT_IND, Abort(source=0, reason=0)),
        CloseTransport(),
    ]
    link.step(REQ, Event.EVT17, expect=(Action.AR_5, State.STA1))


def test_provider_abort_on_invalid_pdu() -> None:
    link = Link()
    associate(link)
    sent = Abort(source=2, reason=1)
    assert link.step(ACC, Event.EVT19, expect=(Action.AA_8, State.STA13)) == [
        SendPDU(sent),
        Indicate(Indication.P_ABORT_IND, sent),
        StartARTIM(),
    ]
    assert link.deliver(REQ, expect=(Action.AA_3, State.STA1)) == [
        Indicate(Indication.P_ABORT_IND, sent),
        CloseTransport(),
    ]
    link.step(ACC, Event.EVT17, expect=(Action.AR_5, State.STA1))


def test_both_sides_abort_at_once() -> None:
    link = Link()
    associate(link)
    link.step(REQ, Event.EVT15, expect=(Action.AA_1, State.STA13))
    link.step(ACC, Event.EVT15, expect=(Action.AA_1, State.STA13))
    link.deliver(REQ, expect=(Action.AA_2, State.STA1))
    link.deliver(ACC, expect=(Action.AA_2, State.STA1))


def test_unexpected_pdu_while_waiting_for_ac() -> None:
    link = Link()
    link.step(REQ, Event.EVT1, RQ, expect=(Action.AE_1, State.STA4))
    link.step(REQ, Event.EVT2, expect=(Action.AE_2, State.STA5))
    sent = Abort(source=2, reason=2)
    assert link.step(REQ, Event.EVT12, ReleaseRQ(), expect=(Action.AA_8, State.STA13)) == [
        SendPDU(sent),
        Indicate(Indication.P_ABORT_IND, sent),
        StartARTIM(),
    ]
    link.step(REQ, Event.EVT18, expect=(Action.AA_2, State.STA1))


def test_abort_while_connecting_and_connect_failure() -> None:
    machine = StateMachine(requestor=True)
    machine.handle(Event.EVT1, RQ)
    transition, effects = machine.handle(Event.EVT15)
    assert (transition.action, transition.to_state) == (Action.AA_2, State.STA1)
    assert effects == [StopARTIM(), CloseTransport()]
    machine.handle(Event.EVT1, RQ)
    transition, effects = machine.handle(Event.EVT17)
    assert (transition.action, transition.to_state) == (Action.AA_4, State.STA1)
    assert effects == [Indicate(Indication.P_ABORT_IND, None)]


def test_acceptor_gives_up_on_silent_connection() -> None:
    machine = StateMachine(requestor=False)
    machine.handle(Event.EVT5)
    transition, effects = machine.handle(Event.EVT18)
    assert (transition.action, transition.to_state) == (Action.AA_2, State.STA1)
    assert effects == [StopARTIM(), CloseTransport()]
    machine.handle(Event.EVT5)
    transition, effects = machine.handle(Event.EVT17)
    assert (transition.action, transition.to_state) == (Action.AA_5, State.STA1)
    assert effects == [StopARTIM()]


def test_first_pdu_not_an_rq_is_aborted_then_closed() -> None:
    machine = StateMachine(requestor=False)
    machine.handle(Event.EVT5)
    transition, effects = machine.handle(Event.EVT12, ReleaseRQ())
    assert (transition.action, transition.to_state) == (Action.AA_1, State.STA13)
    assert effects == [SendPDU(Abort(source=0, reason=0)), StartARTIM()]
    transition, effects = machine.handle(Event.EVT6, RQ)
    assert (transition.action, transition.to_state) == (Action.AA_7, State.STA13)
    assert effects == [SendPDU(Abort(source=2, reason=2))]
    transition, effects = machine.handle(Event.EVT16, Abort(source=0))
    assert (transition.action, transition.to_state) == (Action.AA_2, State.STA1)
