"""Every cell of PS3.8 Table 9-10 against the Upper Layer state machine.

The expected table below is copied verbatim from /work/shared/reference/ul-state-machine.md,
not derived from :data:`dicomnet.ul.fsm.TRANSITIONS`. This module also holds the sample PDUs and
the helper that drives a machine into a given state; the other test_fsm_* modules import them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dicomnet.ul.errors import LocalProtocolError
from dicomnet.ul.fsm import (
    NEXT_STATE,
    TRANSITIONS,
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
)
from dicomnet.ul.items import PresentationContextAC, PresentationContextRQ, UserInformation
from dicomnet.ul.pdu import (
    PDU,
    PDV,
    Abort,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
)

# Rows Evt1..Evt19; columns Sta1..Sta13 (PS3.8 Table 9-10, copied from the reference).
TABLE_9_10_MARKDOWN = """
| Evt1 | AE-1 |  |  |  |  |  |  |  |  |  |  |  |  |
| Evt2 |  |  |  | AE-2 |  |  |  |  |  |  |  |  |  |
| Evt3 |  | AA-1 | AA-8 |  | AE-3 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-6 |
| Evt4 |  | AA-1 | AA-8 |  | AE-4 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-6 |
| Evt5 | AE-5 |  |  |  |  |  |  |  |  |  |  |  |  |
| Evt6 |  | AE-6 | AA-8 |  | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-7 |
| Evt7 |  |  | AE-7 |  |  |  |  |  |  |  |  |  |  |
| Evt8 |  |  | AE-8 |  |  |  |  |  |  |  |  |  |  |
| Evt9 |  |  |  |  |  | DT-1 |  | AR-7 |  |  |  |  |  |
| Evt10 |  | AA-1 | AA-8 |  | AA-8 | DT-2 | AR-6 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-6 |
| Evt11 |  |  |  |  |  | AR-1 |  |  |  |  |  |  |  |
| Evt12 |  | AA-1 | AA-8 |  | AA-8 | AR-2 | AR-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-6 |
| Evt13 |  | AA-1 | AA-8 |  | AA-8 | AA-8 | AR-3 | AA-8 | AA-8 | AR-10 | AR-3 | AA-8 | AA-6 |
| Evt14 |  |  |  |  |  |  |  | AR-4 | AR-9 |  |  | AR-4 |  |
| Evt15 |  |  | AA-1 | AA-2 | AA-1 | AA-1 | AA-1 | AA-1 | AA-1 | AA-1 | AA-1 | AA-1 |  |
| Evt16 |  | AA-2 | AA-3 |  | AA-3 | AA-3 | AA-3 | AA-3 | AA-3 | AA-3 | AA-3 | AA-3 | AA-2 |
| Evt17 |  | AA-5 | AA-4 | AA-4 | AA-4 | AA-4 | AA-4 | AA-4 | AA-4 | AA-4 | AA-4 | AA-4 | AR-5 |
| Evt18 |  | AA-2 |  |  |  |  |  |  |  |  |  |  | AA-2 |
| Evt19 |  | AA-1 | AA-8 |  | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-8 | AA-7 |
"""


def _parse_grid(text: str) -> dict[tuple[int, int], str]:
    """(state number, event number) -> action text such as "AA-8", for non-blank cells."""
    grid: dict[tuple[int, int], str] = {}
    lines = [line for line in text.strip().splitlines()]
    assert len(lines) == 19
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 14, line
        event = int(cells[0].removeprefix("Evt"))
        for state, cell in enumerate(cells[1:], start=1):
            if cell:
                grid[(state, event)] = cell
    return grid


GRID = _parse_grid(TABLE_9_10_MARKDOWN)

# Next state of each action (PS3.8 Tables 9-6 to 9-9, as in the reference), None where it varies.
EXPECTED_NEXT: dict[str, int | None] = {
    "AE-1": 4, "AE-2": 5, "AE-3": 6, "AE-4": 1, "AE-5": 2, "AE-6": None, "AE-7": 6, "AE-8": 13,
    "DT-1": 6, "DT-2": 6,
    "AR-1": 7, "AR-2": 8, "AR-3": 1, "AR-4": 13, "AR-5": 1, "AR-6": 7, "AR-7": 8, "AR-8": None,
    "AR-9": 11, "AR-10": 12,
    "AA-1": 13, "AA-2": 1, "AA-3": 1, "AA-4": 1, "AA-5": 1, "AA-6": 13, "AA-7": 13, "AA-8": 13,
}  # fmt: skip

# --- sample PDUs ------------------------------------------------------------------------------

VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
RQ = AssociateRQ(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(PresentationContextRQ(1, VERIFICATION, (IMPLICIT_LE,)),),
    user_information=UserInformation(max_length=16384, implementation_class_uid="1.2.3.4"),
)
AC = AssociateAC(
    called_ae_title="ANY-SCP",
    calling_ae_title="ECHOSCU",
    presentation_contexts=(PresentationContextAC(1, 0, IMPLICIT_LE),),
    user_information=UserInformation(max_length=16384, implementation_class_uid="1.2.3.5"),
)
RJ = AssociateRJ(result=1, source=1, reason=7)
PDATA = PDataTF((PDV(context_id=1, is_command=True, is_last=True, data=b"\x01\x02"),))
PDATA_2 = PDataTF((PDV(context_id=1, is_command=False, is_last=False, data=b"\x03"),))
RELEASE_RQ = ReleaseRQ()
RELEASE_RP = ReleaseRP()
USER_ABORT = Abort(source=0, reason=0)
PROVIDER_ABORT = Abort(source=2, reason=6)
ALL_PDUS: tuple[PDU, ...] = (
    RQ, AC, RJ, PDATA, RELEASE_RQ, RELEASE_RP, USER_ABORT, PROVIDER_ABORT
)  # fmt: skip

# The PDU a caller passes with each event in the normal case (None: no PDU).
PDU_FOR_EVENT: dict[Event, PDU | None] = {
    Event.EVT1: RQ,
    Event.EVT2: None,
    Event.EVT3: AC,
    Event.EVT4: RJ,
    Event.EVT5: None,
    Event.EVT6: RQ,
    Event.EVT7: AC,
    Event.EVT8: RJ,
    Event.EVT9: PDATA,
    Event.EVT10: PDATA,
    Event.EVT11: None,
    Event.EVT12: RELEASE_RQ,
    Event.EVT13: RELEASE_RP,
    Event.EVT14: None,
    Event.EVT15: None,
    Event.EVT16: USER_ABORT,
    Event.EVT17: None,
    Event.EVT18: None,
    Event.EVT19: None,
}

# --- driving a machine into a state -----------------------------------------------------------

_REQUESTOR_TO_STA6 = (Event.EVT1, Event.EVT2, Event.EVT3)
_ACCEPTOR_TO_STA6 = (Event.EVT5, Event.EVT6, Event.EVT7)
# (state, requestor) -> events from Sta1 that reach it.
PATHS: dict[tuple[State, bool], tuple[Event, ...]] = {
    (State.STA1, True): (),
    (State.STA1, False): (),
    (State.STA2, False): (Event.EVT5,),
    (State.STA3, False): (Event.EVT5, Event.EVT6),
    (State.STA4, True): (Event.EVT1,),
    (State.STA5, True): (Event.EVT1, Event.EVT2),
    (State.STA6, True): _REQUESTOR_TO_STA6,
    (State.STA6, False): _ACCEPTOR_TO_STA6,
    (State.STA7, True): (*_REQUESTOR_TO_STA6, Event.EVT11),
    (State.STA7, False): (*_ACCEPTOR_TO_STA6, Event.EVT11),
    (State.STA8, True): (*_REQUESTOR_TO_STA6, Event.EVT12),
    (State.STA8, False): (*_ACCEPTOR_TO_STA6, Event.EVT12),
    (State.STA9, True): (*_REQUESTOR_TO_STA6, Event.EVT11, Event.EVT12),
    (State.STA10, False): (*_ACCEPTOR_TO_STA6, Event.EVT11, Event.EVT12),
    (State.STA11, True): (*_REQUESTOR_TO_STA6, Event.EVT11, Event.EVT12, Event.EVT14),
    (State.STA12, False): (*_ACCEPTOR_TO_STA6, Event.EVT11, Event.EVT12, Event.EVT13),
    (State.STA13, True): (*_REQUESTOR_TO_STA6, Event.EVT15),
    (State.STA13, False): (Event.EVT5, Event.EVT6, Event.EVT8),
}


def machine_in(state: State, requestor: bool) -> StateMachine:
    """A fresh machine driven by ordinary events into ``state``."""
    machine = StateMachine(requestor=requestor)
    for event in PATHS[(state, requestor)]:
        machine.handle(event, PDU_FOR_EVENT[event])
    assert machine.state is state
    return machine


# --- expected effects of each action, from the reference's wording ---------------------------


def _provider_abort(event: Event) -> Abort:
    return Abort(source=2, reason=1 if event is Event.EVT19 else 2)


EXPECTED_EFFECTS: dict[str, Callable[[Event, PDU | None], list[Effect]]] = {
    "AE-1": lambda e, p: [ConnectTransport()],
    "AE-2": lambda e, p: [SendPDU(RQ)],
    "AE-3": lambda e, p: [Indicate(Indication.ASSOCIATE_ACCEPT_CONF, p)],
    "AE-4": lambda e, p: [Indicate(Indication.ASSOCIATE_REJECT_CONF, p), CloseTransport()],
    "AE-5": lambda e, p: [StartARTIM()],
    "AE-6": lambda e, p: [StopARTIM(), Indicate(Indication.ASSOCIATE_IND, p)],
    "AE-7": lambda e, p: [SendPDU(AC)],
    "AE-8": lambda e, p: [SendPDU(RJ), StartARTIM()],
    "DT-1": lambda e, p: [SendPDU(PDATA)],
    "DT-2": lambda e, p: [Indicate(Indication.P_DATA_IND, p)],
    "AR-1": lambda e, p: [SendPDU(ReleaseRQ())],
    "AR-2": lambda e, p: [Indicate(Indication.RELEASE_IND, p)],
    "AR-3": lambda e, p: [Indicate(Indication.RELEASE_CONF, p), CloseTransport()],
    "AR-4": lambda e, p: [SendPDU(ReleaseRP()), StartARTIM()],
    "AR-5": lambda e, p: [StopARTIM()],
    "AR-6": lambda e, p: [Indicate(Indication.P_DATA_IND, p)],
    "AR-7": lambda e, p: [SendPDU(PDATA)],
    "AR-8": lambda e, p: [Indicate(Indication.RELEASE_IND, p)],
    "AR-9": lambda e, p: [SendPDU(ReleaseRP())],
    "AR-10": lambda e, p: [Indicate(Indication.RELEASE_CONF, p)],
    "AA-1": lambda e, p: [SendPDU(Abort(source=0, reason=0)), StartARTIM()],
    "AA-2": lambda e, p: [StopARTIM(), CloseTransport()],
    "AA-3": lambda e, p: [Indicate(Indication.ABORT_IND, p), CloseTransport()],  # p: source 0
    "AA-4": lambda e, p: [Indicate(Indication.P_ABORT_IND, None)],
    "AA-5": lambda e, p: [StopARTIM()],
    "AA-6": lambda e, p: [],
    "AA-7": lambda e, p: [SendPDU(_provider_abort(e))],
    "AA-8": lambda e, p: [
        SendPDU(_provider_abort(e)),
        Indicate(Indication.P_ABORT_IND, _provider_abort(e)),
        StartARTIM(),
    ],
}

# --- the table as a whole ---------------------------------------------------------------------


def test_grid_literal_has_123_cells() -> None:
    assert len(GRID) == 123
    assert 13 * 19 - len(GRID) == 124


def test_transitions_equal_the_reference_grid() -> None:
    actual = {
        (int(state), int(event)): action.value for (state, event), action in TRANSITIONS.items()
    }
    assert actual == GRID


def test_next_state_table() -> None:
    expected = {name: State(number) for name, number in EXPECTED_NEXT.items() if number is not None}
    assert {action.value: state for action, state in NEXT_STATE.items()} == expected


def test_enums_have_the_required_members() -> None:
    assert [(s.name, s.value) for s in State] == [(f"STA{i}", i) for i in range(1, 14)]
    assert [(e.name, e.value) for e in Event] == [(f"EVT{i}", i) for i in range(1, 20)]
    assert [a.name for a in Action] == (
        [f"AE_{i}" for i in range(1, 9)]
        + ["DT_1", "DT_2"]
        + [f"AR_{i}" for i in range(1, 11)]
        + [f"AA_{i}" for i in range(1, 9)]
    )
    assert set(EXPECTED_NEXT) == {a.value for a in Action}


# --- one test per (state, event, role) cell ---------------------------------------------------

CELLS = [
    pytest.param(state, event, requestor, id=f"Sta{state}-Evt{event}-{role}")
    for state in State
    for event in Event
    for requestor, role in ((True, "requestor"), (False, "acceptor"))
    if (state, requestor) in PATHS
]


@pytest.mark.parametrize(("state", "event", "requestor"), CELLS)
def test_cell(state: State, event: Event, requestor: bool) -> None:
    machine = machine_in(state, requestor)
    pdu = PDU_FOR_EVENT[event]
    expected_action = GRID.get((state.value, event.value))
    if expected_action is None:
        with pytest.raises(LocalProtocolError) as info:
            machine.handle(event, pdu)
        assert f"Sta{state.value} " in str(info.value)
        assert f"Evt{event.value} " in str(info.value)
        assert machine.state is state
        return

    transition, effects = machine.handle(event, pdu)

    next_number = EXPECTED_NEXT[expected_action]
    if expected_action == "AE-6":
        next_number = 3  # acceptable RQ: no reject_reason given
    elif expected_action == "AR-8":
        next_number = 9 if requestor else 10
    assert next_number is not None
    assert transition.from_state is state
    assert transition.event is event
    assert transition.action.value == expected_action
    assert transition.to_state == State(next_number)
    assert machine.state == State(next_number)
    assert effects == EXPECTED_EFFECTS[expected_action](event, pdu)


@pytest.mark.parametrize(("state", "event", "requestor"), CELLS)
def test_data_transfer_is_the_tables_data_cell(state: State, event: Event, requestor: bool) -> None:
    """The hot path of P-DATA agrees with the full cell: a transition exactly where the table
    says DT-1/DT-2/AR-6/AR-7 (the same one handle() takes), None everywhere else."""
    machine = machine_in(state, requestor)
    fast = machine.data_transfer(event)
    expected_action = GRID.get((state.value, event.value))
    if expected_action not in ("DT-1", "DT-2", "AR-6", "AR-7"):
        assert fast is None
        return
    assert fast is not None and machine.state is state  # nothing changed by looking
    transition, _effects = machine_in(state, requestor).handle(event, PDU_FOR_EVENT[event])
    assert fast == transition and fast.to_state is state


def test_cell_count() -> None:
    assert len({(p.values[0], p.values[1]) for p in CELLS}) == 13 * 19


# --- PDU checks -------------------------------------------------------------------------------

WRONG_PDUS = [
    (Event.EVT3, State.STA5, True, RELEASE_RQ),
    (Event.EVT3, State.STA5, True, None),
    (Event.EVT4, State.STA5, True, AC),
    (Event.EVT6, State.STA2, False, AC),
    (Event.EVT6, State.STA2, False, None),
    (Event.EVT10, State.STA6, True, RELEASE_RP),
    (Event.EVT12, State.STA6, True, RELEASE_RP),
    (Event.EVT13, State.STA7, True, RELEASE_RQ),
    (Event.EVT16, State.STA6, True, RELEASE_RQ),
    (Event.EVT16, State.STA6, True, None),
    (Event.EVT1, State.STA1, True, None),
    (Event.EVT1, State.STA1, True, AC),
    (Event.EVT2, State.STA4, True, AC),
    (Event.EVT5, State.STA1, False, RQ),
    (Event.EVT7, State.STA3, False, RJ),
    (Event.EVT7, State.STA3, False, None),
    (Event.EVT8, State.STA3, False, AC),
    (Event.EVT9, State.STA6, True, None),
    (Event.EVT9, State.STA8, True, RELEASE_RQ),
    (Event.EVT11, State.STA6, True, USER_ABORT),
    (Event.EVT14, State.STA8, True, RELEASE_RQ),
    (Event.EVT15, State.STA6, True, RELEASE_RQ),
    (Event.EVT17, State.STA6, True, USER_ABORT),
    (Event.EVT18, State.STA13, True, USER_ABORT),
]


@pytest.mark.parametrize(("event", "state", "requestor", "pdu"), WRONG_PDUS)
def test_wrong_pdu_for_event_is_local_error(
    event: Event, state: State, requestor: bool, pdu: PDU | None
) -> None:
    machine = machine_in(state, requestor)
    with pytest.raises(LocalProtocolError, match=f"Evt{event.value}"):
        machine.handle(event, pdu)
    assert machine.state is state


@pytest.mark.parametrize(
    ("event", "pdu"),
    [(Event.EVT11, RELEASE_RQ), (Event.EVT14, RELEASE_RP), (Event.EVT15, USER_ABORT)],
)
def test_optional_pdu_of_the_right_type_is_accepted(event: Event, pdu: PDU) -> None:
    state = {Event.EVT11: State.STA6, Event.EVT14: State.STA8, Event.EVT15: State.STA6}[event]
    machine = machine_in(state, True)
    without = machine_in(state, True).handle(event)
    assert machine.handle(event, pdu) == without


@pytest.mark.parametrize("pdu", [None, *ALL_PDUS])
def test_evt19_takes_any_pdu_or_none(pdu: PDU | None) -> None:
    machine = machine_in(State.STA6, True)
    transition, effects = machine.handle(Event.EVT19, pdu)
    assert transition.action is Action.AA_8
    assert effects[0] == SendPDU(Abort(source=2, reason=1))


def test_blank_cell_is_checked_before_the_pdu() -> None:
    machine = StateMachine(requestor=True)
    with pytest.raises(LocalProtocolError, match=r"Evt3 .* Sta1 "):
        machine.handle(Event.EVT3, RELEASE_RQ)
    assert machine.state is State.STA1


def test_initial_state_and_role() -> None:
    assert StateMachine(requestor=True).state is State.STA1
    assert StateMachine(requestor=True).is_requestor is True
    assert StateMachine(requestor=False).is_requestor is False
