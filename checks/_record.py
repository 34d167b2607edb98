"""Plain value classes, declared like dataclasses, without the cost of `dataclasses`.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`) and generates and compiles
code for every class it decorates: on a small laptop that was a third of the self-check's run time
(bench/cli_run.py). A `Record` reads its fields from the class annotations once, when the class is
created, and shares one `__init__`::

    class Fix(Record):
        text: str
        commands: Tuple[str, ...] = ()

Fields keep declaration order (a subclass's come after its base's); a class attribute is the
default; `Factory(factory=make)` makes a fresh default per instance; names in `_hidden` are left out
of `repr` and equality. Records are frozen unless declared `class X(Record, frozen=False)`.
`replace(**changes)` returns a copy, like `dataclasses.replace`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, ClassVar, Dict, Tuple, TypeVar

    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_kwargs):  # type checkers only: no cost at run time
        return lambda cls: cls


if TYPE_CHECKING:
    _T = TypeVar("_T")
    _R = TypeVar("_R", bound="Record")

    def Factory(*, factory: Callable[[], _T]) -> _T:
        """For type checkers: `x: T = Factory(factory=make)` is a field whose default is `make()`."""
        ...
else:
    class Factory:
        """A default computed per instance (like `dataclasses.field(default_factory=...)`)."""

        __slots__ = ("factory",)

        def __init__(self, *, factory):
            self.factory = factory


_NO_DEFAULT = object()


@dataclass_transform(frozen_default=True, field_specifiers=(Factory,))
class Record:
    """The base of every value class (see the module's docstring)."""

    _fields: ClassVar[Tuple[str, ...]] = ()
    _defaults: ClassVar[Dict[str, Any]] = {}
    _hidden: ClassVar[Tuple[str, ...]] = ()
    _frozen: ClassVar[bool] = True

    def __init_subclass__(cls, frozen: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = [name for name, kind in cls.__dict__.get("__annotations__", {}).items()
               if not name.startswith("_") and not str(kind).startswith("ClassVar")]
        cls._fields = cls._fields + tuple(name for name in own if name not in cls._fields)
        defaults = dict(cls._defaults)
        for name in own:
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
        cls._defaults = defaults
        cls._frozen = frozen

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if not kwargs and len(args) == len(fields):  # every field in order: the common, quick case
            self.__dict__.update(zip(fields, args))
            post_init = getattr(self, "__post_init__", None)
            if post_init is not None:
                post_init()
            return
        name = type(self).__name__
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} arguments, {len(args)} given")
        values = dict(zip(fields, args))
        for key, value in kwargs.items():
            if key not in fields:
                raise TypeError(f"{name}() has no field {key!r}")
            if key in values:
                raise TypeError(f"{name}() got {key!r} twice")
            values[key] = value
        for key in fields:
            if key not in values:
                default = self._defaults.get(key, _NO_DEFAULT)
                if default is _NO_DEFAULT:
                    raise TypeError(f"{name}() is missing {key!r}")
                values[key] = default.factory() if isinstance(default, Factory) else default  # type: ignore[arg-type]  # Factory is a class at run time
        self.__dict__.update(values)
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def __setattr__(self, key: str, value: Any) -> None:
        if self._frozen:
            raise AttributeError(f"{type(self).__name__} is frozen: cannot set {key!r}")
        object.__setattr__(self, key, value)

    def __delattr__(self, key: str) -> None:
        if self._frozen:
            raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {key!r}")
        object.__delattr__(self, key)

    def _compared(self) -> Tuple[Any, ...]:
        return tuple(self.__dict__[f] for f in self._fields if f not in self._hidden)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        if not self._frozen:
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash((type(self).__name__,) + self._compared())

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={self.__dict__[f]!r}" for f in self._fields if f not in self._hidden)
        return f"{type(self).__name__}({shown})"

    def replace(self: _R, **changes: Any) -> _R:
        """A copy with some fields changed."""
        values = {f: self.__dict__[f] for f in self._fields}
        values.update(changes)
        return type(self)(**values)
