"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` on a free port in a temporary
directory (run as the ``postgres`` user when the tests run as root, as CI does), stopped at the
end of the session. Debian's ``postgresql`` package provides the programs (README's install);
without them the PostgreSQL tests are skipped with a message saying so.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


def find_bin_dir() -> Path | None:
    """The directory with initdb and pg_ctl: Debian's versioned one, or PATH's."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").is_file() and Path(candidate, "pg_ctl").is_file():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    port: int
    as_user: list[str]
    base: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, *argv], capture_output=True, text=True, timeout=120, check=False
        )

    def admin(self, sql: str) -> None:
        """Run one statement on the maintenance database (autocommit)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"
        )
        shutil.rmtree(self.base, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb a new cluster and start it on a free loopback port (raises RuntimeError)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL programs (initdb, pg_ctl) not found")
    base = Path(tempfile.mkdtemp(prefix="dicomnet-pg-"))
    data_dir = base / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: the postgres user owns the cluster.
        runuser = shutil.which("runuser")
        if runuser is None:
            raise FileNotFoundError("runuser not found: cannot run PostgreSQL as postgres")
        as_user = [runuser, "-u", "postgres", "--"]
        os.chmod(base, 0o755)
        shutil.chown(base, "postgres")
    port = _free_port()
    server = PostgresServer(bin_dir, data_dir, port, as_user, base)
    done = server._run(
        str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
    )
    if done.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stderr.strip()[-500:]}")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    done = server._run(
        str(bin_dir / "pg_ctl"),
        "start",
        "-D",
        str(data_dir),
        "-w",
        "-t",
        "60",
        "-l",
        str(base / "log"),
        "-o",
        options,
    )
    if done.returncode != 0:
        log = ""
        with contextlib.suppress(OSError):
            log = (base / "log").read_text()[-800:]
        server.stop()
        raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} {log}")
    return server
