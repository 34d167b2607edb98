"""The result model: what a check found, how to fix it, and a whole run's report.

Everything here is plain data. Checks build `Verdict`s; the runner turns each into a
`Result` (adding the check's id, title and docs link); a `Report` holds a run. Rendering
lives in `render`, so this module never prints.
"""

from __future__ import annotations

from . import render
from ._record import Record
from .status import STATUS_ORDER, Status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Sequence, Tuple


class Heading(str):
    """A fix heading that applies on one kind of cluster only (a site's `launch.kind`, see
    checks/site.py): the troubleshooting page of a book built for another kind leaves it out."""

    kind: str

    def __new__(cls, text: str, kind: str = "") -> "Heading":
        heading = super().__new__(cls, text)
        heading.kind = kind
        return heading

    def applies_to(self, kind: str) -> bool:
        return not self.kind or self.kind == kind


class Fix(Record):
    """What to do: one imperative sentence, then commands the student can paste.

    `heading` names which of its check's declared fixes this is (the registry's `fixes=`, listed on
    the troubleshooting page): the text opens with it. It is not part of the JSON or of equality.
    """

    text: str
    commands: Tuple[str, ...] = ()
    heading: str = ""
    _hidden = ("heading",)

    def __init__(self, text: str, commands: Sequence[str] = (), heading: str = "") -> None:
        if heading and not text.startswith(heading):
            raise ValueError(f"a fix's text must open with its heading {heading!r}: {text!r}")
        super().__init__(text, tuple(commands), heading)

    @classmethod
    def under(cls, heading: str, rest: str, commands: Sequence[str] = ()) -> "Fix":
        """A fix under one of its check's declared headings: the text is the heading, then `rest`."""
        return cls(heading + rest, commands, heading)

    def to_dict(self) -> Dict[str, Any]:
        return {"text": self.text, "commands": list(self.commands)}


class Verdict(Record):
    """What a check function returns: a status and what was observed."""

    status: Status
    summary: str
    fix: Optional[Fix] = None
    expected: Any = None
    observed: Any = None
    details: Tuple[str, ...] = ()


def _verdict(status: Status, summary: str, fix: Optional[Fix], expected: Any, observed: Any,
             details: Sequence[str]) -> Verdict:
    return Verdict(status, summary, fix, expected, observed, tuple(details))


def passed(summary: str, *, expected: Any = None, observed: Any = None,
           details: Sequence[str] = ()) -> Verdict:
    """The check met its expectation."""
    return _verdict(Status.PASS, summary, None, expected, observed, details)


def warned(summary: str, fix: Optional[Fix] = None, *, expected: Any = None,
           observed: Any = None, details: Sequence[str] = ()) -> Verdict:
    """It works, but not as the assignment recommends."""
    return _verdict(Status.WARN, summary, fix, expected, observed, details)


def failed(summary: str, fix: Optional[Fix] = None, *, expected: Any = None,
           observed: Any = None, details: Sequence[str] = ()) -> Verdict:
    """The student must act; `fix` says how."""
    return _verdict(Status.FAIL, summary, fix, expected, observed, details)


def skipped(reason: str, *, observed: Any = None, details: Sequence[str] = ()) -> Verdict:
    """The check does not apply here; `reason` says why."""
    return _verdict(Status.SKIP, reason, None, None, observed, details)


class Result(Record):
    """One check's outcome, as reported, rendered and graded."""

    id: str
    status: Status
    title: str
    summary: str
    fix: Optional[Fix] = None
    expected: Any = None
    observed: Any = None
    details: Tuple[str, ...] = ()
    docs: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status not in (Status.FAIL, Status.ERROR)

    def to_dict(self) -> Dict[str, Any]:
        """The public JSON form of one result (schema 1)."""
        return {
            "id": self.id,
            "status": self.status.value,
            "title": self.title,
            "summary": self.summary,
            "fix": self.fix.to_dict() if self.fix else None,
            "expected": _jsonable(self.expected),
            "observed": _jsonable(self.observed),
            "docs": self.docs,
        }


def _jsonable(value: Any) -> Any:
    """Plain JSON values only, so a report always serialises."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "items"):  # a mapping
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return str(value)


class Report(Record):
    """A whole run: its results and where it ran. Renders as text, HTML and JSON."""

    results: Tuple[Result, ...]
    side: str = ""
    assignment: str = ""
    user: str = ""
    host: str = ""
    created: str = ""
    tool_version: str = ""
    docs_url: str = ""  # where the lesson is published; "Read more" links are built from it
    user_source: str = ""  # where `user` came from (checks/probes/identity.py)
    secrets: Tuple[str, ...] = ()
    _hidden = ("secrets",)  # never in repr, and not part of equality

    @property
    def counts(self) -> Dict[str, int]:
        counts = {s.value: 0 for s in STATUS_ORDER}
        for result in self.results:
            counts[result.status.value] += 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 nothing failed; 1 something failed; 3 nothing failed but the checker broke."""
        counts = self.counts
        if counts["fail"]:
            return 1
        if counts["error"]:
            return 3
        return 0

    def __getitem__(self, check_id: str) -> Result:
        for result in self.results:
            if result.id == check_id:
                return result
        raise KeyError(check_id)

    def to_dict(self) -> Dict[str, Any]:
        return render.report_dict(self)

    def to_json(self) -> str:
        return render.json_text(self)

    def __str__(self) -> str:
        return render.text(self, color=False)

    def _repr_html_(self) -> str:
        return render.html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))
