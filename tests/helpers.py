"""Test helpers: contexts pointed at fixture trees, and hand-made check specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional

from checks import expectations
from checks.context import Context, Options
from checks.model import Verdict
from checks.platform import Platform
from checks.registry import SIDES, CheckSpec


def make_ctx(tmp: Optional[Path] = None, *, side: str = "laptop", env: Optional[Dict[str, str]] = None,
             platform: Optional[Platform] = None, exp: Any = None, **options: Any) -> Context:
    """A context that reads only what the test gives it."""
    base = Path(tmp) if tmp else Path("/nonexistent")
    return Context(
        expectations=exp or expectations.load("methodology-1"),
        side=side,
        side_reason="set by the test",
        home=base / "home",
        procfs=base / "proc",
        sysfs=base / "sys",
        env=dict(env if env is not None else {"PATH": "/usr/bin:/bin"}),
        platform=platform or Platform("linux"),
        options=Options(**options),
        cwd=base if tmp else Path("/"),
        clock=lambda: 1_764_000_000.0,
    )


def spec(check_id: str, func: Callable[..., Verdict], *, sides: Iterable[str] = SIDES,
         platforms: Optional[Iterable[str]] = None, requires: Iterable[str] = (), timeout: float = 5.0,
         live: bool = False, title: str = "A test check") -> CheckSpec:
    return CheckSpec(check_id, title, func, frozenset(sides),
                     frozenset(platforms) if platforms is not None else None, tuple(requires),
                     "lessons/servers.html#x", (), timeout, live)


def site_expectations(site: str, assignment: str = "methodology-1", **changes: Any) -> Any:
    """A shipped assignment tied to a site (`site = "<name>"`), as an instructor's file would be."""
    from checks.expectations import parse

    text = (Path(expectations.__file__).parent / "assignments" / f"{assignment}.toml").read_text(encoding="utf-8")
    exp = parse(f'site = "{site}"\n' + text, source=f"{assignment}.toml ({site})")
    return exp.replace(**changes) if changes else exp
