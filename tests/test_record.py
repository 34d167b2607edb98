"""`checks._record.Record`: the value classes that replace dataclasses on the hot path."""

from __future__ import annotations

import pytest

from checks._record import Factory, Record


class Point(Record):
    x: int
    y: int = 0
    tags: list = Factory(factory=list)
    note: str = ""
    _hidden = ("note",)


class Labelled(Point):
    label: str = "p"


class Counter(Record, frozen=False):
    n: int = 0


def test_fields_in_order_with_defaults_and_fresh_factories() -> None:
    a, b = Point(1), Point(1)
    assert Point._fields == ("x", "y", "tags", "note")
    assert (a.x, a.y, a.tags, a.note) == (1, 0, [], "")
    a.tags.append("x")
    assert b.tags == []  # a fresh list per instance, never a shared default
    assert Labelled._fields == ("x", "y", "tags", "note", "label")
    assert Labelled(3, label="q").label == "q"


def test_frozen_unless_declared_otherwise() -> None:
    p = Point(1)
    with pytest.raises(AttributeError, match="frozen"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del p.y
    c = Counter()
    c.n += 1
    assert c.n == 1
    with pytest.raises(TypeError, match="unhashable"):
        hash(c)


def test_equality_hash_and_repr_leave_hidden_fields_out() -> None:
    assert Point(1, 2, note="a") == Point(1, 2, note="b")
    assert hash(Point(1, 2, (), note="a")) == hash(Point(1, 2, (), note="b"))
    assert Point(1, 2) != Point(2, 1)
    assert Point(1) != Labelled(1)  # another type is never equal
    assert repr(Point(1, 2, note="secret")) == "Point(x=1, y=2, tags=[])"


def test_replace_copies_with_changes() -> None:
    p = Point(1, 2)
    q = p.replace(y=5)
    assert (p.y, q.y, q.x) == (2, 5, 1)
    with pytest.raises(TypeError, match="no field 'z'"):
        p.replace(z=1)


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {}, "missing 'x'"),
    ((1, 2, [], "", 5), {}, "takes 4 arguments, 5 given"),
    ((1,), {"x": 2}, "got 'x' twice"),
    ((1,), {"z": 2}, "no field 'z'"),
])
def test_wrong_arguments_say_which(args, kwargs, message) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_post_init_runs_after_the_fields_are_set() -> None:
    class Squared(Record):
        n: int

        def __post_init__(self) -> None:
            object.__setattr__(self, "square", self.n * self.n)

    assert Squared(3).square == 9  # type: ignore[attr-defined]
