"""dicomnet._record: the cheap stand-in for dataclasses behind every value class."""

from __future__ import annotations

import copy
import pickle
import threading
from typing import ClassVar, Generic, TypeVar

import pytest

from dicomnet._record import MISSING, FrozenInstanceError, field, fields, record, replace

T = TypeVar("T")


@record(frozen=True, slots=True)
class Point:
    """A frozen, slotted record."""

    x: int
    y: int = 0
    tags: tuple[str, ...] = field(default=(), compare=False)

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


@record(frozen=True, slots=True)
class OtherPoint:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@record(slots=True, kw_only=True)
class Message:
    kind: ClassVar[int] = 7
    first: int = 1
    second: int
    note: str | None = None


@record
class Bag:
    name: str
    items: list[str] = field(default_factory=list)
    count: int = 0


@record(frozen=True)
class FrozenDict:
    a: int
    b: str = "b"


@record(frozen=True, slots=True)
class Box(Generic[T]):
    value: T


@record(frozen=True, slots=True)
class Empty:
    pass


@record(frozen=True, slots=True)
class Other:
    pass


@record(frozen=True, slots=True)
class Child(Point):
    z: int = 5


@record(frozen=True, slots=True)
class OwnRepr:
    a: int

    def __repr__(self) -> str:
        return "<own>"


def test_init_positional_keyword_and_defaults() -> None:
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, ())
    p = Point(1, 2, ("a",))
    assert (p.x, p.y, p.tags) == (1, 2, ("a",))
    assert Point(y=3, x=4) == Point(4, 3)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'w'"):
        Point(1, w=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, 2, (), 4)  # type: ignore[call-arg]


def test_kw_only_fields_and_classvars() -> None:
    m = Message(second=2)
    assert (m.first, m.second, m.note) == (1, 2, None)
    assert Message.kind == 7
    assert [f.name for f in fields(Message)] == ["first", "second", "note"]
    assert all(f.kw_only for f in fields(Message))
    with pytest.raises(TypeError):
        Message(1, 2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="second"):
        Message(first=3)  # type: ignore[call-arg]
    m.first = 9  # mutable
    assert m.first == 9


def test_default_factory_gives_each_instance_its_own_value() -> None:
    a, b = Bag("a"), Bag("b")
    a.items.append("x")
    assert b.items == []
    assert Bag("c", ["y"]).items == ["y"]
    assert fields(Bag)[1].default is MISSING
    assert fields(Bag)[1].default_factory is list


def test_repr_shows_class_and_fields() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=())"
    assert repr(Message(second=2)) == "Message(first=1, second=2, note=None)"
    assert repr(Empty()) == "Empty()"
    assert repr(Box("v")) == "Box(value='v')"
    assert repr(OwnRepr(1)) == "<own>"


def test_equality_is_by_fields_and_type_strict() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(1, 3)
    assert Point(1, 2, ("a",)) == Point(1, 2, ("b",))  # compare=False
    assert Point(1, 2) != OtherPoint(1, 2)  # type: ignore[comparison-overlap]
    assert Child(1, 2, (), 5) != Point(1, 2)
    assert Empty() == Empty()
    assert Empty() != Other()  # type: ignore[comparison-overlap]
    assert Point(1) != (1, 0)  # type: ignore[comparison-overlap]
    assert Bag("a") == Bag("a")
    assert Bag("a") != Bag("a", ["x"])


def test_frozen_records_hash_and_refuse_changes() -> None:
    assert hash(Point(1, 2)) == hash(Point(1, 2, ("other",)))
    assert len({Point(1, 2), Point(1, 2), Point(2, 1)}) == 2
    assert hash(FrozenDict(1)) == hash(FrozenDict(1))
    p = Point(1, 2)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del p.y
    with pytest.raises(AttributeError):  # FrozenInstanceError is an AttributeError
        FrozenDict(1).a = 2  # type: ignore[misc]
    assert (p.x, p.y) == (1, 2)


def test_mutable_records_are_unhashable() -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(Bag("a"))
    with pytest.raises(TypeError, match="unhashable"):
        hash(Message(second=1))


def test_slots() -> None:
    assert Point.__slots__ == ("x", "y", "tags")
    assert not hasattr(Point(1), "__dict__")
    m = Message(second=2)
    with pytest.raises(AttributeError):
        m.other = 1  # type: ignore[attr-defined]
    assert vars(Child)["__slots__"] == ("z",)  # only its own fields
    assert Point(3, -4).norm1 == 7  # properties survive the re-creation of the class
    assert Point.__doc__ == "A frozen, slotted record."
    assert Point.__qualname__ == "Point"
    assert Point.__module__ == __name__
    # Without slots, the class attribute keeps the default, and instances have a __dict__.
    assert FrozenDict.b == "b"
    assert FrozenDict(1).__dict__ == {"a": 1, "b": "b"}


def test_inherited_fields_come_first() -> None:
    c = Child(1, 2, ("t",), 3)
    assert [f.name for f in fields(Child)] == ["x", "y", "tags", "z"]
    assert (c.x, c.y, c.tags, c.z) == (1, 2, ("t",), 3)
    assert repr(Child(1)) == "Child(x=1, y=0, tags=(), z=5)"
    assert isinstance(c, Point)


def test_match_args_and_match_statement() -> None:
    assert Point.__match_args__ == ("x", "y", "tags")
    assert Message.__match_args__ == ()
    match Point(1, 2):
        case Point(1, y):
            assert y == 2
        case _:  # pragma: no cover - the case above matches
            pytest.fail("no match")


def test_fields_and_replace() -> None:
    names = [(f.name, f.default, f.compare) for f in fields(Point(1))]
    assert names == [("x", MISSING, True), ("y", 0, True), ("tags", (), False)]
    assert replace(Point(1, 2), y=5) == Point(1, 5)
    assert replace(Bag("a", ["x"]), count=2) == Bag("a", ["x"], 2)
    with pytest.raises(TypeError):
        fields(object())


def test_generic_records() -> None:
    assert Box[int](3).value == 3
    assert Box("x") == Box("x")
    assert Box.__parameters__ == (T,)  # type: ignore[attr-defined]


def test_pickle_and_copy() -> None:
    p = Point(1, 2, ("a",))
    for clone in (pickle.loads(pickle.dumps(p)), copy.copy(p), copy.deepcopy(p)):
        assert clone == p
        assert clone.tags == ("a",)
        assert type(clone) is Point
    b = Bag("a", ["x"], 3)
    assert pickle.loads(pickle.dumps(b)) == b
    assert copy.deepcopy(Message(second=4)) == Message(second=4)


def test_definition_errors() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @record
        class Bad:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError, match="both default and default_factory"):
        field(default=1, default_factory=list)  # type: ignore[call-overload]


def test_first_instantiation_from_many_threads_at_once() -> None:
    @record(frozen=True, slots=True)
    class Fresh:
        a: int
        b: str = "b"

    start = threading.Barrier(8)
    made: list[Fresh] = []
    lock = threading.Lock()

    def make(i: int) -> None:
        start.wait(timeout=10)
        value = Fresh(i)
        with lock:
            made.append(value)

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(v.a for v in made) == list(range(8))
    assert all(v.b == "b" for v in made)
    assert Fresh(9, "c") == Fresh(9, "c")


def test_plain_subclass_of_a_frozen_record_may_add_attributes() -> None:
    class Labelled(Point):
        def __init__(self, x: int, label: str) -> None:
            super().__init__(x)
            self.label = label

    value = Labelled(1, "one")
    assert (value.x, value.label) == (1, "one")
    with pytest.raises(FrozenInstanceError):
        value.x = 2  # type: ignore[misc]
