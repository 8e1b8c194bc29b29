"""Effects of the Upper Layer state machine beyond the default cell: options and variants."""

from __future__ import annotations

import pytest

from dicomnet import _record
from dicomnet.ul.errors import LocalProtocolError
from dicomnet.ul.fsm import (
    Action,
    CloseTransport,
    ConnectTransport,
    Event,
    Indicate,
    Indication,
    SendPDU,
    StartARTIM,
    State,
    StateMachine,
    StopARTIM,
    Transition,
    event_for_pdu,
)
from dicomnet.ul.pdu import PDU, Abort, AssociateRJ
from tests.ul.test_fsm import (
    AC,
    PATHS,
    PDATA,
    PROVIDER_ABORT,
    RELEASE_RP,
    RELEASE_RQ,
    RJ,
    RQ,
    USER_ABORT,
    machine_in,
)

ASSOCIATED_STATES = [
    pytest.param(state, requestor, id=f"Sta{state.value}-{'req' if requestor else 'acc'}")
    for (state, requestor) in PATHS
    if State.STA3 <= state <= State.STA12 and state is not State.STA4
]

# --- AE-6 -------------------------------------------------------------------------------------


def test_ae6_without_reject_reason_indicates_the_rq() -> None:
    machine = machine_in(State.STA2, False)
    transition, effects = machine.handle(Event.EVT6, RQ)
    assert transition == Transition(State.STA2, Event.EVT6, Action.AE_6, State.STA3)
    assert effects == [StopARTIM(), Indicate(Indication.ASSOCIATE_IND, RQ)]


def test_ae6_with_reject_reason_sends_it_and_goes_to_sta13() -> None:
    reject = AssociateRJ(result=2, source=3, reason=2)
    machine = machine_in(State.STA2, False)
    transition, effects = machine.handle(Event.EVT6, RQ, reject_reason=reject)
    assert transition == Transition(State.STA2, Event.EVT6, Action.AE_6, State.STA13)
    assert effects == [StopARTIM(), SendPDU(reject), StartARTIM()]
    assert machine.state is State.STA13


def test_reject_reason_is_ignored_outside_ae6() -> None:
    machine = machine_in(State.STA6, False)
    transition, effects = machine.handle(Event.EVT6, RQ, reject_reason=RJ)
    assert transition.action is Action.AA_8
    assert effects[0] == SendPDU(Abort(source=2, reason=2))


# --- AE-1 / AE-2 ------------------------------------------------------------------------------


def test_ae1_remembers_the_rq_and_ae2_sends_it() -> None:
    machine = StateMachine(requestor=True)
    assert machine.handle(Event.EVT1, RQ)[1] == [ConnectTransport()]
    assert machine.handle(Event.EVT2)[1] == [SendPDU(RQ)]


def test_ae2_sends_an_rq_given_at_evt2_instead() -> None:
    other = _record.replace(RQ, called_ae_title="OTHER")
    machine = StateMachine(requestor=True)
    machine.handle(Event.EVT1, RQ)
    assert machine.handle(Event.EVT2, other)[1] == [SendPDU(other)]


# --- AA-1, AA-7, AA-8 and the abort option ----------------------------------------------------


def test_aa1_on_user_abort_sends_user_source_and_starts_artim() -> None:
    machine = machine_in(State.STA6, True)
    transition, effects = machine.handle(Event.EVT15)
    assert transition.action is Action.AA_1
    assert effects == [SendPDU(Abort(source=0, reason=0)), StartARTIM()]


def test_aa1_sends_the_abort_given() -> None:
    given = Abort(source=2, reason=5)
    machine = machine_in(State.STA6, True)
    assert machine.handle(Event.EVT15, abort=given)[1] == [SendPDU(given), StartARTIM()]
    machine = machine_in(State.STA6, True)
    assert machine.handle(Event.EVT15, given)[1] == [SendPDU(given), StartARTIM()]


def test_evt15_with_two_different_aborts_is_local_error() -> None:
    machine = machine_in(State.STA6, True)
    with pytest.raises(LocalProtocolError):
        machine.handle(Event.EVT15, USER_ABORT, abort=PROVIDER_ABORT)
    assert machine.state is State.STA6


@pytest.mark.parametrize("event", [Event.EVT3, Event.EVT10, Event.EVT19])
def test_aa1_in_sta2_default_and_given(event: Event) -> None:
    pdus: dict[Event, PDU | None] = {Event.EVT3: AC, Event.EVT10: PDATA, Event.EVT19: None}
    pdu = pdus[event]
    machine = machine_in(State.STA2, False)
    assert machine.handle(event, pdu)[1] == [SendPDU(Abort(0, 0)), StartARTIM()]
    given = Abort(source=2, reason=2)
    machine = machine_in(State.STA2, False)
    assert machine.handle(event, pdu, abort=given)[1] == [SendPDU(given), StartARTIM()]


@pytest.mark.parametrize(("event", "pdu", "reason"), [(Event.EVT6, RQ, 2), (Event.EVT19, None, 1)])
def test_aa7_reasons_and_no_timer_change(event: Event, pdu: PDU | None, reason: int) -> None:
    machine = machine_in(State.STA13, True)
    transition, effects = machine.handle(event, pdu)
    assert transition.action is Action.AA_7
    assert transition.to_state is State.STA13
    assert effects == [SendPDU(Abort(source=2, reason=reason))]
    given = Abort(source=2, reason=6)
    assert machine.handle(event, pdu, abort=given)[1] == [SendPDU(given)]


@pytest.mark.parametrize(
    ("event", "pdu", "reason"),
    [
        (Event.EVT3, AC, 2),
        (Event.EVT4, RJ, 2),
        (Event.EVT6, RQ, 2),
        (Event.EVT12, RELEASE_RQ, 2),
        (Event.EVT19, None, 1),
    ],
)
def test_aa8_reason_depends_on_event(event: Event, pdu: PDU | None, reason: int) -> None:
    machine = machine_in(State.STA8, True)
    transition, effects = machine.handle(event, pdu)
    sent = Abort(source=2, reason=reason)
    assert transition.action is Action.AA_8
    assert effects == [SendPDU(sent), Indicate(Indication.P_ABORT_IND, sent), StartARTIM()]


def test_aa8_sends_the_abort_given() -> None:
    given = Abort(source=2, reason=4)
    machine = machine_in(State.STA6, False)
    _, effects = machine.handle(Event.EVT19, abort=given)
    assert effects == [SendPDU(given), Indicate(Indication.P_ABORT_IND, given), StartARTIM()]


# --- AA-3, AA-4 -------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "requestor"), ASSOCIATED_STATES)
@pytest.mark.parametrize(
    ("abort", "kind"),
    [
        (Abort(source=0, reason=0), Indication.ABORT_IND),
        (Abort(source=2, reason=1), Indication.P_ABORT_IND),
        (Abort(source=2, reason=6), Indication.P_ABORT_IND),
        (Abort(source=1, reason=0), Indication.P_ABORT_IND),
    ],
)
def test_aa3_indication_follows_abort_source(
    state: State, requestor: bool, abort: Abort, kind: Indication
) -> None:
    machine = machine_in(state, requestor)
    transition, effects = machine.handle(Event.EVT16, abort)
    assert transition.action is Action.AA_3
    assert effects == [Indicate(kind, abort), CloseTransport()]
    assert machine.state is State.STA1


@pytest.mark.parametrize(("state", "requestor"), [*ASSOCIATED_STATES, (State.STA4, True)])
def test_aa4_connection_lost_gives_p_abort(state: State, requestor: bool) -> None:
    machine = machine_in(state, requestor)
    transition, effects = machine.handle(Event.EVT17)
    assert transition.action is Action.AA_4
    assert effects == [Indicate(Indication.P_ABORT_IND, None)]
    assert machine.state is State.STA1


@pytest.mark.parametrize("state", [State.STA2, State.STA13])
def test_abort_received_before_or_after_association_just_closes(state: State) -> None:
    machine = machine_in(state, False)
    transition, effects = machine.handle(Event.EVT16, PROVIDER_ABORT)
    assert transition.action is Action.AA_2
    assert effects == [StopARTIM(), CloseTransport()]


# --- errors -----------------------------------------------------------------------------------


def test_error_names_state_and_event_and_keeps_state() -> None:
    machine = machine_in(State.STA13, True)
    with pytest.raises(LocalProtocolError) as info:
        machine.handle(Event.EVT15)
    assert "Sta13" in str(info.value)
    assert "Evt15" in str(info.value)
    assert machine.state is State.STA13
    # The machine still works after the error.
    assert machine.handle(Event.EVT17)[0].to_state is State.STA1


def test_machine_is_reusable_after_returning_to_sta1() -> None:
    machine = machine_in(State.STA6, True)
    machine.handle(Event.EVT17)
    machine.handle(Event.EVT1, RQ)
    assert machine.handle(Event.EVT2)[1] == [SendPDU(RQ)]


# --- event_for_pdu and value types ------------------------------------------------------------


@pytest.mark.parametrize(
    ("pdu", "event"),
    [
        (AC, Event.EVT3),
        (RJ, Event.EVT4),
        (RQ, Event.EVT6),
        (PDATA, Event.EVT10),
        (RELEASE_RQ, Event.EVT12),
        (RELEASE_RP, Event.EVT13),
        (USER_ABORT, Event.EVT16),
        (PROVIDER_ABORT, Event.EVT16),
    ],
)
def test_event_for_pdu(pdu: PDU, event: Event) -> None:
    assert event_for_pdu(pdu) is event


def test_event_for_pdu_rejects_non_pdu() -> None:
    with pytest.raises(TypeError):
        event_for_pdu(b"\x05\x00")  # type: ignore[arg-type]


def test_effects_and_transition_are_frozen() -> None:
    values: list[object] = [
        SendPDU(RELEASE_RQ),
        Indicate(Indication.RELEASE_IND, None),
        Transition(State.STA6, Event.EVT11, Action.AR_1, State.STA7),
    ]
    for value in values:
        field = _record.fields(value)[0].name
        with pytest.raises(_record.FrozenInstanceError):
            setattr(value, field, None)
    assert StartARTIM() == StartARTIM()
    assert StopARTIM() != StartARTIM()  # type: ignore[comparison-overlap]
    assert CloseTransport() == CloseTransport()
