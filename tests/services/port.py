"""A :class:`~dicomnet.services.base.ServicePort` without a socket: what a service sends is
recorded, C-STOREs of sub-operations are answered from a table, C-CANCELs are noted by hand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydicom.dataset import Dataset

from dicomnet import events as evt
from dicomnet.dataset import MemorySink, decode_dataset, encode_dataset
from dicomnet.dimse.fragments import MessageComplete
from dicomnet.dimse.messages import C_STORE_RSP, Message
from dicomnet.dimse.session import DimseSession
from dicomnet.events import HandlerRegistry
from dicomnet.presentation import PresentationContext
from dicomnet.service_user import ServiceUser
from dicomnet.ul.pdu import AssociateRJ

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
VERIFICATION = "1.2.840.10008.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_GET = "1.2.840.10008.5.1.4.1.2.2.3"
COMMITMENT = "1.2.840.10008.1.20.1"


def context(cid: int, abstract: str, syntax: str = IMPLICIT, *, scu: bool = False) -> Any:
    """An accepted context where we are SCP (and SCU if ``scu``)."""
    return PresentationContext(
        abstract, [syntax], context_id=cid, result=0, as_scp=True, as_scu=scu
    )


class Target:
    """A C-MOVE destination association: answers C-STOREs with ``status``."""

    def __init__(self, status: int = 0x0000, established: bool = True) -> None:
        self.status = status
        self.is_established = established
        self.failure_reason = "" if established else "connection refused"
        self.rejection: AssociateRJ | None = None
        self.stored: list[tuple[Any, str | None, int | None]] = []
        self.released = False

    def store_instance(
        self,
        source: Any,
        *,
        originator_aet: str | None = None,
        originator_id: int | None = None,
        priority: int = 0,
    ) -> C_STORE_RSP | None:
        self.stored.append((source, originator_aet, originator_id))
        uid = str(getattr(source, "SOPInstanceUID", ""))
        return C_STORE_RSP(
            MessageIDBeingRespondedTo=len(self.stored),
            AffectedSOPClassUID=CT,
            AffectedSOPInstanceUID=uid,
            Status=self.status,
        )

    def release(self) -> None:
        self.released = True
        self.is_established = False

    def abort(self) -> None:
        self.is_established = False


class FakePort(Target):
    """The association a service serves, with ``contexts`` accepted."""

    def __init__(
        self,
        contexts: Iterable[PresentationContext],
        handlers: Iterable[Any] = (),
        *,
        store_status: int = 0x0000,
    ) -> None:
        super().__init__(store_status)
        self._handlers = HandlerRegistry(list(handlers))
        self._session = DimseSession()
        self._session.contexts = list(contexts)
        self.requestor = ServiceUser("PEER", "192.0.2.1", 40000)
        self.acceptor = ServiceUser("US", "192.0.2.2", 11112)
        self.sent: list[tuple[int, Message, bytes | None]] = []
        self.open_live = True
        self.lost = False
        self.destinations: list[tuple[str, int, list[str], dict[str, Any]]] = []
        self.destination = Target()

    @property
    def handlers(self) -> HandlerRegistry:
        return self._handlers

    @property
    def session(self) -> DimseSession:
        return self._session

    @property
    def peer(self) -> ServiceUser:
        return self.requestor

    @property
    def can_send(self) -> bool:
        return self.open_live

    def send_message(self, context_id: int, message: Message, dataset: Any = None) -> None:
        self.sent.append((context_id, message, None if dataset is None else bytes(dataset)))

    def is_cancelled(self, message_id: int) -> bool:
        return self._session.cancelled(message_id) or not self.open_live

    def connection_lost(self) -> None:
        self.lost = True
        self.open_live = False

    def open_association(
        self,
        address: str,
        port: int,
        contexts: Sequence[PresentationContext],
        options: dict[str, Any],
    ) -> Target:
        self.destinations.append((address, port, [c.abstract_syntax for c in contexts], options))
        return self.destination

    # --- helpers for the tests ----------------------------------------------------------------

    def responses(self) -> list[Any]:
        return [message for _cid, message, _data in self.sent]

    def statuses(self) -> list[int]:
        return [int(message.Status) for message in self.responses()]

    def identifiers(self, syntax: str = IMPLICIT) -> list[Dataset | None]:
        return [None if data is None else decode_dataset(data, syntax) for *_x, data in self.sent]


def request(cid: int, message: Message, dataset: Dataset | None = None) -> MessageComplete[Any]:
    """A whole request as the assembler hands it over, its data set in memory."""
    sink = None
    if dataset is not None:
        sink = MemorySink()
        sink.write(encode_dataset(dataset, IMPLICIT))
    return MessageComplete(cid, message, sink)


def handler(event: evt.EventType, function: Any, *args: Any) -> tuple[Any, ...]:
    return (event, function, list(args)) if args else (event, function)
