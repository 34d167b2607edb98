"""The command line: exit statuses, usage and expectations errors (clear message, no traceback)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from checks import expectations
from checks.cli import main

GOOD = (ROOT / "checks" / "assignments" / "methodology-1.toml").read_text()


def cli(*args: str):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_version_and_list() -> None:
    code, out, _ = cli("--list")
    assert code == 0
    ids = [line.split()[0] for line in out.splitlines()]
    assert "ssh.key.permissions" in ids and "tunnel.url" in ids and len(ids) == len(set(ids))


def test_exit_zero_when_nothing_fails(tmp_path: Path) -> None:
    code, out, _ = cli("--only", "env.python", "--json")
    assert code == 0 and json.loads(out)["counts"]["pass"] == 1


def test_exit_one_when_a_check_fails(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    code, out, _ = cli("--side", "laptop", "--only", "ssh.dir", "--home", str(tmp_path / "home"))
    assert code == 1 and ("✗ fail" in out or "x fail" in out)


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unrecognized arguments"),
    (["--only", "ssh.nothing"], "--only names no check: ssh.nothing"),
    (["--timeout", "abc"], "is not a number of seconds"),
    (["--side", "moon"], "invalid choice"),
    (["--assignment", "nope"], "no assignment called 'nope'"),
    (["--home", "/no/such/dir"], "--home /no/such/dir: no such directory"),
    (["--assignment", "methodology-1", "--expectations", "x.toml"], "not both"),
])
def test_usage_errors_exit_2_with_a_message(args, message) -> None:
    code, out, err = cli(*args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


@pytest.mark.parametrize("edit, message", [
    (lambda t: "surprise = 1\n" + t, "unknown key 'surprise'"),
    (lambda t: t + "\n[tunnel]\nlocal_prot = 1\n", "unknown key tunnel.local_prot"),
    (lambda t: t.replace("cpus = 2", 'cpus = "two"'), "resources.cpus is a string ('two'): expected a number of CPUs"),
    (lambda t: t.replace("gpus = 0", "gpus = 0.5"), "resources.gpus is a number (0.5): expected a whole number"),
    (lambda t: t.replace('title = "Methodology Assignment 1"\n', ""), "missing title: expected the assignment's title"),
    (lambda t: t.replace('id = "methodology-1"\n', ""), "missing id"),
    (lambda t: t.replace("min_rsa_bits = 2048", "min_rsa_bits = 512"), "ssh.min_rsa_bits is 512: expected at least 1024"),
    (lambda t: t.replace('"ecdsa", ', '"dsa", '), "ssh.key_types holds 'dsa'"),
    (lambda t: t + "\n[tunnel]\nlocal_port = 80\n", "tunnel.local_port is 80: expected 1024 or more"),
    (lambda t: t.replace("cpus = 2", "cpus = true"), "resources.cpus is a boolean (True)"),
    (lambda t: t + "\n[[oops\n", "not valid TOML"),
    (lambda t: t.replace("[resources]", "resources = 3\n[resourcez]"), "unknown key 'resourcez'"),
])
def test_bad_expectations_name_the_key(tmp_path: Path, edit, message) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(expectations.ExpectationsError) as info:
        expectations.load(str(path))
    assert message in str(info.value)
    code, out, err = cli("--expectations", str(path), "--only", "env.python")
    assert code == 2 and message in err and "Traceback" not in err


def test_instructor_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GOOD.replace('id = "methodology-1"', 'id = "lab-2"'))
    code, out, _ = cli("--expectations", str(path), "--only", "env.python", "--json")
    assert code == 0 and json.loads(out)["assignment"] == "lab-2"


def test_every_shipped_assignment_validates_and_names_real_checks() -> None:
    from checks.registry import unknown_selectors

    for name in expectations.available():
        exp = expectations.load(name)
        assert unknown_selectors(exp.checks) == [], name


def test_exit_three_when_the_checker_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    from checks import registry

    broken = registry.get("env.python").replace(func=lambda ctx: 1 / 0)
    monkeypatch.setitem(registry._REGISTRY, "env.python", broken)
    code, out, _ = cli("--only", "env.python")
    assert code == 3 and "bug in the checker" in out


def test_no_color_and_plain_output_when_piped() -> None:
    proc = subprocess.run([sys.executable, "-m", "checks", "--only", "env.python"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, env={**os.environ, "NO_COLOR": "1",
                                                                "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0
    assert "\033[" not in proc.stdout
    assert "+ pass" in proc.stdout
    proc.stdout.encode("ascii")


def test_explain_command() -> None:
    code, out, _ = cli("explain", "channel 2: open failed: connect failed: Connection refused")
    assert code == 0 and "tunnel.jupyter" in out
    code, out, _ = cli("explain", "all is well")
    assert code == 1 and "not one the self-check knows" in out


def _copy_assignments(tmp_path, monkeypatch):
    """A private copy of the package's assignments folder, with the cache selfcheck.pyz carries."""
    import shutil

    from checks import expectations

    folder = tmp_path / "assignments"
    shutil.copytree(expectations._SHIPPED, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "__pycache__").mkdir()
    for toml in folder.glob("*.toml"):  # as scripts/build_pyz.py writes it into the single file
        (folder / "__pycache__" / f"{toml.name}.marshal").write_bytes(expectations.cache_blob(toml.read_bytes()))
    monkeypatch.setattr(expectations, "_SHIPPED", folder)
    return folder


def test_the_carried_cache_is_used_and_nothing_is_written_at_run_time(tmp_path, monkeypatch) -> None:
    from checks import expectations

    folder = _copy_assignments(tmp_path, monkeypatch)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    parsed = expectations.load()

    def no_parser(raw, source):
        raise AssertionError("parsed TOML although the cache was current")

    monkeypatch.setattr(expectations, "_decode", no_parser)
    assert expectations.load() == parsed
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_without_a_cache_the_toml_is_parsed_and_no_cache_is_written(tmp_path, monkeypatch) -> None:
    from checks import expectations

    folder = _copy_assignments(tmp_path, monkeypatch)
    import shutil

    shutil.rmtree(folder / "__pycache__")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert expectations.load().id == expectations.default_assignment()  # the course's
    assert not (folder / "__pycache__").exists()


def test_a_stale_or_broken_cache_is_never_used(tmp_path, monkeypatch) -> None:
    from checks import expectations

    folder = _copy_assignments(tmp_path, monkeypatch)
    toml = folder / "methodology-1.toml"
    toml.write_text(toml.read_text().replace("cpus = 2", "cpus = 4"))
    assert expectations.load().cpus == 4  # the edited file wins over the old cache
    cache = folder / "__pycache__" / "methodology-1.toml.marshal"
    cache.write_bytes(b"\x00garbage")
    assert expectations.load().cpus == 4


def test_list_and_explain_wrap_to_the_terminal_and_help_names_the_command_typed() -> None:
    import os

    env = {**os.environ, "COLUMNS": "60"}
    listing = subprocess.run([sys.executable, "-m", "checks", "--list"], capture_output=True, text=True,
                             timeout=60, env=env, cwd=str(ROOT))
    assert listing.returncode == 0 and max(len(line) for line in listing.stdout.splitlines()) <= 60
    said = subprocess.run([sys.executable, "-m", "checks", "explain", "Permission denied (publickey)"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=str(ROOT))
    prose = [ln for ln in said.stdout.splitlines() if not ln.startswith("      ")]  # commands are never wrapped
    assert said.returncode == 0 and max(len(line) for line in prose) <= 60
    assert "Confirm with: python3 -m checks --only ssh.key.present" in said.stdout
    helped = subprocess.run([sys.executable, "-m", "checks", "--help"], capture_output=True, text=True,
                            timeout=60, cwd=str(ROOT))
    assert helped.stdout.startswith("usage: python3 -m checks ")


# -- reports that survive Windows (issue 17) ---------------------------------------------------


def _putty_home(tmp_path: Path) -> Path:
    """A home whose report carries non-ASCII text: a key saved by PuTTY under a name with an accent."""
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "clé-ключ.ppk").write_text("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: é\n"
                                 "Public-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIBp7\nZm9v\nPrivate-Lines: 1\nAAAA\n"
                                 "Private-MAC: 00\n", encoding="utf-8")
    return tmp_path / "home"


def _single_file_run(tmp_path: Path, *args: str, encoding: str = "cp1252") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": encoding, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "checks", *args], capture_output=True, cwd=tmp_path, timeout=120,
                          env={**env, "PYTHONPATH": str(ROOT)})


def test_json_report_is_ascii_and_survives_a_cp1252_console(tmp_path: Path) -> None:
    """Windows consoles write through the ANSI code page (cp1252): no character may crash the report."""
    home = _putty_home(tmp_path)
    proc = _single_file_run(tmp_path, "--only", "ssh.key", "--home", str(home), "--side", "laptop", "--json")
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    assert proc.returncode == 1
    proc.stdout.decode("ascii")  # ASCII only: non-ASCII characters are \u escapes
    report = {r["id"]: r for r in json.loads(proc.stdout)["results"]}
    assert "clé-ключ.ppk" in report["ssh.key.present"]["summary"]


def test_text_report_and_explain_survive_a_cp1252_console(tmp_path: Path) -> None:
    home = _putty_home(tmp_path)
    proc = _single_file_run(tmp_path, "--only", "ssh.key", "--home", str(home), "--side", "laptop", "-v")
    assert b"Traceback" not in proc.stderr and proc.returncode == 1
    text = proc.stdout.decode("cp1252")
    assert "x fail" in text and "cl" in text
    proc = _single_file_run(tmp_path, "explain", "Permissions 0644 for '/home/jo/.ssh/id_ed25519' are too open")
    assert b"Traceback" not in proc.stderr and proc.returncode == 0
    assert "chmod 600" in proc.stdout.decode("cp1252")
    proc = _single_file_run(tmp_path, "--list")
    assert b"Traceback" not in proc.stderr and proc.returncode == 0


def test_output_writes_utf8_itself(tmp_path: Path) -> None:
    """--output writes the file in UTF-8 without the shell's redirection (PowerShell 5.1's '>' writes
    UTF-16), and the terminal shows the results and where the file is."""
    home = _putty_home(tmp_path)
    proc = _single_file_run(tmp_path, "--only", "ssh.key", "--home", str(home), "--side", "laptop", "--json",
                            "--output", "report.json")
    assert b"Traceback" not in proc.stderr and proc.returncode == 1
    raw = (tmp_path / "report.json").read_bytes()
    assert not raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf"))
    assert "ssh.key.present" in [r["id"] for r in json.loads(raw.decode("utf-8"))["results"]]
    shown = proc.stdout.decode("cp1252")
    assert "ssh.key.present" in shown and "report.json" in shown and not shown.lstrip().startswith("{")
    proc = _single_file_run(tmp_path, "--only", "env.python", "--output", "report.txt", encoding="utf-8")
    assert proc.returncode == 0 and "env.python" in (tmp_path / "report.txt").read_text(encoding="utf-8")


def test_output_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = cli("--only", "env.python", "--json", "--output", str(tmp_path / "no" / "such" / "r.json"))
    assert code == 2 and "--output" in err and "Traceback" not in err
