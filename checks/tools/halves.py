"""Where a student's laptop and server reports disagree.

Each half passes its own checks, yet the two may not fit together:

- **key**: the key the laptop offers (its SHA256 fingerprint, from `ssh.key.present` or
  `ssh.key.pair`) is not among the fingerprints of the server's `authorized_keys` (from
  `ssh.authorized_keys`): the student set up one key and installed another. Reports carry
  fingerprints, never keys.
- **python**: the two Pythons differ in their major.minor version (`env.python`).
- **packages**: a package the assignment lists has different versions on the two sides, or is
  missing on one (`env.packages`), which is the lesson's reproducibility point.

A comparison that a report lacks the data for is not made (and not claimed).
"""

from __future__ import annotations

import re

from .reports import Submission, normal_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple

KINDS = ("key", "python", "packages")
_FP_RE = re.compile(r"SHA256:[A-Za-z0-9+/]{43}")


def _fingerprints(value: Any) -> List[str]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, dict):
        value = value.get("fingerprints")
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str) and _FP_RE.fullmatch(v)]


def offered_keys(laptop: Submission) -> List[str]:
    """The fingerprints of the keys the laptop offers, as its report says (may be empty)."""
    found = _fingerprints(laptop.observed.get("ssh.key.present"))
    if not found and laptop.statuses.get("ssh.key.pair") == "pass":
        found = _fingerprints(laptop.observed.get("ssh.key.pair"))
    return found


def authorized_keys(server: Submission) -> Optional[List[str]]:
    """The fingerprints in the server's authorized_keys, or None when its report does not say."""
    value = server.observed.get("ssh.authorized_keys")
    if "ssh.authorized_keys" not in server.statuses or server.statuses["ssh.authorized_keys"] == "skip":
        return None
    if isinstance(value, dict) and isinstance(value.get("fingerprints"), list):
        return _fingerprints(value)
    if isinstance(value, list):
        return _fingerprints(value)
    return None


def python_version(sub: Submission) -> str:
    value = sub.observed.get("env.python")
    return value if isinstance(value, str) and re.fullmatch(r"\d+\.\d+(\.\d+)?\S{0,12}", value) else ""


def packages(sub: Submission) -> Optional[Dict[str, str]]:
    value = sub.observed.get("env.packages")
    installed = value.get("installed") if isinstance(value, dict) else None
    if not isinstance(installed, dict):
        return None
    return {normal_name(k): str(v)[:40] for k, v in installed.items() if isinstance(k, str)}


def disagreements(laptop: Submission, server: Submission, listed: Sequence[Tuple[str, str]]) -> List[str]:
    """What the two halves disagree on, one sentence each starting with its kind."""
    found: List[str] = []
    offered = offered_keys(laptop)
    authorized = authorized_keys(server)
    if offered and authorized is not None and not set(offered) & set(authorized):
        found.append(f"key: the laptop offers {', '.join(offered[:2])}, which is not among the "
                     f"{len(authorized)} key(s) in the server's authorized_keys")
    here, there = python_version(laptop), python_version(server)
    if here and there and here.split(".")[:2] != there.split(".")[:2]:
        found.append(f"python: {here} on the laptop, {there} on the server")
    if listed:
        mine, theirs = packages(laptop), packages(server)
        if mine is not None and theirs is not None:
            differ = []
            for name, _spec in listed:
                a, b = mine.get(normal_name(name)), theirs.get(normal_name(name))
                if a != b:
                    differ.append(f"{name} {a or 'missing'} on the laptop, {b or 'missing'} on the server")
            if differ:
                found.append("packages: " + "; ".join(differ))
    return found
