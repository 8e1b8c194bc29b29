"""Exit codes, output formats and the stderr console shared by every command.

Results go to stdout (a table on a terminal, ``--format json|jsonl|csv|text`` for scripts);
logs, progress and summaries go to stderr. ``NO_COLOR`` and ``--no-color`` are honoured. rich is
imported only when a table or progress bar is actually drawn, to keep start-up fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_REJECTED = 4
EXIT_ABORTED = 5
EXIT_FAILURE_STATUS = 6
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit codes: 0 success (warnings still 0); 1 internal error; 2 usage error (bad option, "
    "invalid AE title, unreadable input, bad --handler); 3 could not connect (refused, "
    "unreachable, DNS, timeout, TLS) or cannot listen; 4 association rejected or no presentation "
    "context accepted; 5 association aborted or timed out; 6 the peer answered with a failure "
    "status; 130 interrupted."
)

EXIT_CODE_TABLE: tuple[tuple[int, str], ...] = (
    (0, "every operation succeeded (warnings are printed, still 0)"),
    (1, "unexpected internal error (a bug: traceback with -d)"),
    (2, "usage error: bad option, invalid AE title, unreadable input, bad --handler"),
    (
        3,
        "could not connect: refused, unreachable, DNS failure, connect timeout, TLS handshake "
        "failed; SCP: cannot listen",
    ),
    (4, "association rejected by the peer, or no presentation context accepted"),
    (5, "association aborted or timed out during the operation"),
    (6, "the peer answered with a failure status for at least one operation"),
    (130, "interrupted"),
)


class OutputFormat(StrEnum):
    auto = "auto"
    table = "table"
    text = "text"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class CommandError(Exception):
    """A failure to report as one line on stderr and exit with ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def use_color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stderr.isatty()


def error(prog: str, message: str) -> None:
    """One line on stderr: ``prog: error: message``."""
    sys.stderr.write(f"{prog}: error: {message}\n")
    sys.stderr.flush()


def resolve_format(fmt: OutputFormat) -> OutputFormat:
    if fmt is OutputFormat.auto:
        return OutputFormat.table if sys.stdout.isatty() else OutputFormat.text
    return fmt


def render(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    no_color: bool = False,
    header: bool = True,
) -> None:
    """Write result rows to stdout in the chosen format (``header=False``: more CSV rows of a
    table already started)."""
    fmt = resolve_format(fmt)
    out = sys.stdout
    if fmt is OutputFormat.json:
        import json

        json.dump(list(rows), out, indent=2, default=str)
        out.write("\n")
    elif fmt is OutputFormat.jsonl:
        import json

        for row in rows:
            out.write(json.dumps(row, default=str) + "\n")
    elif fmt is OutputFormat.csv:
        import csv

        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        if header:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
    elif fmt is OutputFormat.table:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, show_edge=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        Console(no_color=no_color or "NO_COLOR" in os.environ).print(table)
    else:
        for row in rows:
            out.write("  ".join(_cell(row.get(c)) for c in columns) + "\n")
    out.flush()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value)


def rows_as_columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns
