"""Students' report files as an instructor receives them: read safely, validated, and flagged.

A report is a file the student controls. Reading one must never hang, exhaust memory or crash
(a FIFO, a 2 GB file, JSON nested 100,000 deep, a field of the wrong type), and whatever in it
disagrees with itself is flagged, not trusted:

- the counts that do not match the results (an edited status);
- a `pass` that carries a fix (checks give fixes only to problems);
- a tool version that selfcheck never had, a check id it never had, a status outside the five;
- a check listed twice;
- a `created` time that does not parse, or lies in the future;
- a user that is not a cluster username (or does not say where it came from).

Files written by PowerShell 5.1's `>` are UTF-16 with a byte-order mark; those, UTF-8 and UTF-8
with a mark are all read.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timezone

from .._record import Factory, Record
from .._version import RELEASES
from ..files import FileProblem, read_bytes
from ..probes.identity import CONFIRMED, LOCAL_LOGIN

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

STATUSES = ("pass", "warn", "fail", "skip", "error")
_STATUS_SET = frozenset(STATUSES)
SIDES = ("laptop", "jumpbox", "server")
HALF_OF_SIDE = {"laptop": "laptop", "jumpbox": "server", "server": "server"}
MAX_REPORT_BYTES = 1 << 20  # a full report with a long package list is well under 100 KB
MAX_FIELD = 4000  # a check's summary is a sentence: a longer one was not written by selfcheck
LARGE_REPORT = 200_000  # larger than selfcheck writes (a long package list is under 100 KB): look closer
FUTURE_SLACK = 15 * 60  # a laptop clock a little ahead is not a forgery
# Observed values the join of a student's two halves needs (tools/halves.py); others are not kept.
JOIN_IDS = frozenset({"ssh.key.present", "ssh.key.pair", "ssh.authorized_keys", "env.python", "env.packages"})
_USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}")
_CREATED_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)Z")
_STAMPS: Dict[float, str] = {}


def _stamp(when: float) -> str:
    """A time as reports write it ("2026-11-20T10:00:00Z"), once per distinct `when`."""
    if when not in _STAMPS:
        _STAMPS.clear()
        _STAMPS[when] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    return _STAMPS[when]


class Submission(Record, frozen=False):
    """One usable report file: what it says, and what about it is not to be trusted."""

    file: str
    side: str
    assignment: str
    user: str  # the cluster username, "" when the report names none we can trust
    user_source: str
    created: str
    host: str
    tool_version: str
    statuses: Dict[str, str]
    summaries: Dict[str, Any]  # only for the checks that did not pass: what grading says they said
    observed: Dict[str, Any]  # only JOIN_IDS, and of the package list only the assignment's packages
    flags: List[str] = Factory(factory=list)
    graded: Optional[List[Any]] = None  # set by grading.Grader, which then needs no summaries
    _created_at: Any = False  # not parsed yet: most reports are never asked

    @property
    def created_at(self) -> Optional[float]:
        """Seconds since the epoch; None when `created` does not parse."""
        if self._created_at is False:
            self._created_at = parse_created(self.created)
        return self._created_at  # type: ignore[no-any-return]  # a float or None once parsed

    @property
    def half(self) -> str:
        return HALF_OF_SIDE[self.side]

    @property
    def trusted_time(self) -> bool:
        """A `created` that parses and does not lie in the future (flags say when not)."""
        return self.created_at is not None and not any(f.startswith("created ") for f in self.flags)

    def summary(self, check: str) -> str:
        """What the report says for a check that did not pass ("" when it says nothing readable)."""
        said = self.summaries.get(check)
        return said if isinstance(said, str) else ""


class Rejected(Record):
    """A file that cannot be graded, and why (one sentence for the instructor)."""

    file: str
    reason: str


def read_bounded(path: str, limit: int = MAX_REPORT_BYTES, follow: bool = True) -> Tuple[Optional[bytes], str]:
    """(the bytes of a regular file of at most `limit` bytes, "") or (None, why not), through the
    checker's one safe reader (checks/files.py): a FIFO answers at once, a 2 GB file is never read,
    and unless `follow` a symbolic link is not followed."""
    try:
        return read_bytes(path, limit, what="a report", follow=follow), ""
    except FileProblem as exc:
        return None, exc.reason


def load(path: str, follow: bool = True) -> Tuple[Any, str, int]:
    """(the JSON document in a report file, "", its size) or (None, why it cannot be read, 0)."""
    raw, why = read_bounded(path, follow=follow)
    if raw is None:
        return None, why, 0
    if not raw or raw.isspace():  # (not raw.strip(): that copies every report)
        return None, "is empty", 0
    try:  # json reads UTF-8, UTF-8 with a byte-order mark and UTF-16 with one from bytes itself
        return json.loads(raw), "", len(raw)
    except UnicodeDecodeError:
        return None, "is not text in UTF-8 or UTF-16", 0
    except RecursionError:
        return None, "is nested too deeply to be a report", 0
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        return None, f"is not valid JSON ({str(exc).splitlines()[0][:80]})", 0


def parse_created(text: object) -> Optional[float]:
    """Seconds since the epoch for a report's `created` ("2026-11-20T10:00:00Z"), else None."""
    if not isinstance(text, str):
        return None
    match = _CREATED_RE.fullmatch(text)
    if not match:
        return None
    try:
        year, month, day, hour, minute, second = map(int, match.groups())
        when = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:  # February 30th
        return None
    return when.timestamp() if when.year >= 1970 else None


def _text(value: object, limit: int = 300) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return text if len(text) <= limit else text[:limit] + "…"


def validate(doc: Any, path: str, known_ids: FrozenSet[str], now: float, assignment: Optional[str],
             size: int = 0, packages: FrozenSet[str] = frozenset()) -> Tuple[Optional[Submission], str]:
    """(a Submission, "") when the document can be graded, else (None, the reason).

    `size` is the file's size: only a report far larger than selfcheck writes is searched for an
    overlong field. `packages`: the assignment's packages (normalised names), the only ones kept
    from the report's package list, since a class's reports are held in memory together. Every
    step is a comprehension or a set operation: a class has thousands of reports and this runs
    once per report (bench/collect_reports.py)."""
    if not isinstance(doc, dict):
        return None, "is not a self-check report (the file holds no JSON object)"
    if doc.get("schema") != 1:
        return None, f"has an unknown report schema {_text(doc.get('schema'), 20)!r} (this tool reads schema 1)"
    version = doc.get("tool_version")
    if not isinstance(version, str) or not version:
        return None, "has no tool_version: not made by selfcheck"
    results = doc.get("results")
    if not isinstance(results, list):
        return None, "has no results list"
    side = doc.get("side")
    if side not in SIDES:
        return None, f"has side {_text(side, 20)!r}, not laptop, jumpbox or server"
    got = doc.get("assignment")
    if assignment and got != assignment:
        return None, f"is a report for {_text(got, 40)!r}, not {assignment!r}"
    statuses: Dict[str, str] = {}
    summaries: Dict[str, Any] = {}
    observed: Dict[str, Any] = {}
    fixed: List[str] = []
    try:
        for item in results:  # one pass, plain statements: the fastest Python has for this
            cid = item["id"]
            status = statuses[cid] = item["status"]
            if status == "pass":
                if item.get("fix"):
                    fixed.append(cid)
            else:
                summaries[cid] = item.get("summary")
            if cid in JOIN_IDS:
                observed[cid] = item.get("observed")
        # issuperset walks the values without building a set: the common case, nothing odd
        odd_status = set() if _STATUS_SET.issuperset(statuses.values()) else set(statuses.values()) - _STATUS_SET
        unknown = set() if known_ids.issuperset(statuses) else statuses.keys() - known_ids
    except (TypeError, KeyError, AttributeError):  # not an object, no id or status, or a list as one
        return None, "holds a result without a check id or a status"
    if any(type(cid) is not str or not cid or len(cid) > 100 for cid in unknown) or \
            any(type(status) is not str for status in odd_status):
        return None, "holds a result whose id or status is not text"
    if size > LARGE_REPORT and any(
            type(item.get("summary")) is str and len(item["summary"]) > MAX_FIELD for item in results):
        return None, "holds a field too long for a report"
    flags: List[str] = []
    if len(statuses) != len(results):
        seen: Dict[str, int] = {}
        for item in results:
            seen[item["id"]] = seen.get(item["id"], 0) + 1
        flags += [f"lists {_text(cid, 40)} {n} times" for cid, n in seen.items() if n > 1][:3]
    odd = [f"{_text(cid, 40)} says pass but carries a fix (checks give fixes only to problems)" for cid in fixed]
    if odd_status:
        odd += [f"{_text(cid, 40)} has status {_text(st, 20)!r}, not one of {', '.join(STATUSES)}"
                for cid, st in statuses.items() if st in odd_status]
    flags += odd[:3] + ([f"and {len(odd) - 3} more such result(s)"] if len(odd) > 3 else [])
    if unknown:
        names = sorted(unknown)
        flags.append("names check id(s) selfcheck never had: " + ", ".join(_text(c, 40) for c in names[:3])
                     + (f" and {len(names) - 3} more" if len(names) > 3 else ""))
    values = list(statuses.values())
    tally = {status: values.count(status) for status in STATUSES}
    counts = doc.get("counts")
    if counts != tally:
        flags.append(f"its counts ({_counts(counts)}) do not match its results ({_counts(tally)}): edited?")
    if version not in RELEASES:
        flags.append(f"says it was made by selfcheck {_text(version, 20)}, a version that does not exist")
    created = doc.get("created")
    if type(created) is not str or _CREATED_RE.fullmatch(created) is None:
        flags.append(f"created {_text(created, 40)!r} is not a time this tool writes")
    elif created > _stamp(now + FUTURE_SLACK):  # the format sorts as text: no need to parse it here
        flags.append(f"created {created} lies in the future")
    user, source = _identity(doc, flags)
    if "env.packages" in observed:
        observed["env.packages"] = _listed(observed["env.packages"], packages)
    return Submission(path, side, got if isinstance(got, str) else "", user, source,
                      created if isinstance(created, str) else "", _text(doc.get("host"), 80),
                      version, statuses, summaries, observed, flags, None), ""


def normal_name(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _listed(value: Any, packages: FrozenSet[str]) -> Any:
    """Of an `env.packages` observation, the installed versions of the listed packages only."""
    installed = value.get("installed") if isinstance(value, dict) else None
    if not isinstance(installed, dict):
        return None
    if not packages:
        return {"installed": {}}
    return {"installed": {k: v for k, v in installed.items() if isinstance(k, str) and normal_name(k) in packages}}


def _counts(counts: object) -> str:
    if not isinstance(counts, dict):
        return "none"
    return ", ".join(f"{_text(v, 10)} {_text(k, 10)}" for k, v in counts.items() if v) or "none"


def _identity(doc: Dict[str, Any], flags: List[str]) -> Tuple[str, str]:
    """(the cluster username to file the report under, its source), or ("", why) when none."""
    user = doc.get("user")
    source = doc.get("user_source")
    user = user.strip() if isinstance(user, str) else ""
    if not user:
        flags.append("names no user: run it again with --user <your cluster username>")
        return "", ""
    if not _USER_RE.fullmatch(user):
        flags.append(f"user {_text(user, 40)!r} is not a username")
        return "", ""
    if source is None:
        flags.append("does not say where its user came from (older selfcheck): not confirmed")
        return user, ""
    if source == LOCAL_LOGIN:
        flags.append(f"names only the computer's login name {user!r}, not a cluster username: "
                     "run it again with --url or --user")
        return "", LOCAL_LOGIN
    if source not in CONFIRMED:
        flags.append(f"user_source {_text(source, 20)!r} is not one selfcheck writes")
        return "", ""
    return user, source


def report_files(paths: Iterable[str]) -> List[Tuple[str, bool]]:
    """(path, follow links) for each report: files given by name, and *.json under given folders
    (links inside folders are not followed: a student's upload may link anywhere)."""
    found: List[Tuple[str, bool]] = []
    for raw in paths:
        if os.path.isdir(raw):
            for folder, dirs, names in os.walk(raw):
                dirs.sort()
                found += [(os.path.join(folder, n), False) for n in sorted(names) if n.lower().endswith(".json")]
        else:
            found.append((raw, True))
    return found
