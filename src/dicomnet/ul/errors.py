"""Protocol errors of the Upper Layer, each carrying what must go on the wire because of it.

Following h11: a :class:`RemoteProtocolError` means the peer broke the protocol; a
:class:`LocalProtocolError` means our own user asked for something the protocol does not allow
in the current state. Nothing else may escape the decoder, the framer or the state machine.
"""

from __future__ import annotations

from typing import Protocol

from dicomnet._record import record

# A-ABORT sources (PS3.8 Table 9-26)
ABORT_SOURCE_USER = 0
ABORT_SOURCE_PROVIDER = 2

# A-ABORT provider reasons
ABORT_REASON_NOT_SPECIFIED = 0
ABORT_REASON_UNRECOGNIZED_PDU = 1
ABORT_REASON_UNEXPECTED_PDU = 2
ABORT_REASON_UNRECOGNIZED_PARAMETER = 4
ABORT_REASON_UNEXPECTED_PARAMETER = 5
ABORT_REASON_INVALID_PARAMETER = 6

# A-ASSOCIATE-RJ result / source / reason (PS3.8 Table 9-21)
REJECT_PERMANENT = 1
REJECT_TRANSIENT = 2
REJECT_SOURCE_USER = 1
REJECT_SOURCE_ACSE = 2
REJECT_SOURCE_PRESENTATION = 3
REJECT_USER_NO_REASON = 1
REJECT_USER_APP_CONTEXT = 2
REJECT_USER_CALLING_AE = 3
REJECT_USER_CALLED_AE = 7
REJECT_ACSE_NO_REASON = 1
REJECT_ACSE_PROTOCOL_VERSION = 2
REJECT_PRESENTATION_CONGESTION = 1
REJECT_PRESENTATION_LOCAL_LIMIT = 2


@record(frozen=True, slots=True)
class AbortConsequence:
    """Send A-ABORT with this source and reason."""

    source: int = ABORT_SOURCE_PROVIDER
    reason: int = ABORT_REASON_INVALID_PARAMETER


@record(frozen=True, slots=True)
class RejectConsequence:
    """Send A-ASSOCIATE-RJ with this result, source and reason."""

    result: int = REJECT_PERMANENT
    source: int = REJECT_SOURCE_USER
    reason: int = REJECT_USER_NO_REASON


class ProtocolError(Exception):
    """Base class for every error the protocol core raises."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow.

    ``consequence`` says what to send back: an A-ABORT (the default, provider source) or, for a
    defect found in an A-ASSOCIATE-RQ that can still be answered politely, an A-ASSOCIATE-RJ.
    """

    def __init__(
        self,
        message: str,
        consequence: AbortConsequence | RejectConsequence | None = None,
    ) -> None:
        super().__init__(message)
        self.consequence: AbortConsequence | RejectConsequence = (
            consequence if consequence is not None else AbortConsequence()
        )


class LocalProtocolError(ProtocolError):
    """Our own user asked for something the protocol does not allow now (a usage error)."""


class RejectionLike(Protocol):
    """An A-ASSOCIATE-RJ or a :class:`RejectConsequence`: result, source and reason."""

    @property
    def result(self) -> int: ...

    @property
    def source(self) -> int: ...

    @property
    def reason(self) -> int: ...


_SOURCES = {1: "service user", 2: "service provider (ACSE)", 3: "service provider (presentation)"}
_REASONS = {
    1: {
        1: "no reason given",
        2: "application context name not supported",
        3: "calling AE title not recognised",
        7: "called AE title not recognised",
    },
    2: {1: "no reason given", 2: "protocol version not supported"},
    3: {1: "temporary congestion", 2: "local limit exceeded"},
}


def describe_rejection(rj: RejectionLike) -> str:
    """Readable text for an A-ASSOCIATE-RJ (result, source, reason)."""
    result = {1: "rejected-permanent", 2: "rejected-transient"}.get(rj.result, str(rj.result))
    source = _SOURCES.get(rj.source, str(rj.source))
    reason = _REASONS.get(rj.source, {}).get(rj.reason, f"reason {rj.reason}")
    return f"{result}, {source}: {reason}"
