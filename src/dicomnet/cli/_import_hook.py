"""Run code around the next import of one module, found and loaded as usual otherwise.

The start-up measures use it: ``typer.rich_utils`` loads with stand-ins for two heavy modules
(:func:`dicomnet.cli._startup.defer_rich_extras`), and the command line's log set-up waits for
whoever imports ``logging`` (:func:`dicomnet.cli._logging.setup`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

#: ``around(load)``: does what it must before and after, and calls ``load()`` once.
Around = Callable[[Callable[[], None]], None]


def around_next_import(name: str, around: Around) -> None:
    """Have the next import of ``name`` run through ``around`` (replacing a hook for ``name``
    not used yet)."""
    cancel(name)
    sys.meta_path.insert(0, _Hook(name, around))


def waiting(name: str) -> bool:
    """True while a hook for ``name`` waits for its import."""
    return any(isinstance(f, _Hook) and f.name == name for f in sys.meta_path)


def cancel(name: str) -> None:
    """Drop the hook for ``name`` if it has not been used."""
    for finder in [f for f in sys.meta_path if isinstance(f, _Hook) and f.name == name]:
        sys.meta_path.remove(finder)


class _Hook:
    """A meta path finder for ``name`` only: the spec the other finders give, its loader
    wrapped. Used once: it leaves ``sys.meta_path`` as soon as the module is looked for."""

    def __init__(self, name: str, around: Around) -> None:
        self.name = name
        self.around = around

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        from importlib.util import find_spec

        spec: Any = find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Wrapped(spec.loader, self.around)
        return spec


class _Wrapped:
    def __init__(self, loader: Any, around: Around) -> None:
        self.loader = loader
        self.around = around

    def __getattr__(self, name: str) -> Any:  # get_source, is_package, ...: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.around(lambda: self.loader.exec_module(module))
