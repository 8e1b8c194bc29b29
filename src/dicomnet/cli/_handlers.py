"""``--handler [EVENT=]module:function[:arg1,arg2,...]``: parsing, loading and composing.

``module`` is an importable dotted name (the current directory is importable) or a path to a
``.py`` file. Without ``EVENT=`` the handler binds to the command's main event. Extra arguments
are passed after the event, as with the 3-tuple form of ``evt_handlers``.

Built-in handlers (logging, storage) are ordinary handlers. For an intervention event the
built-in and the user's handlers are composed by :func:`dicomnet.events.compose` (its rules,
per event, are documented there): the built-in first, then the user's in the order given. For a
single status the first failure status wins (else the first warning, else success) and every
handler runs; generators (C-FIND, C-GET, C-MOVE) give the built-in's responses first, then each
user handler's, until the first failure; EVT_USER_ID needs every handler to verify. A user
handler that raises is logged with its traceback and counts as a failure; the server keeps
serving.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from dicomnet import events as evt
from dicomnet._log import get_logger
from dicomnet._record import field, record

LOGGER = get_logger("dicomnet.cli")


class HandlerSpecError(ValueError):
    """A --handler value that cannot be used; the message names the problem."""


@record
class HandlerSpec:
    text: str
    event: evt.EventType
    module: str
    function: str
    args: list[str] = field(default_factory=list)
    func: Callable[..., Any] | None = None
    explicit: bool = False  # the user wrote EVENT=


def parse_handler(text: str, default_event: evt.EventType) -> HandlerSpec:
    """Parse one --handler value (no import yet)."""
    spec = text.strip()
    event = default_event
    explicit = False
    head, sep, rest = spec.partition("=")
    if sep and ":" not in head and "/" not in head and head:
        try:
            event = evt.get_event(head)
        except KeyError:
            raise HandlerSpecError(f"unknown event {head!r}") from None
        spec = rest
        explicit = True
    module, sep, rest = spec.partition(":")
    if not sep or not module:
        raise HandlerSpecError("expected [EVENT=]module:function[:arg1,arg2,...]")
    function, _sep, arg_text = rest.partition(":")
    if not function.isidentifier():
        raise HandlerSpecError(f"{function!r} is not a function name")
    args = [a for a in arg_text.split(",")] if arg_text else []
    return HandlerSpec(text, event, module, function, args, explicit=explicit)


def _import(module: str) -> Any:
    if module.endswith(".py") or os.sep in module or "/" in module:
        from pathlib import Path  # here: pathlib is not on echoscu's path

        path = Path(module)
        if not path.is_file():
            raise HandlerSpecError(f"file {module!r} not found")
        name = f"_dicomnet_handler_{path.stem}_{abs(hash(str(path.resolve())))}"
        # Its own directory is importable, as for `python path/to/file.py`: helpers beside it.
        home = str(path.resolve().parent)
        if home not in sys.path:
            sys.path.insert(0, home)
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise HandlerSpecError(f"cannot load {module!r}")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        try:
            spec.loader.exec_module(loaded)
        except Exception as exc:
            raise HandlerSpecError(
                f"importing {module!r} failed: {type(exc).__name__}: {exc}"
            ) from None
        return loaded
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # Missing only if the module itself or a package on its path is missing, not when a
        # name it imports happens to be a prefix of it (mymod_hooks importing mymod).
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise HandlerSpecError(f"module {module!r} not found") from None
        raise HandlerSpecError(f"importing {module!r} failed: {exc}") from None
    except Exception as exc:
        raise HandlerSpecError(
            f"importing {module!r} failed: {type(exc).__name__}: {exc}"
        ) from None


def load_handler(spec: HandlerSpec) -> HandlerSpec:
    module = _import(spec.module)
    try:
        func = getattr(module, spec.function)
    except AttributeError:
        raise HandlerSpecError(
            f"module {spec.module!r} has no function {spec.function!r}"
        ) from None
    if not callable(func):
        raise HandlerSpecError(f"{spec.module}:{spec.function} is not callable")
    spec.func = func
    return spec


def load_handlers(texts: Sequence[str], default_event: evt.EventType) -> list[HandlerSpec]:
    """Parse and import every --handler value; HandlerSpecError names the offending one."""
    loaded = []
    for text in texts:
        try:
            loaded.append(load_handler(parse_handler(text, default_event)))
        except HandlerSpecError as exc:
            raise HandlerSpecError(f"--handler {text!r}: {exc}") from None
    return loaded


def build_evt_handlers(
    builtin: Sequence[tuple[evt.EventType, Callable[..., Any]]],
    user: Sequence[HandlerSpec],
) -> list[Any]:
    """evt_handlers for the AE: notification handlers as they are, intervention events composed
    (built-in first, then user handlers in order)."""
    result: list[Any] = []
    chains: dict[evt.EventType, list[tuple[Callable[..., Any], Sequence[Any]]]] = {}
    order: list[evt.EventType] = []
    for event, func in builtin:
        if event.is_intervention:
            chains.setdefault(event, []).append((func, []))
            if event not in order:
                order.append(event)
        else:
            result.append((event, func))
    for spec in user:
        assert spec.func is not None
        if spec.event.is_intervention:
            chains.setdefault(spec.event, []).append((spec.func, spec.args))
            if spec.event not in order:
                order.append(spec.event)
        else:
            result.append((spec.event, spec.func, spec.args))
    for event in order:
        chain = chains[event]
        if len(chain) == 1:  # a handler alone is bound as it is (its args with it)
            func, args = chain[0]
            result.append((event, func, list(args)) if args else (event, func))
        else:
            result.append((event, evt.compose(event, chain)))
    return result
