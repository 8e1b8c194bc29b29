"""PDUReader: split points, caps decided from the header, in_progress/buffered, dead after error."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomnet.ul.codec import encode_pdata_single, encode_pdu
from dicomnet.ul.errors import AbortConsequence, RemoteProtocolError
from dicomnet.ul.framing import DEFAULT_ASSOCIATION_CAP, UNLIMITED_PDATA_CAP, PDUReader
from dicomnet.ul.pdu import PDU, PDV, Abort, AssociateRJ, PDataTF, ReleaseRP, ReleaseRQ
from tests.ul import strategies as s

INVALID = AbortConsequence(2, 6)
UNRECOGNIZED = AbortConsequence(2, 1)
GIB = 1 << 30


def header(pdu_type: int, length: int) -> bytes:
    return struct.pack(">BBI", pdu_type, 0, length)


def feed_in_chunks(reader: PDUReader, data: bytes, cuts: list[int]) -> list[PDU]:
    out: list[PDU] = []
    previous = 0
    for cut in [*sorted(cuts), len(data)]:
        out.extend(reader.feed(data[previous:cut]))
        previous = cut
    return out


def error_of(reader: PDUReader, data: bytes) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as caught:
        reader.feed(data)
    return caught.value


# ------------------------------------------------------------------------------------------
# Split points


@settings(max_examples=100, deadline=None)
@given(st.lists(s.pdus(), min_size=1, max_size=4), st.data())
def test_any_split_points_give_the_same_pdus(pdus: list[PDU], data: st.DataObject) -> None:
    stream = b"".join(encode_pdu(p) for p in pdus)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    reader = PDUReader(max_pdata_length=0)
    assert feed_in_chunks(reader, stream, cuts) == pdus
    assert not reader.in_progress
    assert reader.buffered == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(s.pdus(), min_size=1, max_size=3))
def test_byte_by_byte_gives_the_same_pdus(pdus: list[PDU]) -> None:
    stream = b"".join(encode_pdu(p) for p in pdus)
    reader = PDUReader(max_pdata_length=16384)
    got: list[PDU] = []
    for i in range(len(stream)):
        got.extend(reader.feed(stream[i : i + 1]))
        assert reader.buffered <= i + 1
    assert got == pdus


def test_several_pdus_in_one_chunk_all_come_out_in_order() -> None:
    pdus: list[PDU] = [
        PDataTF((PDV(1, True, True, b"\x00\x01"),)),
        ReleaseRQ(),
        ReleaseRP(),
        Abort(2, 6),
    ]
    assert PDUReader(16384).feed(b"".join(encode_pdu(p) for p in pdus)) == pdus


def test_empty_feed_returns_nothing() -> None:
    reader = PDUReader(16384)
    assert reader.feed(b"") == []
    assert not reader.in_progress


def test_accepts_bytearray_and_memoryview_and_never_aliases_them() -> None:
    encoded = encode_pdata_single(3, False, True, b"payload!")
    buffer = bytearray(encoded)
    reader = PDUReader(16384)
    (pdu,) = reader.feed(buffer)
    buffer[-8:] = b"XXXXXXXX"
    buffer.extend(b"resizable")  # no export left behind on the caller's buffer
    assert pdu == PDataTF((PDV(3, False, True, b"payload!"),))
    (again,) = reader.feed(memoryview(encoded))
    assert again == pdu


def test_body_buffer_reused_after_partial_feeds_does_not_leak_into_pdus() -> None:
    first = encode_pdata_single(1, False, False, b"A" * 100)
    second = encode_pdata_single(1, False, True, b"B" * 100)
    reader = PDUReader(16384)
    assert reader.feed(first[:50]) == []
    (one,) = reader.feed(first[50:])
    assert reader.feed(second[:70]) == []
    (two,) = reader.feed(second[70:])
    assert one == PDataTF((PDV(1, False, False, b"A" * 100),))
    assert two == PDataTF((PDV(1, False, True, b"B" * 100),))


def test_one_mib_p_data_in_64_kib_chunks() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    encoded = encode_pdata_single(1, False, True, payload)
    reader = PDUReader(max_pdata_length=len(payload) + 6)
    got: list[PDU] = []
    for start in range(0, len(encoded), 65536):
        got.extend(reader.feed(encoded[start : start + 65536]))
        assert reader.buffered <= start + 65536
    assert got == [PDataTF((PDV(1, False, True, payload),))]
    assert reader.buffered == 0


# ------------------------------------------------------------------------------------------
# Caps decided from the 6-byte header, before any body byte


def test_p_data_claiming_1_gib_fails_on_the_header_alone() -> None:
    reader = PDUReader(max_pdata_length=16384)
    error = error_of(reader, header(0x04, GIB))
    assert error.consequence == INVALID
    assert "16384" in str(error)


def test_p_data_without_advertised_maximum_is_capped_by_the_module_limit() -> None:
    assert error_of(PDUReader(0), header(0x04, GIB)).consequence == INVALID
    assert error_of(PDUReader(0), header(0x04, UNLIMITED_PDATA_CAP + 1)).consequence == INVALID
    reader = PDUReader(0)
    assert reader.feed(header(0x04, UNLIMITED_PDATA_CAP)) == []
    assert reader.in_progress
    assert reader.buffered == 6  # nothing allocated for the claimed 64 MiB


@pytest.mark.parametrize("max_length", [16384, 65536])
def test_p_data_at_the_maximum_passes_and_one_more_fails(max_length: int) -> None:
    exact = encode_pdata_single(1, True, True, bytes(max_length - 6))
    assert len(exact) == 6 + max_length
    assert PDUReader(max_length).feed(exact) == [
        PDataTF((PDV(1, True, True, bytes(max_length - 6)),))
    ]
    over = encode_pdata_single(1, True, True, bytes(max_length - 5))
    assert error_of(PDUReader(max_length), over[:6]).consequence == INVALID


@pytest.mark.parametrize("length", [0, 1, 5])
def test_p_data_too_short_for_a_pdv_fails_on_the_header(length: int) -> None:
    assert error_of(PDUReader(16384), header(0x04, length)).consequence == INVALID


@pytest.mark.parametrize("pdu_type", [0x01, 0x02])
def test_association_pdus_are_capped(pdu_type: int) -> None:
    assert (
        error_of(PDUReader(0), header(pdu_type, DEFAULT_ASSOCIATION_CAP + 1)).consequence == INVALID
    )
    assert error_of(PDUReader(0), header(pdu_type, GIB)).consequence == INVALID
    assert (
        error_of(PDUReader(0, association_cap=1000), header(pdu_type, 1001)).consequence == INVALID
    )
    reader = PDUReader(0)
    assert reader.feed(header(pdu_type, DEFAULT_ASSOCIATION_CAP)) == []
    assert reader.in_progress


@pytest.mark.parametrize("pdu_type", [0x01, 0x02])
def test_association_pdus_shorter_than_the_fixed_part_fail_on_the_header(pdu_type: int) -> None:
    assert error_of(PDUReader(0), header(pdu_type, 67)).consequence == INVALID


@pytest.mark.parametrize("pdu_type", [0x03, 0x05, 0x06, 0x07])
@pytest.mark.parametrize("length", [0, 3, 5, GIB])
def test_fixed_length_pdus_must_claim_4(pdu_type: int, length: int) -> None:
    assert error_of(PDUReader(0), header(pdu_type, length)).consequence == INVALID


@pytest.mark.parametrize("pdu_type", [0x00, 0x08, 0x10, 0xFF])
def test_unknown_pdu_type_fails_on_the_header_with_reason_1(pdu_type: int) -> None:
    assert error_of(PDUReader(0), header(pdu_type, 4)).consequence == UNRECOGNIZED


def test_bad_header_fed_byte_by_byte_fails_on_its_sixth_byte() -> None:
    reader = PDUReader(16384)
    raw = header(0x04, GIB)
    for i in range(5):
        assert reader.feed(raw[i : i + 1]) == []
    assert error_of(reader, raw[5:6]).consequence == INVALID


def test_header_error_after_a_good_pdu_in_the_same_chunk() -> None:
    reader = PDUReader(16384)
    error = error_of(reader, encode_pdu(ReleaseRQ()) + header(0x09, 4))
    assert error.consequence == UNRECOGNIZED


# ------------------------------------------------------------------------------------------
# in_progress, buffered, and a dead reader


def test_in_progress_and_buffered_follow_a_pdu_through_its_bytes() -> None:
    raw = encode_pdu(AssociateRJ(1, 1, 7))
    reader = PDUReader(16384)
    assert (reader.in_progress, reader.buffered) == (False, 0)
    assert reader.feed(raw[:3]) == []
    assert (reader.in_progress, reader.buffered) == (True, 3)
    assert reader.feed(raw[3:6]) == []
    assert (reader.in_progress, reader.buffered) == (True, 6)
    assert reader.feed(raw[6:8]) == []
    assert (reader.in_progress, reader.buffered) == (True, 8)
    assert reader.feed(raw[8:] + raw[:1]) == [AssociateRJ(1, 1, 7)]
    assert (reader.in_progress, reader.buffered) == (True, 1)
    assert reader.feed(raw[1:]) == [AssociateRJ(1, 1, 7)]
    assert (reader.in_progress, reader.buffered) == (False, 0)


def test_reader_is_dead_after_an_error() -> None:
    reader = PDUReader(16384)
    reader.feed(encode_pdu(ReleaseRQ())[:4])
    first = error_of(reader, b"\x00\x00" + header(0x04, 3))
    assert first.consequence == INVALID
    assert not reader.in_progress
    assert reader.buffered == 0
    later = error_of(reader, encode_pdu(ReleaseRP()))
    assert later.consequence == INVALID
    assert "already failed" in str(later)


def test_body_decode_error_kills_the_reader_too() -> None:
    reader = PDUReader(16384)
    bad_pdv = header(0x04, 6) + bytes.fromhex("00000002 02 03")  # even context ID
    assert error_of(reader, bad_pdv).consequence == INVALID
    assert error_of(reader, encode_pdu(ReleaseRQ())).consequence == INVALID


def test_constructor_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        PDUReader(-1)
    with pytest.raises(ValueError):
        PDUReader(0, association_cap=10)
