"""What lets the console scripts start fast, without a second source of help or defaults.

Two measures (issue 12: ``echoscu`` within 2.5x DCMTK's, every ``--help`` within 150 ms):

* :func:`echoscu_args`: the common ``echoscu`` invocations (PEER PORT with AE titles, timeouts,
  ``--repeat``/``--count``/``--interval``, verbosity, ``--format``) parsed without Typer and
  click, which cost about two thirds of a plain echo's start-up. Anything else — ``--help``,
  ``--version``, TLS, ``--handler``, ``--log-file``, a glued or unknown option, a value that
  needs checking with an error message — is declined (``None``) and goes through the Typer app,
  the one source of help text, messages and defaults. ``tests/cli/test_startup.py`` checks that
  for every option accepted here both paths hand the command the same values.
* :func:`defer_rich_extras`: when Typer renders help or a usage error it imports
  ``typer.rich_utils``, which imports ``rich.markdown`` (and markdown-it) and ``rich.traceback``
  (and pygments) at its top for two names it uses only in ``markdown`` markup mode and for
  pretty tracebacks, both off here. While that module loads, those two modules are stand-ins
  whose names load the real ones on first use; about 45 ms of every ``--help``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from dicomnet.cli._common import ScuCommon
from dicomnet.cli._console import OutputFormat

# option spelling -> field; each spelling is one of the command's own (see _options, echoscu).
_VALUES = {
    "--calling-aet": "calling_aet",
    "-aet": "calling_aet",
    "--called-aet": "called_aet",
    "-aec": "called_aet",
    "--connect-timeout": "connect_timeout",
    "-to": "connect_timeout",
    "--acse-timeout": "acse_timeout",
    "-ta": "acse_timeout",
    "--dimse-timeout": "dimse_timeout",
    "-td": "dimse_timeout",
    "--format": "fmt",
    "--repeat": "repeat",
    "-r": "repeat",
    "--count": "count",
    "-c": "count",
    "--interval": "interval",
    "-i": "interval",
}
_FLAGS = {
    "--quiet": "quiet",
    "-q": "quiet",
    "--verbose": "verbose",
    "-v": "verbose",
    "--debug": "debug",
    "-d": "debug",
    "--no-color": "no_color",
}
_DIGITS = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")
# The lowest value each number may take (the options' min=).
_AT_LEAST = {
    "connect_timeout": 0.001,
    "acse_timeout": 0.001,
    "dimse_timeout": 0.001,
    "repeat": 1,
    "count": 1,
    "interval": 0.0,
}


def echoscu_args(argv: Sequence[str]) -> tuple[ScuCommon, int, int, float] | None:
    """(options, repeat, count, interval) for ``echoscu argv``, or None to leave the parsing
    (and any error message) to the Typer app."""
    given: dict[str, Any] = {}
    positional: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in _FLAGS:
            given[_FLAGS[arg]] = True
        elif arg in _VALUES:
            value = next(args, None)
            if value is None or value.startswith("-"):
                return None
            name = _VALUES[arg]
            checked = _value(name, value)
            if checked is None:
                return None
            given[name] = checked
        elif arg.startswith("-"):
            return None
        else:
            positional.append(arg)
    if len(positional) != 2 or not _DIGITS.fullmatch(positional[1]):
        return None
    peer, port = positional[0], int(positional[1])
    if port > 65535:
        return None
    repeat = given.pop("repeat", 1)
    count = given.pop("count", 1)
    interval = float(given.pop("interval", 1.0))
    given.setdefault("calling_aet", "ECHOSCU")
    common = ScuCommon(peer=peer, port=port, **given)
    return common, repeat, count, interval


def _value(name: str, text: str) -> Any:
    if name in ("calling_aet", "called_aet"):
        from dicomnet.ul.codec import validate_ae_title

        try:
            return validate_ae_title(text)
        except ValueError:
            return None
    if name == "fmt":
        return OutputFormat(text) if text in OutputFormat.__members__ else None
    if name in ("repeat", "count"):
        number: float = int(text) if _DIGITS.fullmatch(text) else -1
    else:
        number = float(text) if _DECIMAL.fullmatch(text) else -1.0
    return number if number >= _AT_LEAST[name] else None


# --- --help and usage errors ----------------------------------------------------------------

_DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def defer_rich_extras() -> None:
    """Have ``typer.rich_utils``, when it is imported, load without ``rich.markdown`` and
    ``rich.traceback`` (see the module's docstring). Idempotent; nothing else changes."""
    from dicomnet.cli._import_hook import around_next_import, waiting

    if "typer.rich_utils" in sys.modules or waiting("typer.rich_utils"):
        return
    around_next_import("typer.rich_utils", _with_stand_ins)


def _with_stand_ins(load: Callable[[], None]) -> None:
    """``load()`` with the stand-ins of :data:`_DEFERRED` in ``sys.modules``, then without."""
    placed = []
    for name, attr in _DEFERRED.items():
        if name not in sys.modules:
            stand_in = ModuleType(name)
            setattr(stand_in, attr, _deferred_class(name, attr))
            sys.modules[name] = stand_in
            placed.append((name, stand_in))
    try:
        load()
    finally:
        for name, stand_in in placed:
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]  # the next import of it is the real module


def _deferred_class(module: str, attr: str) -> type:
    """A class standing for ``module.attr``: calling it or reading an attribute of it loads
    the real one."""

    def real() -> Any:
        import importlib

        return getattr(importlib.import_module(module), attr)

    class _Meta(type):
        def __getattr__(cls, name: str) -> Any:
            return getattr(real(), name)

    def make(cls: type, *args: Any, **kwargs: Any) -> Any:
        return real()(*args, **kwargs)

    return _Meta(attr, (), {"__new__": make, "__module__": module})
