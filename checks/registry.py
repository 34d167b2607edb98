"""The check registry: every check declares its id, title, side, platforms and prerequisites.

Ids (`area.thing`) are public: instructors grade on them. Never rename one silently.
"""

from __future__ import annotations

import importlib
import re

from ._record import Record
from .model import Verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

    CheckFunc = Callable[..., Verdict]

SIDES = ("laptop", "jumpbox", "server")
# The public id areas, in report order.
AREAS = ("env", "ssh", "tunnel", "resources", "git")
_ID_RE = r"[a-z]+(\.[a-z_]+)+"


class CheckSpec(Record):
    """A registered check: what it is, where it applies, and the function that runs it."""

    id: str
    title: str
    func: CheckFunc
    sides: FrozenSet[str]
    platforms: Optional[FrozenSet[str]]
    requires: Tuple[str, ...]
    docs: str
    fixes: Tuple[str, ...]
    timeout: float
    live: bool

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def anchor(self) -> str:
        """The check's anchor on the troubleshooting page (Sphinx's id rules)."""
        return re.sub(r"[^a-z0-9]+", "-", self.id)

    @property
    def description(self) -> str:
        """The first line of the check's docstring: the question it answers."""
        doc = (self.func.__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else self.title

    @property
    def explanation(self) -> str:
        """The rest of the docstring: why the check matters."""
        doc = (self.func.__doc__ or "").strip().splitlines()[1:]
        return " ".join(line.strip() for line in doc if line.strip())


_REGISTRY: Dict[str, CheckSpec] = {}


def check(id: str, *, title: str, sides: Iterable[str] = SIDES, platforms: Optional[Iterable[str]] = None,
          requires: Iterable[str] = (), docs: str = "", fixes: Iterable[str] = (), timeout: float = 15.0,
          live: bool = False) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check function under a stable public id."""

    def register(func: CheckFunc) -> CheckFunc:
        if not re.fullmatch(_ID_RE, id):
            raise ValueError(f"check id {id!r} is not of the form area.thing")
        if id in _REGISTRY and _REGISTRY[id].func is not func:
            raise ValueError(f"check id {id!r} registered twice")
        bad = set(sides) - set(SIDES)
        if bad:
            raise ValueError(f"{id}: unknown sides {sorted(bad)}")
        _REGISTRY[id] = CheckSpec(id, title, func, frozenset(sides),
                                  frozenset(platforms) if platforms is not None else None,
                                  tuple(requires), docs, tuple(fixes), timeout, live)
        return func

    return register


def load_all() -> None:
    """Import every area module, which registers its checks."""
    for module in AREAS:  # checks.areas.<area> registers that area's checks
        importlib.import_module(f"checks.areas.{module}")


def all_checks() -> List[CheckSpec]:
    """Every registered check, in report order (area order, then declaration order)."""
    load_all()
    order = {area: i for i, area in enumerate(AREAS)}
    return sorted(_REGISTRY.values(), key=lambda s: order.get(s.area, len(order)))


def get(check_id: str) -> CheckSpec:
    load_all()
    return _REGISTRY[check_id]


def select(selectors: Iterable[str]) -> List[CheckSpec]:
    """The checks named by ids or areas ("ssh", "ssh.key", "tunnel.url"), in report order."""
    sels = [s.strip() for s in selectors if s.strip()]
    return [spec for spec in all_checks()
            if any(spec.id == s or spec.id.startswith(s + ".") for s in sels)]


def unknown_selectors(selectors: Iterable[str]) -> List[str]:
    """Selectors that name no registered check or area."""
    ids = [spec.id for spec in all_checks()]
    return [s for s in selectors if s and not any(i == s or i.startswith(s + ".") for i in ids)]
