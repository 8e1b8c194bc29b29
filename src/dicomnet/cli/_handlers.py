"""``--handler [EVENT=]module:function[:arg1,arg2,...]``: parsing, loading and composing.

``module`` is an importable dotted name (the current directory is importable) or a path to a
``.py`` file. Without ``EVENT=`` the handler binds to the command's main event. Extra arguments
are passed after the event, as with the 3-tuple form of ``evt_handlers``.

Built-in handlers (logging, storage) are ordinary handlers. For an intervention event the
built-in runs first, then the user's in the order given; the first failure status wins (else the
first warning, else success). A user handler that raises is logged with its traceback and counts
as a failure; the server keeps serving.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dicomnet import events as evt
from dicomnet._record import field, record
from dicomnet.dimse.status import status_category

LOGGER = logging.getLogger("dicomnet.cli")

FAILURE_ON_EXCEPTION = {
    "EVT_C_STORE": 0xC211,
    "EVT_C_ECHO": 0x0110,
}


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


def _status_of(value: Any) -> tuple[int, Any]:
    """(status code, the value to return) for a handler's return value."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    status = getattr(value, "Status", None)
    if isinstance(status, int):
        return status, value
    raise ValueError(f"invalid status {value!r}")


def _rank(code: int) -> int:
    category = status_category(code)
    return {"Failure": 0, "Cancel": 1, "Warning": 2}.get(category, 3)


def compose(
    event: evt.EventType,
    chain: Sequence[tuple[Callable[..., Any], Sequence[Any]]],
) -> Callable[..., Any]:
    """One intervention handler running ``chain`` in order; the first failure status wins."""
    failure = FAILURE_ON_EXCEPTION.get(event.name, 0xC000)
    if event is evt.EVT_USER_ID:
        return _compose_user_id(chain)

    def composed(event_obj: evt.Event) -> Any:
        best: tuple[int, Any] | None = None
        for func, args in chain:
            try:
                code, value = _status_of(func(event_obj, *args))
            except Exception as exc:
                LOGGER.exception("Exception in the %s handler %r", event.name, func)
                from pydicom.dataset import Dataset

                value = Dataset()
                value.Status = failure
                value.ErrorComment = f"handler raised {type(exc).__name__}"[:64]
                code = failure
            if best is None or _rank(code) < _rank(best[0]):
                best = (code, value)
        return best[1] if best is not None else 0x0000

    return composed


def _compose_user_id(
    chain: Sequence[tuple[Callable[..., Any], Sequence[Any]]],
) -> Callable[..., Any]:
    """EVT_USER_ID handlers return (is_verified, response): every one must verify (a refusal
    or an exception rejects); the last response given is sent."""

    def composed(event_obj: evt.Event) -> tuple[bool, Any]:
        response = None
        for func, args in chain:
            try:
                verified, answer = func(event_obj, *args)
            except Exception:
                LOGGER.exception("Exception in the EVT_USER_ID handler %r", func)
                return False, None
            if not verified:
                return False, None
            if answer is not None:
                response = answer
        return True, response

    return composed


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
            result.append((event, compose(event, chain)))
    return result
