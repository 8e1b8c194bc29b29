"""The index database: opening it (SQLite file or PostgreSQL URL), creating or migrating its
schema, adding instances, and the queries C-FIND, C-GET and C-MOVE run.

SQLite (the default, a file in the storage directory): WAL journal (readers never wait for the
writer), ``synchronous=NORMAL`` (a commit survives a crash of the program; the files
themselves are fsynced before the index row is written, and ``qrscp index`` rebuilds the index
from them after a power loss), one writer at a time (``BEGIN IMMEDIATE``, a 30 s busy timeout
between processes), ``case_sensitive_like`` on so that LIKE is as case-sensitive as on
PostgreSQL. PostgreSQL (``postgresql://...``, driven by psycopg 3): several nodes may write
concurrently; a unique-key race between two of them is retried.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError, OperationalError

from dicomnet.archive.attributes import (
    BY_TAG,
    LEVELS,
    level_attributes,
    row_values,
    texts_from_dataset,
)
from dicomnet.archive.schema import (
    INSTANCES,
    PATIENTS,
    SCHEMA_VERSION,
    SERIES,
    STUDIES,
    TABLES,
    migrate,
)

#: The SQLite file ``qrscp`` keeps in its storage directory by default.
DEFAULT_DB_NAME = "dicomnet-index.sqlite3"

_KEY_COLUMNS = {
    "PATIENT": ("patientid", "issuerofpatientid"),
    "STUDY": ("studyinstanceuid",),
    "SERIES": ("seriesinstanceuid",),
    "IMAGE": ("sopinstanceuid",),
}


def _order(level: str, tag: int) -> int:
    """Key columns in _KEY_COLUMNS order, then the rest by tag."""
    column = BY_TAG[tag].column
    keys = _KEY_COLUMNS[level]
    return keys.index(column) if column in keys else tag


#: Per level: the tags of its attributes, the unique key(s) first (as in _KEY_COLUMNS).
_LEVEL_TAGS = {
    level: tuple(
        sorted(
            (a.tag for a in level_attributes(level)),
            key=lambda tag: (BY_TAG[tag].column not in _KEY_COLUMNS[level], _order(level, tag)),
        )
    )
    for level in LEVELS
}
_UNIQUE_TAGS = {level: _LEVEL_TAGS[level][0] for level in LEVELS}


def _fetch_all(driver: Any, sql: str, parameters: list[Any]) -> list[Any]:
    cursor = driver.execute(sql, parameters)
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _sqlite_call(function: Any, *args: Any) -> Any:
    """``function(*args)`` on the sqlite3 driver, its errors raised as SQLAlchemy's (an
    IntegrityError is retried by ``add_many``, the others make the index unavailable)."""
    import sqlite3

    try:
        return function(*args)
    except sqlite3.IntegrityError as exc:
        raise IntegrityError(str(args[0])[:200], None, exc) from exc
    except sqlite3.Error as exc:
        raise OperationalError(str(args[0])[:200], None, exc) from exc


class IndexUnavailable(RuntimeError):
    """The database cannot be reached or used right now."""


def database_url(db: str | None, directory: Path | None) -> str:
    """The SQLAlchemy URL for a ``--db`` value: None -> the SQLite file in ``directory``; a
    ``postgresql://`` URL -> the same with the psycopg 3 driver; ``sqlite:///...`` as given;
    a directory -> its default SQLite file; anything else is the path of a SQLite file."""
    if not db:
        if directory is None:
            raise ValueError("no database given and no storage directory to keep one in")
        return f"sqlite:///{(directory / DEFAULT_DB_NAME).resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if db.startswith(prefix):
            return "postgresql+psycopg://" + db[len(prefix) :]
    if "://" in db:
        return db
    if Path(db).is_dir():  # a qrscp storage directory: its default index
        return f"sqlite:///{(Path(db) / DEFAULT_DB_NAME).resolve()}"
    return f"sqlite:///{Path(db).resolve()}"


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database>"


def _sqlite_setup(engine: sa.Engine) -> None:
    @sa_event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("dicomnet_write", False)
        # straight to the driver: through exec_driver_sql this costs a third of an insert
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            "BEGIN IMMEDIATE" if write else "BEGIN"
        )


class Index:
    """An open index database."""

    def __init__(self, url: str, *, root: Path | None = None, create: bool = True) -> None:
        self.url = url
        self.root = root.resolve() if root is not None else None
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite}
        if self.is_sqlite:
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            options["connect_args"] = {"connect_timeout": 10}
        try:
            self.engine = sa.create_engine(url, **options)
        except Exception as exc:  # bad URL, missing driver
            raise IndexUnavailable(f"cannot use the database {describe_url(url)}: {exc}") from None
        if self.is_sqlite:
            _sqlite_setup(self.engine)
        self._write_lock = threading.Lock()
        self._parents: dict[tuple[str, tuple[Any, ...]], tuple[int, Any]] = {}
        self._statements: dict[str, Any] = {}
        self._compiled: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]]] = {}
        self._conn: sa.Connection | None = None
        self.previous_version: int | None = None
        if create:
            self.open_schema()

    def open_schema(self) -> int:
        """Create or migrate the schema; the version found (0: created now)."""
        try:
            with self._writer() as conn, conn.begin():
                self.previous_version = migrate(conn)
        except (OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError) as exc:
            raise IndexUnavailable(self._why(exc)) from None
        return self.previous_version

    @property
    def version(self) -> int:
        return SCHEMA_VERSION

    def _why(self, exc: Exception) -> str:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        first = text[0] if text else type(exc).__name__
        return f"index database {describe_url(self.url)} unavailable: {first}"

    def _writer(self) -> sa.Connection:
        return self.engine.connect().execution_options(dicomnet_write=True)

    def _kept_writer(self) -> sa.Connection:
        """The connection instances are added on, kept between calls (under the write lock):
        a pool checkout per instance costs more than the insert itself."""
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._writer()
        return self._conn

    def _drop_writer(self) -> None:
        self._parents.clear()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._write_lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None
        self.engine.dispose()

    # --- paths ---------------------------------------------------------------------------

    def stored_path(self, path: Path) -> str:
        """How a file's path is kept: relative to the storage root when inside it (so that
        nodes mounting the storage elsewhere agree), else absolute."""
        if not path.is_absolute():
            path = path.resolve()
        if self.root is not None and path.is_relative_to(self.root):
            return path.relative_to(self.root).as_posix()
        return str(path)

    def file_path(self, stored: str) -> Path:
        path = Path(stored)
        if path.is_absolute() or self.root is None:
            return path
        return self.root / path

    # --- adding --------------------------------------------------------------------------

    def _rows(
        self, ds: Any, path: Path, transfer_syntax: str, size: int | None
    ) -> tuple[dict[int, str | None], dict[str, Any]]:
        """The instance's indexed texts, checked, and its instance-row extras."""
        texts = ds if isinstance(ds, dict) else texts_from_dataset(ds)
        for level in ("STUDY", "SERIES", "IMAGE"):
            if not texts.get(_UNIQUE_TAGS[level]):
                raise ValueError(f"the data set has no {level.title()} unique key")
        extra = {
            "transfer_syntax": transfer_syntax,
            "path": self.stored_path(path),
            "size": size if size is not None else os.path.getsize(path),
        }
        return texts, extra

    def add(self, ds: Any, path: Path, transfer_syntax: str, size: int | None = None) -> None:
        """Index one stored instance at ``path`` (``ds``: its pydicom Dataset, or {tag: text}
        as :func:`~dicomnet.archive.attributes.texts_from_raw` makes): insert or update its
        patient, study, series and instance rows in one transaction. IndexUnavailable when
        the database cannot be written; ValueError when a unique key is missing."""
        self.add_many([(ds, path, transfer_syntax, size)])

    def add_many(self, items: Sequence[tuple[Any, Path, str, int | None]]) -> None:
        """Index several instances in one transaction (all or none)."""
        rows = [self._rows(*item) for item in items]
        last: Exception | None = None
        for _attempt in range(5):
            with self._write_lock:
                try:
                    conn = self._kept_writer()
                    with conn.begin():
                        for texts, extra in rows:
                            self._add_entity(conn, texts, extra)
                    return
                except IntegrityError as exc:  # a parent deleted by another node, or a race
                    last = exc
                    self._parents.clear()
                except (OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError) as exc:
                    self._drop_writer()
                    raise IndexUnavailable(self._why(exc)) from None
                except BaseException:
                    self._drop_writer()
                    raise
        raise IndexUnavailable(self._why(last or RuntimeError("conflicting writers")))

    def _add_entity(
        self, conn: sa.Connection, texts: dict[int, str | None], extra: dict[str, Any]
    ) -> None:
        """The rows of one instance. Parents (patient, study, series) just written with the
        same values are not written again: their ids are remembered (cleared on any error,
        and when this node clears the index), so an instance of a known series costs one
        statement."""
        parent: int | None = None
        for level in LEVELS:
            signature = (parent, tuple(texts.get(tag) for tag in _LEVEL_TAGS[level]))
            key = (level, signature[1][: len(_KEY_COLUMNS[level])])
            if level != "IMAGE":
                seen = self._parents.get(key)
                if seen is not None and seen[1] == signature:
                    parent = seen[0]
                    continue
            data = row_values(texts, level)
            if level == "PATIENT":
                for column in _KEY_COLUMNS[level]:
                    data[column] = data[column] or ""
            elif level == "IMAGE":
                data.update(extra)
            if parent is not None:
                data["parent_id"] = parent
            parent = self._upsert(conn, level, data)
            if level != "IMAGE":
                if len(self._parents) > 50_000:
                    self._parents.clear()
                self._parents[key] = (parent, signature)

    def _upsert_statement(self, level: str) -> Any:
        """INSERT ... ON CONFLICT (unique key) DO UPDATE ... RETURNING id, built once per level
        (SQLite and PostgreSQL share this syntax; SQLAlchemy spells it per dialect)."""
        statement = self._statements.get(level)
        if statement is None:
            # only the dialect in use: importing the PostgreSQL one (and its asyncpg module)
            # for a SQLite index costs ~50 ms
            if self.is_sqlite:
                from sqlalchemy.dialects import sqlite as dialect
            else:
                from sqlalchemy.dialects import postgresql as dialect  # type: ignore[no-redef]

            table = TABLES[level]
            keys = _KEY_COLUMNS[level]
            base: Any = dialect.insert(table)
            updates = {
                c.name: base.excluded[c.name] for c in table.c if c.name not in ("id", *keys)
            }
            statement = base.on_conflict_do_update(
                index_elements=list(keys), set_=updates
            ).returning(table.c.id)
            self._statements[level] = statement
        return statement

    def _sqlite_upsert(self, conn: sa.Connection, level: str, data: dict[str, Any]) -> int:
        """The upsert of :meth:`_upsert_statement`, compiled once per level and set of columns
        and run on the sqlite3 connection itself: SQLAlchemy's execution machinery costs more
        than the insert (half of what indexing adds to a C-STORE). Driver errors are raised as
        SQLAlchemy's, as :meth:`add_many` expects."""
        key = (level, tuple(data))
        found = self._compiled.get(key)
        if found is None:
            compiled = self._upsert_statement(level).compile(
                dialect=self.engine.dialect, column_keys=list(data)
            )
            names = compiled.positiontup
            processors = getattr(compiled, "_bind_processors", None)
            if names is None or processors is None or processors:  # not plain: the usual way
                return int(conn.execute(self._upsert_statement(level), data).scalar_one())
            found = (str(compiled), tuple(names))
            self._compiled[key] = found
        sql, names = found
        driver: Any = conn.connection.driver_connection
        rows = _sqlite_call(_fetch_all, driver, sql, [data[name] for name in names])
        return int(rows[0][0])

    def _upsert(self, conn: sa.Connection, level: str, data: dict[str, Any]) -> int:
        if self.is_sqlite:
            return self._sqlite_upsert(conn, level, data)
        if self.url.startswith("postgresql"):
            return int(conn.execute(self._upsert_statement(level), data).scalar_one())
        table = TABLES[level]  # another database: select, then insert or update
        where = sa.and_(*(table.c[k] == data[k] for k in _KEY_COLUMNS[level]))
        found = conn.execute(sa.select(table.c.id).where(where)).scalar()
        if found is None:
            key = conn.execute(sa.insert(table).values(**data)).inserted_primary_key
            assert key is not None
            return int(key[0])
        conn.execute(sa.update(table).where(table.c.id == found).values(**data))
        return int(found)

    def remove_instance(self, sop_instance_uid: str) -> None:
        """Forget one instance (its parents stay, as dcmqrscp keeps them)."""
        try:
            with self._write_lock, self._writer() as conn, conn.begin():
                conn.execute(
                    sa.delete(INSTANCES).where(INSTANCES.c.sopinstanceuid == sop_instance_uid)
                )
        except (OperationalError, sa.exc.DBAPIError) as exc:
            raise IndexUnavailable(self._why(exc)) from None

    def clear(self) -> None:
        """Remove every row (``qrscp index`` rebuilds from scratch)."""
        with self._write_lock, self._writer() as conn, conn.begin():
            self._parents.clear()
            for table in (INSTANCES, SERIES, STUDIES, PATIENTS):
                conn.execute(sa.delete(table))

    # --- reading -------------------------------------------------------------------------

    def stream(self, statement: sa.Select[Any], batch: int = 200) -> Iterator[sa.RowMapping]:
        """The rows of ``statement``, fetched in batches (the first arrives before the query
        has found them all). IndexUnavailable if the database fails."""
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=batch).execute(
                    statement
                )
                yield from result.mappings()
        except (OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError) as exc:
            raise IndexUnavailable(self._why(exc)) from None

    def fetch(self, statement: sa.Select[Any]) -> list[sa.RowMapping]:
        return list(self.stream(statement))

    def count(self, level: str) -> int:
        table = TABLES[level]
        rows = self.fetch(sa.select(sa.func.count(table.c.id).label("n")))
        return int(rows[0]["n"] or 0)

    def instance_paths(self, uids: Sequence[str]) -> dict[str, Path]:
        statement = sa.select(INSTANCES.c.sopinstanceuid, INSTANCES.c.path).where(
            INSTANCES.c.sopinstanceuid.in_(list(uids))
        )
        return {row["sopinstanceuid"]: self.file_path(row["path"]) for row in self.fetch(statement)}
