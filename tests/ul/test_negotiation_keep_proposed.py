"""The acceptor's choice of transfer syntax: ours by default, the requestor's first proposed with
``keep_proposed`` (after ``preferred`` ones), as DCMTK's storescp +xa."""

from __future__ import annotations

from dicomnet.ul.items import PresentationContextRQ
from dicomnet.ul.negotiation import ContextSpec, negotiate_as_acceptor

CT = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT, EXPLICIT, BIG, JPEG = (
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.50",
)


def chosen(spec: ContextSpec, proposed: list[str]) -> str | None:
    rq = [PresentationContextRQ(1, CT, tuple(proposed))]
    return negotiate_as_acceptor(rq, [], [spec]).contexts[0].transfer_syntax


def test_default_is_our_order() -> None:
    spec = ContextSpec(CT, (EXPLICIT, IMPLICIT))
    assert chosen(spec, [IMPLICIT, EXPLICIT]) == EXPLICIT


def test_keep_proposed_takes_the_requestors_first_we_support() -> None:
    spec = ContextSpec(CT, (EXPLICIT, IMPLICIT, JPEG), keep_proposed=True)
    assert chosen(spec, [IMPLICIT, EXPLICIT]) == IMPLICIT
    assert chosen(spec, [BIG, JPEG, EXPLICIT]) == JPEG
    assert chosen(spec, [BIG]) is None


def test_preferred_ones_come_first_when_proposed() -> None:
    spec = ContextSpec(CT, (EXPLICIT, IMPLICIT, JPEG), keep_proposed=True, preferred=(EXPLICIT,))
    assert chosen(spec, [JPEG, EXPLICIT]) == EXPLICIT
    assert chosen(spec, [JPEG, IMPLICIT]) == JPEG
    # a preferred syntax the spec does not support is never chosen
    odd = ContextSpec(CT, (IMPLICIT,), keep_proposed=True, preferred=(BIG,))
    assert chosen(odd, [BIG, IMPLICIT]) == IMPLICIT
