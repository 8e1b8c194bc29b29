"""Tests for presentation-context, role, async-ops and max-length negotiation."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.ul.errors import (
    AbortConsequence,
    RejectConsequence,
    RemoteProtocolError,
    describe_rejection,
)
from dicomnet.ul.items import AsyncOpsWindow, PresentationContextAC, PresentationContextRQ
from dicomnet.ul.items import RoleSelection as Role
from dicomnet.ul.negotiation import (
    MIN_PEER_MAX_LENGTH,
    ContextSpec,
    NegotiatedContext,
    build_rq_contexts,
    negotiate_as_acceptor,
    negotiate_as_requestor,
    negotiate_async_ops,
    peer_max_pdu_for_sending,
    policy_rejection,
    version_rejection,
)

VERIFICATION = "1.2.840.10008.1.1"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
GET = "1.2.840.10008.5.1.4.1.2.2.3"
IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
DEFLATED = "1.2.840.10008.1.2.1.99"
BIG = "1.2.840.10008.1.2.2"
JPEG = "1.2.840.10008.1.2.4.50"

RQ = PresentationContextRQ
AC = PresentationContextAC


def spec(uid: str, *ts: str, scu: bool | None = None, scp: bool | None = None) -> ContextSpec:
    return ContextSpec(uid, tuple(ts), scu_role=scu, scp_role=scp)


# --------------------------------------------------------------------------------- requestor
def test_build_numbers_contexts_1_3_5_in_order() -> None:
    contexts, roles = build_rq_contexts(
        [spec(VERIFICATION, IMPLICIT), spec(CT, EXPLICIT, IMPLICIT), spec(CT, JPEG)]
    )
    assert contexts == (
        RQ(1, VERIFICATION, (IMPLICIT,)),
        RQ(3, CT, (EXPLICIT, IMPLICIT)),
        RQ(5, CT, (JPEG,)),
    )
    assert roles == ()


def test_build_allows_128_contexts_and_refuses_129() -> None:
    contexts, _ = build_rq_contexts([spec(CT, IMPLICIT)] * 128)
    assert [cx.context_id for cx in contexts] == list(range(1, 256, 2))
    with pytest.raises(ValueError, match="128"):
        build_rq_contexts([spec(CT, IMPLICIT)] * 129)


@pytest.mark.parametrize(
    "specs",
    [
        [],
        [spec(CT)],
        [spec(CT, IMPLICIT, scu=False)],
        [spec(CT, IMPLICIT, scu=False, scp=False)],
        [spec(CT, IMPLICIT, scp=True), spec(CT, EXPLICIT, scu=True, scp=False)],
    ],
    ids=["no-contexts", "no-transfer-syntax", "scu-false-only", "no-role", "conflicting-roles"],
)
def test_build_rejects_bad_specs(specs: list[ContextSpec]) -> None:
    with pytest.raises(ValueError):
        build_rq_contexts(specs)


@pytest.mark.parametrize(
    ("scu", "scp", "expected"),
    [
        (None, None, None),
        (True, None, (True, False)),
        (None, True, (True, True)),
        (None, False, (True, False)),
        (True, True, (True, True)),
        (True, False, (True, False)),
        (False, True, (False, True)),
    ],
)
def test_build_role_item_fills_missing_side_with_default(
    scu: bool | None, scp: bool | None, expected: tuple[bool, bool] | None
) -> None:
    _, roles = build_rq_contexts([spec(GET, IMPLICIT), spec(CT, IMPLICIT, scu=scu, scp=scp)])
    assert roles == (() if expected is None else (Role(CT, *expected),))


def test_build_one_role_item_per_abstract_syntax() -> None:
    _, roles = build_rq_contexts(
        [
            spec(CT, IMPLICIT, scp=True),
            spec(CT, JPEG),
            spec(CT, EXPLICIT, scu=True, scp=True),
            spec(MR, IMPLICIT, scu=False, scp=True),
        ]
    )
    assert roles == (Role(CT, True, True), Role(MR, False, True))


# ---------------------------------------------------------------------------------- acceptor
@pytest.mark.parametrize(
    ("proposed", "supported", "result", "chosen", "wire_ts"),
    [
        ((IMPLICIT,), spec(CT, IMPLICIT), 0, IMPLICIT, IMPLICIT),
        # the acceptor's preference order wins over the requestor's
        ((IMPLICIT, EXPLICIT), spec(CT, EXPLICIT, IMPLICIT), 0, EXPLICIT, EXPLICIT),
        ((EXPLICIT, IMPLICIT), spec(CT, IMPLICIT, EXPLICIT), 0, IMPLICIT, IMPLICIT),
        ((JPEG, BIG, EXPLICIT), spec(CT, DEFLATED, EXPLICIT, BIG), 0, EXPLICIT, EXPLICIT),
        ((JPEG, BIG), spec(MR, JPEG), 3, None, JPEG),
        ((JPEG, BIG), spec(CT, IMPLICIT, EXPLICIT), 4, None, JPEG),
        ((IMPLICIT,), spec(CT), 4, None, IMPLICIT),
        ((), spec(CT, IMPLICIT), 4, None, ""),
    ],
    ids=["plain", "pref-1", "pref-2", "pref-3", "abstract-3", "transfer-4", "none-4", "empty-4"],
)
def test_acceptor_results(
    proposed: tuple[str, ...], supported: ContextSpec, result: int, chosen: str | None, wire_ts: str
) -> None:
    out = negotiate_as_acceptor([RQ(7, CT, proposed)], [], [supported])
    assert out.ac_contexts == (AC(7, result, wire_ts),)
    assert out.ac_roles == ()
    accepted = result == 0
    assert out.contexts == (NegotiatedContext(7, CT, chosen, result, False, accepted),)
    assert out.contexts[0].accepted is accepted


def test_acceptor_answers_each_context_independently_in_proposed_order() -> None:
    rq = [
        RQ(9, CT, (JPEG,)),
        RQ(1, VERIFICATION, (IMPLICIT,)),
        RQ(3, CT, (IMPLICIT,)),
        RQ(5, CT, (EXPLICIT, IMPLICIT)),
        RQ(7, MR, (IMPLICIT,)),
    ]
    out = negotiate_as_acceptor(
        rq, [], [spec(CT, EXPLICIT, IMPLICIT), spec(VERIFICATION, IMPLICIT)]
    )
    assert out.ac_contexts == (
        AC(9, 4, JPEG),
        AC(1, 0, IMPLICIT),
        AC(3, 0, IMPLICIT),
        AC(5, 0, EXPLICIT),
        AC(7, 3, IMPLICIT),
    )
    assert [(c.context_id, c.transfer_syntax) for c in out.contexts] == [
        (9, None),
        (1, IMPLICIT),
        (3, IMPLICIT),
        (5, EXPLICIT),
        (7, None),
    ]


def test_acceptor_supporting_nothing_rejects_everything_with_3() -> None:
    out = negotiate_as_acceptor([RQ(1, CT, (IMPLICIT,)), RQ(3, MR, (BIG,))], [], [])
    assert out.ac_contexts == (AC(1, 3, IMPLICIT), AC(3, 3, BIG))


def test_acceptor_refuses_a_supported_list_naming_a_class_twice() -> None:
    with pytest.raises(ValueError, match="twice"):
        negotiate_as_acceptor([RQ(1, CT, (IMPLICIT,))], [], [spec(CT, IMPLICIT), spec(CT, JPEG)])


@pytest.mark.parametrize(
    ("rq", "roles"),
    [
        ([RQ(0, CT, (IMPLICIT,))], []),
        ([RQ(2, CT, (IMPLICIT,))], []),
        ([RQ(257, CT, (IMPLICIT,))], []),
        ([RQ(3, CT, (IMPLICIT,)), RQ(3, MR, (IMPLICIT,))], []),
        ([RQ(1, CT, (IMPLICIT,))], [Role(CT, True, False), Role(CT, True, True)]),
    ],
    ids=["id-0", "id-even", "id-too-big", "id-twice", "conflicting-roles"],
)
def test_acceptor_rejects_malformed_proposals(rq: list[RQ], roles: list[Role]) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        negotiate_as_acceptor(rq, roles, [spec(CT, IMPLICIT, scu=True, scp=True)])
    assert info.value.consequence == RejectConsequence(result=1, source=1, reason=1)


def test_acceptor_tolerates_identical_repeated_role_items() -> None:
    roles = [Role(CT, True, True), Role(CT, True, True)]
    out = negotiate_as_acceptor([RQ(1, CT, (IMPLICIT,))], roles, [spec(CT, IMPLICIT, scp=True)])
    assert out.ac_roles == (Role(CT, True, True),)


# Requestor proposal x acceptor support -> role reply (None = no item) and the acceptor's roles
# (as_scu, as_scp); REJECTED = context rejected with result 1 and no role item.
REJECTED = "rejected"
NO_RQ, DEFAULT = None, (None, (False, True))
RoleCase = tuple[tuple[bool, bool] | None, tuple[bool | None, bool | None], object]
ROLE_CASES: list[RoleCase] = [
    # no role item in the RQ: defaults whatever we support
    *((NO_RQ, sup, DEFAULT) for sup in [(None, None), (True, True), (False, False), (False, True)]),
    # acceptor without role selection: defaults whatever was proposed
    *((rq, (None, None), DEFAULT) for rq in [(False, False), (False, True), (True, False)]),
    ((True, True), (None, None), DEFAULT),
    # RQ proposes neither role
    ((False, False), (True, True), REJECTED),
    ((False, False), (None, True), REJECTED),
    # RQ proposes SCP only
    ((False, True), (True, None), REJECTED),
    ((False, True), (None, True), ((False, True), (True, False))),
    ((False, True), (False, None), REJECTED),
    ((False, True), (None, False), REJECTED),
    ((False, True), (True, True), ((False, True), (True, False))),
    ((False, True), (True, False), REJECTED),
    ((False, True), (False, True), ((False, True), (True, False))),
    ((False, True), (False, False), REJECTED),
    # RQ proposes SCU only
    ((True, False), (True, None), ((True, False), (False, True))),
    ((True, False), (None, True), ((True, False), (False, True))),
    ((True, False), (False, None), REJECTED),
    ((True, False), (None, False), ((True, False), (False, True))),
    ((True, False), (True, True), ((True, False), (False, True))),
    ((True, False), (True, False), ((True, False), (False, True))),
    ((True, False), (False, True), REJECTED),
    ((True, False), (False, False), REJECTED),
    # RQ proposes both
    ((True, True), (True, None), ((True, False), (False, True))),
    ((True, True), (None, True), ((True, True), (True, True))),
    ((True, True), (False, None), REJECTED),
    ((True, True), (None, False), ((True, False), (False, True))),
    ((True, True), (True, True), ((True, True), (True, True))),
    ((True, True), (True, False), ((True, False), (False, True))),
    ((True, True), (False, True), ((False, True), (True, False))),
    ((True, True), (False, False), REJECTED),
]


@pytest.mark.parametrize(("proposal", "support", "expected"), ROLE_CASES)
def test_roles_both_ends(
    proposal: tuple[bool, bool] | None,
    support: tuple[bool | None, bool | None],
    expected: object,
) -> None:
    rq = (RQ(1, GET, (IMPLICIT,)), RQ(3, GET, (EXPLICIT,)), RQ(5, CT, (IMPLICIT,)))
    rq_roles = () if proposal is None else (Role(GET, *proposal),)
    supported = [spec(GET, EXPLICIT, IMPLICIT, scu=support[0], scp=support[1]), spec(CT, IMPLICIT)]
    out = negotiate_as_acceptor(rq, rq_roles, supported)
    # the CT context never has role negotiation
    assert out.contexts[2] == NegotiatedContext(5, CT, IMPLICIT, 0, False, True)
    if expected == REJECTED:
        assert out.ac_roles == ()
        assert [ac.result for ac in out.ac_contexts[:2]] == [1, 1]
        assert [(c.accepted, c.as_scu, c.as_scp) for c in out.contexts[:2]] == [(False,) * 3] * 2
    else:
        assert isinstance(expected, tuple)
        reply, (as_scu, as_scp) = expected
        assert out.ac_roles == (() if reply is None else (Role(GET, *reply),))
        # the role answer covers both contexts of the class
        assert out.ac_contexts[:2] == (AC(1, 0, IMPLICIT), AC(3, 0, EXPLICIT))
        assert [(c.as_scu, c.as_scp) for c in out.contexts[:2]] == [(as_scu, as_scp)] * 2
    # the requestor reads the same answer the same way, from the other side
    ours = negotiate_as_requestor(rq, rq_roles, out.ac_contexts, out.ac_roles)
    for mine, theirs in zip(ours, out.contexts, strict=True):
        assert (mine.result, mine.transfer_syntax) == (theirs.result, theirs.transfer_syntax)
        assert (mine.as_scu, mine.as_scp) == (theirs.as_scp, theirs.as_scu)


def test_acceptor_sends_no_role_item_for_a_class_without_accepted_context() -> None:
    out = negotiate_as_acceptor(
        [RQ(1, GET, (JPEG,)), RQ(3, CT, (IMPLICIT,))],
        [Role(GET, True, True), Role(MR, True, True)],
        [spec(GET, IMPLICIT, scu=True, scp=True), spec(MR, IMPLICIT, scu=True, scp=True)],
    )
    assert out.ac_contexts == (AC(1, 4, JPEG), AC(3, 3, IMPLICIT))
    assert out.ac_roles == ()


# --------------------------------------------------------------------- requestor validation
PROPOSED = (RQ(1, CT, (EXPLICIT, IMPLICIT)), RQ(3, MR, (IMPLICIT,)))


@pytest.mark.parametrize(
    "answer",
    [
        [AC(1, 0, EXPLICIT), AC(5, 0, IMPLICIT)],
        [AC(1, 0, EXPLICIT), AC(3, 0, IMPLICIT), AC(1, 0, EXPLICIT)],
        [AC(1, 0, EXPLICIT), AC(3, 4, IMPLICIT), AC(3, 4, IMPLICIT)],
        [AC(1, 5, EXPLICIT)],
        [AC(1, 255, "")],
        [AC(1, -1, "")],
        [AC(1, 0, JPEG)],
        [AC(3, 0, EXPLICIT)],
        [AC(1, 0, "")],
    ],
    ids=[
        "unknown-id",
        "answered-twice",
        "rejected-twice",
        "result-5",
        "result-255",
        "result-negative",
        "ts-not-proposed",
        "ts-of-other-context",
        "ts-empty",
    ],
)
def test_requestor_aborts_on_invalid_answer(answer: list[AC]) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        negotiate_as_requestor(PROPOSED, (), answer, ())
    assert info.value.consequence == AbortConsequence(source=2, reason=6)


def test_requestor_reports_in_proposed_order_and_treats_missing_as_result_2() -> None:
    rq = (*PROPOSED, RQ(5, VERIFICATION, (IMPLICIT,)))
    out = negotiate_as_requestor(rq, (), [AC(5, 0, IMPLICIT), AC(1, 1, "")], ())
    assert out == (
        NegotiatedContext(1, CT, None, 1, False, False),
        NegotiatedContext(3, MR, None, 2, False, False),
        NegotiatedContext(5, VERIFICATION, IMPLICIT, 0, True, False),
    )


@pytest.mark.parametrize("result", [1, 2, 3, 4])
def test_requestor_does_not_test_the_transfer_syntax_of_a_rejection(result: int) -> None:
    out = negotiate_as_requestor(PROPOSED, (), [AC(1, result, JPEG), AC(3, 0, IMPLICIT)], ())
    assert out[0] == NegotiatedContext(1, CT, None, result, False, False)
    assert out[1] == NegotiatedContext(3, MR, IMPLICIT, 0, True, False)


@pytest.mark.parametrize(
    ("proposal", "reply", "expected"),
    [
        (None, None, (True, False)),
        (None, Role(CT, True, True), (True, False)),  # reply we never asked for: ignored
        (None, Role(MR, False, True), (True, False)),
        (Role(CT, True, True), None, (True, False)),  # no reply: defaults
        (Role(CT, False, True), None, (True, False)),
        (Role(CT, True, True), Role(CT, True, True), (True, True)),
        (Role(CT, True, True), Role(CT, False, True), (False, True)),
        (Role(CT, True, True), Role(CT, True, False), (True, False)),
        (Role(CT, False, True), Role(CT, True, True), (False, True)),  # 1 for a 0: not ours
        (Role(CT, True, False), Role(CT, True, True), (True, False)),
        (Role(CT, True, True), Role(CT, False, False), (False, False)),
        (Role(CT, True, True), Role(MR, False, True), (True, False)),
    ],
)
def test_requestor_roles(
    proposal: Role | None, reply: Role | None, expected: tuple[bool, bool]
) -> None:
    out = negotiate_as_requestor(
        PROPOSED,
        () if proposal is None else (proposal,),
        [AC(3, 0, IMPLICIT), AC(1, 0, IMPLICIT)],
        () if reply is None else (reply,),
    )
    assert (out[0].as_scu, out[0].as_scp) == expected
    assert out[0].accepted and out[0].transfer_syntax == IMPLICIT
    assert (out[1].as_scu, out[1].as_scp) == (True, False)


def test_requestor_aborts_on_conflicting_role_replies() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        negotiate_as_requestor(
            PROPOSED,
            (Role(CT, True, True),),
            [AC(1, 0, IMPLICIT)],
            (Role(CT, True, True), Role(CT, False, True)),
        )
    assert info.value.consequence == AbortConsequence(source=2, reason=6)


# ------------------------------------------------------------------ async ops, max length
@pytest.mark.parametrize(
    ("offer", "answer"),
    [
        (None, None),
        (AsyncOpsWindow(1, 1), AsyncOpsWindow(1, 1)),
        (AsyncOpsWindow(0, 0), AsyncOpsWindow(1, 1)),
        (AsyncOpsWindow(5, 3), AsyncOpsWindow(1, 1)),
    ],
)
def test_async_ops(offer: AsyncOpsWindow | None, answer: AsyncOpsWindow | None) -> None:
    assert negotiate_async_ops(offer) == answer


@pytest.mark.parametrize(
    ("peer", "cap", "expected"),
    [
        (0, 1 << 20, 1 << 20),
        (0, 16384, 16384),
        (16384, 1 << 20, 16384),
        (2**32 - 1, 1 << 20, 1 << 20),
        (1 << 20, 1 << 20, 1 << 20),
        (1024, 1 << 20, 1024),
        (1025, 1 << 20, 1025),
        (100_000, 65536, 65536),
    ],
)
def test_peer_max_pdu_for_sending(peer: int, cap: int, expected: int) -> None:
    assert peer_max_pdu_for_sending(peer, cap) == expected


def test_peer_max_pdu_default_cap_is_one_mebibyte() -> None:
    assert peer_max_pdu_for_sending(0) == 1 << 20


@pytest.mark.parametrize("peer", [1, 6, 7, 8, 100, 1023])
def test_peer_max_pdu_below_the_minimum_is_clamped(peer: int) -> None:
    """Issue 16: 1-7 cannot carry a PDV; anything below MIN_PEER_MAX_LENGTH is sent as if the
    peer had said MIN_PEER_MAX_LENGTH (1024), never an abort or a crash."""
    assert MIN_PEER_MAX_LENGTH == 1024
    assert peer_max_pdu_for_sending(peer) == MIN_PEER_MAX_LENGTH


@pytest.mark.parametrize(("peer", "cap"), [(-1, 1 << 20), (0, 7), (0, 1023), (16384, 0)])
def test_peer_max_pdu_bad_arguments(peer: int, cap: int) -> None:
    with pytest.raises(ValueError):
        peer_max_pdu_for_sending(peer, cap)


# ------------------------------------------------------------------------- acceptor policy
DICOM_APP = "1.2.840.10008.3.1.1.1"


@pytest.mark.parametrize(("version", "refused"), [(1, False), (3, False), (0, True), (2, True)])
def test_version_rejection(version: int, refused: bool) -> None:
    rj = version_rejection(version)
    assert (rj is not None) == refused
    if rj is not None:
        assert (rj.result, rj.source, rj.reason) == (1, 2, 2)
        assert describe_rejection(rj) == (
            "rejected-permanent, service provider (ACSE): protocol version not supported"
        )


@pytest.mark.parametrize(
    ("app", "called", "calling", "require_called", "allowed", "expected"),
    [
        (DICOM_APP, "ANY", "SCU", False, [], None),
        ("1.2.3", "US", "SCU", False, [], (1, 1, 2)),
        (DICOM_APP, "OTHER", "SCU", True, [], (1, 1, 7)),
        (DICOM_APP, "US  ", "SCU", True, [], None),
        (DICOM_APP, "US", "SCU", False, ["PACS", "SCU "], None),
        (DICOM_APP, "US", "STRANGER", False, ["PACS"], (1, 1, 3)),
        # the application context is checked first, then the called, then the calling title
        ("1.2.3", "OTHER", "STRANGER", True, ["PACS"], (1, 1, 2)),
        (DICOM_APP, "OTHER", "STRANGER", True, ["PACS"], (1, 1, 7)),
    ],
)
def test_policy_rejection(
    app: str,
    called: str,
    calling: str,
    require_called: bool,
    allowed: list[str],
    expected: tuple[int, int, int] | None,
) -> None:
    rj = policy_rejection(
        app,
        called,
        calling,
        our_ae_title="US",
        require_called_aet=require_called,
        allowed_calling=allowed,
    )
    assert (None if rj is None else (rj.result, rj.source, rj.reason)) == expected


def test_describe_rejection_names_unknown_values() -> None:
    assert describe_rejection(RejectConsequence(2, 3, 2)) == (
        "rejected-transient, service provider (presentation): local limit exceeded"
    )
    assert describe_rejection(RejectConsequence(9, 8, 7)) == "9, 8: reason 7"


# -------------------------------------------------------------------------------- properties
ABSTRACT = (VERIFICATION, CT, MR, GET)
TRANSFER = (IMPLICIT, EXPLICIT, BIG, JPEG)
maybe_bool = st.none() | st.booleans()
ts_lists = st.lists(st.sampled_from(TRANSFER), unique=True, max_size=4).map(tuple)


@st.composite
def proposals(draw: st.DrawFn) -> tuple[list[RQ], list[Role]]:
    n = draw(st.integers(1, 10))
    ids = draw(st.lists(st.integers(0, 127), min_size=n, max_size=n, unique=True))
    contexts = [
        RQ(2 * i + 1, draw(st.sampled_from(ABSTRACT)), draw(ts_lists.filter(bool))) for i in ids
    ]
    role_classes = draw(st.lists(st.sampled_from((*ABSTRACT, "1.2.3")), unique=True))
    roles = [Role(uid, draw(st.booleans()), draw(st.booleans())) for uid in role_classes]
    return contexts, roles


@st.composite
def supported_sets(draw: st.DrawFn) -> list[ContextSpec]:
    uids = draw(st.lists(st.sampled_from(ABSTRACT), unique=True))
    return [ContextSpec(u, draw(ts_lists), draw(maybe_bool), draw(maybe_bool)) for u in uids]


@settings(max_examples=200, deadline=None)
@given(proposals(), supported_sets(), st.randoms(use_true_random=False))
def test_acceptor_and_requestor_agree(
    proposal: tuple[list[RQ], list[Role]], supported: list[ContextSpec], rng: random.Random
) -> None:
    rq, rq_roles = proposal
    out = negotiate_as_acceptor(rq, rq_roles, supported)
    ours = {s.abstract_syntax: s for s in supported}
    proposed_roles = {r.sop_class_uid: r for r in rq_roles}

    assert [ac.context_id for ac in out.ac_contexts] == [cx.context_id for cx in rq]
    for cx, ac, neg in zip(rq, out.ac_contexts, out.contexts, strict=True):
        assert ac.result in (0, 1, 3, 4)
        assert neg.context_id == cx.context_id and neg.result == ac.result
        assert (ac.result == 3) == (cx.abstract_syntax not in ours)
        if ac.result == 0:
            pref = ours[cx.abstract_syntax].transfer_syntaxes
            assert ac.transfer_syntax in cx.transfer_syntaxes
            assert ac.transfer_syntax == next(t for t in pref if t in cx.transfer_syntaxes)
            assert neg.transfer_syntax == ac.transfer_syntax
            assert neg.as_scu or neg.as_scp
        else:
            assert neg.transfer_syntax is None and not (neg.as_scu or neg.as_scp)
    assert len({r.sop_class_uid for r in out.ac_roles}) == len(out.ac_roles)
    for reply in out.ac_roles:
        asked = proposed_roles[reply.sop_class_uid]
        assert reply.scu_role <= asked.scu_role and reply.scp_role <= asked.scp_role

    shuffled = list(out.ac_contexts)
    rng.shuffle(shuffled)
    mine = negotiate_as_requestor(rq, rq_roles, shuffled, out.ac_roles)
    for me, them in zip(mine, out.contexts, strict=True):
        assert (me.context_id, me.abstract_syntax) == (them.context_id, them.abstract_syntax)
        assert (me.result, me.transfer_syntax) == (them.result, them.transfer_syntax)
        assert (me.as_scu, me.as_scp) == (them.as_scp, them.as_scu)


VALID_PROPOSALS = [(None, None), (True, None), (None, True), (None, False), (True, True)]
VALID_PROPOSALS += [(True, False), (False, True)]
requested_specs = st.builds(
    lambda uid, ts, roles: ContextSpec(uid, ts, *roles),
    st.sampled_from(ABSTRACT),
    ts_lists.filter(bool),
    st.sampled_from(VALID_PROPOSALS),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(requested_specs, min_size=1, max_size=12), supported_sets())
def test_built_proposal_round_trip(specs: list[ContextSpec], supported: list[ContextSpec]) -> None:
    # one role setting per class, as build_rq_contexts requires
    first = {s.abstract_syntax: s for s in reversed(specs)}
    specs = [
        ContextSpec(s.abstract_syntax, s.transfer_syntaxes, *_roles(first[s.abstract_syntax]))
        for s in specs
    ]
    rq, rq_roles = build_rq_contexts(specs)
    out = negotiate_as_acceptor(rq, rq_roles, supported)
    mine = negotiate_as_requestor(rq, rq_roles, out.ac_contexts, out.ac_roles)
    replied = {r.sop_class_uid for r in out.ac_roles}
    for want, me in zip(specs, mine, strict=True):
        assert me.abstract_syntax == want.abstract_syntax
        if not me.accepted:
            continue
        assert me.transfer_syntax in want.transfer_syntaxes
        if want.abstract_syntax not in replied:
            # no role negotiation took place: the defaults, whatever we proposed
            assert (me.as_scu, me.as_scp) == (True, False)
        else:
            # never a role we did not propose (a missing scu_role proposes SCU)
            assert want.scu_role is not None or want.scp_role is not None
            assert me.as_scu <= (want.scu_role is not False)
            assert me.as_scp <= bool(want.scp_role)
            assert me.as_scu or me.as_scp


def _roles(s: ContextSpec) -> tuple[bool | None, bool | None]:
    return s.scu_role, s.scp_role
