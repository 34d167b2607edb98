"""The one course setting: `course_assignment` (and the book's address) in `_config.yml`, read the
same way by the book, a clone, the single file and `selfcheck collect`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from checks import course, expectations

NEW = (ROOT / "checks" / "assignments" / "methodology-1.toml").read_text().replace(
    'id = "methodology-1"', 'id = "lab-x"').replace('title = "Methodology Assignment 1"', 'title = "Lab X"')


def test_the_setting_is_read_from_the_books_configuration() -> None:
    values = course.read_config_yml((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert values["course_assignment"] == expectations.load().id == course.setting().assignment
    assert "baseurl" in values


@pytest.mark.parametrize("text, want", [
    ("sphinx:\n  config:\n    course_assignment: lab-x\n", {"course_assignment": "lab-x"}),
    ("sphinx:\n  config:\n    course_assignment: 'lab-x'   # the course's\n", {"course_assignment": "lab-x"}),
    ('sphinx:\n  recursive_update: true\n  config:\n    language: en\n    course_assignment: "lab-x"\n',
     {"course_assignment": "lab-x"}),
    ("execute:\n  config:\n    course_assignment: wrong\nsphinx:\n  config:\n    # course_assignment: old\n",
     {}),
    ("html:\n  baseurl: https://e.org/servers # published\nsphinx:\n  config:\n    course_assignment: a\n",
     {"baseurl": "https://e.org/servers", "course_assignment": "a"}),
    ("html:\n  baseurl: \"\"\n", {"baseurl": ""}),
])
def test_the_small_reader(text: str, want: dict) -> None:
    assert course.read_config_yml(text) == want


@pytest.mark.parametrize("url, want", [("https://e.org/servers", "https://e.org/servers/"),
                                       ("https://e.org/servers/", "https://e.org/servers/"),
                                       ("https://e.org/servers//", "https://e.org/servers/"), ("", ""), ("  ", "")])
def test_the_books_address_ends_in_one_slash(url: str, want: str) -> None:
    assert course.docs_address(url) == want


def _copy(tmp_path: Path, assignment: str, baseurl: str = "") -> Path:
    """A course repository whose setting names `assignment` (checks, scripts and _config.yml)."""
    src = tmp_path / "course"
    shutil.copytree(ROOT / "checks", src / "checks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "scripts", src / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "sites", src / "sites")
    (src / "checks" / "assignments" / "lab-x.toml").write_text(NEW)
    config = (ROOT / "_config.yml").read_text()
    config = config.replace(f"course_assignment: {course.setting().assignment}", f"course_assignment: {assignment}")
    config = config.replace('  baseurl: ""', "  baseurl: " + (baseurl or '""'))
    (src / "_config.yml").write_text(config)
    return src


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_clone_follows_its_setting(tmp_path: Path) -> None:
    src = _copy(tmp_path, "lab-x")
    proc = _run(src, "-m", "checks", "--only", "env.side", "--json", "--user", "ana")
    doc = json.loads(proc.stdout)
    assert doc["assignment"] == "lab-x"
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "a.json").write_text(proc.stdout)
    proc = _run(src, "-m", "checks", "collect", str(tmp_path / "reports"))
    assert "Assignment lab-x (the course setting, course_assignment in _config.yml)" in proc.stdout, proc.stderr
    assert "(default: the course's, lab-x)" in " ".join(_run(src, "-m", "checks", "--help").stdout.split())
    proc = _run(src, "-m", "checks", "--only", "env.side", "--json", "--assignment", "methodology-1")
    assert json.loads(proc.stdout)["assignment"] == "methodology-1"  # an explicit choice wins


@pytest.mark.parametrize("baseurl", ["https://e.org/servers", "https://e.org/servers/"])
def test_the_single_file_carries_the_setting_and_the_books_address(tmp_path: Path, baseurl: str) -> None:
    src = _copy(tmp_path, "lab-x", baseurl)
    proc = _run(src, "scripts/build_pyz.py", str(tmp_path / "selfcheck.pyz"))
    assert proc.returncode == 0, proc.stderr
    away = tmp_path / "elsewhere"  # no _config.yml anywhere near
    (away / "home").mkdir(parents=True)
    proc = _run(away, str(tmp_path / "selfcheck.pyz"), "--only", "ssh.dir", "--home", str(away / "home"), "--side", "laptop")
    assert "Self-check: lab-x on the laptop" in proc.stdout
    assert "Read more: https://e.org/servers/lessons/" in proc.stdout and "servers//" not in proc.stdout, proc.stdout
    proc = _run(away, str(tmp_path / "selfcheck.pyz"), "collect", str(away))  # no reports there: exit 1
    assert proc.returncode == 1 and "Assignment lab-x (the course setting built into this single file)" in proc.stdout


def test_a_setting_that_names_no_shipped_assignment_stops_the_build(tmp_path: Path) -> None:
    """Our extension refuses a course setting it cannot carry, and one its two readers disagree on."""
    for conf_value, yml, said in (("no-such-lab", "", "course_assignment"),
                                  ("methodology-1", "sphinx:\n  config:\n    course_assignment: lab-x\n",
                                   "the checker reads 'lab-x'")):
        src = tmp_path / conf_value
        src.mkdir()
        (src / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
                                     f"extensions = ['myst_parser', 'selfcheck_book']\ncourse_assignment = {conf_value!r}\n")
        (src / "index.md").write_text("# Title\n")
        if yml:
            (src / "_config.yml").write_text(yml)
        proc = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(tmp_path / "out")],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0 and said in proc.stdout + proc.stderr, proc.stdout + proc.stderr
