"""Exit codes, output formats and the stderr console shared by every command.

Results go to stdout (a table on a terminal, ``--format json|jsonl|csv|text`` for scripts);
logs, progress and summaries go to stderr. ``NO_COLOR`` and ``--no-color`` remove every style
(colour, bold, ...). rich is imported only when a table or progress bar is actually drawn, to
keep start-up fast.

A closed stdout (the reader went away, as ``| head`` does) is the end of the job: the first
failed write turns into :class:`StdoutClosed`, stdout is pointed at ``/dev/null`` so that no
later write (or the interpreter's final flush) fails again, the command winds down as it would
on Ctrl-C (C-CANCEL, release) and exits 141 without a traceback, as ``yes | head`` does.
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
EXIT_STDOUT_CLOSED = 141

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
    (
        130,
        "interrupted: an SCU (echoscu, storescu, findscu, getscu, movescu) got SIGINT (Ctrl-C) "
        "or SIGTERM; it cancels what is running and aborts the association. storescp stops "
        "cleanly on SIGINT/SIGTERM (no new associations, running ones end) and exits 0",
    ),
    (
        141,
        "stdout was closed before all results were written (e.g. piped into head): the job "
        "was stopped cleanly, without a traceback",
    ),
)

#: The same codes in a few words each, for the ``--help`` epilog.
_EXIT_CODE_WORDS = {
    0: "success (warnings still 0)",
    1: "internal error",
    2: "usage error (bad option, invalid AE title, unreadable input, bad --handler)",
    3: "could not connect (refused, unreachable, DNS, timeout, TLS) or cannot listen",
    4: "association rejected or no presentation context accepted",
    5: "association aborted or timed out",
    6: "the peer answered with a failure status",
    130: "interrupted (SCUs on SIGINT/SIGTERM; storescp stops cleanly with 0)",
    141: "stdout closed early (e.g. | head)",
}
assert set(_EXIT_CODE_WORDS) == {code for code, _ in EXIT_CODE_TABLE}

#: Every command's ``--help`` epilog.
EXIT_CODES_HELP = "Exit codes: " + "; ".join(f"{c} {w}" for c, w in _EXIT_CODE_WORDS.items()) + "."


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


class StdoutClosed(CommandError):
    """stdout's reader has gone: end the job quietly with exit 141."""

    def __init__(self) -> None:
        super().__init__("", EXIT_STDOUT_CLOSED)


def stdout_gone() -> StdoutClosed:
    """Point stdout at /dev/null (later writes and the final flush succeed, unseen) and return
    the exception that ends the job."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return StdoutClosed()


def plain(no_color: bool = False) -> bool:
    """True when output must carry no style at all (``--no-color`` or ``NO_COLOR`` set)."""
    return no_color or "NO_COLOR" in os.environ


def console(*, stderr: bool = False, no_color: bool = False) -> Any:
    """A rich Console; without any style (not even bold) under ``--no-color``/``NO_COLOR``."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich's own exits 1
            raise stdout_gone()

    if plain(no_color):
        return _Console(stderr=stderr, color_system=None, no_color=True)
    return _Console(stderr=stderr)


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
    whole: bool = False,
) -> None:
    """Write result rows to stdout in the chosen format (``header=False``: more CSV rows of a
    table already started). ``whole``: a table never cuts a value (each stays on one line,
    the table as wide as they need: a terminal narrower than that wraps the lines, the values
    stay whole for copying) and text output starts with a header row. Raises
    :class:`StdoutClosed` if stdout's reader has gone."""
    fmt = resolve_format(fmt)
    if fmt is OutputFormat.table:
        from rich.table import Table

        table = Table(title=title, show_edge=False)
        for column in columns:
            table.add_column(column, no_wrap=whole, overflow="ignore" if whole else "ellipsis")
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        out = console(no_color=no_color)
        if whole:
            needed = out.measure(table, options=out.options.update(width=1 << 16)).maximum
            out.width = max(out.width, needed)
        with _writing():
            out.print(table)
            sys.stdout.flush()
        return
    if fmt is OutputFormat.json:
        import json

        text = json.dumps(list(rows), indent=2, default=str) + "\n"
    else:
        text = "".join(_lines(rows, columns, fmt, header))
        if whole and header and fmt is OutputFormat.text and rows:
            text = "  ".join(columns) + "\n" + text
    write_stdout(text)


def write_stdout(text: str) -> None:
    """Write and flush ``text`` to stdout; :class:`StdoutClosed` if its reader has gone."""
    with _writing():
        sys.stdout.write(text)
        sys.stdout.flush()


class RowWriter:
    """Result rows written to stdout as they come, from any thread, in every format: a line
    each for text, jsonl and csv (one header), a streamed JSON array for json, and aligned
    lines under a header row for a table on a terminal. :meth:`write` raises
    :class:`StdoutClosed` once when stdout's reader has gone (and does nothing after that)."""

    def __init__(
        self, columns: Sequence[str], fmt: OutputFormat, *, no_color: bool = False
    ) -> None:
        import threading

        self.columns = list(columns)
        self.fmt = resolve_format(fmt)
        self.no_color = no_color
        self.count = 0
        self.closed = False
        self._lock = threading.Lock()

    def write(self, row: dict[str, Any]) -> None:
        with self._lock:
            if self.closed:
                return
            first = self.count == 0
            self.count += 1
            if self.fmt is OutputFormat.json:
                import json

                text = ("[\n" if first else ",\n") + _indent(json.dumps(row, indent=2, default=str))
            elif self.fmt is OutputFormat.table:
                text = self._table_line(row, first)
            else:
                text = "".join(_lines([row], self.columns, self.fmt, first))
            self._emit(text)

    def close(self) -> None:
        """End the output (the closing bracket of a JSON array; ``[]`` if there were no rows)."""
        with self._lock:
            if self.closed:
                return
            if self.fmt is OutputFormat.json:
                self._emit("[]\n" if self.count == 0 else "\n]\n")
            self.closed = True

    def _emit(self, text: str) -> None:
        try:
            write_stdout(text)
        except StdoutClosed:
            self.closed = True
            raise

    def _table_line(self, row: dict[str, Any], first: bool) -> str:
        cells = [_cell(row.get(c)) for c in self.columns]
        line = "  ".join(cells) + "\n"
        if not first:
            return line
        head = "  ".join(self.columns)
        if not plain(self.no_color) and sys.stdout.isatty():
            head = f"\x1b[1m{head}\x1b[0m"
        return head + "\n" + line


class _writing:
    """Turn a failed write to a closed stdout into :class:`StdoutClosed`."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if kind is not None and issubclass(kind, BrokenPipeError):
            raise stdout_gone() from None


def _lines(
    rows: Iterable[dict[str, Any]], columns: Sequence[str], fmt: OutputFormat, header: bool
) -> Iterable[str]:
    if fmt is OutputFormat.jsonl:
        import json

        for row in rows:
            yield json.dumps(row, default=str) + "\n"
    elif fmt is OutputFormat.csv:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
        if header:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
        yield buffer.getvalue()
    else:
        for row in rows:
            yield "  ".join(_cell(row.get(c)) for c in columns) + "\n"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value)
