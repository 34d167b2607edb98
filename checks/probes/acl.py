"""Windows access lists, read the way Win32-OpenSSH reads them (w32-sshfileperm.c).

On Windows, mode bits mean nothing to ssh: it refuses a private key or config file that another
account may read (or, for the config, write), and one whose owner is not the user, SYSTEM,
Administrators or TrustedInstaller. Accounts are compared by SID, never by name: names are
translated ("NT-AUTORITÄT\\SYSTEM", "VORDEFINIERT\\Administratoren" on a German Windows). The
access list comes as SDDL text (`(Get-Acl f).Sddl`), parsed here.
"""

from __future__ import annotations

import re
from pathlib import Path

from .._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from ..context import Context

SYSTEM, ADMINISTRATORS = "S-1-5-18", "S-1-5-32-544"
TRUSTED_INSTALLER = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
WINDOWS_TRUSTED_SIDS = (SYSTEM, ADMINISTRATORS, TRUSTED_INSTALLER)

# SDDL's two-letter names for well-known SIDs (the ones a file's access list can hold).
SDDL_SIDS: Dict[str, str] = {
    "SY": SYSTEM, "BA": ADMINISTRATORS, "BU": "S-1-5-32-545", "BG": "S-1-5-32-546", "PU": "S-1-5-32-547",
    "AU": "S-1-5-11", "WD": "S-1-1-0", "IU": "S-1-5-4", "NU": "S-1-5-2", "SU": "S-1-5-6", "AN": "S-1-5-7",
    "LS": "S-1-5-19", "NS": "S-1-5-20", "CO": "S-1-3-0", "CG": "S-1-3-1", "OW": "S-1-3-4",
    "RD": "S-1-5-32-555", "RU": "S-1-5-32-554", "BO": "S-1-5-32-551", "SO": "S-1-5-32-549",
    "AC": "S-1-15-2-1", "PS": "S-1-5-10", "RC": "S-1-5-12", "WR": "S-1-5-33", "ER": "S-1-5-32-573",
}
# How a SID is shown to the student (English names only for display; decisions use the SID).
SID_NAMES: Dict[str, str] = {
    SYSTEM: "SYSTEM", ADMINISTRATORS: "Administrators", TRUSTED_INSTALLER: "TrustedInstaller",
    "S-1-5-32-545": "Users", "S-1-5-11": "Authenticated Users", "S-1-1-0": "Everyone",
    "S-1-5-4": "INTERACTIVE", "S-1-5-32-546": "Guests", "S-1-3-0": "CREATOR OWNER", "S-1-3-4": "OWNER RIGHTS",
    "S-1-5-7": "ANONYMOUS LOGON", "S-1-15-2-1": "ALL APPLICATION PACKAGES",
}

# Access-mask bits, and SDDL's letters for them (file objects).
FILE_WRITE_DATA, FILE_APPEND_DATA, FILE_WRITE_EA, FILE_WRITE_ATTRIBUTES = 0x2, 0x4, 0x10, 0x100
GENERIC_ALL, GENERIC_WRITE = 0x10000000, 0x40000000
WRITE_BITS = FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES | GENERIC_ALL | GENERIC_WRITE
SDDL_RIGHTS: Dict[str, int] = {
    "FA": 0x1F01FF, "FR": 0x120089, "FW": 0x120116, "FX": 0x1200A0,
    "GA": GENERIC_ALL, "GR": 0x80000000, "GW": GENERIC_WRITE, "GX": 0x20000000,
    "RC": 0x20000, "SD": 0x10000, "WD": 0x40000, "WO": 0x80000,
    "CC": 0x1, "DC": 0x2, "LC": 0x4, "SW": 0x8, "RP": 0x10, "WP": 0x20, "DT": 0x40, "LO": 0x80, "CR": 0x100,
    "KA": 0xF003F, "KR": 0x20019, "KW": 0x20006, "KX": 0x20019,
}


class AclError(ValueError):
    """SDDL text that does not parse."""


class Ace(Record):
    """One entry of a file's access list: whose SID, which rights, allow or deny, inherited or not."""

    sid: str
    mask: int
    allow: bool = True
    inherited: bool = False
    inherit_only: bool = False  # applies to children only, not to the file itself

    @property
    def grants_write(self) -> bool:
        return bool(self.mask & WRITE_BITS)


class Acl(Record):
    """A file's owner and access list, by SID."""

    owner: str
    aces: Tuple[Ace, ...] = ()


class AclProblems(Record):
    """What Win32-OpenSSH objects to in a file's access list."""

    others: Tuple[str, ...] = ()  # SIDs that may read (or write) it besides the trusted ones
    explicit: Tuple[str, ...] = ()  # those of them with entries of their own (not inherited)
    owner: str = ""  # the owner's SID, when the owner is not acceptable
    unknown: str = ""  # why the access list could not be read

    @property
    def ok(self) -> bool:
        return not (self.others or self.owner or self.unknown)


def _sid(token: str) -> str:
    token = token.strip()
    if token.upper().startswith("S-1-"):
        return token.upper()
    if token.upper() in SDDL_SIDS:
        return SDDL_SIDS[token.upper()]
    raise AclError(f"unknown SID {token!r}")


def _mask(rights: str) -> int:
    rights = rights.strip()
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", rights):
        return int(rights, 16)
    if re.fullmatch(r"\d+", rights):
        return int(rights)
    if len(rights) % 2:
        raise AclError(f"cannot read the rights {rights!r}")
    mask = 0
    for i in range(0, len(rights), 2):
        letters = rights[i:i + 2].upper()
        if letters not in SDDL_RIGHTS:
            raise AclError(f"unknown right {letters!r}")
        mask |= SDDL_RIGHTS[letters]
    return mask


def parse_sddl(text: str) -> Acl:
    """A security descriptor in SDDL (`O:<sid>G:<sid>D:<flags>(ace)(ace)...`) → owner and DACL."""
    text = "".join(text.split())
    owner = re.search(r"O:(S(?:-\d+)+|[A-Z]{2})", text, re.I)
    dacl = re.search(r"D:[A-Z]*((?:\([^)]*\))*)", text, re.I)
    if not owner and not dacl:
        raise AclError("no owner and no access list in the security descriptor")
    aces: List[Ace] = []
    for body in re.findall(r"\(([^)]*)\)", dacl.group(1) if dacl else ""):
        parts = body.split(";")
        if len(parts) < 6:
            raise AclError(f"cannot read the entry ({body})")
        kind, flags, rights, sid = parts[0].upper(), parts[1].upper(), parts[2], parts[5]
        if kind not in ("A", "D"):
            continue  # audit, object and callback entries: Win32-OpenSSH looks at plain allow entries
        flag_set = {flags[i:i + 2] for i in range(0, len(flags), 2)}
        aces.append(Ace(_sid(sid), _mask(rights), kind == "A", "ID" in flag_set, "IO" in flag_set))
    return Acl(_sid(owner.group(1)) if owner else "", tuple(aces))


def describe(sid: str) -> str:
    """A SID as shown to the student: its usual name, when it has one, and the SID."""
    name = SID_NAMES.get(sid)
    return f"{name} ({sid})" if name else sid


def problems(acl: Acl, user_sid: str, read_ok: bool) -> AclProblems:
    """Win32-OpenSSH's check_secure_file_permission: (others who may read or write, bad owner).

    With `read_ok` (the config file) others may read but not write; a private key must be
    readable by no one else. Deny entries are ignored, as OpenSSH ignores them.
    """
    trusted = set(WINDOWS_TRUSTED_SIDS) | ({user_sid.upper()} if user_sid else set())
    others: Dict[str, bool] = {}
    for ace in acl.aces:
        if not ace.allow or ace.inherit_only or ace.sid in trusted:
            continue
        if read_ok and not ace.grants_write:
            continue
        others[ace.sid] = others.get(ace.sid, False) or not ace.inherited
    owner = acl.owner if acl.owner and acl.owner not in trusted else ""
    return AclProblems(tuple(sorted(others)), tuple(sorted(s for s, explicit in others.items() if explicit)), owner)


def acl_problems(ctx: Context, path: Path, read_ok: bool) -> AclProblems:
    """What Win32-OpenSSH would object to in this file's access list (Windows only)."""
    try:
        acl: Optional[Acl] = ctx.platform.acl(path)
    except AclError as exc:
        return AclProblems(unknown=f"its access list cannot be read ({exc})")
    if acl is None:
        return AclProblems(unknown="its access list cannot be read")
    return problems(acl, ctx.platform.user_sid(), read_ok)
