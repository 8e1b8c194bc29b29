"""The index tables (SQLAlchemy 2 Core, one definition for SQLite and PostgreSQL) and the schema
version.

Four tables, one per Query/Retrieve level, each row pointing at its parent::

    patients (patientid, issuerofpatientid)  <- studies (studyinstanceuid)
        <- series (seriesinstanceuid) <- instances (sopinstanceuid, path, transfer syntax)

plus ``dicomnet_schema`` holding one row, the schema version. :func:`migrate` creates the
tables on an empty database, upgrades an older schema step by step, and refuses a newer one
(written by a newer dicomnet) with :class:`SchemaError`, which says so.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dicomnet.archive.attributes import level_attributes

#: The schema this code reads and writes.
SCHEMA_VERSION = 2

METADATA = sa.MetaData()

_TABLE_NAMES = {"PATIENT": "patients", "STUDY": "studies", "SERIES": "series", "IMAGE": "instances"}
_PARENT = {"STUDY": "PATIENT", "SERIES": "STUDY", "IMAGE": "SERIES"}


class SchemaError(RuntimeError):
    """The database holds a schema this code cannot use (newer, or not ours)."""


def _columns(level: str) -> list[sa.Column[Any]]:
    columns: list[sa.Column[Any]] = []
    for attr in level_attributes(level):
        if attr.vr == "UI":
            columns.append(sa.Column(attr.column, sa.String(64)))
        elif attr.vr == "SQ":
            columns.append(sa.Column(attr.column, sa.Text))  # DICOM JSON of the items
        else:
            columns.append(sa.Column(attr.column, sa.Text))
        if attr.vr == "PN":
            columns.append(sa.Column(f"{attr.column}_fold", sa.Text))
        elif attr.vr in ("TM", "DT"):
            columns.append(sa.Column(f"{attr.column}_key", sa.String(32)))
    return columns


def _table(level: str, *extra: Any) -> sa.Table:
    parent = _PARENT.get(level)
    parts: list[Any] = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)]
    if parent is not None:
        parts.append(
            sa.Column(
                "parent_id",
                sa.Integer,
                sa.ForeignKey(f"{_TABLE_NAMES[parent]}.id", ondelete="CASCADE"),
                nullable=False,
                index=True,
            )
        )
    parts.extend(_columns(level))
    parts.extend(extra)
    return sa.Table(_TABLE_NAMES[level], METADATA, *parts)


PATIENTS = _table(
    "PATIENT",
    sa.UniqueConstraint("patientid", "issuerofpatientid", name="uq_patient"),
    sa.Index("ix_patients_name_fold", "patientname_fold"),
)
STUDIES = _table(
    "STUDY",
    sa.UniqueConstraint("studyinstanceuid", name="uq_study"),
    sa.Index("ix_studies_date", "studydate"),
    sa.Index("ix_studies_accession", "accessionnumber"),
)
SERIES = _table(
    "SERIES",
    sa.UniqueConstraint("seriesinstanceuid", name="uq_series"),
    sa.Index("ix_series_modality", "modality"),
)
INSTANCES = _table(
    "IMAGE",
    sa.Column("transfer_syntax", sa.String(64), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False, default=0),
    sa.UniqueConstraint("sopinstanceuid", name="uq_instance"),
)

TABLES: dict[str, sa.Table] = {
    "PATIENT": PATIENTS,
    "STUDY": STUDIES,
    "SERIES": SERIES,
    "IMAGE": INSTANCES,
}

VERSION = sa.Table(
    "dicomnet_schema",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)


def _add_sequence_columns(conn: sa.Connection) -> None:
    """1 -> 2: the sequence attributes (kept as DICOM JSON). Instances indexed before have
    NULL there, as if they had none, until ``qrscp index`` reads their files again."""
    for table in METADATA.sorted_tables:
        for attr in level_attributes(_LEVEL_OF.get(table.name, "")):
            if attr.vr == "SQ":
                name = conn.dialect.identifier_preparer.quote(attr.column)
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {name} TEXT"))


_LEVEL_OF = {name: level for level, name in _TABLE_NAMES.items()}

#: Upgrade steps: MIGRATIONS[n] takes a connection from version n to n + 1.
MIGRATIONS: dict[int, Any] = {1: _add_sequence_columns}


def read_version(conn: sa.Connection) -> int | None:
    """The schema version of the database, None when it has no dicomnet tables."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(VERSION.name):
        if inspector.has_table(PATIENTS.name):
            raise SchemaError(
                "the database has a 'patients' table but no dicomnet_schema table: it is not "
                "a dicomnet index; give another database"
            )
        return None
    found = conn.execute(sa.select(VERSION.c.version).where(VERSION.c.id == 1)).scalar()
    if found is None:
        raise SchemaError("the dicomnet_schema table is empty: the index is damaged")
    return int(found)


def migrate(conn: sa.Connection) -> int:
    """Create or upgrade the schema inside the caller's transaction; return the version found
    (0 for a new database). SchemaError for a newer schema."""
    version = read_version(conn)
    if version is None:
        METADATA.create_all(conn)
        conn.execute(sa.insert(VERSION).values(id=1, version=SCHEMA_VERSION))
        return 0
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"the index database has schema version {version}, newer than the version "
            f"{SCHEMA_VERSION} this dicomnet understands: it was written by a newer dicomnet. "
            "Upgrade dicomnet, or give another database"
        )
    for step in range(version, SCHEMA_VERSION):
        MIGRATIONS[step](conn)
        conn.execute(sa.update(VERSION).where(VERSION.c.id == 1).values(version=step + 1))
    return version
