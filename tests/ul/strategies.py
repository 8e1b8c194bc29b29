"""Hypothesis strategies for every Upper Layer item, sub-item and PDU.

They generate only valid values (AE titles without leading/trailing spaces, valid UIDs, odd unique
context IDs, sub-items in the placement the standard allows), so that
``decode_pdu(encode_pdu(x)) == x`` holds for everything they produce.
"""

from __future__ import annotations

import functools

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


_UID_COMPONENT = st.one_of(
    st.just("0"), st.integers(1, 9).map(str), st.integers(10, 10**7 - 1).map(str)
)
# At most 8 components of at most 7 digits never exceed 63 characters; "1." + 62 digits is 64.
_UIDS = st.one_of(
    st.sampled_from(WELL_KNOWN_UIDS),
    st.lists(_UID_COMPONENT, min_size=1, max_size=8).map(".".join),
    st.integers(10**61, 10**62 - 1).map(lambda n: f"1.{n}"),
)


def _padded_text(alphabet: str, size: int) -> st.SearchStrategy[str]:
    """1..``size`` characters of ``alphabet``, neither starting nor ending with a space (what a
    padded field decodes to). Built, not filtered: a filter here made old Hypothesis releases
    report an "unreliable assumption" now and then."""
    solid = alphabet.replace(" ", "")
    return st.tuples(st.sampled_from(solid), st.text(alphabet=alphabet, max_size=size - 1)).map(
        lambda pair: (pair[0] + pair[1]).rstrip(" ")
    )


_AE_TITLES = _padded_text(_AE_ALPHABET, 16)
_VERSION_NAMES = _padded_text(_PRINTABLE, 16)
_ODD_IDS = st.integers(0, 127).map(lambda i: 2 * i + 1)
_TRANSFER_SYNTAX_LISTS = st.lists(_UIDS, min_size=1, max_size=3).map(tuple)
_AC_RESULTS = st.integers(0, 4)
_EMPTY_OR_UID = st.one_of(st.just(""), _UIDS)
_APP_INFO = st.binary(max_size=12)
_RELATED = st.lists(_UIDS, max_size=2).map(tuple)
_MAX_LENGTHS = st.one_of(st.sampled_from([0, 16384, 65536]), st.integers(0, 2**32 - 1))
# SOP classes of user-information sub-items come from a fixed list: cheap to draw, and unique.
_SOP_CLASS_LISTS = st.lists(st.sampled_from(WELL_KNOWN_UIDS), max_size=3, unique=True)
_APP_CONTEXTS = st.one_of(st.just("1.2.840.10008.3.1.1.1"), _UIDS)
_PROTOCOL_VERSIONS = st.one_of(st.just(1), _U16.map(lambda v: v | 1))


def uids() -> st.SearchStrategy[str]:
    """Valid UIDs (1-64 characters, no leading zeros, no empty components)."""
    return _UIDS


def ae_titles() -> st.SearchStrategy[str]:
    """Valid AE titles as held in values: 1-16 characters, no leading or trailing space."""
    return _AE_TITLES


def version_names() -> st.SearchStrategy[str]:
    """Implementation version names: 1-16 printable ASCII characters, no edge spaces."""
    return _VERSION_NAMES


@functools.cache
def context_ids(min_size: int = 1, max_size: int = 4) -> st.SearchStrategy[list[int]]:
    """Lists of unique odd presentation context IDs (1-255)."""
    return st.lists(_ODD_IDS, min_size=min_size, max_size=max_size, unique=True)


@functools.cache
def presentation_contexts_rq(context_id: int) -> st.SearchStrategy[PresentationContextRQ]:
    return st.builds(
        PresentationContextRQ,
        context_id=st.just(context_id),
        abstract_syntax=_UIDS,
        transfer_syntaxes=_TRANSFER_SYNTAX_LISTS,
    )


@st.composite
def _presentation_context_ac(draw: st.DrawFn, context_id: int) -> PresentationContextAC:
    result = draw(_AC_RESULTS)
    ts = draw(_UIDS) if result == 0 else draw(_EMPTY_OR_UID)
    return PresentationContextAC(context_id=context_id, result=result, transfer_syntax=ts)


@functools.cache
def presentation_contexts_ac(context_id: int) -> st.SearchStrategy[PresentationContextAC]:
    """One AC context; a rejected one may carry an empty transfer syntax."""
    return _presentation_context_ac(context_id)


_ASYNC_OPS = st.builds(AsyncOpsWindow, max_invoked=_U16, max_performed=_U16)


def async_ops_windows() -> st.SearchStrategy[AsyncOpsWindow]:
    return _ASYNC_OPS


@functools.cache
def role_selections(sop_class_uid: str) -> st.SearchStrategy[RoleSelection]:
    return st.builds(
        RoleSelection,
        sop_class_uid=st.just(sop_class_uid),
        scu_role=st.booleans(),
        scp_role=st.booleans(),
    )


@functools.cache
def sop_class_extended(sop_class_uid: str) -> st.SearchStrategy[SOPClassExtended]:
    return st.builds(SOPClassExtended, sop_class_uid=st.just(sop_class_uid), app_info=_APP_INFO)


@functools.cache
def sop_class_common_extended(sop_class_uid: str) -> st.SearchStrategy[SOPClassCommonExtended]:
    return st.builds(
        SOPClassCommonExtended,
        sop_class_uid=st.just(sop_class_uid),
        service_class_uid=_UIDS,
        related_general_sop_classes=_RELATED,
    )


@st.composite
def _user_identity_rq(draw: st.DrawFn) -> UserIdentityRQ:
    identity_type = draw(st.integers(1, 5))
    return UserIdentityRQ(
        identity_type=identity_type,
        positive_response_requested=draw(st.booleans()),
        primary=draw(st.binary(min_size=1, max_size=32)),
        secondary=draw(st.binary(min_size=1, max_size=16)) if identity_type == 2 else b"",
    )


_USER_IDENTITY_RQ = _user_identity_rq()
_USER_IDENTITY_AC = st.builds(UserIdentityAC, server_response=st.binary(max_size=32))
_UNKNOWN_SUB_ITEMS = st.lists(
    st.builds(UnknownSubItem, item_type=st.integers(0x5A, 0xFF), data=_APP_INFO), max_size=3
).map(lambda xs: tuple(sorted(xs, key=lambda x: x.item_type)))


def user_identity_rq() -> st.SearchStrategy[UserIdentityRQ]:
    """Sub-item 0x58; the secondary field is non-empty only for type 2."""
    return _USER_IDENTITY_RQ


def user_identity_ac() -> st.SearchStrategy[UserIdentityAC]:
    return _USER_IDENTITY_AC


def unknown_sub_items() -> st.SearchStrategy[tuple[UnknownSubItem, ...]]:
    """Sub-items of unknown types (0x5A-0xFF), in ascending type order as the encoder sends."""
    return _UNKNOWN_SUB_ITEMS


_OPTIONAL_VERSION_NAME = st.none() | _VERSION_NAMES
_OPTIONAL_ASYNC_OPS = st.none() | _ASYNC_OPS
_OPTIONAL_IDENTITY_RQ = st.none() | _USER_IDENTITY_RQ
_OPTIONAL_IDENTITY_AC = st.none() | _USER_IDENTITY_AC


@st.composite
def _user_information(draw: st.DrawFn, for_ac: bool) -> UserInformation:
    roles = tuple(draw(role_selections(uid)) for uid in draw(_SOP_CLASS_LISTS))
    extended = tuple(draw(sop_class_extended(uid)) for uid in draw(_SOP_CLASS_LISTS))
    common: tuple[SOPClassCommonExtended, ...] = ()
    if not for_ac:  # 0x57 is never sent in an AC
        common = tuple(draw(sop_class_common_extended(uid)) for uid in draw(_SOP_CLASS_LISTS))
    return UserInformation(
        max_length=draw(_MAX_LENGTHS),
        implementation_class_uid=draw(_UIDS),
        implementation_version_name=draw(_OPTIONAL_VERSION_NAME),
        async_ops=draw(_OPTIONAL_ASYNC_OPS),
        roles=roles,
        sop_class_extended=extended,
        sop_class_common_extended=common,
        user_identity_rq=None if for_ac else draw(_OPTIONAL_IDENTITY_RQ),
        user_identity_ac=draw(_OPTIONAL_IDENTITY_AC) if for_ac else None,
        unknown=draw(_UNKNOWN_SUB_ITEMS),
    )


_USER_INFORMATION_RQ = _user_information(for_ac=False)
_USER_INFORMATION_AC = _user_information(for_ac=True)


def user_information_rq() -> st.SearchStrategy[UserInformation]:
    """User information as an A-ASSOCIATE-RQ carries it (0x51-0x58, unknown sub-items)."""
    return _USER_INFORMATION_RQ


def user_information_ac() -> st.SearchStrategy[UserInformation]:
    """User information as an A-ASSOCIATE-AC carries it (no 0x57 or 0x58; maybe 0x59)."""
    return _USER_INFORMATION_AC


@st.composite
def _associate_rq(draw: st.DrawFn) -> AssociateRQ:
    contexts = tuple(draw(presentation_contexts_rq(cid)) for cid in draw(context_ids()))
    return AssociateRQ(
        called_ae_title=draw(_AE_TITLES),
        calling_ae_title=draw(_AE_TITLES),
        presentation_contexts=contexts,
        user_information=draw(_USER_INFORMATION_RQ),
        application_context=draw(_APP_CONTEXTS),
        protocol_version=draw(_PROTOCOL_VERSIONS),
    )


@st.composite
def _associate_ac(draw: st.DrawFn) -> AssociateAC:
    contexts = tuple(draw(presentation_contexts_ac(cid)) for cid in draw(context_ids()))
    return AssociateAC(
        called_ae_title=draw(_AE_TITLES),
        calling_ae_title=draw(_AE_TITLES),
        presentation_contexts=contexts,
        user_information=draw(_USER_INFORMATION_AC),
        application_context=draw(_APP_CONTEXTS),
        protocol_version=draw(_PROTOCOL_VERSIONS),
    )


_ASSOCIATE_RQ = _associate_rq()
_ASSOCIATE_AC = _associate_ac()


def associate_rq() -> st.SearchStrategy[AssociateRQ]:
    """Valid A-ASSOCIATE-RQ PDUs (1-4 contexts, RQ-style user information)."""
    return _ASSOCIATE_RQ


def associate_ac() -> st.SearchStrategy[AssociateAC]:
    """Valid A-ASSOCIATE-AC PDUs (1-4 context results, AC-style user information)."""
    return _ASSOCIATE_AC


_RJ_REASONS = {1: (1, 2, 3, 7), 2: (1, 2), 3: (1, 2)}
_ASSOCIATE_RJ = st.sampled_from(
    [
        AssociateRJ(result=result, source=source, reason=reason)
        for result in (1, 2)
        for source, reasons in _RJ_REASONS.items()
        for reason in reasons
    ]
)


def associate_rj() -> st.SearchStrategy[AssociateRJ]:
    """A-ASSOCIATE-RJ with a defined result and a reason defined for its source."""
    return _ASSOCIATE_RJ


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
