"""Hypothesis strategies for every Upper Layer item, sub-item and PDU.

They generate only valid values (AE titles without leading/trailing spaces, valid UIDs, odd unique
context IDs, sub-items in the placement the standard allows), so that
``decode_pdu(encode_pdu(x)) == x`` holds for everything they produce.
"""

from __future__ import annotations

from hypothesis import strategies as st

from dicomnet.ul.items import (
    AsyncOpsWindow,
    PresentationContextAC,
    PresentationContextRQ,
    RoleSelection,
    SOPClassCommonExtended,
    SOPClassExtended,
    UnknownSubItem,
    UserIdentityAC,
    UserIdentityRQ,
    UserInformation,
)
from dicomnet.ul.pdu import (
    PDU,
    PDV,
    Abort,
    AssociateAC,
    AssociateRJ,
    AssociateRQ,
    PDataTF,
    ReleaseRP,
    ReleaseRQ,
)

__all__ = [
    "abort_pdus",
    "ae_titles",
    "associate_ac",
    "associate_rj",
    "associate_rq",
    "async_ops_windows",
    "context_ids",
    "p_data_tf",
    "pdus",
    "pdvs",
    "presentation_contexts_ac",
    "presentation_contexts_rq",
    "release_rp",
    "release_rq",
    "role_selections",
    "sop_class_common_extended",
    "sop_class_extended",
    "unknown_sub_items",
    "uids",
    "user_identity_ac",
    "user_identity_rq",
    "user_information_ac",
    "user_information_rq",
    "version_names",
]

WELL_KNOWN_UIDS = (
    "1.2.840.10008.1.1",
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.840.10008.5.1.4.1.2.2.1",
    "1.2.276.0.7230010.3.0.3.6.8",
    "0",
    "1.0.0.0",
)
_AE_ALPHABET = "".join(chr(c) for c in range(0x20, 0x7F) if c != 0x5C)
_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
_U16 = st.integers(0, 0xFFFF)


def _uid_components() -> st.SearchStrategy[str]:
    return st.one_of(
        st.just("0"),
        st.integers(1, 9).map(str),
        st.integers(10, 10**7 - 1).map(str),
    )


def uids() -> st.SearchStrategy[str]:
    """Valid UIDs (1-64 characters, no leading zeros, no empty components)."""
    # At most 8 components of at most 7 digits: never longer than 63 characters.
    generated = st.lists(_uid_components(), min_size=1, max_size=8).map(".".join)
    longest = st.integers(10**61, 10**62 - 1).map(lambda n: f"1.{n}")  # exactly 64 characters
    return st.one_of(st.sampled_from(WELL_KNOWN_UIDS), generated, longest)


def ae_titles() -> st.SearchStrategy[str]:
    """Valid AE titles as held in values: 1-16 characters, no leading or trailing space."""
    return (
        st.text(alphabet=_AE_ALPHABET, min_size=1, max_size=16)
        .map(lambda t: t.strip(" "))
        .filter(bool)
    )


def version_names() -> st.SearchStrategy[str]:
    """Implementation version names: 1-16 printable ASCII characters, no edge spaces."""
    return (
        st.text(alphabet=_PRINTABLE, min_size=1, max_size=16)
        .map(lambda t: t.strip(" "))
        .filter(bool)
    )


def context_ids(min_size: int = 1, max_size: int = 4) -> st.SearchStrategy[list[int]]:
    """Lists of unique odd presentation context IDs (1-255)."""
    return st.lists(
        st.integers(0, 127).map(lambda i: 2 * i + 1),
        min_size=min_size,
        max_size=max_size,
        unique=True,
    )


def presentation_contexts_rq(context_id: int) -> st.SearchStrategy[PresentationContextRQ]:
    return st.builds(
        PresentationContextRQ,
        context_id=st.just(context_id),
        abstract_syntax=uids(),
        transfer_syntaxes=st.lists(uids(), min_size=1, max_size=3).map(tuple),
    )


@st.composite
def presentation_contexts_ac(draw: st.DrawFn, context_id: int) -> PresentationContextAC:
    """One AC context; a rejected one may carry an empty transfer syntax."""
    result = draw(st.integers(0, 4))
    ts = draw(uids()) if result == 0 else draw(st.one_of(st.just(""), uids()))
    return PresentationContextAC(context_id=context_id, result=result, transfer_syntax=ts)


def async_ops_windows() -> st.SearchStrategy[AsyncOpsWindow]:
    return st.builds(AsyncOpsWindow, max_invoked=_U16, max_performed=_U16)


def role_selections(sop_class_uid: str) -> st.SearchStrategy[RoleSelection]:
    return st.builds(
        RoleSelection,
        sop_class_uid=st.just(sop_class_uid),
        scu_role=st.booleans(),
        scp_role=st.booleans(),
    )


def sop_class_extended(sop_class_uid: str) -> st.SearchStrategy[SOPClassExtended]:
    return st.builds(
        SOPClassExtended, sop_class_uid=st.just(sop_class_uid), app_info=st.binary(max_size=12)
    )


def sop_class_common_extended(sop_class_uid: str) -> st.SearchStrategy[SOPClassCommonExtended]:
    return st.builds(
        SOPClassCommonExtended,
        sop_class_uid=st.just(sop_class_uid),
        service_class_uid=uids(),
        related_general_sop_classes=st.lists(uids(), max_size=2).map(tuple),
    )


@st.composite
def user_identity_rq(draw: st.DrawFn) -> UserIdentityRQ:
    """Sub-item 0x58; the secondary field is non-empty only for type 2."""
    identity_type = draw(st.integers(1, 5))
    return UserIdentityRQ(
        identity_type=identity_type,
        positive_response_requested=draw(st.booleans()),
        primary=draw(st.binary(min_size=1, max_size=32)),
        secondary=draw(st.binary(min_size=1, max_size=16)) if identity_type == 2 else b"",
    )


def user_identity_ac() -> st.SearchStrategy[UserIdentityAC]:
    return st.builds(UserIdentityAC, server_response=st.binary(max_size=32))


def unknown_sub_items() -> st.SearchStrategy[tuple[UnknownSubItem, ...]]:
    """Sub-items of unknown types (0x5A-0xFF), in ascending type order as the encoder sends."""
    item = st.builds(UnknownSubItem, item_type=st.integers(0x5A, 0xFF), data=st.binary(max_size=12))
    return st.lists(item, max_size=3).map(lambda xs: tuple(sorted(xs, key=lambda x: x.item_type)))


@st.composite
def _user_information(draw: st.DrawFn, for_ac: bool) -> UserInformation:
    # SOP classes come from a fixed list here: cheap to draw, and uids() is covered elsewhere.
    sop_classes = st.lists(st.sampled_from(WELL_KNOWN_UIDS), max_size=3, unique=True)
    roles = tuple(draw(role_selections(uid)) for uid in draw(sop_classes))
    extended = tuple(draw(sop_class_extended(uid)) for uid in draw(sop_classes))
    common: tuple[SOPClassCommonExtended, ...] = ()
    if not for_ac:  # 0x57 is never sent in an AC
        common = tuple(draw(sop_class_common_extended(uid)) for uid in draw(sop_classes))
    return UserInformation(
        max_length=draw(st.one_of(st.sampled_from([0, 16384, 65536]), st.integers(0, 2**32 - 1))),
        implementation_class_uid=draw(uids()),
        implementation_version_name=draw(st.none() | version_names()),
        async_ops=draw(st.none() | async_ops_windows()),
        roles=roles,
        sop_class_extended=extended,
        sop_class_common_extended=common,
        user_identity_rq=None if for_ac else draw(st.none() | user_identity_rq()),
        user_identity_ac=draw(st.none() | user_identity_ac()) if for_ac else None,
        unknown=draw(unknown_sub_items()),
    )


def user_information_rq() -> st.SearchStrategy[UserInformation]:
    """User information as an A-ASSOCIATE-RQ carries it (0x51-0x58, unknown sub-items)."""
    return _user_information(for_ac=False)


def user_information_ac() -> st.SearchStrategy[UserInformation]:
    """User information as an A-ASSOCIATE-AC carries it (no 0x57 or 0x58; maybe 0x59)."""
    return _user_information(for_ac=True)


def _protocol_versions() -> st.SearchStrategy[int]:
    return st.one_of(st.just(1), _U16.map(lambda v: v | 1))


@st.composite
def associate_rq(draw: st.DrawFn) -> AssociateRQ:
    contexts = tuple(draw(presentation_contexts_rq(cid)) for cid in draw(context_ids()))
    return AssociateRQ(
        called_ae_title=draw(ae_titles()),
        calling_ae_title=draw(ae_titles()),
        presentation_contexts=contexts,
        user_information=draw(user_information_rq()),
        application_context=draw(st.one_of(st.just("1.2.840.10008.3.1.1.1"), uids())),
        protocol_version=draw(_protocol_versions()),
    )


@st.composite
def associate_ac(draw: st.DrawFn) -> AssociateAC:
    contexts = tuple(draw(presentation_contexts_ac(cid)) for cid in draw(context_ids()))
    return AssociateAC(
        called_ae_title=draw(ae_titles()),
        calling_ae_title=draw(ae_titles()),
        presentation_contexts=contexts,
        user_information=draw(user_information_ac()),
        application_context=draw(st.one_of(st.just("1.2.840.10008.3.1.1.1"), uids())),
        protocol_version=draw(_protocol_versions()),
    )


_RJ_REASONS = {1: (1, 2, 3, 7), 2: (1, 2), 3: (1, 2)}


@st.composite
def associate_rj(draw: st.DrawFn) -> AssociateRJ:
    source = draw(st.sampled_from(sorted(_RJ_REASONS)))
    return AssociateRJ(
        result=draw(st.sampled_from([1, 2])),
        source=source,
        reason=draw(st.sampled_from(_RJ_REASONS[source])),
    )


def abort_pdus() -> st.SearchStrategy[Abort]:
    user = st.just(Abort(source=0, reason=0))
    provider = st.sampled_from([0, 1, 2, 4, 5, 6]).map(lambda r: Abort(source=2, reason=r))
    return st.one_of(user, provider)


def release_rq() -> st.SearchStrategy[ReleaseRQ]:
    return st.just(ReleaseRQ())


def release_rp() -> st.SearchStrategy[ReleaseRP]:
    return st.just(ReleaseRP())


def pdvs(max_data: int = 64) -> st.SearchStrategy[PDV]:
    return st.builds(
        PDV,
        context_id=st.integers(0, 127).map(lambda i: 2 * i + 1),
        is_command=st.booleans(),
        is_last=st.booleans(),
        data=st.binary(max_size=max_data),
    )


def p_data_tf(max_pdvs: int = 4, max_data: int = 64) -> st.SearchStrategy[PDataTF]:
    return st.lists(pdvs(max_data), min_size=1, max_size=max_pdvs).map(
        lambda xs: PDataTF(tuple(xs))
    )


def pdus() -> st.SearchStrategy[PDU]:
    """Any of the seven PDUs."""
    return st.one_of(
        associate_rq(),
        associate_ac(),
        associate_rj(),
        p_data_tf(),
        release_rq(),
        release_rp(),
        abort_pdus(),
    )
