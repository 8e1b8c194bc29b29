"""Module loggers that import :mod:`logging` only when a record could be shown.

Importing :mod:`logging` costs a one-shot command about 15 % of a C-ECHO's instructions
(it brings ``traceback``, ``linecache``, ``tokenize``, ``string``...). Until something imports
it, nothing can have configured a logger, so Python's defaults hold: records below WARNING are
dropped and the rest go to ``logging.lastResort``. :class:`Logger` keeps exactly that: below
WARNING it forwards only once :mod:`logging` is loaded (by anyone: the command line's ``-v``,
``debug_logger()``, the user's program), from WARNING up it loads it and forwards. Records
name the caller's file, line and function, as the real logger's own calls would.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging

#: :data:`logging.WARNING` (logging's levels are fixed numbers).
WARNING = 30


class Logger:
    """``logging.getLogger(name)``, fetched on first use (see the module's docstring)."""

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    @property
    def real(self) -> logging.Logger:
        """The :class:`logging.Logger` this one stands for (importing :mod:`logging`)."""
        if self._logger is None:
            import logging

            self._logger = logging.getLogger(self.name)
        return self._logger

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if "logging" in sys.modules:
            self.real.debug(msg, *args, stacklevel=2, **kwargs)

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if "logging" in sys.modules:
            self.real.info(msg, *args, stacklevel=2, **kwargs)

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.real.warning(msg, *args, stacklevel=2, **kwargs)

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.real.error(msg, *args, stacklevel=2, **kwargs)

    def exception(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.real.exception(msg, *args, stacklevel=2, **kwargs)

    def critical(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.real.critical(msg, *args, stacklevel=2, **kwargs)

    def isEnabledFor(self, level: int) -> bool:  # logging's name
        if level < WARNING and "logging" not in sys.modules:
            return False
        return self.real.isEnabledFor(level)


def get_logger(name: str) -> Logger:
    return Logger(name)
