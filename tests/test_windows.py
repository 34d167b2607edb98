"""Windows rules, tested on Linux through fakes: there is no Windows here.

What is real: the SDDL parser, Win32-OpenSSH's rule as we read it (w32-sshfileperm.c), the checks
and their fixes, the netstat parser. What is a stand-in, and said so in each test: the access
lists (SDDL strings, as `(Get-Acl f).Sddl` prints them, given by tests/fakes.py) and the Windows
programs (`powershell.exe`, `netstat`, `tasklist`: small scripts printing what the real ones print).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from fakes import STUDENT_SID, FakeWindowsPlatform
from helpers import make_ctx

from checks.model import Status
from checks.platform import Platform
from checks.probes import acl
from checks.probes.ports import listener_owner, netstat_listener
from checks.registry import get
from checks.runner import run_specs

ME = STUDENT_SID
OTHER = "S-1-5-21-1004336348-1177238915-682003330-1002"


def test_sddl_is_read_by_sid_with_owner_rights_and_flags() -> None:
    parsed = acl.parse_sddl(f"O:BAG:SYD:PAI(A;;FA;;;{ME})(A;OICIID;0x1200a9;;;BU)(D;;FW;;;WD)"
                            "(A;OICIIO;GA;;;CO)(A;;FR;;;AU)")
    assert parsed.owner == "S-1-5-32-544"
    sids = [(a.sid, a.allow, a.inherited, a.inherit_only) for a in parsed.aces]
    assert sids == [(ME, True, False, False), ("S-1-5-32-545", True, True, False), ("S-1-1-0", False, False, False),
                    ("S-1-3-0", True, False, True), ("S-1-5-11", True, False, False)]
    assert parsed.aces[0].grants_write and not parsed.aces[1].grants_write and not parsed.aces[4].grants_write
    with pytest.raises(acl.AclError):
        acl.parse_sddl("O:XXD:(A;;FA;;;SY)")


def test_the_rule_is_by_sid_so_a_german_windows_reads_the_same() -> None:
    """A German Windows names SYSTEM "NT-AUTORITÄT\\SYSTEM" and Administrators "VORDEFINIERT\\Administratoren";
    icacls prints those names. The SDDL (and so the verdict) has only SIDs."""
    key = acl.parse_sddl(f"O:{ME}D:PAI(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;{ME})")
    assert acl.problems(key, ME, read_ok=False).ok
    leaky = acl.parse_sddl(f"O:{ME}D:AI(A;ID;FA;;;{ME})(A;ID;0x1200a9;;;AU)(D;;FA;;;BU)(A;OICIIO;FA;;;CO)")
    found = acl.problems(leaky, ME, read_ok=False)
    assert found.others == ("S-1-5-11",) and found.explicit == () and not found.owner  # deny and inherit-only: ignored
    assert acl.describe("S-1-5-11") == "Authenticated Users (S-1-5-11)"


def test_the_owner_is_read_and_judged() -> None:
    theirs = acl.parse_sddl(f"O:{OTHER}D:PAI(A;;FA;;;{ME})")
    assert acl.problems(theirs, ME, read_ok=False).owner == OTHER
    for owner in ("SY", "BA", ME, acl.TRUSTED_INSTALLER):
        assert acl.problems(acl.parse_sddl(f"O:{owner}D:PAI(A;;FA;;;{ME})"), ME, read_ok=False).ok


def _laptop(tmp_path: Path, keyring, acls) -> object:
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".pub"):
        (ssh / f"id_ed25519{suffix}").write_bytes(Path(str(keyring["ed25519"]) + suffix).read_bytes())
    ctx = make_ctx(tmp_path, side="laptop", platform=FakeWindowsPlatform(acls=acls(ssh)))
    return ctx


def _run(ctx, check_id: str):
    spec = get(check_id)
    return run_specs(ctx, [get(d) for d in spec.requires] + [spec])[check_id]


def test_key_readable_by_users_gets_one_icacls_command(tmp_path: Path, keyring) -> None:
    """Fake Windows (no Windows here): an explicit entry for Users and an inherited one for Authenticated Users."""
    ctx = _laptop(tmp_path, keyring, lambda ssh: {
        str(ssh / "id_ed25519"): f"O:{ME}D:AI(A;;FA;;;{ME})(A;;FR;;;BU)(A;ID;FR;;;AU)(A;ID;FA;;;SY)"})
    result = _run(ctx, "ssh.key.permissions")
    assert result.status is Status.FAIL
    assert "Users (S-1-5-32-545)" in result.summary and "Authenticated Users (S-1-5-11)" in result.summary
    assert result.fix.heading == "Remove every other account's access to the key"
    # One command: inherited entries dropped, the student's own full control by PowerShell's
    # $env: (cmd's %USERNAME% is not expanded by PowerShell), the explicit entry removed by *SID.
    assert list(result.fix.commands) == [
        'icacls "$HOME\\.ssh\\id_ed25519" /inheritance:r /grant:r "$($env:USERDOMAIN)\\$($env:USERNAME):F" '
        '/remove:g "*S-1-5-32-545"']


def test_key_owned_by_someone_else_is_taken_back(tmp_path: Path, keyring) -> None:
    ctx = _laptop(tmp_path, keyring, lambda ssh: {str(ssh / "id_ed25519"): f"O:{OTHER}D:PAI(A;;FA;;;{ME})"})
    result = _run(ctx, "ssh.key.permissions")
    assert result.status is Status.FAIL and OTHER in result.summary
    assert list(result.fix.commands) == ['icacls "$HOME\\.ssh\\id_ed25519" /setowner '
                                         '"$($env:USERDOMAIN)\\$($env:USERNAME)"']


def test_unreadable_acl_is_a_warning_with_the_safe_command(tmp_path: Path, keyring) -> None:
    ctx = _laptop(tmp_path, keyring, lambda ssh: {str(ssh / "id_ed25519"): ""})
    result = _run(ctx, "ssh.key.permissions")
    assert result.status is Status.WARN and "cannot be read" in result.summary
    assert result.fix.commands[0].startswith('icacls "$HOME\\.ssh\\id_ed25519" /inheritance:r')


def test_fix_on_windows_says_what_to_run(tmp_path: Path, keyring) -> None:
    ctx = _laptop(tmp_path, keyring, lambda ssh: {str(ssh / "id_ed25519"): f"O:{ME}D:AI(A;;FA;;;{ME})(A;;FR;;;BU)"})
    ctx.options.fix = True
    result = _run(ctx, "ssh.key.permissions")
    assert result.status is Status.FAIL and any("--fix does not change access lists" in d for d in result.details)
    assert ctx.changes == []


# -- who holds a port -----------------------------------------------------------------------------


def _program(folder: Path, name: str, body: str) -> None:
    """A stand-in for a Windows program (there is no Windows here): a script printing what it prints."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _windows_ctx(tmp_path: Path):
    return make_ctx(tmp_path, side="laptop", platform=FakeWindowsPlatform(),
                    env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"})


def test_port_owner_from_get_nettcpconnection_ipv6_included(tmp_path: Path) -> None:
    """Stand-in powershell.exe printing what our Get-NetTCPConnection pipeline prints for an IPv6 listener."""
    _program(tmp_path / "bin", "powershell.exe",
             'case "$*" in *"Get-NetTCPConnection -State Listen -LocalPort 8889"*) printf "4242\\tssh\\t::1\\n";; '
             '*) exit 1;; esac')
    assert listener_owner(_windows_ctx(tmp_path), 8889) == (4242, "ssh")


GERMAN_NETSTAT = """
Aktive Verbindungen

  Proto  Lokale Adresse         Remoteadresse          Status           PID
  TCP    0.0.0.0:135            0.0.0.0:0              ABHÖREN          1040
  TCP    127.0.0.1:8889         127.0.0.1:50123        HERGESTELLT      7000
  TCP    [::]:445               [::]:0                 ABHÖREN          4
  TCP    [::1]:8889             [::]:0                 ABHÖREN          5150
  UDP    0.0.0.0:5353           *:*                                     2200
"""


def test_netstat_fallback_is_not_keyed_on_english_words(tmp_path: Path) -> None:
    """A German netstat says ABHÖREN, not LISTENING: a listener is told by its empty foreign address.
    Stand-ins (no Windows here): powershell.exe without Get-NetTCPConnection, netstat, tasklist."""
    assert netstat_listener(GERMAN_NETSTAT, 8889) == 5150  # the IPv6 listener, not the connection
    assert netstat_listener(GERMAN_NETSTAT, 5353) is None  # UDP is not a TCP listener
    _program(tmp_path / "bin", "powershell.exe", "echo 'Get-NetTCPConnection: not recognized' >&2; exit 1")
    _program(tmp_path / "bin", "netstat", "cat <<'EOF'" + GERMAN_NETSTAT + "EOF")
    _program(tmp_path / "bin", "tasklist", 'echo \'"ssh.exe","5150","Console","1","8.120 K"\'')
    assert listener_owner(_windows_ctx(tmp_path), 8889) == (5150, "ssh.exe")


def test_platform_reads_user_sid_and_sddl_from_one_powershell_run(tmp_path: Path, monkeypatch) -> None:
    """The real Platform's Windows path, with a stand-in powershell.exe (no Windows here) that prints
    what `[WindowsIdentity]::GetCurrent().User.Value; (Get-Acl ...).Sddl` prints. The file's path
    reaches PowerShell in an environment variable, never in the command text."""
    _program(tmp_path / "bin", "powershell.exe",
             f'case "$*" in *"$SELFCHECK_ACL_PATH"*) exit 3;; esac\n'
             f'echo {ME}\n[ -n "$SELFCHECK_ACL_PATH" ] && echo "O:{ME}D:PAI(A;;FA;;;{ME})(A;;FR;;;BU)"; exit 0')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    platform = Platform("windows")
    found = platform.acl(tmp_path / "key; Remove-Item x")
    assert platform.user_sid() == ME
    assert found is not None and found.owner == ME and [a.sid for a in found.aces] == [ME, "S-1-5-32-545"]
