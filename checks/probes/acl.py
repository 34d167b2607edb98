"""Windows access lists, read the way Win32-OpenSSH reads them (w32-sshfileperm.c).

On Windows, mode bits mean nothing to ssh: it refuses a private key or config file that another
account may read or write. Only the accounts below (and the user) are trusted.
"""

from __future__ import annotations

from pathlib import Path

from .._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Tuple

    from ..context import Context


class Ace(Record):
    """One allow entry of a Windows access list: who, and whether it lets them write."""

    principal: str
    sid: str
    rights: str  # icacls' letters, e.g. "(F)", "(R)", "(RX)", "(M)"

    @property
    def grants_write(self) -> bool:
        return any(tag in self.rights for tag in ("(F)", "(M)", "(W)", "(WD)", "(AD)", "WA", "WEA"))


WINDOWS_TRUSTED = ("NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators", "NT SERVICE\\TrustedInstaller")


WINDOWS_TRUSTED_SIDS = ("S-1-5-18", "S-1-5-32-544", "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464")


def parse_icacls(output: str, path: str) -> List[Ace]:
    """Allow entries from `icacls <file>` output ("<path> DOMAIN\\user:(I)(F)" lines)."""
    aces: List[Ace] = []
    for raw in output.splitlines():
        line = raw.strip()
        if not line or line.startswith("Successfully processed"):
            continue
        if line.startswith(path):
            line = line[len(path):].strip()
        if ":" not in line:
            continue
        principal, _, rights = line.rpartition(":(")
        if not principal:
            continue
        rights = "(" + rights
        if "(DENY)" in rights:
            continue  # OpenSSH ignores deny entries
        sid = principal if principal.startswith("*S-1-") else ""
        aces.append(Ace(principal.lstrip("*"), sid.lstrip("*"), rights))
    return aces


def acl_problems(ctx: Context, path: Path, read_ok: bool) -> Tuple[List[str], List[str]]:
    """Win32-OpenSSH's rule (check_secure_file_permission): (principals too many, bad owner)."""
    owner, aces = ctx.platform.acl(path)
    me = ctx.platform.current_user_principal().lower()
    trusted = {p.lower() for p in WINDOWS_TRUSTED} | {me}
    bad = []
    for ace in aces:
        name = ace.principal.lower()
        if name in trusted or ace.sid in WINDOWS_TRUSTED_SIDS:
            continue
        if read_ok and not ace.grants_write:
            continue
        bad.append(ace.principal)
    bad_owner = [owner] if owner and owner.lower() not in trusted else []
    return sorted(set(bad)), bad_owner
