"""Calling handlers, reading what they return, and composing them: the one implementation in
:mod:`dicomnet.events` that the services, the acceptor and ``--handler`` use. No sockets: the
handlers get an Event with no association, as they would for the values tested here."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet import events as evt
from dicomnet.events import Event, HandlerFailed, HandlerRegistry, HandlerRun, InvalidYield

Chain = list[tuple[Any, list[str]]]


def registry(event_type: evt.EventType, handler: Any, *args: Any) -> HandlerRegistry:
    return HandlerRegistry([(event_type, handler, list(args))] if args else [(event_type, handler)])


def event(event_type: evt.EventType) -> Event:
    return Event(None, event_type)


def status_ds(status: int, **fields: Any) -> Dataset:
    ds = Dataset()
    ds.Status = status
    for name, value in fields.items():
        setattr(ds, name, value)
    return ds


def drain(handler: Any, event_type: evt.EventType) -> list[Any]:
    """Every item a generator handler yields, through HandlerRun as the services step it."""
    run = HandlerRun(handler, [], event(event_type))
    items: list[Any] = []
    try:
        while True:
            more, item = run.next()
            if not more:
                return items
            items.append(item)
    finally:
        run.close()


# --- calling one handler ---------------------------------------------------------------------


def test_call_intervention_passes_the_event_attributes_and_extra_args() -> None:
    seen: list[Any] = []

    def handler(e: Event, *args: str) -> int:
        seen.append((e.event, e.request, args))
        return 0xB000

    bound = registry(evt.EVT_C_STORE, handler, "a", "b")
    assert evt.call_intervention(bound, None, evt.EVT_C_STORE, request="rq") == (True, 0xB000)
    assert seen == [(evt.EVT_C_STORE, "rq", ("a", "b"))]
    assert evt.call_intervention(HandlerRegistry(), None, evt.EVT_C_STORE) == (False, None)


def test_a_raising_handler_is_logged_once_and_becomes_handler_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom(e: Event) -> int:
        raise KeyError("disk" * 30)

    with caplog.at_level(logging.ERROR, logger="dicomnet"), pytest.raises(HandlerFailed) as info:
        evt.call_intervention(registry(evt.EVT_C_ECHO, boom), None, evt.EVT_C_ECHO)
    assert info.value.comment.startswith("handler raised KeyError: ")
    assert len(info.value.comment) == 64
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0x0000, (0x0000, {})),
        (0xA700, (0xA700, {})),
        (
            status_ds(0xC000, ErrorComment="full", ErrorID=7, OffendingElement=[0x00100010]),
            (0xC000, {"ErrorComment": "full", "ErrorID": 7, "OffendingElement": (0x00100010,)}),
        ),
        (
            status_ds(0xA900, OffendingElement=[0x00100010, 0x00100020]),
            (0xA900, {"OffendingElement": (0x00100010, 0x00100020)}),
        ),
    ],
)
def test_read_status_of_ints_and_datasets(value: Any, expected: Any) -> None:
    assert evt.read_status(value) == expected


@pytest.mark.parametrize("value", [True, -1, 0x10000, "0", None, 3.5, Dataset()])
def test_read_status_refuses_anything_else(value: Any) -> None:
    with pytest.raises(ValueError):
        evt.read_status(value)


def test_read_status_pair_and_user_identity() -> None:
    ds = Dataset()
    assert evt.read_status_pair((0xFF00, ds)) == (0xFF00, {}, ds)
    assert evt.read_user_identity((False, None)) == (False, None)
    assert evt.read_user_identity([1, b"ok"]) == (True, b"ok")
    for bad in (0x0000, (0x0000,), (0x0000, ds, ds), ("x", ds)):
        with pytest.raises(ValueError):
            evt.read_status_pair(bad)
    for refused in (True, None, (True,), "ab", status_ds(0xC000)):
        with pytest.raises(ValueError):
            evt.read_user_identity(refused)


@pytest.mark.parametrize(
    ("event_type", "returned", "expected"),
    [
        (evt.EVT_C_STORE, 0xB000, (True, 0xB000, {})),
        (evt.EVT_C_STORE, "nonsense", (True, 0xC211, {"ErrorComment": "invalid handler status"})),
        (evt.EVT_C_ECHO, None, (True, 0x0110, {})),  # C-ECHO: no comment, as ever
        (evt.EVT_C_STORE, RuntimeError("no disk"), (True, 0xC211, "RuntimeError: no disk")),
        (evt.EVT_C_ECHO, RuntimeError("broke"), (True, 0x0110, "RuntimeError: broke")),
    ],
)
def test_call_for_status_failure_statuses(
    event_type: evt.EventType, returned: Any, expected: Any
) -> None:
    def handler(e: Event) -> Any:
        if isinstance(returned, Exception):
            raise returned
        return returned

    bound, status, extra = evt.call_for_status(registry(event_type, handler), None, event_type, 0)
    if isinstance(expected[2], str):
        assert (bound, status) == expected[:2]
        assert extra["ErrorComment"] == f"handler raised {expected[2]}"
    else:
        assert (bound, status, extra) == expected


def test_call_for_status_unbound_gives_the_default() -> None:
    assert evt.call_for_status(HandlerRegistry(), None, evt.EVT_C_STORE, 0x0122) == (
        False,
        0x0122,
        {},
    )


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (lambda e: (True, b"welcome"), (True, b"welcome")),
        (lambda e: (False, b"ignored"), (False, None)),
        (lambda e: 1 / 0, (False, None)),
        (lambda e: 0x0000, (False, None)),
        (lambda e: status_ds(0xC000), (False, None)),
    ],
)
def test_verify_user_identity(handler: Any, expected: tuple[bool, Any]) -> None:
    assert evt.verify_user_identity(registry(evt.EVT_USER_ID, handler), None) == expected


def test_verify_user_identity_without_a_handler_verifies() -> None:
    assert evt.verify_user_identity(HandlerRegistry(), None) == (True, None)


def test_handler_run_steps_a_generator_and_classifies_failures() -> None:
    def find(e: Event) -> Iterator[Any]:
        yield 0xFF00, Dataset()
        raise ValueError("index gone")

    run = HandlerRun(find, [], event(evt.EVT_C_FIND))
    assert run.next()[0] is True
    with pytest.raises(HandlerFailed, match="ValueError: index gone"):
        run.next()
    with pytest.raises(InvalidYield):
        HandlerRun(lambda e: 0x0000, [], event(evt.EVT_C_FIND))
    with pytest.raises(HandlerFailed):
        HandlerRun(lambda e: 1 / 0, [], event(evt.EVT_C_FIND))
    assert drain(lambda e: [(0xFF00, "a")], evt.EVT_C_FIND) == [(0xFF00, "a")]  # any iterable


def test_yielded_pair_refuses_bad_yields() -> None:
    assert evt.yielded_pair((0xFF00, "x"), evt.EVT_C_GET) == (0xFF00, {}, "x")
    with pytest.raises(InvalidYield, match="other than a"):
        evt.yielded_pair("x", evt.EVT_C_GET)
    with pytest.raises(InvalidYield, match="invalid status"):
        evt.yielded_pair(("x", None), evt.EVT_C_GET)


# --- composing: one status ------------------------------------------------------------------


def recorder(calls: list[str], name: str, value: Any) -> Any:
    def handler(e: Event, *args: str) -> Any:
        calls.append(name + "".join(f":{a}" for a in args))
        if isinstance(value, Exception):
            raise value
        return value

    return handler


def test_composed_status_every_handler_runs_in_order_and_most_severe_wins() -> None:
    calls: list[str] = []
    chain = [
        (recorder(calls, "builtin", 0x0000), []),
        (recorder(calls, "warn", 0xB000), ["x"]),
        (recorder(calls, "refuse", status_ds(0xA700, ErrorComment="full")), []),
        (recorder(calls, "fail", 0xC001), []),
    ]
    value = evt.compose(evt.EVT_C_STORE, chain)(event(evt.EVT_C_STORE))
    assert calls == ["builtin", "warn:x", "refuse", "fail"]
    assert evt.read_status(value) == (0xA700, {"ErrorComment": "full"})  # first failure


def test_composed_status_warning_beats_success_and_empty_chain_succeeds() -> None:
    chain: Chain = [(lambda e: 0x0000, []), (lambda e: 0xB007, []), (lambda e: 0xB000, [])]
    assert evt.compose(evt.EVT_C_ECHO, chain)(event(evt.EVT_C_ECHO)) == 0xB007
    assert evt.compose(evt.EVT_C_ECHO, [])(event(evt.EVT_C_ECHO)) == 0x0000


def test_composed_status_exception_and_bad_return_count_as_failures() -> None:
    calls: list[str] = []
    raising: Chain = [
        (recorder(calls, "boom", RuntimeError("bug")), []),
        (recorder(calls, "after", 0x0000), []),
    ]
    value = evt.compose(evt.EVT_C_STORE, raising)(event(evt.EVT_C_STORE))
    assert calls == ["boom", "after"]
    status, extra = evt.read_status(value)
    assert status == 0xC211 and extra["ErrorComment"] == "handler raised RuntimeError: bug"
    bad: Chain = [(lambda e: 0x0000, []), (lambda e: "yes", [])]
    value = evt.compose(evt.EVT_C_ECHO, bad)(event(evt.EVT_C_ECHO))
    assert evt.read_status(value)[0] == 0x0110


def test_composed_n_service_keeps_the_winners_data_set() -> None:
    first, second = Dataset(), Dataset()
    first.PatientID, second.PatientID = "1", "2"
    chain: Chain = [(lambda e: (0x0000, first), []), (lambda e: (0x0116, second), [])]
    composed = evt.compose(evt.EVT_N_SET, chain)
    assert composed(event(evt.EVT_N_SET)) == (0x0116, second)
    ok = evt.compose(evt.EVT_N_SET, [chain[0], (lambda e: (0x0000, second), [])])
    assert ok(event(evt.EVT_N_SET)) == (0x0000, first)  # first of equals: the built-in's
    broken = evt.compose(evt.EVT_N_SET, [chain[0], (lambda e: 0x0000, [])])
    status, data = broken(event(evt.EVT_N_SET))
    assert evt.read_status(status)[0] == 0x0110 and data is None
    deleting = evt.compose(evt.EVT_N_DELETE, [(lambda e: 0x0000, []), (lambda e: 0x0112, [])])
    assert deleting(event(evt.EVT_N_DELETE)) == 0x0112


def test_notification_events_are_not_composed() -> None:
    with pytest.raises(ValueError, match="notification"):
        evt.compose(evt.EVT_ACCEPTED, [(lambda e: None, [])])


# --- composing: EVT_USER_ID ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected", "called"),
    [
        ([(True, b"a"), (True, None), (True, b"c")], (True, b"c"), 3),
        ([(True, b"a"), (True, None)], (True, b"a"), 2),
        ([(True, b"a"), (False, None), (True, b"c")], (False, None), 2),
        ([(False, None), (True, b"b")], (False, None), 1),
        ([(True, b"a"), RuntimeError("bug"), (True, b"c")], (False, None), 2),
        ([(True, b"a"), 0x0000], (False, None), 2),
    ],
)
def test_composed_user_identity_every_handler_must_verify(
    answers: list[Any], expected: tuple[bool, Any], called: int
) -> None:
    calls: list[str] = []
    chain = [(recorder(calls, f"h{i}", answer), ["corp"]) for i, answer in enumerate(answers)]
    bound = registry(evt.EVT_USER_ID, evt.compose(evt.EVT_USER_ID, chain))
    assert evt.verify_user_identity(bound, None) == expected
    assert calls == [f"h{i}:corp" for i in range(called)]


# --- composing: generators -------------------------------------------------------------------


def finder(calls: list[str], name: str, *items: Any) -> Any:
    def handler(e: Event, *args: str) -> Iterator[Any]:
        calls.append(f"{name} called")
        try:
            for item in items:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            calls.append(f"{name} closed")

    return handler


def test_composed_find_gives_the_builtin_responses_then_the_users() -> None:
    calls: list[str] = []
    chain: Chain = [
        (finder(calls, "builtin", (0xFF00, "b1"), (0xFF00, "b2")), []),
        (finder(calls, "user", (0xFF01, "u1"), (0x0000, None), (0xFF00, "never")), []),
        (finder(calls, "other", (0xFF00, "o1")), []),
    ]
    items = drain(evt.compose(evt.EVT_C_FIND, chain), evt.EVT_C_FIND)
    assert items == [(0xFF00, "b1"), (0xFF00, "b2"), (0xFF01, "u1"), (0xFF00, "o1")]
    # one at a time: a handler is called when the previous one is done
    assert calls == [
        "builtin called",
        "builtin closed",
        "user called",
        "user closed",
        "other called",
        "other closed",
    ]


def test_composed_find_first_failure_ends_it_and_later_handlers_never_run() -> None:
    calls: list[str] = []
    chain: Chain = [
        (finder(calls, "builtin", (0xFF00, "b1"), (0xA700, None), (0xFF00, "never")), []),
        (finder(calls, "user", (0xFF00, "u1")), []),
    ]
    items = drain(evt.compose(evt.EVT_C_FIND, chain), evt.EVT_C_FIND)
    assert items == [(0xFF00, "b1"), (0xA700, None)]
    assert calls == ["builtin called", "builtin closed"]


def test_composed_find_cancel_ends_it_and_first_warning_comes_last() -> None:
    calls: list[str] = []
    cancelled: Chain = [
        (finder(calls, "a", (0xFE00, None)), []),
        (finder(calls, "b", (0xFF00, "never")), []),
    ]
    assert drain(evt.compose(evt.EVT_C_FIND, cancelled), evt.EVT_C_FIND) == [(0xFE00, None)]
    warned: Chain = [
        (finder(calls, "a", (0xFF00, "a1"), (0xB000, None)), []),
        (finder(calls, "b", (0xFF00, "b1"), (0xB001, None)), []),
        (finder(calls, "c", (0xFF00, "c1")), []),
    ]
    items = drain(evt.compose(evt.EVT_C_FIND, warned), evt.EVT_C_FIND)
    assert items == [(0xFF00, "a1"), (0xFF00, "b1"), (0xFF00, "c1"), (0xB000, None)]


def test_composed_find_failures_reach_the_service_as_for_one_handler() -> None:
    calls: list[str] = []
    raising: Chain = [
        (finder(calls, "builtin", (0xFF00, "b1")), []),
        (finder(calls, "user", (0xFF00, "u1"), KeyError("bug")), []),
    ]
    run = HandlerRun(evt.compose(evt.EVT_C_FIND, raising), [], event(evt.EVT_C_FIND))
    assert [run.next(), run.next()] == [(True, (0xFF00, "b1")), (True, (0xFF00, "u1"))]
    with pytest.raises(HandlerFailed, match="KeyError"):
        run.next()
    run.close()
    assert calls[-1] == "user closed"
    not_iterable: Chain = [(finder(calls, "builtin", (0xFF00, "b1")), []), (lambda e: 0x0000, [])]
    run = HandlerRun(evt.compose(evt.EVT_C_FIND, not_iterable), [], event(evt.EVT_C_FIND))
    assert run.next() == (True, (0xFF00, "b1"))
    with pytest.raises(InvalidYield):
        run.next()
    bad_yield: Chain = [(finder(calls, "b", "garbage", (0xFF00, "b2")), [])]
    assert drain(evt.compose(evt.EVT_C_FIND, bad_yield), evt.EVT_C_FIND)[0] == "garbage"


def test_closing_a_composed_generator_closes_every_started_handler() -> None:
    calls: list[str] = []
    chain: Chain = [
        (finder(calls, "a", 2, (0xFF00, "a1"), (0xFF00, "a2")), []),
        (finder(calls, "b", 1, (0xFF00, "b1")), []),
    ]
    run = HandlerRun(evt.compose(evt.EVT_C_GET, chain), [], event(evt.EVT_C_GET))
    assert run.next() == (True, 3)
    assert run.next() == (True, (0xFF00, "a1"))
    run.close()  # e.g. the requestor cancelled
    assert sorted(calls) == ["a called", "a closed", "b called", "b closed"]


def test_composed_get_sums_the_counts_then_gives_every_pair() -> None:
    calls: list[str] = []
    chain: Chain = [
        (finder(calls, "builtin", 2, (0xFF00, "b1"), (0xFF00, "b2")), []),
        (finder(calls, "user", 1, (0xFF00, "u1")), []),
    ]
    items = drain(evt.compose(evt.EVT_C_GET, chain), evt.EVT_C_GET)
    assert items == [3, (0xFF00, "b1"), (0xFF00, "b2"), (0xFF00, "u1")]


@pytest.mark.parametrize("bad", [-1, "2", True, None])
def test_composed_get_passes_an_invalid_count_on(bad: Any) -> None:
    calls: list[str] = []
    chain: Chain = [
        (finder(calls, "builtin", 2, (0xFF00, "b1")), []),
        (finder(calls, "user", *([] if bad is None else [bad])), []),
    ]
    assert drain(evt.compose(evt.EVT_C_GET, chain), evt.EVT_C_GET) == [bad]


def test_composed_move_uses_the_first_known_destination() -> None:
    calls: list[str] = []
    chain: Chain = [
        (finder(calls, "unknown", (None, None)), []),
        (finder(calls, "builtin", ("10.0.0.1", 104), 1, (0xFF00, "b1")), []),
        (finder(calls, "user", ("10.0.0.2", 11112, {}), 1, (0xFF00, "u1")), []),
        (finder(calls, "adds", (None, None), 2, (0xFF00, "a1"), (0xFF00, "a2")), []),
        (finder(calls, "broken", ("10.0.0.3", "104"), 5, (0xFF00, "never")), []),
        (finder(calls, "silent"), []),
    ]
    items = drain(evt.compose(evt.EVT_C_MOVE, chain), evt.EVT_C_MOVE)
    assert items == [
        ("10.0.0.1", 104),
        4,
        (0xFF00, "b1"),
        (0xFF00, "u1"),
        (0xFF00, "a1"),
        (0xFF00, "a2"),
    ]
    # every handler started was closed, the left-out ones at once
    assert sorted(c for c in calls if c.endswith("closed")) == sorted(
        f"{name} closed" for name in ("unknown", "builtin", "user", "adds", "broken", "silent")
    )


@pytest.mark.parametrize("first", [(None, None), ("host", "port")])
def test_composed_move_without_a_known_destination_passes_the_first_answer(first: Any) -> None:
    calls: list[str] = []
    chain: Chain = [(finder(calls, "a", first), []), (finder(calls, "b", (None, None)), [])]
    assert drain(evt.compose(evt.EVT_C_MOVE, chain), evt.EVT_C_MOVE) == [first]
    silent: Chain = [(finder(calls, "a"), []), (finder(calls, "b", (None, None)), [])]
    assert drain(evt.compose(evt.EVT_C_MOVE, silent), evt.EVT_C_MOVE) == []
    assert drain(evt.compose(evt.EVT_C_MOVE, []), evt.EVT_C_MOVE) == []


# --- composing: extended negotiation ---------------------------------------------------------


def test_composed_negotiation_handlers() -> None:
    extended: Chain = [
        (lambda e: {"1.2": b"builtin"}, []),
        (lambda e: 1 / 0, []),
        (lambda e: "not a dict", []),
        (lambda e: {"1.2": b"user", "1.3": b"user"}, []),
    ]
    merged = evt.compose(evt.EVT_SOP_EXTENDED, extended)(event(evt.EVT_SOP_EXTENDED))
    assert merged == {"1.2": b"builtin", "1.3": b"user"}
    windows: Chain = [(lambda e: None, []), (lambda e: (2, 3), []), (lambda e: (1, 1), [])]
    assert evt.compose(evt.EVT_ASYNC_OPS, windows)(event(evt.EVT_ASYNC_OPS)) == (2, 3)
