"""Stand-ins for what cannot run here (said in each test that uses one).

Windows cannot run on this Linux machine, so the Windows rules are tested through a platform
whose access lists come from a table of SDDL strings (what `(Get-Acl f).Sddl` prints) instead
of PowerShell. The SDDL is parsed by the real parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

from checks.platform import WINDOWS, Platform
from checks.probes.acl import Acl, parse_sddl

STUDENT_SID = "S-1-5-21-1004336348-1177238915-682003330-1001"
# What a key made by ssh-keygen in the student's own .ssh looks like: owned by the student,
# inherited entries for SYSTEM, Administrators and the student.
PRIVATE_SDDL = f"O:{STUDENT_SID}G:{STUDENT_SID}D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;{STUDENT_SID})"


class FakeWindowsPlatform(Platform):
    """A Windows platform for tests on Linux: access lists come from a table of SDDL strings.

    The real Win32-OpenSSH ACL walk and PowerShell cannot run here (there is no Windows), so tests
    check our reading of its rule through this fake.
    """

    def __init__(self, user: str = "LAPTOP\\student", acls: Optional[Dict[str, str]] = None,
                 sid: str = STUDENT_SID) -> None:
        super().__init__(WINDOWS)
        self._user = user
        self._sid = sid
        self.acls = acls or {}

    def uid(self) -> int:
        return -1

    def user_name(self) -> str:
        return self._user.split("\\")[-1]

    def user_sid(self) -> str:
        return self._sid

    def acl(self, path: Path) -> Optional[Acl]:
        sddl = self.acls.get(str(path), PRIVATE_SDDL.replace(STUDENT_SID, self._sid))
        return parse_sddl(sddl) if sddl else None

    def chmod(self, path: Path, mode: int) -> None:
        raise OSError("chmod does not set Windows permissions")
