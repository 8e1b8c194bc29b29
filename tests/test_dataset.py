"""``dicomnet.dataset``: the received-data-set spool (memory, then a temporary file), its atomic
``save()``, and the pydicom boundary (``decode_dataset``/``encode_dataset``)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID

from dicomnet.dataset import (
    FSYNC_NEVER,
    ReceivedDataset,
    Sync,
    decode_dataset,
    encode_dataset,
)
from dicomnet.part10 import read_file_meta
from tests.golden import load_golden

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
BIG = "1.2.840.10008.1.2.2"
SYNTAXES = [EXPLICIT, IMPLICIT, DEFLATED, BIG]
IMPL = "1.2.826.0.1.3680043.9.1"


def ct() -> Dataset:
    return dcmread(io.BytesIO(load_golden("ct_16x16_file")))


def received(
    directory: Path, syntax: str = EXPLICIT, threshold: int = 256, chunk: int = 100
) -> tuple[ReceivedDataset, bytes]:
    """A ReceivedDataset fed the CT data set in ``chunk``-byte pieces, and those bytes."""
    ds = ct()
    data = encode_dataset(ds, syntax)
    spool = ReceivedDataset(
        ds.SOPClassUID,
        ds.SOPInstanceUID,
        syntax,
        IMPL,
        "DICOMNET_010",
        "SENDER",
        directory=directory,
        threshold=threshold,
    )
    for start in range(0, len(data), chunk):
        assert spool.write(memoryview(data)[start : start + chunk]) == len(
            data[start : start + chunk]
        )
    return spool, data


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def spool_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "spool"
    path.mkdir()
    yield path


# --- spooling --------------------------------------------------------------------------------


def test_stays_in_memory_below_the_threshold(spool_dir: Path) -> None:
    spool, data = received(spool_dir, threshold=1 << 20)
    assert listing(spool_dir) == []
    assert spool.size == len(data)
    assert spool.encoded(include_meta=False) == data
    assert spool.open_dataset().read() == data
    assert spool.dataset == ct()
    assert listing(spool_dir) == []  # decoding needs no file either
    path = spool.path()  # asking for a path writes one
    assert path.parent == spool_dir and path.is_file()
    assert path.read_bytes() == spool.encoded()
    spool.close()
    assert listing(spool_dir) == []


def test_spills_to_disk_past_the_threshold(spool_dir: Path) -> None:
    ds = ct()
    data = encode_dataset(ds, EXPLICIT)
    spool = ReceivedDataset(
        ds.SOPClassUID, ds.SOPInstanceUID, EXPLICIT, IMPL, directory=spool_dir, threshold=600
    )
    header = spool.meta_length
    written = 0
    while written < len(data):
        piece = data[written : written + 50]
        spool.write(piece)
        written += len(piece)
        spilled = listing(spool_dir)
        if header + written <= 600:
            assert spilled == [], f"spilled early at {written} bytes"
        else:
            assert len(spilled) == 1 and spilled[0].startswith(".dicomnet-"), written
    assert spool.size == len(data)
    path = spool.path()
    assert path.name == listing(spool_dir)[0]
    # A valid Part-10 file: our header, then the data set bytes as received.
    raw = path.read_bytes()
    assert raw[128:132] == b"DICM" and raw[header:] == data
    read = dcmread(path)
    assert read == ds
    assert read.file_meta.TransferSyntaxUID == EXPLICIT
    assert read.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert spool.encoded() == raw
    assert spool.encoded(include_meta=False) == data
    with spool.open_dataset() as stream:
        assert stream.read() == data
    assert spool.dataset == ds


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_path_is_a_part10_file_in_every_uncompressed_syntax(spool_dir: Path, syntax: str) -> None:
    spool, _ = received(spool_dir, syntax=syntax)
    read = dcmread(spool.path())
    assert read.file_meta.TransferSyntaxUID == syntax
    assert read == ct()
    meta = read_file_meta(io.BytesIO(spool.encoded()))
    assert meta.source_ae_title == "SENDER"
    assert meta.implementation_class_uid == IMPL
    spool.close()


def test_dataset_and_file_meta(spool_dir: Path) -> None:
    spool, _ = received(spool_dir, syntax=BIG)
    first = spool.dataset
    assert first is spool.dataset  # decoded once, cached
    assert first == ct()
    meta = spool.file_meta
    assert isinstance(meta, FileMetaDataset)
    assert meta.TransferSyntaxUID == BIG
    assert meta.MediaStorageSOPClassUID == ct().SOPClassUID
    assert meta.MediaStorageSOPInstanceUID == ct().SOPInstanceUID
    assert meta.ImplementationClassUID == IMPL
    assert first.file_meta.TransferSyntaxUID == BIG
    spool.close()


def test_close_removes_the_temporary_file(spool_dir: Path) -> None:
    spool, _ = received(spool_dir)
    path = spool.path()
    assert path.exists()
    spool.close()
    assert not path.exists()
    assert listing(spool_dir) == []
    spool.close()  # twice is fine


# --- save() ----------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [1 << 20, 256], ids=["in-memory", "spilled-elsewhere"])
def test_save_writes_the_whole_file(spool_dir: Path, tmp_path: Path, threshold: int) -> None:
    out = tmp_path / "out"
    out.mkdir()
    spool, _ = received(spool_dir, threshold=threshold)
    expected = spool.encoded()
    target = spool.save(out / "ct.dcm")
    assert target == out / "ct.dcm"
    assert target.read_bytes() == expected
    assert listing(out) == ["ct.dcm"]  # no temporary left behind
    assert dcmread(target) == ct()
    spool.close()
    assert target.read_bytes() == expected  # ours to keep, not the spool's
    assert listing(spool_dir) == []


def test_save_into_the_spool_directory_renames_and_stays_readable(spool_dir: Path) -> None:
    spool, _ = received(spool_dir, threshold=256)
    expected = spool.encoded()
    spool_file = spool.path().name
    target = spool.save(spool_dir / "ct.dcm")
    assert listing(spool_dir) == ["ct.dcm"]  # the spool file itself was renamed
    assert spool_file not in listing(spool_dir)
    assert target.read_bytes() == expected
    # The data set can still be read and saved again after the rename.
    assert spool.encoded() == expected
    assert spool.dataset == ct()
    again = spool.save(spool_dir / "copy.dcm")
    assert again.read_bytes() == expected
    spool.close()
    assert listing(spool_dir) == ["copy.dcm", "ct.dcm"]  # close() deletes neither
    assert (spool_dir / "ct.dcm").read_bytes() == expected


def test_save_overwrites_by_default(tmp_path: Path, spool_dir: Path) -> None:
    target = tmp_path / "ct.dcm"
    target.write_bytes(b"old content")
    spool, _ = received(spool_dir)
    spool.save(target)
    assert target.read_bytes() == spool.encoded()
    assert listing(tmp_path) == ["ct.dcm", "spool"]
    spool.close()


@pytest.mark.parametrize("threshold", [1 << 20, 256], ids=["in-memory", "spilled"])
def test_save_without_overwrite_refuses_an_existing_file(
    tmp_path: Path, spool_dir: Path, threshold: int
) -> None:
    target = tmp_path / "ct.dcm"
    target.write_bytes(b"keep me")
    spool, _ = received(spool_dir, threshold=threshold)
    with pytest.raises(FileExistsError):
        spool.save(target, overwrite=False)
    assert target.read_bytes() == b"keep me"
    assert listing(tmp_path) == ["ct.dcm", "spool"]
    fresh = spool.save(tmp_path / "new.dcm", overwrite=False)
    assert fresh.read_bytes() == spool.encoded()
    assert listing(tmp_path) == ["ct.dcm", "new.dcm", "spool"]
    spool.close()


def test_save_without_overwrite_into_the_spool_directory(spool_dir: Path) -> None:
    spool, _ = received(spool_dir, threshold=256)
    expected = spool.encoded()
    (spool_dir / "taken.dcm").write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        spool.save(spool_dir / "taken.dcm", overwrite=False)
    assert (spool_dir / "taken.dcm").read_bytes() == b"keep me"
    spool.save(spool_dir / "ct.dcm", overwrite=False)
    assert (spool_dir / "ct.dcm").read_bytes() == expected
    assert listing(spool_dir) == ["ct.dcm", "taken.dcm"]
    spool.close()


def test_save_is_atomic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spool_dir: Path) -> None:
    """When the target name appears, the file behind it is already complete and synced."""
    spool, _ = received(spool_dir, threshold=1 << 20)
    expected = spool.encoded()
    target = tmp_path / "ct.dcm"
    seen: list[tuple[bool, bytes]] = []
    synced: list[int] = []
    real_replace, real_fsync = os.replace, os.fsync

    def watching_replace(src: Any, dst: Any) -> None:
        seen.append((Path(dst).exists(), Path(src).read_bytes()))
        assert synced, "renamed before fsync"
        real_replace(src, dst)

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "replace", watching_replace)
    monkeypatch.setattr(os, "fsync", counting_fsync)
    spool.save(target)
    assert seen == [(False, expected)]
    assert len(synced) >= 2  # the file, then its directory
    assert target.read_bytes() == expected
    spool.close()


def test_save_under_a_file_raises_oserror_and_leaves_nothing(
    tmp_path: Path, spool_dir: Path
) -> None:
    blocker = tmp_path / "afile"
    blocker.write_bytes(b"x")
    for threshold in (1 << 20, 256):
        spool, _ = received(spool_dir, threshold=threshold)
        expected = spool.encoded()
        with pytest.raises(OSError):
            spool.save(blocker / "ct.dcm")
        assert listing(tmp_path) == ["afile", "spool"]
        assert blocker.read_bytes() == b"x"
        # The received data set is intact and can still be saved elsewhere.
        assert spool.encoded() == expected
        assert spool.save(tmp_path / "ok.dcm").read_bytes() == expected
        (tmp_path / "ok.dcm").unlink()
        spool.close()
        assert listing(spool_dir) == []


def test_save_into_a_missing_directory_raises_oserror(tmp_path: Path, spool_dir: Path) -> None:
    spool, _ = received(spool_dir)
    with pytest.raises(OSError):
        spool.save(tmp_path / "missing" / "ct.dcm")
    assert not (tmp_path / "missing").exists()
    spool.close()


@pytest.mark.parametrize(
    ("threshold", "same_dir"),
    [(1 << 20, False), (256, False), (256, True)],
    ids=["in-memory", "spilled-elsewhere", "spilled-here"],
)
@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_save_failure_leaves_no_partial_file(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    threshold: int,
    same_dir: bool,
    failing: str,
) -> None:
    if failing == "write" and same_dir:
        pytest.skip("a spool file in the target directory is renamed, not written")
    out = tmp_path / "out"
    out.mkdir()
    spool_dir = out if same_dir else tmp_path
    spool, _ = received(spool_dir, threshold=threshold)
    expected = spool.encoded()
    before = listing(out)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        class FullDisk(io.RawIOBase):
            def __init__(self, fd: int) -> None:
                self._inner = real_fdopen(fd, "wb")

            def write(self, b: Any) -> int:
                raise OSError(28, "No space left on device")

            def close(self) -> None:
                self._inner.close()

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(fd))
    else:
        monkeypatch.setattr(os, failing, broken)

    with pytest.raises(OSError, match="No space left"):
        spool.save(out / "ct.dcm")
    monkeypatch.undo()
    assert not (out / "ct.dcm").exists()
    assert listing(out) == before  # no temporary file either
    assert spool.encoded() == expected  # the received data set is intact
    spool.close()
    assert [n for n in listing(out) if n.startswith(".dicomnet-")] == []


# --- decode_dataset / encode_dataset ---------------------------------------------------------


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_round_trip_the_ct(syntax: str) -> None:
    original = ct()
    data = encode_dataset(original, syntax)
    assert len(data) % 2 == 0
    assert decode_dataset(data, syntax) == original
    assert decode_dataset(io.BytesIO(data), syntax) == original


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_agrees_with_pydicom_files(syntax: str) -> None:
    """What pydicom writes in a file we decode, and what we encode pydicom reads."""
    original = ct()
    original.file_meta.TransferSyntaxUID = UID(syntax)
    out = io.BytesIO()
    dcmwrite(out, original, enforce_file_format=True)
    file_bytes = out.getvalue()
    meta = read_file_meta(io.BytesIO(file_bytes))
    assert decode_dataset(file_bytes[meta.dataset_offset :], syntax) == ct()
    ours = file_bytes[: meta.dataset_offset] + encode_dataset(ct(), syntax)
    assert dcmread(io.BytesIO(ours)) == ct()


def test_encodings_differ_as_the_syntax_says() -> None:
    ds = Dataset()
    ds.Rows = 0x0102
    little = encode_dataset(ds, EXPLICIT)
    big = encode_dataset(ds, BIG)
    implicit = encode_dataset(ds, IMPLICIT)
    assert little == b"\x28\x00\x10\x00US\x02\x00\x02\x01"
    assert big == b"\x00\x28\x00\x10US\x00\x02\x01\x02"
    assert implicit == b"\x28\x00\x10\x00\x02\x00\x00\x00\x02\x01"
    assert encode_dataset(ds, DEFLATED) != little


texts = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="\\"),
    min_size=1,
    max_size=64,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    syntax=st.sampled_from(SYNTAXES),
    patient_id=texts,
    name=st.lists(texts.filter(lambda t: "^" not in t and "=" not in t), min_size=1, max_size=3),
    rows=st.integers(min_value=0, max_value=0xFFFF),
    corner=st.lists(st.integers(min_value=-(2**31), max_value=2**31 - 1), min_size=2, max_size=2),
    weight=st.floats(allow_nan=False, allow_infinity=False, width=64),
    blob=st.binary(min_size=1, max_size=64).map(lambda b: b if len(b) % 2 == 0 else b + b"\x00"),
    with_sequence=st.booleans(),
)
def test_round_trip_property(
    syntax: str,
    patient_id: str,
    name: list[str],
    rows: int,
    corner: list[int],
    weight: float,
    blob: bytes,
    with_sequence: bool,
) -> None:
    ds = Dataset()
    ds.PatientID = patient_id[:64]
    ds.PatientName = "^".join(n[:12] for n in name)
    ds.Rows = rows
    ds.add_new(0x00181310, "US", [rows, 0xFFFF - rows])  # AcquisitionMatrix: multi-valued
    ds.add_new(0x00209241, "FL", 1.5)  # NominalCardiacTriggerTimePriorToRPeak
    ds.add_new(0x00540410, "SQ", [])  # PatientOrientationCodeSequence
    ds.add_new(0x00700052, "SL", corner)  # DisplayedAreaTopLeftHandCorner
    ds.add_new(0x00189327, "FD", weight)  # TablePosition
    ds.add_new(0x00420011, "OB", blob)  # EncapsulatedDocument
    if with_sequence:
        item = Dataset()
        item.CodeValue = patient_id[:16]
        item.CodeMeaning = patient_id
        ds.PatientOrientationCodeSequence = [item, Dataset()]
    data = encode_dataset(ds, syntax)
    back = decode_dataset(data, syntax)
    assert back == ds
    assert encode_dataset(back, syntax) == data  # stable: re-encoding gives the same bytes


class RecordingSync(Sync):
    """A Sync that records, at each call, whether the final file exists yet."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.calls: list[tuple[str, bool]] = []

    def file(self, fd: int) -> None:
        os.fstat(fd)  # a real descriptor
        self.calls.append(("file", self.target.exists()))

    def directory(self, path: Path) -> None:
        self.calls.append(("directory", self.target.exists()))


@pytest.mark.parametrize(
    ("threshold", "into_spool"),
    [(1 << 20, False), (256, False), (256, True)],
    ids=["in-memory", "spilled-elsewhere", "spilled-in-place"],
)
@pytest.mark.parametrize("overwrite", [True, False])
def test_save_syncs_the_file_before_its_name_and_the_directory_after(
    spool_dir: Path, tmp_path: Path, threshold: int, into_spool: bool, overwrite: bool
) -> None:
    out = spool_dir if into_spool else tmp_path / "out"
    out.mkdir(exist_ok=True)
    spool, _ = received(spool_dir, threshold=threshold)
    expected = spool.encoded()
    sync = RecordingSync(out / "ct.dcm")
    target = spool.save(out / "ct.dcm", overwrite=overwrite, sync=sync)
    assert sync.calls == [("file", False), ("directory", True)]
    assert target.read_bytes() == expected
    assert listing(out) == ["ct.dcm"]  # no temporary left behind, whichever way it was placed
    spool.close()


def test_save_without_fsync_still_writes_atomically(
    spool_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    out = tmp_path / "out"
    out.mkdir()
    spool, _ = received(spool_dir, threshold=1 << 20)
    target = spool.save(out / "ct.dcm", sync=FSYNC_NEVER)
    assert synced == []
    assert target.read_bytes() == spool.encoded()
    assert listing(out) == ["ct.dcm"]


def test_naming_reads_the_data_set_in_place(spool_dir: Path) -> None:
    spool, data = received(spool_dir, threshold=1 << 20)
    with spool.open_inflated() as stream:
        assert stream.read(8) == data[:8]
        stream.seek(2, io.SEEK_CUR)
        assert stream.tell() == 10
        assert stream.read() == data[10:]
        assert stream.read(5) == b""
        stream.seek(0)
        buffer = bytearray(4)
        reader: Any = stream
        assert reader.readinto(buffer) == 4 and bytes(buffer) == data[:4]


def test_status_dataset_is_what_pydicom_builds() -> None:
    """status_dataset makes its Dataset and US elements without pydicom's constructors: the
    objects must be the ones ``Dataset()`` and ``setattr`` give, element by element."""
    from dicomnet.dataset import status_dataset
    from dicomnet.dimse.messages import C_FIND_RSP, C_GET_RSP

    find = C_FIND_RSP(MessageIDBeingRespondedTo=1, AffectedSOPClassUID="1.2.3", Status=0xFF00)
    get = C_GET_RSP(
        MessageIDBeingRespondedTo=1,
        AffectedSOPClassUID="1.2.3",
        Status=0xB000,
        NumberOfRemainingSuboperations=0,
        NumberOfCompletedSuboperations=7,
        NumberOfFailedSuboperations=1,
        NumberOfWarningSuboperations=65535,
        ErrorComment="some failed",
    )
    for rsp in (find, get, None):
        fast = status_dataset(rsp)
        slow = Dataset()
        for element in fast:
            setattr(slow, element.keyword, element.value)
        assert fast == slow
        assert list(fast.keys()) == list(slow.keys())
        assert fast.__dict__.keys() == slow.__dict__.keys()
        assert {k: v for k, v in vars(fast).items() if k != "_dict"} == {
            k: v for k, v in vars(slow).items() if k != "_dict"
        }
        for a, b in zip(fast, slow, strict=True):
            assert vars(a) == vars(b)
            assert type(a) is type(b)
        fast.Status = 1  # still an ordinary Dataset: settable, nothing shared
        assert status_dataset(rsp).get("Status") == (rsp.Status if rsp else None)
    assert len(status_dataset(get)) == 6


def _pydicom_read(data: bytes, syntax: str) -> Any:
    from pydicom.filereader import read_dataset

    return read_dataset(
        io.BytesIO(data),
        is_implicit_VR=syntax == "1.2.840.10008.1.2",
        is_little_endian=syntax != "1.2.840.10008.1.2.2",
    )


def _same_as_pydicom(data: bytes, syntax: str, convert: bool = True) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = _pydicom_read(data, syntax)
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = decode_dataset(data, syntax)
    assert [str(w.message) for w in ours_warned] == [str(w.message) for w in theirs_warned]
    assert list(ours._dict.items()) == list(theirs._dict.items())  # the same RawDataElements
    for a, b in zip(ours._dict.values(), theirs._dict.values(), strict=True):
        assert [type(v) for v in a] == [type(v) for v in b]  # type: ignore[union-attr]
    assert {k: v for k, v in vars(ours).items() if k != "_dict"} == {
        k: v for k, v in vars(theirs).items() if k != "_dict"
    }
    if convert:
        assert ours == theirs


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
def test_decode_dataset_reads_plain_elements_as_pydicom(syntax: str) -> None:
    """decode_dataset reads plain top-level elements itself (no pydicom element generator):
    what it gives must be pydicom's read_dataset result, raw element by raw element; anything
    special goes to pydicom (sequences, character sets, odd VRs, truncation)."""
    import warnings

    from pydicom.sequence import Sequence

    plain = Dataset()
    plain.QueryRetrieveLevel = "IMAGE"
    plain.StudyInstanceUID = "1.2.3.4"
    plain.SOPInstanceUID = "1.2.3.4.5\x00"
    plain.InstanceNumber = ""
    plain.PatientName = "Doe^J"
    plain.Rows = 512
    plain.add_new(0x00091001, "UN", b"\x01\x02")
    plain.add_new(0x00420011, "OB", b"\x00\x01")
    plain.RetrieveURL = "http://x/y"
    plain.add_new(0x00191010, "LO", "private")
    with_sequence = Dataset()
    with_sequence.PatientID = "P"
    item = Dataset()
    item.CodeValue = "X"
    with_sequence.ProcedureCodeSequence = Sequence([item])
    with_charset = Dataset()
    with_charset.SpecificCharacterSet = "ISO_IR 100"
    with_charset.PatientName = "Müller"
    for ds in (plain, with_sequence, with_charset, Dataset()):
        data = encode_dataset(ds, syntax)
        _same_as_pydicom(data, syntax)
        for cut in (1, 3, 7, 9, 11):  # truncated: pydicom's own handling
            if len(data) > cut:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        _pydicom_read(data[:-cut], syntax)
                    except Exception:
                        continue
                _same_as_pydicom(data[:-cut], syntax, convert=False)
    # the other VR encoding than declared: pydicom's warning and switch
    other = "1.2.840.10008.1.2.1" if syntax == "1.2.840.10008.1.2" else "1.2.840.10008.1.2"
    _same_as_pydicom(encode_dataset(plain, other), syntax)
    data = encode_dataset(plain, syntax)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert decode_dataset(bytearray(data), syntax) == _pydicom_read(data, syntax)


# Element headers a plain identifier is made of, and some that the fast reader must decline.
_VRS = [
    b"AE",
    b"CS",
    b"DA",
    b"IS",
    b"LO",
    b"PN",
    b"SH",
    b"UI",
    b"US",
    b"UL",
    b"OB",
    b"UN",
    b"SQ",
    b"UT",
    b"ZZ",
]


@st.composite
def _little_endian_elements(draw: st.DrawFn, implicit: bool) -> bytes:
    """Bytes of a run of top-level elements, mostly well formed, now and then not (an item
    tag, Specific Character Set, undefined or overlong lengths, an unknown VR, a truncation)."""
    import struct

    def odd() -> bool:
        return draw(st.integers(0, 11)) == 0

    out = bytearray()
    for _ in range(draw(st.integers(0, 6))):
        group = 0xFFFE if odd() else draw(st.sampled_from([0x0008, 0x0009, 0x0010, 0x0020]))
        number = 0x0005 if odd() else draw(st.integers(0, 0xFFFF))
        value = draw(st.binary(max_size=12))
        length = draw(st.sampled_from([0xFFFFFFFF, len(value) + 3])) if odd() else len(value)
        if implicit:
            out += struct.pack("<HHL", group, number, length)
        else:
            vr = b"ZZ" if odd() else draw(st.sampled_from(_VRS[:-1]))
            if vr in (b"OB", b"UN", b"SQ", b"UT"):
                out += struct.pack("<HH2sHL", group, number, vr, 0, length)
            else:
                out += struct.pack("<HH2sH", group, number, vr, length & 0xFFFF)
        out += value
    if odd():
        out += draw(st.binary(min_size=1, max_size=5))  # a truncated element
    return bytes(out)


@given(data=st.data(), implicit=st.booleans())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fast_plain_reader_declines_or_matches_pydicom(data: st.DataObject, implicit: bool) -> None:
    """For any bytes, decode_dataset's own reader of plain elements either declines (pydicom
    reads them) or gives exactly pydicom's raw elements and Dataset state."""
    import warnings

    from dicomnet._pydicom_fast import read_plain as _read_plain

    raw = data.draw(_little_endian_elements(implicit))
    syntax = "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _read_plain(raw, implicit)
        if ours is None:
            return
        theirs = _pydicom_read(raw, syntax)
    assert list(ours._dict.items()) == list(theirs._dict.items())
    assert {k: v for k, v in vars(ours).items() if k != "_dict"} == {
        k: v for k, v in vars(theirs).items() if k != "_dict"
    }
