"""dicomnet.validate: structural validation of encoded data sets without decoding them.

Valid data sets (pydicom's own test files, and data sets pydicom encodes in every uncompressed
transfer syntax, with nested sequences of defined and undefined length and encapsulated pixel
data) pass whatever the chunking; truncated, odd-length and random bytes fail with the offset
of the first problem; the SOP UIDs are captured on the way."""

from __future__ import annotations

import random
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset

from dicomnet.part10 import read_file_meta
from dicomnet.validate import (
    SOP_CLASS_UID,
    SOP_INSTANCE_UID,
    StructureError,
    StructureValidator,
    validate_stream,
)
from tests.helpers import make_ct_dataset, pydicom_test_file

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
DEFLATED = "1.2.840.10008.1.2.1.99"
BIG = "1.2.840.10008.1.2.2"
JPEG = "1.2.840.10008.1.2.4.50"
SYNTAXES = (IMPLICIT, EXPLICIT, BIG, DEFLATED)


def encode(ds: Dataset, syntax: str) -> bytes:
    """Encode with pydicom directly (not through dicomnet)."""
    out = DicomBytesIO()
    out.is_implicit_VR = syntax == IMPLICIT
    out.is_little_endian = syntax != BIG
    write_dataset(out, ds)
    data = out.getvalue()
    if syntax == DEFLATED:
        packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = packer.compress(data) + packer.flush()
    return data


def check(data: bytes, syntax: str, chunk: int) -> StructureError | None:
    validator = StructureValidator(syntax)
    for start in range(0, len(data), chunk):
        validator.feed(data[start : start + chunk])
    return validator.check()


def nested_dataset() -> Dataset:
    """UIDs, a sequence of defined length whose items hold a sequence of undefined length, an
    empty sequence, private elements, and OW pixel data."""
    ds = make_ct_dataset(3)
    inner = Dataset()
    inner.CodeValue = "121"
    inner.CodingSchemeDesignator = "DCM"
    inner.CodeMeaning = "something"
    deep = Dataset()
    deep.ConceptNameCodeSequence = [inner, inner]
    deep.ConceptNameCodeSequence.is_undefined_length = True
    deep.TextValue = "odd"
    outer = Dataset()
    outer.ContentSequence = [deep]
    outer.RelationshipType = "CONTAINS"
    ds.ContentSequence = [outer, Dataset()]
    ds.ReferencedImageSequence = []
    ds.add_new(0x00091010, "LO", "private")
    ds.add_new(0x00091011, "OB", b"\x01\x02\x03\x04")
    return ds


# --- valid data sets -----------------------------------------------------------------------


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("chunk", [1, 3, 8, 11, 4096, 1 << 20])
def test_pydicom_encodings_are_valid_in_any_chunking(syntax: str, chunk: int) -> None:
    ds = nested_dataset()
    data = encode(ds, syntax)
    validator = StructureValidator(syntax)
    for start in range(0, len(data), chunk):
        validator.feed(data[start : start + chunk])
    validator.close()
    assert validator.uid(SOP_CLASS_UID) == ds.SOPClassUID
    assert validator.uid(SOP_INSTANCE_UID) == ds.SOPInstanceUID


def test_encapsulated_pixel_data_is_walked_fragment_by_fragment() -> None:
    ds = make_ct_dataset(4)
    ds.PixelData = encapsulate([b"\xff\xd8frame-one\xff\xd9", b"\xff\xd8frame-2\xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    data = encode(ds, EXPLICIT)
    for chunk in (1, 5, 64, len(data)):
        assert check(data, JPEG, chunk) is None
    # A fragment cut short, and a missing sequence delimiter.
    assert "ends" in str(check(data[:-12], JPEG, 7))
    assert "encapsulated pixel data" in str(check(data[:-8], JPEG, 7))


def test_undefined_length_un_is_walked_as_implicit_vr() -> None:
    """PS3.5 6.2.2: a sequence of unknown VR with undefined length is UN, its items Implicit VR."""
    item = struct.pack("<HHI", 0x0009, 0x1001, 4) + b"abcd"
    value = (
        struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
        + item
        + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
        + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    )
    data = struct.pack("<HH2s2xI", 0x0009, 0x1000, b"UN", 0xFFFFFFFF) + value
    assert check(data, EXPLICIT, 3) is None


@pytest.mark.parametrize(
    "name",
    ["MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "rtdose_expb.dcm",
     "image_dfl.dcm", "test-SR.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm", "rtplan.dcm"],
)  # fmt: skip
def test_pydicom_test_files_are_valid(name: str) -> None:
    """(image_dfl.dcm has a gzip trailer after its deflate stream: a sender looks past it.)"""
    path = pydicom_test_file(name)
    with open(path, "rb") as handle:
        meta = read_file_meta(handle)
        validator = validate_stream(
            handle, meta.transfer_syntax_uid, chunk_size=997, allow_trailing=True
        )
    assert validator.uid(SOP_INSTANCE_UID)


# --- invalid data sets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "offset"),
    # rtplan: Implicit VR; the cut element, (300A,012C), sits in a sequence of defined length
    # (starting at 1110) that the walk enters because the dictionary says it is one.
    [("MR_truncated.dcm", 1154), ("rtplan_truncated.dcm", 1792)],
)
def test_truncated_files_fail_at_the_element_they_cut(name: str, offset: int) -> None:
    path = pydicom_test_file(name)
    with open(path, "rb") as handle:
        meta = read_file_meta(handle)
        with pytest.raises(StructureError) as caught:
            validate_stream(handle, meta.transfer_syntax_uid)
    assert caught.value.offset == offset  # where the element that is cut short starts
    assert f"offset {offset}: (" in str(caught.value) and "is cut short" in str(caught.value)


@pytest.mark.parametrize("syntax", [IMPLICIT, EXPLICIT, BIG])
def test_every_truncation_inside_an_element_fails(syntax: str) -> None:
    data = encode(nested_dataset(), syntax)
    boundaries = element_boundaries(data, syntax)
    for cut in range(0, len(data), 2):
        problem = check(data[:cut], syntax, 13)
        if cut in boundaries:
            assert problem is None, cut
        else:
            assert problem is not None, cut


def element_boundaries(data: bytes, syntax: str) -> set[int]:
    """Offsets of top-level element starts (and the end): cutting there leaves a valid set."""
    little = "<" if syntax != BIG else ">"
    offsets = {0}
    position = 0
    while position < len(data):
        if syntax == IMPLICIT:
            (length,) = struct.unpack_from(little + "I", data, position + 4)
            header = 8
        elif data[position + 4 : position + 6] in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
            (length,) = struct.unpack_from(little + "I", data, position + 8)
            header = 12
        else:
            (length,) = struct.unpack_from(little + "H", data, position + 6)
            header = 8
        assert length != 0xFFFFFFFF, "the test data set has defined lengths at the top level"
        position += header + length
        offsets.add(position)
    return offsets


def test_odd_length_fails() -> None:
    data = encode(nested_dataset(), EXPLICIT) + b"\x00"
    problem = check(data, EXPLICIT, 64)
    assert problem is not None and problem.offset == len(data) - 1
    # An element of odd length at the end (as in pydicom's nested_priv_SQ.dcm).
    odd = data[:-1] + struct.pack("<HH2sH", 0x0009, 0x0010, b"LO", 3) + b"abc"
    problem = check(odd, EXPLICIT, 64)
    assert problem is not None and "odd length" in problem.reason


def test_an_unknown_vr_fails_at_its_offset() -> None:
    data = encode(make_ct_dataset(1), EXPLICIT)
    second = sorted(element_boundaries(data, EXPLICIT))[1]
    bad = data[: second + 4] + b"zz" + data[second + 6 :]
    problem = check(bad, EXPLICIT, 5)
    assert problem is not None and problem.offset == second
    assert "no valid VR" in problem.reason


def test_an_item_running_past_its_sequence_fails() -> None:
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 20) + struct.pack(
        "<HH2sH", 0x0008, 0x0100, b"SH", 12
    )
    data = struct.pack("<HH2s2xI", 0x0040, 0xA730, b"SQ", 16) + item + bytes(12)
    problem = check(data, EXPLICIT, 4)
    assert problem is not None and problem.offset == 12 and "past the end" in problem.reason


def test_misplaced_delimiters_fail() -> None:
    delimiter = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    assert "out of place" in str(check(delimiter, EXPLICIT, 8))
    not_an_item = struct.pack("<HH2s2xI", 0x0040, 0xA730, b"SQ", 0xFFFFFFFF) + struct.pack(
        "<HH2sH", 0x0008, 0x0100, b"SH", 0
    )
    assert "where an item tag should be" in str(check(not_an_item, EXPLICIT, 8))
    undefined_text = struct.pack("<HH2s2xI", 0x0008, 0x0100, b"UT", 0xFFFFFFFF)
    assert "undefined length" in str(check(undefined_text, EXPLICIT, 8))


@pytest.mark.parametrize("syntax", [IMPLICIT, EXPLICIT, BIG, DEFLATED])
def test_random_bytes_fail(syntax: str) -> None:
    rng = random.Random(9)
    for _ in range(300):
        data = rng.randbytes(rng.randrange(16, 2000, 2))
        assert check(data, syntax, rng.choice([1, 7, 512])) is not None


def test_deflated_pad_byte_is_tolerated_other_trailing_bytes_and_cuts_are_not() -> None:
    data = encode(nested_dataset(), DEFLATED)
    assert check(data + b"\x00", DEFLATED, 9) is None
    assert check(data[:-5], DEFLATED, 9) is not None
    problem = check(data + b"trailer!", DEFLATED, 9)
    assert problem is not None and problem.offset == len(data)
    # A sender may look past them: it learns where the deflate stream ends, and sends that.
    validator = StructureValidator(DEFLATED, allow_trailing=True)
    validator.feed(data + b"trailer!")
    validator.close()
    assert validator.deflate_end == len(data)


def test_deflate_cap() -> None:
    data = encode(make_ct_dataset(1, 256, 256), DEFLATED)
    validator = StructureValidator(DEFLATED, max_inflated=10_000)
    validator.feed(data)
    problem = validator.check()
    assert problem is not None and "inflates to more than 10000 bytes" in problem.reason


def test_stop_after_reads_only_the_start() -> None:
    data = encode(make_ct_dataset(2), EXPLICIT)
    cut = data[: len(data) // 2]  # truncated in pixel data: not looked at
    validator = StructureValidator(EXPLICIT, stop_after=SOP_INSTANCE_UID)
    validator.feed(cut)
    validator.close()
    assert validator.stopped and validator.uid(SOP_INSTANCE_UID)


# --- property: valid in any chunking, invalid when cut mid-element -------------------------

_texts = st.text(alphabet="ABCDEFGH 0123456789", max_size=9)


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3." + str(draw(st.integers(1, 10**6)))
    ds.PatientName = draw(_texts)
    items = []
    for _ in range(draw(st.integers(0, 3))):
        item = Dataset()
        item.CodeValue = draw(_texts)
        item.CodeMeaning = draw(_texts)
        items.append(item)
    ds.ConceptNameCodeSequence = items
    ds.ConceptNameCodeSequence.is_undefined_length = draw(st.booleans())
    ds.Rows = draw(st.integers(0, 65535))
    ds.BitsAllocated = 8
    ds.PixelData = draw(
        st.binary(min_size=2, max_size=64).map(lambda b: b + b"\x00" * (len(b) % 2))
    )
    ds["PixelData"].VR = "OB"
    return ds


@settings(max_examples=60, deadline=None)
@given(datasets(), st.sampled_from(SYNTAXES), st.integers(1, 40))
def test_property_valid_in_any_chunking(ds: Dataset, syntax: str, chunk: int) -> None:
    data = encode(ds, syntax)
    assert check(data, syntax, chunk) is None
    if syntax != DEFLATED:
        assert check(data[:-1], syntax, chunk) is not None  # cut inside the pixel data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(SYNTAXES), st.integers(1, 50))
def test_property_garbage_gives_only_our_error(data: bytes, syntax: str, chunk: int) -> None:
    problem = check(data, syntax, chunk)
    assert problem is None or isinstance(problem, StructureError)


def test_a_highly_compressed_deflated_data_set_is_complete() -> None:
    """8 MiB of zeros deflate to a few KiB: fed in one chunk, a step of inflated output comes out
    full with every input byte already taken. It must still be read to its end (it was refused
    as "incomplete"), by the validator and by the receiver's counting inflater alike."""
    import io
    import struct
    import zlib

    from dicomnet._inflate import Inflater
    from dicomnet.validate import validate_stream

    size = 8 * 1024 * 1024
    head = struct.pack("<HH2sHI", 0x0008, 0x0016, b"UI", 4, 0)[:8] + b"1.2\x00"
    head += struct.pack("<HH2sHI", 0x0008, 0x0018, b"UI", 4, 0)[:8] + b"1.3\x00"
    head += struct.pack("<HH2sHI", 0x7FE1, 0x1010, b"OB", 0, size)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = compressor.compress(head + bytes(size)) + compressor.flush()
    assert len(body) < 64 * 1024
    validator = validate_stream(io.BytesIO(body), "1.2.840.10008.1.2.1.99")
    assert validator.uid(0x00080018) == "1.3"
    inflater = Inflater(max_inflated=None)
    assert sum(len(piece) for piece in inflater.feed(body)) == len(head) + size


def _implicit(tag: int, value: bytes) -> bytes:
    import struct

    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def _uids() -> bytes:
    return _implicit(0x00080016, b"1.2\x00") + _implicit(0x00080018, b"1.3\x00")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (_implicit(0x00080100, b"AB"), "where an item tag should be"),  # no item in the sequence
        (_implicit(0xFFFEE000, _implicit(0x00080100, b"ABCD"))[:-2], "past the end of its"),
        (b"\xfe\xff\xdd\xe0\0\0\0\0", "sequence delimiter in a sequence of defined length"),
    ],
    ids=["element-in-sequence", "item-past-sequence", "delimiter"],
)
def test_implicit_vr_sequences_of_defined_length_are_walked(content: bytes, says: str) -> None:
    """In Implicit VR the bytes do not say that (0008,1140) is a sequence; the dictionary does,
    so a defined-length sequence whose content is not items is refused (the fuzzer's findings)."""
    import io

    from dicomnet.validate import StructureError, validate_stream

    data = _uids() + _implicit(0x00081140, content)
    with pytest.raises(StructureError, match=says):
        validate_stream(io.BytesIO(data), "1.2.840.10008.1.2")
    good = _uids() + _implicit(0x00081140, _implicit(0xFFFEE000, _implicit(0x00081150, b"12")))
    validate_stream(io.BytesIO(good), "1.2.840.10008.1.2")


@pytest.mark.parametrize("group", [0x0000, 0x0002, 0x0003, 0xFFFF])
def test_groups_with_no_place_in_a_data_set_are_refused(group: int) -> None:
    import io

    from dicomnet.validate import StructureError, validate_stream

    data = _uids() + _implicit(group << 16 | 0x0010, b"AB")
    with pytest.raises(StructureError, match="has no place in a data set"):
        validate_stream(io.BytesIO(data), "1.2.840.10008.1.2")


def test_nesting_is_bounded() -> None:
    import io

    from dicomnet.validate import MAX_NESTING, StructureError, validate_stream

    def nested(levels: int) -> bytes:
        inner = _implicit(0x00081150, b"12")
        for _ in range(levels):
            inner = _implicit(0x00081140, _implicit(0xFFFEE000, inner))
        return _uids() + inner

    validate_stream(io.BytesIO(nested(MAX_NESTING)), "1.2.840.10008.1.2")
    with pytest.raises(StructureError, match="nested more than"):
        validate_stream(io.BytesIO(nested(MAX_NESTING + 1)), "1.2.840.10008.1.2")


def test_the_sq_tag_table_is_fresh() -> None:
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parent.parent / "tools" / "gen_sq_tags.py"
    done = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
