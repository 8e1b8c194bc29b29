"""Record classes (frozen or mutable, optionally slotted) that cost little to define.

:func:`record` is a small stand-in for :func:`dataclasses.dataclass` for dicomnet's value
classes. ``dataclasses`` compiles several generated functions for every class when the class is
defined, about half a millisecond each time; dicomnet defines some fifty such classes on the path
of every command, which showed in the start-up time of a one-shot tool such as ``echoscu``.
Here ``__repr__``, ``__eq__``, ``__hash__``, the frozen ``__setattr__``/``__delattr__`` and the
pickling pair are shared functions, and the one generated method, ``__init__``, is compiled the
first time the class is instantiated (classes never instantiated cost nothing; until then
``inspect.signature`` shows ``(*args, **kwargs)`` for it).

What a class gets, as with ``dataclass(eq=True)``:

- ``__init__`` taking the fields in order (positional or keyword; keyword-only with
  ``kw_only=True``), defaults from the class body or :func:`field` (``default`` or
  ``default_factory``);
- ``__repr__`` ``Name(a=1, b='x')``; ``__eq__`` comparing the fields (``field(compare=False)``
  leaves one out), true only between instances of the very same class;
- frozen: assignment and deletion raise :class:`FrozenInstanceError` (an AttributeError), and
  ``__hash__`` hashes the compared fields; mutable: unhashable (``__hash__`` is None);
- slotted (``slots=True``): ``__slots__`` holds the fields, no ``__dict__``;
- ``__match_args__`` (the positional fields), and :func:`fields` / :func:`replace` as in
  :mod:`dataclasses`.

Methods the class body defines itself (``__repr__``, ``__eq__``, ``__hash__``) are kept. Fields of
record base classes come first, as with dataclasses. ``typing.dataclass_transform`` tells type
checkers what the generated ``__init__`` takes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from operator import attrgetter
from types import MemberDescriptorType
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["MISSING", "Field", "FrozenInstanceError", "field", "fields", "record", "replace"]

_T = TypeVar("_T")


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The ``default``/``default_factory`` of a field that has none."""


class FrozenInstanceError(AttributeError):
    """Assignment to, or deletion of, a field of a frozen record."""


class Field:
    """One field of a record class (as returned by :func:`fields`)."""

    __slots__ = ("compare", "default", "default_factory", "kw_only", "name")

    def __init__(
        self,
        default: Any = MISSING,
        default_factory: Any = MISSING,
        compare: bool = True,
        name: str = "",
        kw_only: bool = False,
    ) -> None:
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("a field cannot have both default and default_factory")
        self.name = name
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.kw_only = kw_only

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING or self.default_factory is not MISSING

    def __repr__(self) -> str:
        return (
            f"Field(name={self.name!r}, default={self.default!r}, "
            f"default_factory={self.default_factory!r}, compare={self.compare!r}, "
            f"kw_only={self.kw_only!r})"
        )


@overload
def field(*, default: _T, compare: bool = True) -> _T: ...


@overload
def field(*, default_factory: Callable[[], _T], compare: bool = True) -> _T: ...


@overload
def field(*, compare: bool = True) -> Any: ...


def field(*, default: Any = MISSING, default_factory: Any = MISSING, compare: bool = True) -> Any:
    """A field with a default, a default factory, or left out of comparisons."""
    return Field(default, default_factory, compare)


def fields(class_or_instance: Any) -> tuple[Field, ...]:
    """The fields of a record class or instance, in ``__init__`` order."""
    try:
        found: tuple[Field, ...] = class_or_instance.__record_fields__
    except AttributeError:
        raise TypeError(f"{class_or_instance!r} is not a record class or instance") from None
    return found


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of the record ``obj`` with some fields changed (as :func:`dataclasses.replace`)."""
    for f in fields(obj):
        if f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return type(obj)(**changes)


# --- shared methods -----------------------------------------------------------------------------


def _repr(self: Any) -> str:
    cls = type(self)
    inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in cls.__record_names__)
    return f"{cls.__qualname__}({inner})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__class__.__record_key__
        return key(self) == key(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self.__class__.__record_key__(self))


def _frozen_methods(
    owner: list[type], names: frozenset[str]
) -> tuple[Callable[[Any, str, Any], None], Callable[[Any, str], None]]:
    """``__setattr__`` and ``__delattr__`` of a frozen record class ``owner[0]`` (filled in once
    the class exists). As with dataclasses, a plain subclass may still set attributes that are
    not fields."""

    def __setattr__(self: Any, name: str, value: Any) -> None:
        cls: Any = owner[0]
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        cls: Any = owner[0]
        if type(self) is cls or name in names:
            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    return __setattr__, __delattr__


def _getstate(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in type(self).__record_names__)


def _setstate(self: Any, state: tuple[Any, ...]) -> None:
    for name, value in zip(type(self).__record_names__, state, strict=True):
        object.__setattr__(self, name, value)


def _init_nothing(self: Any) -> None:
    pass


def _key_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving the tuple of these attributes of an object (always a tuple)."""
    if len(names) >= 2:
        return attrgetter(*names)
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda obj: (get(obj),)
    return lambda obj: ()


# --- __init__ -----------------------------------------------------------------------------------


def _build_init(cls: type, frozen: bool) -> Callable[..., None]:
    """Compile ``__init__`` for ``cls``: one function, one ``exec``."""
    record_fields: tuple[Field, ...] = cls.__record_fields__  # type: ignore[attr-defined]
    names: dict[str, Any] = {"MISSING": MISSING}
    params: list[str] = []
    kw_params: list[str] = []
    body: list[str] = []
    for i, f in enumerate(record_fields):
        param = f.name
        if f.default is not MISSING:
            names[f"_d{i}"] = f.default
            param += f"=_d{i}"
            value = f.name
        elif f.default_factory is not MISSING:
            names[f"_f{i}"] = f.default_factory
            param += "=MISSING"
            value = f"_f{i}() if {f.name} is MISSING else {f.name}"
        else:
            value = f.name
        (kw_params if f.kw_only else params).append(param)
        if frozen:
            # The slot's descriptor (or object.__setattr__) writes past the frozen __setattr__.
            slot = _slot_of(cls, f.name)
            if slot is not None:
                names[f"_s{i}"] = slot.__set__
                body.append(f"  _s{i}(self, {value})")
            else:
                names["_osa"] = object.__setattr__
                body.append(f"  _osa(self, {f.name!r}, {value})")
        else:
            body.append(f"  self.{f.name} = {value}")
    signature = ", ".join(["self", *params, *(["*", *kw_params] if kw_params else [])])
    source = f"def __init__({signature}):\n" + "\n".join(body) + "\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<record {cls.__qualname__}.__init__>", "exec"), names, namespace)
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


def _slot_of(cls: type, name: str) -> Any:
    """The slot descriptor for ``name`` if ``cls`` (or a base) stores it in a slot, else None."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            found = klass.__dict__[name]
            return found if isinstance(found, MemberDescriptorType) else None
    return None


def _install_lazy_init(cls: type, frozen: bool) -> None:
    """Give ``cls`` an ``__init__`` that compiles the real one on first use."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init = cls.__dict__.get("__init__")
        if init is __init__:  # first use (another thread may have just done this: harmless)
            init = _build_init(cls, frozen)
            type.__setattr__(cls, "__init__", init)
        assert init is not None
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    type.__setattr__(cls, "__init__", __init__)


# --- the decorator ------------------------------------------------------------------------------


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):  # postponed annotations (from __future__ import annotations)
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    classvar = sys.modules["typing"].ClassVar
    return annotation is classvar or getattr(annotation, "__origin__", None) is classvar


def _make(cls: type[_T], frozen: bool, slots: bool, kw_only: bool) -> type[_T]:
    inherited: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("__record_fields__", ()):
            inherited[f.name] = f
    own: dict[str, Field] = {}
    # (not inspect.get_annotations: importing inspect would cost more than the whole module)
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    for name, annotation in annotations.items():
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, MISSING)
        if isinstance(value, Field):
            f = Field(value.default, value.default_factory, value.compare, name, kw_only)
        else:
            f = Field(value, MISSING, True, name, kw_only)
        own[name] = f
        inherited.pop(name, None)
    all_fields = (*inherited.values(), *own.values())
    seen_default = False
    for f in all_fields:
        if f.kw_only:
            continue
        if f.has_default:
            seen_default = True
        elif seen_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")

    names = tuple(f.name for f in all_fields)
    added: dict[str, Any] = {
        "__record_fields__": all_fields,
        "__record_names__": names,
        "__record_key__": _key_getter(tuple(f.name for f in all_fields if f.compare)),
        "__match_args__": tuple(f.name for f in all_fields if not f.kw_only),
    }
    body = cls.__dict__
    if "__repr__" not in body:
        added["__repr__"] = _repr
    if "__eq__" not in body:
        added["__eq__"] = _eq
    if body.get("__hash__") is None:
        added["__hash__"] = _hash if frozen else None
    if frozen:
        owner: list[type] = []
        added["__setattr__"], added["__delattr__"] = _frozen_methods(owner, frozenset(names))
        if slots:
            added["__getstate__"] = _getstate
            added["__setstate__"] = _setstate

    new_cls: type[_T]
    if slots:
        # __slots__ only works when the class is created: make it again with them.
        namespace = {k: v for k, v in body.items() if k not in own}
        namespace.pop("__dict__", None)
        namespace.pop("__weakref__", None)
        namespace.update(added)
        namespace["__slots__"] = tuple(own)
        metaclass: Any = type(cls)
        new_cls = metaclass(cls.__name__, cls.__bases__, namespace)
        new_cls.__qualname__ = cls.__qualname__
    else:
        new_cls = cls
        for name, f in own.items():  # the class attribute is the plain default, if any
            if f.default is not MISSING:
                type.__setattr__(cls, name, f.default)
            elif name in body:
                type.__delattr__(cls, name)
        for key, value in added.items():
            type.__setattr__(cls, key, value)

    if frozen:
        owner.append(new_cls)
    if names:
        _install_lazy_init(new_cls, frozen)
    else:
        type.__setattr__(new_cls, "__init__", _init_nothing)
    return new_cls


@overload
def record(cls: type[_T], /) -> type[_T]: ...


@overload
def record(
    *, frozen: bool = False, slots: bool = False, kw_only: bool = False
) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(field_specifiers=(field,))
def record(
    cls: type[_T] | None = None,
    /,
    *,
    frozen: bool = False,
    slots: bool = False,
    kw_only: bool = False,
) -> type[_T] | Callable[[type[_T]], type[_T]]:
    """Make ``cls`` a record class; ``@record`` or ``@record(frozen=..., slots=...,
    kw_only=...)``, like ``@dataclass``."""

    def wrap(cls: type[_T]) -> type[_T]:
        return _make(cls, frozen, slots, kw_only)

    return wrap if cls is None else wrap(cls)
