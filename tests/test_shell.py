"""Commands for the student's shell (checks/shell.py): quoting, home-relative paths, the checker
started the way it was started. The commands themselves are pasted and proven in test_fixes.py;
the PowerShell ones are linted there (there is no PowerShell here)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from pslint import lint

from checks.shell import Invocation, PowerShell, Shell

HOME = Path("/home/jo")


@pytest.mark.parametrize("name", ["id_ed25519", "my key", "it's", "a$b", "back`tick", 'dq"uote', "ünï", "-dash"])
def test_posix_paths_expand_the_home_and_keep_the_rest_literal(name: str, tmp_path: Path) -> None:
    """`~` stays outside quotes (the shell expands it); the rest reaches the program unchanged."""
    shell = Shell(tmp_path)
    word = shell.path(tmp_path / ".ssh" / name)
    assert word.startswith("~/") and "~" not in word[1:].replace(name, "")
    out = subprocess.run(["bash", "--noprofile", "--norc", "-c", f"printf '%s' {word}"], capture_output=True,
                         text=True, env={"HOME": str(tmp_path)}, timeout=20).stdout
    assert out == str(tmp_path / ".ssh" / name)
    assert shlex.split(shell.quote(name)) == [name]


def test_posix_home_and_outside_paths() -> None:
    shell = Shell(HOME)
    assert shell.path(HOME) == "~"
    assert shell.path(Path("/etc/ssh config")) == "'/etc/ssh config'"
    assert shell.config_path(HOME / ".ssh" / "dsmlp key") == '"~/.ssh/dsmlp key"'


@pytest.mark.parametrize("name", ["id_ed25519", "my key", "it's", "a$b", "back`tick"])
def test_powershell_paths_use_home_inside_double_quotes(name: str) -> None:
    shell = PowerShell(HOME)
    word = shell.path(HOME / ".ssh" / name)
    assert word.startswith('"$HOME\\.ssh\\') and word.endswith('"') and "~" not in word
    assert "$" not in word[6:].replace("`$", "")  # only $HOME expands
    assert lint(f"notepad {word}", [name] if " " in name else []) == []


def test_one_safe_icacls_command() -> None:
    commands = PowerShell(HOME).private(HOME / ".ssh" / "id_ed25519", ["S-1-5-32-545", "S-1-5-11"])
    assert commands == ['icacls "$HOME\\.ssh\\id_ed25519" /inheritance:r /grant:r "$($env:USERDOMAIN)\\$($env:USERNAME):F"'
                        ' /remove:g "*S-1-5-32-545" /remove:g "*S-1-5-11"']
    assert lint(commands[0]) == []


def test_the_checker_is_started_again_as_it_was(monkeypatch) -> None:
    for argv0, kind in (("selfcheck.pyz", "pyz"), ("/src/course/checks/__main__.py", "module"),
                        ("/usr/local/bin/selfcheck", "script"), ("/x/ipykernel_launcher.py", "other")):
        monkeypatch.setattr("sys.argv", [argv0])
        assert Invocation.current().kind == kind
    assert Shell(HOME, Invocation("pyz", "Downloads/selfcheck.pyz")).selfcheck("--only", "ssh") == \
        "python3 Downloads/selfcheck.pyz --only ssh"
    assert Shell(HOME, Invocation("module")).selfcheck() == "python3 -m checks"
    assert Shell(HOME, Invocation("script")).selfcheck("-v") == "selfcheck -v"
    assert Shell(HOME).selfcheck() == "python3 selfcheck.pyz"  # the book's form
    assert PowerShell(HOME, Invocation("pyz", "selfcheck.pyz")).selfcheck() == "py selfcheck.pyz"
    assert PowerShell(HOME, Invocation("pyz", "selfcheck.pyz", store_python=True)).selfcheck() == \
        "python selfcheck.pyz"
    monkeypatch.setattr("sys.executable", "C:\\Users\\jo\\AppData\\Local\\Microsoft\\WindowsApps\\python.exe")
    assert Invocation.current().store_python


def test_append_lines_writes_after_a_last_line_without_newline(tmp_path: Path) -> None:
    config = tmp_path / ".ssh" / "config"
    config.parent.mkdir()
    config.write_text("Host other\n    User x")  # no final newline
    command = Shell(tmp_path).append_lines(config, ["Host dsmlp-login.ucsd.edu", "    IdentityFile ~/.ssh/k"])
    subprocess.run(["bash", "--noprofile", "--norc", "-c", command], env={"HOME": str(tmp_path)}, check=True,
                   timeout=20)
    assert config.read_text() == "Host other\n    User x\nHost dsmlp-login.ucsd.edu\n    IdentityFile ~/.ssh/k\n"
