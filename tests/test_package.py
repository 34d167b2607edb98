"""The student-side package: imports with the standard library alone, and ships as one file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from checks import expectations


def _run(args, cwd=ROOT, timeout=60):
    return subprocess.run(args, cwd=str(cwd), capture_output=True, text=True, timeout=timeout)


def _build_pyz(dest: Path) -> Path:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_pyz import build
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return build(dest)


def test_imports_without_site_packages() -> None:
    proc = _run([sys.executable, "-S", "-c", "import checks, sys; print(checks.__version__)"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_every_check_module_imports_without_site_packages() -> None:
    code = "from checks.registry import all_checks; print(len(all_checks()))"
    proc = _run([sys.executable, "-S", "-c", code])
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 2


def test_python_m_checks_matches_console_script() -> None:
    a = _run([sys.executable, "-m", "checks", "--version"])
    exe = Path(sys.executable).with_name("selfcheck")
    b = _run([str(exe), "--version"])
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout


def test_pyz_runs_with_no_site_packages(tmp_path: Path) -> None:
    pyz = _build_pyz(tmp_path / "selfcheck.pyz")
    proc = _run([sys.executable, "-S", str(pyz), "--json", "--only", "env"], cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    course = expectations.default_assignment()  # the course setting the file carries
    assert doc["schema"] == 1 and doc["assignment"] == course
    # The archive carries a TOML reader for Python < 3.11.
    import zipfile

    names = zipfile.ZipFile(pyz).namelist()
    assert "tomli/__init__.py" in names and f"checks/assignments/{course}.toml" in names
    helped = _run([sys.executable, "-S", "selfcheck.pyz", "--help"], cwd=tmp_path)
    assert helped.stdout.startswith("usage: python3 selfcheck.pyz ")  # the command the student typed


def test_pyz_is_reproducible(tmp_path: Path) -> None:
    a = _build_pyz(tmp_path / "a.pyz").read_bytes()
    b = _build_pyz(tmp_path / "b.pyz").read_bytes()
    assert a == b


@pytest.mark.parametrize("where", ["selfcheck.pyz", "python -m checks"])
def test_an_old_python_is_refused_with_a_message_and_exit_2(where: str) -> None:
    """On a Python older than 3.9 the single file and `python -m checks` say so and exit 2 (a usage
    error, as documented), using no newer syntax. No Python 3.6 is installed here, so the entry
    point runs under a stand-in `sys` that reports 3.6."""
    import ast
    import io
    import types

    if where == "selfcheck.pyz":
        sys.path.insert(0, str(ROOT / "scripts"))
        try:
            from build_pyz import MAIN
        finally:
            sys.path.remove(str(ROOT / "scripts"))
    else:
        MAIN = (ROOT / "checks" / "__main__.py").read_text()
    ast.parse(MAIN, feature_version=(3, 4))
    stderr = io.StringIO()
    fake = types.SimpleNamespace(version_info=(3, 6, 9), stderr=stderr,
                                 exit=lambda code: (_ for _ in ()).throw(SystemExit(code)))
    try:
        exec(MAIN, {"sys": fake, "__name__": "__main__", "__builtins__": {"__import__": lambda n, *a: fake}})
    except SystemExit as exc:
        assert exc.code == 2
        assert "needs Python 3.9 or newer, and this is Python 3.6" in stderr.getvalue()
    else:
        raise AssertionError("the old Python was not refused")


def _imported(args, cwd=ROOT) -> set:
    """The modules a second run imports (the first writes bytecode, as a student's first run
    does), from `python -X importtime`."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, *args], cwd=str(cwd), capture_output=True, timeout=60, env=env)
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=str(cwd), capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


# What the import diet took off the hot path (bench/cli_run.py has the figures): dataclasses
# (with inspect, ast, dis), typing, the TOML parser, shutil (with bz2, lzma), importlib.resources.
HEAVY = {"dataclasses", "inspect", "typing", "tomllib", "tomli", "shutil", "importlib.resources", "zipfile"}


def test_a_full_run_imports_nothing_heavy() -> None:
    imported = _imported(["-m", "checks", "--side", "laptop"])
    # importlib.import_module (how the registry loads areas) is not logged; what they import is.
    assert {"checks.probes.keys", "checks.probes.packages", "checks.probes.net"} <= imported  # the run did happen
    # From a clone or an installed package the assignment's TOML is parsed (nothing is cached at
    # run time); the single file carries it parsed (next test).
    heavy = HEAVY - {"tomllib", "tomli", "typing"}
    assert not heavy & imported, sorted(heavy & imported)


def test_the_single_file_reads_its_assignment_without_a_toml_parser(tmp_path: Path) -> None:
    pyz = _build_pyz(tmp_path / "selfcheck.pyz")
    imported = _imported(["-I", str(pyz), "--side", "server"], cwd=tmp_path)
    assert "checks.expectations" in imported
    assert not HEAVY & imported, sorted(HEAVY & imported)
