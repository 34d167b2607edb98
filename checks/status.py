"""How a check ended: the five statuses, whose string values are public (JSON reports, grading)."""

from __future__ import annotations

from enum import Enum

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Tuple


class Status(str, Enum):
    """How a check ended. The string values are public (JSON reports, grading)."""

    PASS = "pass"  # meets the assignment's expectation
    WARN = "warn"  # works, but not as the assignment recommends
    FAIL = "fail"  # the student must act
    SKIP = "skip"  # does not apply here; never a failure
    ERROR = "error"  # the checker itself broke

    def __str__(self) -> str:  # so f-strings give "pass", not "Status.PASS"
        return self.value


STATUS_ORDER: Tuple[Status, ...] = (Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR)
