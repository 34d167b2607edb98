"""Stand-ins for what cannot run here (said in each test that uses one).

Windows cannot run on this Linux machine, so the Windows rules are tested through a platform
whose access lists come from a table instead of icacls.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

from checks.platform import WINDOWS, Platform
from checks.probes.acl import Ace


class FakeWindowsPlatform(Platform):
    """A Windows platform for tests on Linux: ACLs come from a table, not from icacls.

    The real Win32-OpenSSH ACL walk cannot run here (there is no Windows), so tests check our
    reading of its rule through this fake.
    """

    def __init__(self, user: str = "LAPTOP\\student", acls: Optional[dict] = None) -> None:
        super().__init__(WINDOWS)
        self._user = user
        self.acls = acls or {}

    def uid(self) -> int:
        return -1

    def user_name(self) -> str:
        return self._user.split("\\")[-1]

    def current_user_principal(self) -> str:
        return self._user

    def acl(self, path: Path) -> Tuple[Optional[str], List[Ace]]:
        owner, aces = self.acls.get(str(path), (self._user, [Ace(self._user, "", "(F)")]))
        return owner, list(aces)

    def chmod(self, path: Path, mode: int) -> None:
        raise OSError("chmod does not set Windows permissions")
