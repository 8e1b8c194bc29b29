"""Typed, immutable values for the seven Upper Layer PDUs (PS3.8 9.3).

Encoding and decoding live in :mod:`dicomnet.ul.codec`.
"""

from __future__ import annotations

from dicomnet._record import record
from dicomnet.ul.items import (
    APPLICATION_CONTEXT_NAME,
    PresentationContextAC,
    PresentationContextRQ,
    UserInformation,
)

PDU_ASSOCIATE_RQ = 0x01
PDU_ASSOCIATE_AC = 0x02
PDU_ASSOCIATE_RJ = 0x03
PDU_P_DATA_TF = 0x04
PDU_RELEASE_RQ = 0x05
PDU_RELEASE_RP = 0x06
PDU_ABORT = 0x07


@record(frozen=True, slots=True)
class AssociateRQ:
    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextRQ, ...]
    user_information: UserInformation
    application_context: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = 1


@record(frozen=True, slots=True)
class AssociateAC:
    """The AE title fields are reserved in the AC: sent as a copy of the RQ, never tested."""

    called_ae_title: str
    calling_ae_title: str
    presentation_contexts: tuple[PresentationContextAC, ...]
    user_information: UserInformation
    application_context: str = APPLICATION_CONTEXT_NAME
    protocol_version: int = 1


@record(frozen=True, slots=True)
class AssociateRJ:
    result: int
    source: int
    reason: int


@record(frozen=True, slots=True)
class PDV:
    """One presentation data value: a command or data-set fragment (PS3.8 Annex E)."""

    context_id: int
    is_command: bool
    is_last: bool
    data: bytes


@record(frozen=True, slots=True)
class PDataTF:
    pdvs: tuple[PDV, ...]


@record(frozen=True, slots=True)
class ReleaseRQ:
    pass


@record(frozen=True, slots=True)
class ReleaseRP:
    pass


@record(frozen=True, slots=True)
class Abort:
    """source 0 = service user, 2 = service provider; reason significant only for source 2."""

    source: int
    reason: int = 0


PDU = AssociateRQ | AssociateAC | AssociateRJ | PDataTF | ReleaseRQ | ReleaseRP | Abort
