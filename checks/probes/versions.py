"""Version ranges without third-party packages: the part of PEP 440 assignments use.

Supports comma-separated clauses with `==`, `!=`, `>=`, `<=`, `>`, `<`, `~=` and `==X.Y.*`.
Pre-release and local parts are compared by their numeric release only.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Tuple

_CLAUSE = r"\s*(~=|==|!=|>=|<=|>|<)\s*([0-9][0-9a-zA-Z.*+!-]*)\s*"
_RELEASE = r"(?:\d+!)?(\d+(?:\.\d+)*)"


class InvalidSpec(ValueError):
    """A version range that cannot be read."""


def release(version: str) -> Tuple[int, ...]:
    """The numeric release of a version string: "3.11.7rc1" -> (3, 11, 7)."""
    match = re.match(_RELEASE, version.strip().lstrip("vV"))
    if not match:
        raise InvalidSpec(f"{version!r} is not a version number")
    return tuple(int(part) for part in match.group(1).split("."))


def _pad(a: Tuple[int, ...], n: int) -> Tuple[int, ...]:
    return a + (0,) * (n - len(a))


def _cmp(a: Tuple[int, ...], b: Tuple[int, ...]) -> int:
    n = max(len(a), len(b))
    a, b = _pad(a, n), _pad(b, n)
    return (a > b) - (a < b)


def parse_spec(spec: str) -> List[Tuple[str, str]]:
    clauses = []
    for raw in spec.split(","):
        if not raw.strip():
            continue
        match = re.fullmatch(_CLAUSE, raw)
        if not match:
            raise InvalidSpec(f"{raw.strip()!r} is not a clause such as '>=3.9' or '==1.2.*'")
        clauses.append((match.group(1), match.group(2)))
    if not clauses:
        raise InvalidSpec("the range is empty")
    return clauses


def matches(version: str, spec: str) -> bool:
    """Whether `version` satisfies every clause of `spec`."""
    have = release(version)
    for op, target in parse_spec(spec):
        if target.endswith(".*"):
            if op not in ("==", "!="):
                raise InvalidSpec(f"a wildcard needs == or !=, not {op}")
            prefix = release(target[:-2])
            same = _pad(have, len(prefix))[: len(prefix)] == prefix
            if same != (op == "=="):
                return False
            continue
        want = release(target)
        c = _cmp(have, want)
        if op == "==" and c != 0 or op == "!=" and c == 0:
            return False
        if op == ">=" and c < 0 or op == "<=" and c > 0 or op == ">" and c <= 0 or op == "<" and c >= 0:
            return False
        if op == "~=":
            if len(want) < 2:
                raise InvalidSpec("~= needs at least two parts, such as ~=1.4")
            if c < 0 or _pad(have, len(want) - 1)[: len(want) - 1] != want[:-1]:
                return False
    return True
