"""dimse.session: Message IDs, contexts, outstanding requests and C-CANCEL notes."""

from __future__ import annotations

import pytest

from dicomnet.dimse.session import DimseSession
from dicomnet.presentation import PresentationContext

CT = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"


def test_message_ids_count_up_wrap_and_can_be_chosen() -> None:
    session = DimseSession()
    assert [session.next_message_id() for _ in range(3)] == [1, 2, 3]
    assert session.next_message_id(65535) == 65535
    assert session.next_message_id() == 1
    for bad in (0, 65536, -1, True, "7"):
        with pytest.raises(ValueError, match="msg_id"):
            session.next_message_id(bad)  # type: ignore[arg-type]


def test_contexts_by_id_and_by_role() -> None:
    session = DimseSession()
    session.contexts = [
        PresentationContext(CT, [IMPLICIT], context_id=1, result=4),
        PresentationContext(CT, [EXPLICIT], context_id=3, result=0, as_scu=True),
        PresentationContext(CT, [IMPLICIT], context_id=5, result=0, as_scp=True),
    ]
    assert session.context_by_id(1) is None  # not accepted
    assert session.scu_context(CT) is session.context_by_id(3)
    assert session.scu_context(CT, IMPLICIT) is None
    assert session.scp_context(5, CT) is session.context_by_id(5)
    assert session.scp_context(5, "1.2.3") is None and session.scp_context(3, CT) is None


def test_outstanding_requests_are_per_session() -> None:
    one, two = DimseSession(), DimseSession()
    one.request_sent(7, 1)
    assert one.outstanding == {7: 1} and two.outstanding == {}
    one.request_done(7)
    assert one.outstanding == {}


def test_a_cancel_counts_only_while_the_request_is_served() -> None:
    session = DimseSession()
    session.note_cancel(9)  # late or early: dropped
    session.watch_cancel(9)
    assert not session.cancelled(9)
    session.note_cancel(9)
    assert session.cancelled(9)
    session.unwatch_cancel(9)
    assert not session.cancelled(9)
