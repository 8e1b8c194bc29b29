"""services.echo without a socket: C-ECHO-RSP from the EVT_C_ECHO handler."""

from __future__ import annotations

from typing import Any

from dicomnet import evt
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_ECHO_RQ, C_ECHO_RSP
from dicomnet.services import dispatch, echo
from tests.services.port import CT, VERIFICATION, FakePort, context, handler, request


def _echo(port: FakePort, cid: int = 1) -> C_ECHO_RSP:
    echo.serve(port, request(cid, C_ECHO_RQ(MessageID=7, AffectedSOPClassUID=VERIFICATION)))
    [(sent_cid, rsp, data)] = port.sent
    assert sent_cid == cid and data is None and isinstance(rsp, C_ECHO_RSP)
    assert rsp.MessageIDBeingRespondedTo == 7
    return rsp


def test_no_handler_answers_success() -> None:
    assert _echo(FakePort([context(1, VERIFICATION)])).Status == 0x0000


def test_the_handlers_status_and_extra_args() -> None:
    seen: list[Any] = []

    def on_echo(event: evt.Event, code: str) -> int:
        seen.append((event.event.name, code, event.assoc))
        return 0x0110 if code == "fail" else 0

    port = FakePort([context(1, VERIFICATION)], [handler(evt.EVT_C_ECHO, on_echo, "fail")])
    assert _echo(port).Status == 0x0110
    assert seen == [("EVT_C_ECHO", "fail", port)]


def test_a_raising_handler_gives_processing_failure_with_a_comment() -> None:
    def broken(event: evt.Event) -> int:
        raise RuntimeError("boom")

    rsp = _echo(FakePort([context(1, VERIFICATION)], [(evt.EVT_C_ECHO, broken)]))
    assert rsp.Status == 0x0110
    assert "RuntimeError: boom" in str(rsp.ErrorComment)


def test_a_context_for_another_class_gives_0122() -> None:
    assert _echo(FakePort([context(1, CT)])).Status == 0x0122


def test_dispatch_routes_and_releases_the_data_set() -> None:
    port = FakePort([context(1, VERIFICATION)])
    closed: list[bool] = []
    sink = type("Sink", (), {"close": lambda self: closed.append(True)})()
    dispatch(
        port, MessageComplete(1, C_ECHO_RQ(MessageID=3, AffectedSOPClassUID=VERIFICATION), sink)
    )
    assert port.statuses() == [0] and closed == [True]
