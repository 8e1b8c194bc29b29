"""Binding handlers: ``evt_handlers`` tuples, ``bind``/``unbind`` on associations and servers
(reaching running associations), notification vs intervention rules, failure statuses, and
rejecting an association from ``EVT_REQUESTED``. Our SCU against our SCP on loopback."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from dicomnet import evt
from dicomnet.events import HandlerRegistry
from tests.events import HOST, WAIT, ct_dataset, running_server, scp_ae, scu_ae


def _errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- evt_handlers on start_server() and associate() ------------------------------------------


def test_seed_example_two_and_three_tuples_on_start_server(tmp_path: Path) -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []

    def handle_echo(event: evt.Event) -> int:
        calls.append(("echo", ()))
        return 0x0000

    def handle_store(event: evt.Event, arg1: str, arg2: str) -> int:
        calls.append(("store", (arg1, arg2)))
        return 0x0000

    handlers = [
        (evt.EVT_C_ECHO, handle_echo),
        (evt.EVT_C_STORE, handle_store, ["optional", "parameters"]),
    ]
    ae = scp_ae()
    ae.spool_directory = str(tmp_path)
    with running_server(ae, handlers) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assert assoc.send_c_echo().Status == 0x0000
        assert assoc.send_c_store(ct_dataset()).Status == 0x0000
        assoc.release()
    assert calls == [("echo", ()), ("store", ("optional", "parameters"))]


def test_two_and_three_tuples_on_associate() -> None:
    calls: list[tuple[str, tuple[Any, ...]]] = []

    def established(event: evt.Event, *args: Any) -> None:
        calls.append((event.event.name, args))

    def released(event: evt.Event) -> None:
        calls.append((event.event.name, ()))

    with running_server(scp_ae()) as server:
        assoc = scu_ae().associate(
            HOST,
            server.server_address[1],
            evt_handlers=[
                (evt.EVT_ESTABLISHED, established, ["a", 2]),
                (evt.EVT_RELEASED, released),
                (evt.EVT_ACCEPTED, established, ()),
            ],
        )
        assoc.release()
    assert calls == [
        ("EVT_ACCEPTED", ()),
        ("EVT_ESTABLISHED", ("a", 2)),
        ("EVT_RELEASED", ()),
    ]


# --- Association.bind / unbind ---------------------------------------------------------------


def test_association_bind_and_unbind_on_the_requestor() -> None:
    sent: list[str] = []

    def on_sent(event: evt.Event, tag: str) -> None:
        sent.append(f"{tag}:{type(event.message).__name__}")

    with running_server(scp_ae()) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assoc.send_c_echo()
        assert sent == []
        assoc.bind(evt.EVT_DIMSE_SENT, on_sent, ["x"])
        assert assoc.get_handlers(evt.EVT_DIMSE_SENT) == [(on_sent, ["x"])]
        assoc.send_c_echo()
        assert sent == ["x:C_ECHO_RQ"]
        assoc.unbind(evt.EVT_DIMSE_SENT, on_sent)
        assert assoc.get_handlers(evt.EVT_DIMSE_SENT) == []
        assoc.send_c_echo()
        assoc.release()
    assert sent == ["x:C_ECHO_RQ"]


def test_association_bind_on_the_acceptor_affects_only_that_association() -> None:
    """A handler bound on the acceptor's Association (from EVT_ESTABLISHED) serves that
    association only; the server's own bindings are untouched."""

    def refuse(event: evt.Event) -> int:
        return 0x0110

    def per_association(event: evt.Event) -> None:
        if event.assoc.requestor.ae_title.strip() == "PICKY":
            event.assoc.bind(evt.EVT_C_ECHO, refuse)

    with running_server(scp_ae(), [(evt.EVT_ESTABLISHED, per_association)]) as server:
        port = server.server_address[1]
        picky = scu_ae("PICKY").associate(HOST, port)
        plain = scu_ae("PLAIN").associate(HOST, port)
        assert picky.send_c_echo().Status == 0x0110
        assert plain.send_c_echo().Status == 0x0000
        assert server.get_handlers(evt.EVT_C_ECHO) is None
        picky.release()
        plain.release()


# --- AssociationServer.bind / unbind ---------------------------------------------------------


def test_server_bind_reaches_running_associations() -> None:
    calls: list[str] = []

    def on_echo(event: evt.Event) -> int:
        calls.append(event.assoc.requestor.ae_title.strip())
        return 0x0110  # a status the requestor can see

    def on_recv(event: evt.Event) -> None:
        calls.append(f"recv:{type(event.message).__name__}")

    with running_server(scp_ae()) as server:
        port = server.server_address[1]
        running = scu_ae("RUNNING").associate(HOST, port)
        assert running.is_established
        assert running.send_c_echo().Status == 0x0000  # the default, nothing bound yet
        server.bind(evt.EVT_C_ECHO, on_echo)
        server.bind(evt.EVT_DIMSE_RECV, on_recv)
        assert server.get_handlers(evt.EVT_C_ECHO) == (on_echo, [])
        assert running.send_c_echo().Status == 0x0110
        later = scu_ae("LATER").associate(HOST, port)  # and associations started afterwards
        assert later.send_c_echo().Status == 0x0110
        running.release()
        later.release()
    assert calls == ["recv:C_ECHO_RQ", "RUNNING", "recv:C_ECHO_RQ", "LATER"]


def test_server_unbind_reaches_running_associations() -> None:
    calls: list[str] = []

    def on_echo(event: evt.Event) -> int:
        calls.append("echo")
        return 0x0110

    with running_server(scp_ae(), [(evt.EVT_C_ECHO, on_echo)]) as server:
        port = server.server_address[1]
        assoc = scu_ae().associate(HOST, port)
        assert assoc.send_c_echo().Status == 0x0110
        server.unbind(evt.EVT_C_ECHO, on_echo)
        assert server.get_handlers(evt.EVT_C_ECHO) is None
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        later = scu_ae().associate(HOST, port)
        assert later.send_c_echo().Status == 0x0000
        later.release()
    assert calls == ["echo"]


# --- notification handlers -------------------------------------------------------------------


def test_notification_handlers_run_in_bind_order_despite_one_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    order: list[str] = []

    def first(event: evt.Event) -> None:
        order.append("first")

    def broken(event: evt.Event) -> None:
        order.append("broken")
        raise RuntimeError("handler bug")

    def third(event: evt.Event) -> None:
        order.append("third")

    with running_server(scp_ae()) as server:
        assoc = scu_ae().associate(
            HOST,
            server.server_address[1],
            evt_handlers=[
                (evt.EVT_DIMSE_SENT, first),
                (evt.EVT_DIMSE_SENT, broken),
            ],
        )
        assoc.bind(evt.EVT_DIMSE_SENT, third)
        assert assoc.send_c_echo().Status == 0x0000  # the association carries on
        assoc.release()
    assert order == ["first", "broken", "third"]
    (record,) = _errors(caplog)  # logged once, with its traceback
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert "EVT_DIMSE_SENT" in record.getMessage()


def test_raising_notification_handler_on_the_acceptor(caplog: pytest.LogCaptureFixture) -> None:
    order: list[str] = []
    closed = threading.Event()

    def broken(event: evt.Event) -> None:
        order.append("broken")
        raise ValueError("oops")

    def after(event: evt.Event) -> None:
        order.append("after")

    handlers = [
        (evt.EVT_ESTABLISHED, broken),
        (evt.EVT_ESTABLISHED, after),
        (evt.EVT_CONN_CLOSE, lambda e: closed.set()),
    ]
    with running_server(scp_ae(), handlers) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        assert closed.wait(WAIT)
    assert order == ["broken", "after"]
    (record,) = _errors(caplog)
    assert record.exc_info is not None and "EVT_ESTABLISHED" in record.getMessage()


def test_binding_a_notification_handler_twice_keeps_one() -> None:
    registry = HandlerRegistry()

    def h(event: evt.Event) -> None:
        pass

    def g(event: evt.Event) -> None:
        pass

    registry.bind(evt.EVT_DIMSE_RECV, h)
    registry.bind(evt.EVT_DIMSE_RECV, g)
    registry.bind(evt.EVT_DIMSE_RECV, h, ["again"])
    assert registry.get(evt.EVT_DIMSE_RECV) == [(g, []), (h, ["again"])]


# --- intervention handlers -------------------------------------------------------------------


def test_intervention_event_has_one_handler_binding_replaces() -> None:
    calls: list[str] = []

    def first(event: evt.Event) -> int:
        calls.append("first")
        return 0x0000

    def second(event: evt.Event) -> int:
        calls.append("second")
        return 0x0110

    def third(event: evt.Event) -> int:
        calls.append("third")
        return 0x0000

    # In evt_handlers the last one wins; bind() replaces it again.
    handlers = [(evt.EVT_C_ECHO, first), (evt.EVT_C_ECHO, second)]
    with running_server(scp_ae(), handlers) as server:
        assert server.get_handlers(evt.EVT_C_ECHO) == (second, [])
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assert assoc.send_c_echo().Status == 0x0110
        server.bind(evt.EVT_C_ECHO, third)
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
    assert calls == ["second", "third"]


def test_unbinding_intervention_handlers_restores_the_defaults(tmp_path: Path) -> None:
    def echo(event: evt.Event) -> int:
        return 0x0110

    def store(event: evt.Event) -> int:
        return 0x0000

    ae = scp_ae()
    ae.spool_directory = str(tmp_path)
    with running_server(ae, [(evt.EVT_C_ECHO, echo), (evt.EVT_C_STORE, store)]) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assert assoc.send_c_echo().Status == 0x0110
        assert assoc.send_c_store(ct_dataset()).Status == 0x0000
        server.unbind(evt.EVT_C_ECHO, echo)
        server.unbind(evt.EVT_C_STORE, store)
        assert assoc.send_c_echo().Status == 0x0000  # default: Success
        rsp = assoc.send_c_store(ct_dataset())
        assert rsp.Status == 0x0122  # default: SOP class not supported
        assoc.release()
    assert list(tmp_path.iterdir()) == []


def test_exception_in_intervention_handlers_gives_documented_statuses(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    def bad_echo(event: evt.Event) -> int:
        raise RuntimeError("echo exploded")

    def bad_store(event: evt.Event) -> int:
        raise KeyError("store exploded")

    ae = scp_ae()
    ae.spool_directory = str(tmp_path)
    with running_server(ae, [(evt.EVT_C_ECHO, bad_echo), (evt.EVT_C_STORE, bad_store)]) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        echo = assoc.send_c_echo()
        assert echo.Status == 0x0110  # Processing failure
        assert len(_errors(caplog)) == 1
        store = assoc.send_c_store(ct_dataset())
        assert store.Status == 0xC211  # Cannot understand
        assert "KeyError" in store.ErrorComment
        # The association carries on.
        assert assoc.is_established
        server.unbind(evt.EVT_C_ECHO, bad_echo)
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
    errors = _errors(caplog)
    assert len(errors) == 2  # each failure logged once, with its traceback
    assert all(r.exc_info is not None for r in errors)
    assert "EVT_C_ECHO" in errors[0].getMessage() and "EVT_C_STORE" in errors[1].getMessage()
    assert list(tmp_path.iterdir()) == []  # the spooled data set went with the failure


@pytest.mark.parametrize("answer", ["yes", None, 0x10000, -1, True])
def test_invalid_intervention_results_give_failure_statuses(answer: Any, tmp_path: Path) -> None:
    ae = scp_ae()
    ae.spool_directory = str(tmp_path)
    handlers = [(evt.EVT_C_ECHO, lambda e: answer), (evt.EVT_C_STORE, lambda e: answer)]
    with running_server(ae, handlers) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assert assoc.send_c_echo().Status == 0x0110
        assert assoc.send_c_store(ct_dataset()).Status == 0xC211
        assoc.release()


def test_status_dataset_from_an_intervention_handler(tmp_path: Path) -> None:
    def store(event: evt.Event) -> Dataset:
        status = Dataset()
        status.Status = 0xB007
        status.ErrorComment = "coerced"
        return status

    ae = scp_ae()
    ae.spool_directory = str(tmp_path)
    with running_server(ae, [(evt.EVT_C_STORE, store)]) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        rsp = assoc.send_c_store(ct_dataset())
        assoc.release()
    assert rsp.Status == 0xB007
    assert rsp.ErrorComment == "coerced"


# --- accepting or rejecting from EVT_REQUESTED -----------------------------------------------


@pytest.mark.parametrize("verdict", [(1, 1, 1), (1, 1, 3), (2, 2, 2), (2, 3, 1), (1, 3, 2)])
def test_requested_handler_rejects_with_its_values(verdict: tuple[int, int, int]) -> None:
    closed = threading.Event()
    seen: list[str] = []

    def decide(event: evt.Event) -> None:
        seen.append(event.assoc.requestor.ae_title.strip())
        event.reject(*verdict)

    handlers = [(evt.EVT_REQUESTED, decide), (evt.EVT_CONN_CLOSE, lambda e: closed.set())]
    with running_server(scp_ae(), handlers) as server:
        assoc = scu_ae("ASKER").associate(HOST, server.server_address[1])
        assert closed.wait(WAIT)
    assert seen == ["ASKER"]
    assert assoc.is_rejected and not assoc.is_established
    assert assoc.rejection is not None
    assert (assoc.rejection.result, assoc.rejection.source, assoc.rejection.reason) == verdict


def test_requested_handler_that_does_not_reject_accepts() -> None:
    def decide(event: evt.Event) -> None:
        assert event.rejection is None

    with running_server(scp_ae(), [(evt.EVT_REQUESTED, decide)]) as server:
        assoc = scu_ae().associate(HOST, server.server_address[1])
        assert assoc.is_established and not assoc.is_rejected
        assoc.release()


def test_reject_validates_its_values_and_event() -> None:
    requested = evt.Event(None, evt.EVT_REQUESTED)
    with pytest.raises(ValueError, match="result/source/reason"):
        requested.reject(3, 1, 1)
    with pytest.raises(ValueError, match="1/1/5"):
        requested.reject(1, 1, 5)
    with pytest.raises(ValueError, match="1/4/1"):
        requested.reject(1, 4, 1)
    assert requested.rejection is None
    with pytest.raises(AttributeError, match="EVT_REQUESTED"):
        evt.Event(None, evt.EVT_ACCEPTED).reject()


# --- invalid bindings ------------------------------------------------------------------------


def _h(event: evt.Event) -> None:
    pass


INVALID: list[tuple[Any, type[Exception], str]] = [
    ((evt.EVT_C_ECHO,), ValueError, r"\(event, handler\) or \(event, handler, args\)"),
    ((evt.EVT_C_ECHO, _h, [], "x"), ValueError, r"\(event, handler\)"),
    (evt.EVT_C_ECHO, ValueError, r"\(event, handler\)"),
    (("EVT_C_ECHO", _h), TypeError, r"'EVT_C_ECHO' is not an event \(use dicomnet\.evt"),
    ((evt.EVT_C_ECHO, "handle_echo"), TypeError, "the handler for EVT_C_ECHO is not callable"),
    ((evt.EVT_C_STORE, _h, "optional"), TypeError, "extra arguments for EVT_C_STORE must be"),
    ((evt.EVT_C_STORE, _h, 5), TypeError, "extra arguments for EVT_C_STORE must be"),
]


@pytest.mark.parametrize(("item", "error", "message"), INVALID)
def test_invalid_evt_handlers_on_start_server(
    item: Any, error: type[Exception], message: str
) -> None:
    ae = scp_ae()
    with pytest.raises(error, match=message):
        ae.start_server((HOST, 0), block=False, evt_handlers=[item])
    assert ae._servers == []  # nothing left listening


@pytest.mark.parametrize(("item", "error", "message"), INVALID)
def test_invalid_evt_handlers_on_associate(item: Any, error: type[Exception], message: str) -> None:
    with running_server(scp_ae()) as server, pytest.raises(error, match=message):
        scu_ae().associate(HOST, server.server_address[1], evt_handlers=[item])


def test_invalid_bind_calls() -> None:
    with running_server(scp_ae()) as server:
        with pytest.raises(TypeError, match="is not an event"):
            server.bind("EVT_C_ECHO", _h)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="not callable"):
            server.bind(evt.EVT_C_ECHO, None)
        with pytest.raises(TypeError, match="must be a list"):
            server.bind(evt.EVT_C_ECHO, _h, "args")
        assoc = scu_ae().associate(HOST, server.server_address[1])
        with pytest.raises(TypeError, match="is not an event"):
            assoc.bind(object(), _h)  # type: ignore[arg-type]
        assoc.release()
        assert server.get_handlers(evt.EVT_C_ECHO) is None
