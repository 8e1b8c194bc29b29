"""The DICOM Upper Layer state machine (PS3.8 9.2, Table 9-10) as data, without I/O.

:data:`TRANSITIONS` holds the 123 non-blank cells of Table 9-10; every other (state, event) pair
is blank. :class:`StateMachine` looks up the cell for an event, works out the next state and
returns the effects of the action (PDUs to send, timer and transport requests, indications to
the user) in the order they must be carried out. The caller does the I/O.

Conventions (where the standard leaves a choice):

- Evt1 carries the A-ASSOCIATE-RQ. The machine keeps it and AE-2 sends it at Evt2, so Evt2
  needs no PDU; an AssociateRQ given at Evt2 replaces the kept one.
- :class:`StartARTIM` means "start, or restart if running".
- AA-1 sends ``Abort(source=0)`` (service user, as the standard says, also when a PDU in Sta2
  triggers it). AA-7 and AA-8 send ``Abort(source=2)`` with reason 1 (unrecognised PDU) for
  Evt19 and 2 (unexpected PDU) otherwise. A caller-given ``abort`` replaces any of these.
- The indication of AA-8 carries the A-ABORT we sent; that of AA-4 carries no PDU.
- A blank cell, or a PDU of the wrong type for its event, raises :class:`LocalProtocolError`
  and leaves the state unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import Final

from dicomnet._record import record
from dicomnet.ul.errors import (
    ABORT_REASON_UNEXPECTED_PDU,
    ABORT_REASON_UNRECOGNIZED_PDU,
    ABORT_SOURCE_PROVIDER,
    ABORT_SOURCE_USER,
    LocalProtocolError,
)
from dicomnet.ul.pdu import (
    PDU,
    Abort,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
)

__all__ = [
    "NEXT_STATE",
    "TRANSITIONS",
    "Action",
    "CloseTransport",
    "ConnectTransport",
    "Effect",
    "Event",
    "Indicate",
    "Indication",
    "SendPDU",
    "StartARTIM",
    "State",
    "StateMachine",
    "StopARTIM",
    "Transition",
    "event_for_pdu",
]


class State(IntEnum):
    """States of PS3.8 Tables 9-1 to 9-5."""

    STA1 = 1  # Idle: no association, no transport connection
    STA2 = 2  # Transport open (acceptor); waiting for A-ASSOCIATE-RQ; ARTIM running
    STA3 = 3  # A-ASSOCIATE-RQ indicated; waiting for the local user's response
    STA4 = 4  # Requestor: transport connect issued; waiting for it to complete
    STA5 = 5  # Requestor: A-ASSOCIATE-RQ sent; waiting for A-ASSOCIATE-AC or -RJ
    STA6 = 6  # Association established; data transfer
    STA7 = 7  # A-RELEASE-RQ sent; waiting for A-RELEASE-RP
    STA8 = 8  # A-RELEASE-RQ received; waiting for the local user's A-RELEASE response
    STA9 = 9  # Release collision, requestor: waiting for the local user's A-RELEASE response
    STA10 = 10  # Release collision, acceptor: waiting for A-RELEASE-RP
    STA11 = 11  # Release collision, requestor: waiting for A-RELEASE-RP
    STA12 = 12  # Release collision, acceptor: waiting for the local user's A-RELEASE response
    STA13 = 13  # Waiting for the transport connection to close; ARTIM normally running


class Event(IntEnum):
    """Events of Table 9-10 (the rows)."""

    EVT1 = 1  # A-ASSOCIATE request primitive from the local user
    EVT2 = 2  # Transport connect confirmation: our outgoing TCP connect completed
    EVT3 = 3  # A-ASSOCIATE-AC PDU received
    EVT4 = 4  # A-ASSOCIATE-RJ PDU received
    EVT5 = 5  # Transport connection indication: an incoming TCP connection was accepted
    EVT6 = 6  # A-ASSOCIATE-RQ PDU received
    EVT7 = 7  # A-ASSOCIATE response primitive (accept) from the local user
    EVT8 = 8  # A-ASSOCIATE response primitive (reject) from the local user
    EVT9 = 9  # P-DATA request primitive from the local user
    EVT10 = 10  # P-DATA-TF PDU received
    EVT11 = 11  # A-RELEASE request primitive from the local user
    EVT12 = 12  # A-RELEASE-RQ PDU received
    EVT13 = 13  # A-RELEASE-RP PDU received
    EVT14 = 14  # A-RELEASE response primitive from the local user
    EVT15 = 15  # A-ABORT request primitive from the local user
    EVT16 = 16  # A-ABORT PDU received
    EVT17 = 17  # Transport connection closed indication (peer closed it, or it failed)
    EVT18 = 18  # ARTIM timer expired
    EVT19 = 19  # Unrecognised or invalid PDU received


class Action(Enum):
    """Actions of PS3.8 Tables 9-6 to 9-9."""

    AE_1 = "AE-1"  # Transport connect request -> Sta4
    AE_2 = "AE-2"  # Send A-ASSOCIATE-RQ -> Sta5
    AE_3 = "AE-3"  # A-ASSOCIATE confirmation (accept) -> Sta6
    AE_4 = "AE-4"  # A-ASSOCIATE confirmation (reject), close transport -> Sta1
    AE_5 = "AE-5"  # Accept transport connection, start ARTIM -> Sta2
    AE_6 = "AE-6"  # Stop ARTIM; A-ASSOCIATE indication -> Sta3, or send RJ + ARTIM -> Sta13
    AE_7 = "AE-7"  # Send A-ASSOCIATE-AC -> Sta6
    AE_8 = "AE-8"  # Send A-ASSOCIATE-RJ, start ARTIM -> Sta13
    DT_1 = "DT-1"  # Send P-DATA-TF -> Sta6
    DT_2 = "DT-2"  # P-DATA indication -> Sta6
    AR_1 = "AR-1"  # Send A-RELEASE-RQ -> Sta7
    AR_2 = "AR-2"  # A-RELEASE indication -> Sta8
    AR_3 = "AR-3"  # A-RELEASE confirmation, close transport -> Sta1
    AR_4 = "AR-4"  # Send A-RELEASE-RP, start ARTIM -> Sta13
    AR_5 = "AR-5"  # Stop ARTIM -> Sta1
    AR_6 = "AR-6"  # P-DATA indication -> Sta7
    AR_7 = "AR-7"  # Send P-DATA-TF -> Sta8
    AR_8 = "AR-8"  # A-RELEASE indication (collision) -> Sta9 requestor / Sta10 acceptor
    AR_9 = "AR-9"  # Send A-RELEASE-RP -> Sta11
    AR_10 = "AR-10"  # A-RELEASE confirmation -> Sta12
    AA_1 = "AA-1"  # Send A-ABORT (service user), (re)start ARTIM -> Sta13
    AA_2 = "AA-2"  # Stop ARTIM, close transport -> Sta1
    AA_3 = "AA-3"  # A-ABORT or A-P-ABORT indication, close transport -> Sta1
    AA_4 = "AA-4"  # A-P-ABORT indication -> Sta1
    AA_5 = "AA-5"  # Stop ARTIM -> Sta1
    AA_6 = "AA-6"  # Ignore PDU -> Sta13
    AA_7 = "AA-7"  # Send A-ABORT (service provider) -> Sta13
    AA_8 = "AA-8"  # Send A-ABORT (service provider), A-P-ABORT indication, start ARTIM -> Sta13


# --- Table 9-10 -------------------------------------------------------------------------------


def _table_9_10() -> dict[tuple[State, Event], Action]:
    """Table 9-10 as printed: one row per event, one column per state; __ is blank."""
    __ = None
    AE1, AE2, AE3, AE4, AE5, AE6, AE7, AE8 = (Action[f"AE_{i}"] for i in range(1, 9))
    DT1, DT2 = Action.DT_1, Action.DT_2
    AR1, AR2, AR3, AR4, AR5, AR6, AR7, AR8, AR9, AR10 = (Action[f"AR_{i}"] for i in range(1, 11))
    AA1, AA2, AA3, AA4, AA5, AA6, AA7, AA8 = (Action[f"AA_{i}"] for i in range(1, 9))
    # fmt: off
    rows: dict[Event, tuple[Action | None, ...]] = {
        #             Sta1  Sta2  Sta3  Sta4  Sta5  Sta6  Sta7  Sta8  Sta9  Sta10 Sta11 Sta12 Sta13
        Event.EVT1:   (AE1,  __,   __,   __,   __,   __,   __,   __,   __,   __,   __,   __,   __),
        Event.EVT2:   (__,   __,   __,   AE2,  __,   __,   __,   __,   __,   __,   __,   __,   __),
        Event.EVT3:   (__,   AA1,  AA8,  __,   AE3,  AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA6),
        Event.EVT4:   (__,   AA1,  AA8,  __,   AE4,  AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA6),
        Event.EVT5:   (AE5,  __,   __,   __,   __,   __,   __,   __,   __,   __,   __,   __,   __),
        Event.EVT6:   (__,   AE6,  AA8,  __,   AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA7),
        Event.EVT7:   (__,   __,   AE7,  __,   __,   __,   __,   __,   __,   __,   __,   __,   __),
        Event.EVT8:   (__,   __,   AE8,  __,   __,   __,   __,   __,   __,   __,   __,   __,   __),
        Event.EVT9:   (__,   __,   __,   __,   __,   DT1,  __,   AR7,  __,   __,   __,   __,   __),
        Event.EVT10:  (__,   AA1,  AA8,  __,   AA8,  DT2,  AR6,  AA8,  AA8,  AA8,  AA8,  AA8,  AA6),
        Event.EVT11:  (__,   __,   __,   __,   __,   AR1,  __,   __,   __,   __,   __,   __,   __),
        Event.EVT12:  (__,   AA1,  AA8,  __,   AA8,  AR2,  AR8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA6),
        Event.EVT13:  (__,   AA1,  AA8,  __,   AA8,  AA8,  AR3,  AA8,  AA8,  AR10, AR3,  AA8,  AA6),
        Event.EVT14:  (__,   __,   __,   __,   __,   __,   __,   AR4,  AR9,  __,   __,   AR4,  __),
        Event.EVT15:  (__,   __,   AA1,  AA2,  AA1,  AA1,  AA1,  AA1,  AA1,  AA1,  AA1,  AA1,  __),
        Event.EVT16:  (__,   AA2,  AA3,  __,   AA3,  AA3,  AA3,  AA3,  AA3,  AA3,  AA3,  AA3,  AA2),
        Event.EVT17:  (__,   AA5,  AA4,  AA4,  AA4,  AA4,  AA4,  AA4,  AA4,  AA4,  AA4,  AA4,  AR5),
        Event.EVT18:  (__,   AA2,  __,   __,   __,   __,   __,   __,   __,   __,   __,   __,   AA2),
        Event.EVT19:  (__,   AA1,  AA8,  __,   AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA8,  AA7),
    }
    # fmt: on
    return {
        (State(column + 1), event): action
        for event, row in rows.items()
        for column, action in enumerate(row)
        if action is not None
    }


TRANSITIONS: Final[Mapping[tuple[State, Event], Action]] = MappingProxyType(_table_9_10())
"""The non-blank cells of Table 9-10: (state, event) -> action."""

NEXT_STATE: Final[Mapping[Action, State]] = MappingProxyType(
    {
        Action.AE_1: State.STA4,
        Action.AE_2: State.STA5,
        Action.AE_3: State.STA6,
        Action.AE_4: State.STA1,
        Action.AE_5: State.STA2,
        Action.AE_7: State.STA6,
        Action.AE_8: State.STA13,
        Action.DT_1: State.STA6,
        Action.DT_2: State.STA6,
        Action.AR_1: State.STA7,
        Action.AR_2: State.STA8,
        Action.AR_3: State.STA1,
        Action.AR_4: State.STA13,
        Action.AR_5: State.STA1,
        Action.AR_6: State.STA7,
        Action.AR_7: State.STA8,
        Action.AR_9: State.STA11,
        Action.AR_10: State.STA12,
        Action.AA_1: State.STA13,
        Action.AA_2: State.STA1,
        Action.AA_3: State.STA1,
        Action.AA_4: State.STA1,
        Action.AA_5: State.STA1,
        Action.AA_6: State.STA13,
        Action.AA_7: State.STA13,
        Action.AA_8: State.STA13,
    }
)
"""Next state of every action except AE-6 (Sta3 or Sta13) and AR-8 (Sta9 or Sta10)."""


# --- Effects ----------------------------------------------------------------------------------


class Indication(Enum):
    """Primitives passed up to the local user."""

    ASSOCIATE_IND = "A-ASSOCIATE indication"
    ASSOCIATE_ACCEPT_CONF = "A-ASSOCIATE confirmation (accept)"
    ASSOCIATE_REJECT_CONF = "A-ASSOCIATE confirmation (reject)"
    P_DATA_IND = "P-DATA indication"
    RELEASE_IND = "A-RELEASE indication"
    RELEASE_CONF = "A-RELEASE confirmation"
    ABORT_IND = "A-ABORT indication"  # the peer user aborted
    P_ABORT_IND = "A-P-ABORT indication"  # provider abort, or the connection was lost


@record(frozen=True, slots=True)
class SendPDU:
    """Encode this PDU and write it to the transport."""

    pdu: PDU


@record(frozen=True, slots=True)
class StartARTIM:
    """Start the ARTIM timer, or restart it if it is running."""


@record(frozen=True, slots=True)
class StopARTIM:
    """Stop the ARTIM timer if it is running."""


@record(frozen=True, slots=True)
class CloseTransport:
    """Close the transport connection."""


@record(frozen=True, slots=True)
class ConnectTransport:
    """Open the outgoing transport connection; its completion is Evt2, its failure Evt17."""


@record(frozen=True, slots=True)
class Indicate:
    """Pass a primitive up to the local user, with the PDU it carries (if any)."""

    kind: Indication
    pdu: PDU | None


Effect = SendPDU | StartARTIM | StopARTIM | CloseTransport | ConnectTransport | Indicate


@record(frozen=True, slots=True)
class Transition:
    """One step taken by the state machine."""

    from_state: State
    event: Event
    action: Action
    to_state: State


#: The cells that carry a P-DATA-TF without changing state: DT-1/AR-7 (send, Evt9) and
#: DT-2/AR-6 (receive, Evt10). Every data PDU goes through one of them
#: (:meth:`StateMachine.data_transfer`), looked up in the table without building effects.
_DATA_CELLS: Final[Mapping[tuple[State, Event], Transition]] = MappingProxyType(
    {
        (state, event): Transition(state, event, action, NEXT_STATE[action])
        for (state, event), action in TRANSITIONS.items()
        if action in (Action.DT_1, Action.DT_2, Action.AR_6, Action.AR_7)
    }
)
assert all(t.from_state is t.to_state for t in _DATA_CELLS.values())


# --- PDUs expected with each event ------------------------------------------------------------

_RECEIVED: Final[Mapping[Event, type]] = MappingProxyType(
    {
        Event.EVT3: AssociateAC,
        Event.EVT4: AssociateRJ,
        Event.EVT6: AssociateRQ,
        Event.EVT10: PDataTF,
        Event.EVT12: ReleaseRQ,
        Event.EVT13: ReleaseRP,
        Event.EVT16: Abort,
    }
)
_REQUIRED_LOCAL: Final[Mapping[Event, type]] = MappingProxyType(
    {
        Event.EVT1: AssociateRQ,
        Event.EVT7: AssociateAC,
        Event.EVT8: AssociateRJ,
        Event.EVT9: PDataTF,
    }
)
_OPTIONAL_LOCAL: Final[Mapping[Event, type]] = MappingProxyType(
    {
        Event.EVT2: AssociateRQ,
        Event.EVT11: ReleaseRQ,
        Event.EVT14: ReleaseRP,
        Event.EVT15: Abort,
    }
)
_NO_PDU: Final[frozenset[Event]] = frozenset({Event.EVT5, Event.EVT17, Event.EVT18})


def event_for_pdu(pdu: PDU) -> Event:
    """The event for receiving ``pdu`` from the peer (Evt3, 4, 6, 10, 12, 13 or 16)."""
    for event, pdu_type in _RECEIVED.items():
        if isinstance(pdu, pdu_type):
            return event
    raise TypeError(f"not a PDU: {pdu!r}")


def _check_pdu(event: Event, pdu: PDU | None) -> None:
    """Raise LocalProtocolError unless ``pdu`` fits ``event``."""
    got = "no PDU" if pdu is None else type(pdu).__name__
    if event in _RECEIVED or event in _REQUIRED_LOCAL:
        expected = _RECEIVED.get(event) or _REQUIRED_LOCAL[event]
        if not isinstance(pdu, expected):
            raise LocalProtocolError(f"Evt{event.value} needs an {expected.__name__}, got {got}")
    elif event in _OPTIONAL_LOCAL:
        expected = _OPTIONAL_LOCAL[event]
        if pdu is not None and not isinstance(pdu, expected):
            raise LocalProtocolError(
                f"Evt{event.value} takes no PDU or an {expected.__name__}, got {got}"
            )
    elif event in _NO_PDU and pdu is not None:
        raise LocalProtocolError(f"Evt{event.value} takes no PDU, got {got}")
    # Evt19 (invalid PDU): anything or nothing.


# --- The machine ------------------------------------------------------------------------------


class StateMachine:
    """One Upper Layer state machine per transport connection; starts in Sta1.

    ``requestor`` says whether this side sent (or will send) the A-ASSOCIATE-RQ; it decides the
    next state of AR-8 (release collision) and nothing else.
    """

    def __init__(self, requestor: bool) -> None:
        self._requestor = requestor
        self._state = State.STA1
        self._associate_rq: AssociateRQ | None = None

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def is_requestor(self) -> bool:
        """True on the association requestor's side."""
        return self._requestor

    def handle(
        self,
        event: Event,
        pdu: PDU | None = None,
        *,
        reject_reason: AssociateRJ | None = None,
        abort: Abort | None = None,
    ) -> tuple[Transition, list[Effect]]:
        """Run the cell of Table 9-10 for ``event`` in the current state.

        ``pdu`` is the received PDU for a PDU event, or the PDU to send for a local request.
        ``reject_reason`` (used by AE-6 only) is the A-ASSOCIATE-RJ to send when the provider
        itself refuses the A-ASSOCIATE-RQ. ``abort`` (used by AA-1, AA-7 and AA-8 only) is the
        A-ABORT to send instead of the default. Unused keywords are ignored, so a caller may pass
        them without knowing which cell will run.

        Returns the transition and the effects to carry out, in order. Raises
        :class:`LocalProtocolError`, with the state unchanged, for a blank cell or a PDU that
        does not fit the event.
        """
        event = Event(event)
        state = self._state
        action = TRANSITIONS.get((state, event))
        if action is None:
            raise LocalProtocolError(
                f"Evt{event.value} ({event.name}) is not allowed in Sta{state.value} ({state.name})"
            )
        _check_pdu(event, pdu)
        if event is Event.EVT15 and pdu is not None and abort is not None and pdu != abort:
            raise LocalProtocolError("Evt15 given two different A-ABORT PDUs")
        if reject_reason is not None and not isinstance(reject_reason, AssociateRJ):
            raise LocalProtocolError(f"reject_reason must be an AssociateRJ, got {reject_reason!r}")
        if abort is not None and not isinstance(abort, Abort):
            raise LocalProtocolError(f"abort must be an Abort, got {abort!r}")
        if event is Event.EVT15 and isinstance(pdu, Abort):
            abort = pdu

        effects, to_state = self._run(action, event, pdu, reject_reason, abort)
        self._state = to_state
        if to_state is State.STA1:
            self._associate_rq = None
        return Transition(state, event, action, to_state), effects

    def data_transfer(self, event: Event) -> Transition | None:
        """The hot path of every P-DATA-TF: for Evt9 (send) or Evt10 (receive), the transition
        if the current cell is DT-1/AR-7 or DT-2/AR-6 (the PDU may be sent, or is indicated to
        the user; the state stays), else None — then :meth:`handle` runs the cell (an abort,
        or a LocalProtocolError for sending where the table has no cell)."""
        return _DATA_CELLS.get((self._state, event))

    def _run(
        self,
        action: Action,
        event: Event,
        pdu: PDU | None,
        reject_reason: AssociateRJ | None,
        abort: Abort | None,
    ) -> tuple[list[Effect], State]:
        """The effects and next state of ``action``; ``pdu`` already fits ``event``."""
        effects: list[Effect]
        match action:
            case Action.AE_1:
                assert isinstance(pdu, AssociateRQ)
                self._associate_rq = pdu
                effects = [ConnectTransport()]
            case Action.AE_2:
                if isinstance(pdu, AssociateRQ):
                    self._associate_rq = pdu
                if self._associate_rq is None:  # pragma: no cover - Evt1 always stores one
                    raise LocalProtocolError("AE-2: no A-ASSOCIATE-RQ to send")
                effects = [SendPDU(self._associate_rq)]
                self._associate_rq = None
            case Action.AE_3:
                effects = [Indicate(Indication.ASSOCIATE_ACCEPT_CONF, pdu)]
            case Action.AE_4:
                effects = [Indicate(Indication.ASSOCIATE_REJECT_CONF, pdu), CloseTransport()]
            case Action.AE_5:
                effects = [StartARTIM()]
            case Action.AE_6:
                if reject_reason is not None:
                    return [StopARTIM(), SendPDU(reject_reason), StartARTIM()], State.STA13
                return [StopARTIM(), Indicate(Indication.ASSOCIATE_IND, pdu)], State.STA3
            case Action.AE_7 | Action.DT_1 | Action.AR_7:
                assert pdu is not None
                effects = [SendPDU(pdu)]
            case Action.AE_8:
                assert pdu is not None
                effects = [SendPDU(pdu), StartARTIM()]
            case Action.DT_2 | Action.AR_6:
                effects = [Indicate(Indication.P_DATA_IND, pdu)]
            case Action.AR_1:
                effects = [SendPDU(ReleaseRQ())]
            case Action.AR_2:
                effects = [Indicate(Indication.RELEASE_IND, pdu)]
            case Action.AR_3:
                effects = [Indicate(Indication.RELEASE_CONF, pdu), CloseTransport()]
            case Action.AR_4:
                effects = [SendPDU(ReleaseRP()), StartARTIM()]
            case Action.AR_5 | Action.AA_5:
                effects = [StopARTIM()]
            case Action.AR_8:
                to_state = State.STA9 if self._requestor else State.STA10
                return [Indicate(Indication.RELEASE_IND, pdu)], to_state
            case Action.AR_9:
                effects = [SendPDU(ReleaseRP())]
            case Action.AR_10:
                effects = [Indicate(Indication.RELEASE_CONF, pdu)]
            case Action.AA_1:
                sent = abort if abort is not None else Abort(source=ABORT_SOURCE_USER)
                effects = [SendPDU(sent), StartARTIM()]
            case Action.AA_2:
                effects = [StopARTIM(), CloseTransport()]
            case Action.AA_3:
                assert isinstance(pdu, Abort)
                kind = (
                    Indication.ABORT_IND
                    if pdu.source == ABORT_SOURCE_USER
                    else Indication.P_ABORT_IND
                )
                effects = [Indicate(kind, pdu), CloseTransport()]
            case Action.AA_4:
                effects = [Indicate(Indication.P_ABORT_IND, None)]
            case Action.AA_6:
                effects = []
            case Action.AA_7:
                effects = [SendPDU(abort if abort is not None else _provider_abort(event))]
            case Action.AA_8:
                sent = abort if abort is not None else _provider_abort(event)
                effects = [SendPDU(sent), Indicate(Indication.P_ABORT_IND, sent), StartARTIM()]
            case _:  # pragma: no cover - every action is handled above
                raise AssertionError(action)
        return effects, NEXT_STATE[action]


def _provider_abort(event: Event) -> Abort:
    """The A-ABORT AA-7/AA-8 send by default: unrecognised PDU for Evt19, else unexpected."""
    reason = ABORT_REASON_UNRECOGNIZED_PDU if event is Event.EVT19 else ABORT_REASON_UNEXPECTED_PDU
    return Abort(source=ABORT_SOURCE_PROVIDER, reason=reason)
