"""Event-handler system tests: our SCU talking to our SCP on loopback, with recorders bound.

Shared helpers live here: AEs with short timeouts, a server context manager on a free port, a
thread-safe recorder of events, and the small CT data set from the golden captures.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset

from dicomnet import AE, AssociationServer, evt
from dicomnet.sop_class import CTImageStorage, Verification
from tests.golden import load_golden

HOST = "127.0.0.1"
WAIT = 10.0  # seconds we wait for the other side to reach a point; never reached when all works


def ct_dataset() -> Dataset:
    """The golden 16x16 CT file, decoded (with its file meta)."""
    return dcmread(io.BytesIO(load_golden("ct_16x16_file")))


def _short_timeouts(ae: AE) -> AE:
    ae.acse_timeout = 5
    ae.dimse_timeout = 5
    ae.network_timeout = 10
    ae.connection_timeout = 5
    return ae


def scp_ae(title: str = "EVTSCP") -> AE:
    ae = _short_timeouts(AE(title))
    ae.add_supported_context(Verification)
    ae.add_supported_context(CTImageStorage)
    return ae


def scu_ae(title: str = "EVTSCU", syntaxes: list[str] | None = None) -> AE:
    ae = _short_timeouts(AE(title))
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage, syntaxes)
    return ae


@contextmanager
def running_server(ae: AE, handlers: Iterable[Any] = ()) -> Iterator[AssociationServer]:
    """A non-blocking server on a free loopback port, shut down on exit."""
    server = ae.start_server((HOST, 0), block=False, evt_handlers=list(handlers))
    assert server is not None
    try:
        yield server
    finally:
        server.shutdown()


class Recorder:
    """Records every event it is bound to, from any thread; ``closed`` is set on EVT_CONN_CLOSE."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[evt.Event] = []
        self.closed = threading.Event()

    def __call__(self, event: evt.Event) -> None:
        with self._lock:
            self.events.append(event)
        if event.event is evt.EVT_CONN_CLOSE:
            self.closed.set()

    def handlers(self, events: Iterable[evt.EventType] = evt.NOTIFICATION_EVENTS) -> list[Any]:
        return [(e, self) for e in events]

    def names(self, only: Iterable[evt.EventType] | None = None) -> list[str]:
        wanted = None if only is None else {e.name for e in only}
        with self._lock:
            return [e.event.name for e in self.events if wanted is None or e.event.name in wanted]

    def of(self, event_type: evt.EventType) -> list[evt.Event]:
        with self._lock:
            return [e for e in self.events if e.event is event_type]

    def index(self, name: str, predicate: Any = None) -> int:
        """Position of the first recorded event ``name`` (matching ``predicate``)."""
        with self._lock:
            for i, e in enumerate(self.events):
                if e.event.name == name and (predicate is None or predicate(e)):
                    return i
        raise AssertionError(f"{name} was not recorded")
