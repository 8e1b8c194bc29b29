"""The index itself, on SQLite and PostgreSQL: schema versions (created, migrated, a newer one
refused), re-indexing an instance, concurrent writers, and C-CANCEL of a long query."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydicom.dataset import Dataset

from dicomnet.archive import schema
from dicomnet.archive.index import Index
from dicomnet.archive.schema import SchemaError
from tests.archive.conftest import ServeIndex
from tests.archive.content import query
from tests.qr.conftest import scu_ae


def synthetic(n: int, study: int = 1, name: str = "Many^Images") -> Dataset:
    ds = Dataset()
    ds.PatientID = f"P{study:05d}"
    ds.PatientName = name
    ds.StudyInstanceUID = f"1.2.3.{study}"
    ds.SeriesInstanceUID = f"1.2.3.{study}.1"
    ds.SOPInstanceUID = f"1.2.3.{study}.1.{n}"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.Modality = "CT"
    ds.InstanceNumber = n
    return ds


def add_synthetic(index: Index, count: int, study: int = 1) -> None:
    items: list[tuple[Any, Path, str, int | None]] = [
        (synthetic(n, study), Path(f"/nowhere/{study}/{n}.dcm"), "1.2.840.10008.1.2.1", 0)
        for n in range(count)
    ]
    index.add_many(items)


def test_a_new_database_gets_the_schema_and_its_version(db_url: str) -> None:
    index = Index(db_url)
    try:
        assert index.previous_version == 0
        with index.engine.connect() as conn:
            assert schema.read_version(conn) == schema.SCHEMA_VERSION
        assert index.count("IMAGE") == 0
    finally:
        index.close()
    again = Index(db_url)  # opening again finds the version: nothing to do
    assert again.previous_version == schema.SCHEMA_VERSION
    again.close()


def test_an_older_schema_is_migrated_step_by_step(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Index(db_url).close()
    steps: list[int] = []

    def add_column(conn: sa.Connection) -> None:
        steps.append(1)
        conn.execute(sa.text("ALTER TABLE studies ADD COLUMN extra_note TEXT"))

    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema.MIGRATIONS, current, add_column)
    index = Index(db_url)
    try:
        assert index.previous_version == current and steps == [1]
        with index.engine.connect() as conn:
            assert schema.read_version(conn) == current + 1
            assert "extra_note" in {c["name"] for c in sa.inspect(conn).get_columns("studies")}
    finally:
        index.close()


def test_a_version_1_index_gets_the_sequence_columns(db_url: str) -> None:
    """Schema 1 (before sequence attributes were indexed) is migrated to 2: its rows stay, the
    sequence columns are added (NULL: no sequence known), new instances fill them."""
    index = Index(db_url)
    add_synthetic(index, 1)
    sequence_columns = {
        "patients": ["otherpatientidssequence"],
        "studies": [
            "issuerofaccessionnumbersequence",
            "procedurecodesequence",
            "referencedstudysequence",
        ],
        "series": ["requestattributessequence", "referencedperformedprocedurestepsequence"],
    }
    with index.engine.begin() as conn:  # back to what version 1 was
        for table, columns in sequence_columns.items():
            for column in columns:
                conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(sa.update(schema.VERSION).values(version=1))
    index.close()
    index = Index(db_url)
    try:
        assert index.previous_version == 1
        with index.engine.connect() as conn:
            assert schema.read_version(conn) == 2
            inspector = sa.inspect(conn)
            for table, columns in sequence_columns.items():
                assert set(columns) <= {c["name"] for c in inspector.get_columns(table)}
        ds = synthetic(1, study=2)
        code = Dataset()
        code.CodeValue = "C1"
        ds.ProcedureCodeSequence = [code]
        index.add(ds, Path("/nowhere/2/1.dcm"), "1.2.840.10008.1.2.1", 0)
        rows = index.fetch(
            sa.select(schema.STUDIES.c.studyinstanceuid, schema.STUDIES.c.procedurecodesequence)
        )
        assert sorted((r["studyinstanceuid"], r["procedurecodesequence"]) for r in rows) == [
            ("1.2.3.1", None),
            ("1.2.3.2", '[{"00080100":{"vr":"SH","Value":["C1"]}}]'),
        ]
    finally:
        index.close()


def test_a_newer_schema_is_refused(db_url: str) -> None:
    index = Index(db_url)
    with index.engine.begin() as conn:
        conn.execute(sa.update(schema.VERSION).values(version=schema.SCHEMA_VERSION + 1))
    index.close()
    with pytest.raises(SchemaError, match="newer than the version"):
        Index(db_url)


def test_a_database_that_is_not_ours_is_refused(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE patients (x INTEGER)"))
    engine.dispose()
    with pytest.raises(SchemaError, match="not a dicomnet index"):
        Index(db_url)


def test_indexing_an_instance_again_updates_it(db_url: str) -> None:
    index = Index(db_url)
    try:
        ds = synthetic(1)
        index.add(ds, Path("/a/1.dcm"), "1.2.840.10008.1.2.1", 10)
        ds.PatientName = "Renamed^Now"
        index.add(ds, Path("/b/1.dcm"), "1.2.840.10008.1.2", 20)
        assert index.count("IMAGE") == 1 and index.count("PATIENT") == 1
        assert index.instance_paths([str(ds.SOPInstanceUID)]) == {
            str(ds.SOPInstanceUID): Path("/b/1.dcm")
        }
        rows = index.fetch(sa.select(schema.PATIENTS.c.patientname))
        assert [r["patientname"] for r in rows] == ["Renamed^Now"]
    finally:
        index.close()


def test_concurrent_writers_lose_nothing(db_url: str) -> None:
    """Eight threads (as eight associations would) add instances of the same study at once:
    one patient, one study, one series, every instance."""
    index = Index(db_url)
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for n in range(offset, offset + 25):
                index.add(synthetic(n), Path(f"/x/{n}.dcm"), "1.2.840.10008.1.2.1", 0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 25,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert (index.count("PATIENT"), index.count("STUDY"), index.count("SERIES")) == (1, 1, 1)
        assert index.count("IMAGE") == 200
    finally:
        index.close()


def test_c_cancel_stops_a_long_query(db_url: str, serve_index: ServeIndex) -> None:
    index = Index(db_url)
    add_synthetic(index, 3000)
    server = serve_index(index)
    assoc = scu_ae().associate("127.0.0.1", server.server_address[1], ae_title="QRSCP")
    assert assoc.is_established
    try:
        identifier = query(
            "IMAGE", StudyInstanceUID="1.2.3.1", SeriesInstanceUID="1.2.3.1.1", SOPInstanceUID=""
        )
        responses = assoc.send_c_find(identifier, "S", msg_id=7)
        statuses = []
        for status, _ident in responses:
            statuses.append(int(status.Status))
            if len(statuses) == 1:
                assoc.send_c_cancel(7)
        assert statuses[-1] == 0xFE00
        assert set(statuses[:-1]) == {0xFF00}
        assert len(statuses) - 1 < 3000
        # the association carries on
        again = list(assoc.send_c_find(query("STUDY", StudyInstanceUID=""), "S"))
        assert [int(s.Status) for s, _i in again] == [0xFF00, 0x0000]
    finally:
        assoc.release()
        index.close()


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
def test_received_bytes_index_as_pydicom_reads_them(tmp_path: Path, syntax: str) -> None:
    """The receive path reads the indexed values from the received bytes without pydicom
    (sequence items parsed from their own bytes): the same index values as pydicom's reading
    of the whole data set, in Latin-1 and UTF-8, in both Little Endian syntaxes."""
    import io

    from pydicom import dcmread

    from dicomnet.archive.attributes import INDEX_TAGS, texts_from_dataset, texts_from_raw
    from dicomnet.dataset import encode_dataset
    from dicomnet.part10 import scan_top_level
    from tests.archive.content import write_extras

    checked = 0
    for path in write_extras(tmp_path):
        ds = dcmread(path)
        ds.file_meta = None  # type: ignore[assignment]
        data = encode_dataset(ds, syntax)
        raw = scan_top_level(io.BytesIO(data), syntax, set(INDEX_TAGS))
        assert raw is not None
        texts = texts_from_raw(raw, syntax == "1.2.840.10008.1.2")
        assert texts == texts_from_dataset(ds), path
        checked += any(t and t.startswith("[{") for t in texts.values() if t)
    assert checked == 3  # the three data sets with sequences
