"""Hypothesis: any sequence of events either transitions by Table 9-10 or raises our error.

Besides the table, each run checks a model of the outside world built only from the effects:
ARTIM runs exactly in Sta2 and Sta13, the transport is closed exactly in Sta1 and connecting
exactly in Sta4, and PDUs are only sent on an open transport.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.ul.errors import LocalProtocolError
from dicomnet.ul.fsm import (
    CloseTransport,
    ConnectTransport,
    Event,
    SendPDU,
    StartARTIM,
    State,
    StateMachine,
    StopARTIM,
)
from dicomnet.ul.pdu import PDU, Abort, AssociateRJ
from tests.ul.test_fsm import ALL_PDUS, GRID, PATHS, PDU_FOR_EVENT, PROVIDER_ABORT

_events = st.sampled_from(list(Event))
_suitable_or_any: st.SearchStrategy[PDU | None] = st.one_of(st.none(), st.sampled_from(ALL_PDUS))
_abort_sources = st.sampled_from([0, 1, 2])


class World:
    """What the caller's I/O layer would look like after carrying out the effects."""

    def __init__(self) -> None:
        self.artim = False
        self.transport = "closed"  # closed | connecting | open

    def before(self, event: Event) -> None:
        if event in (Event.EVT2, Event.EVT5):
            self.transport = "open"
        elif event is Event.EVT17:
            self.transport = "closed"

    def apply(self, effect: object) -> None:
        if isinstance(effect, StartARTIM):
            self.artim = True
        elif isinstance(effect, StopARTIM):
            self.artim = False
        elif isinstance(effect, ConnectTransport):
            assert self.transport == "closed"
            self.transport = "connecting"
        elif isinstance(effect, CloseTransport):
            assert self.transport in ("open", "connecting")  # AA-2 in Sta4 cancels a connect
            self.transport = "closed"
        elif isinstance(effect, SendPDU):
            assert self.transport == "open"

    def check(self, state: State) -> None:
        assert self.artim == (state in (State.STA2, State.STA13))
        expected = {State.STA1: "closed", State.STA4: "connecting"}.get(state, "open")
        assert self.transport == expected


_steps = st.lists(
    st.tuples(
        st.one_of(_events, st.integers(0, 100)),  # an Event, or an index into the valid ones
        st.integers(0, 9),  # 0: any PDU or none; else the suitable PDU for the event
        _suitable_or_any,
        _abort_sources,
        st.sampled_from([None, AssociateRJ(1, 2, 2)]),
        st.sampled_from([None, PROVIDER_ABORT]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(start=st.sampled_from(sorted(PATHS)), steps=_steps)
def test_any_sequence_transitions_or_raises(
    start: tuple[State, bool],
    steps: list[tuple[Event | int, int, PDU | None, int, AssociateRJ | None, Abort | None]],
) -> None:
    machine = StateMachine(requestor=start[1])
    world = World()
    # First the ordinary path to the start state (checked like any other step), then the rest.
    path: list[tuple[Event | int, int, PDU | None, int, AssociateRJ | None, Abort | None]] = [
        (event, 1, None, 0, None, None) for event in PATHS[start]
    ]
    for pick, choice, any_pdu, source, reject, abort in path + steps:
        before = machine.state
        if isinstance(pick, Event):
            event = pick
        else:  # bias towards non-blank cells so that every state is reached
            valid = [e for e in Event if (before.value, e.value) in GRID]
            event = valid[pick % len(valid)]
        pdu: PDU | None = any_pdu
        if choice > 0:
            pdu = Abort(source=source) if event is Event.EVT16 else PDU_FOR_EVENT[event]
        if event is Event.EVT15 and isinstance(pdu, Abort):
            abort = None  # two aborts at once: covered in test_fsm_effects

        try:
            transition, effects = machine.handle(event, pdu, reject_reason=reject, abort=abort)
        except LocalProtocolError:
            assert isinstance(machine.state, State)
            assert machine.state is before
            # Only a blank cell or an unsuitable PDU may raise.
            blank = (before.value, event.value) not in GRID
            assert blank or choice == 0
            continue

        assert isinstance(machine.state, State)
        assert GRID[(before.value, event.value)] == transition.action.value
        assert transition.from_state is before
        assert transition.event is event
        assert transition.to_state is machine.state
        world.before(event)
        for effect in effects:
            world.apply(effect)
        world.check(machine.state)
