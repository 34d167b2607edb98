"""`selfcheck validate FILE`: the same validation as a run, exit 2 on any mistake, never a traceback."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from conftest import ROOT

from checks import expectations
from checks.cli import main

GOOD = re.sub(r"(?m)^points = .*\n", "", (ROOT / "checks" / "assignments" / f"{expectations.load().id}.toml").read_text())


def validate(path: Path):
    out, err = io.StringIO(), io.StringIO()
    return main(["validate", str(path)], stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_the_course_assignment_is_valid() -> None:
    code, out, err = validate(ROOT / "checks" / "assignments" / f"{expectations.load().id}.toml")
    assert code == 0, err
    assert "is valid" in out and "scored checks" in out and "course's assignment" in out


@pytest.mark.parametrize("change, said", [
    (lambda t: t.replace("[ssh]", "colour = 1\n[ssh]"), "unknown key 'colour'"),
    (lambda t: t.replace("\n[ssh]", '\npoints = { ssh = -1 }\n[ssh]'), "points.ssh"),
    (lambda t: t.replace("\n[ssh]", '\npoints = { ssh = nan }\n[ssh]'), "points.ssh"),
    (lambda t: t.replace("\n[ssh]", '\npoints = { "ssh.telepathy" = 2 }\n[ssh]'), "points names no check|ssh.telepathy"),
    (lambda t: t.replace("\n[ssh]", '\nsite = "atlantis"\n[ssh]'), "site: no site called 'atlantis'"),
    (lambda t: t.replace("\n[ssh]", '\nsite = "-x"\n[ssh]'), "site is '-x'"),
    (lambda t: _checks(t, '["ssh", "tunnel.teleport"]'), "checks names no check|tunnel.teleport"),
    (lambda t: _checks(t, "[]"), "checks is empty"),
    (lambda t: t + "\n[[", "not valid TOML"),
])
def test_every_mistake_exits_2_with_what_is_wrong(tmp_path: Path, change, said: str) -> None:
    path = tmp_path / "a.toml"
    path.write_text(change(GOOD))
    code, _, err = validate(path)
    assert code == 2 and all(part in err for part in said.split("|")), err
    assert "Traceback" not in err


def _checks(text: str, value: str) -> str:
    return re.sub(r"(?m)^checks = .*$", f"checks = {value}", text, count=1)


def test_files_that_are_not_files_are_answered_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.toml")
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    for name, said in (("fifo.toml", "not a regular file"), ("zero.toml", "not a regular file"),
                       ("missing.toml", "does not exist")):
        code, _, err = validate(tmp_path / name)
        assert code == 2 and said in err, err
    code, _, err = main(["validate"], stdout=io.StringIO(), stderr=(e := io.StringIO())), None, None
    assert code == 2 and "usage: selfcheck validate" in e.getvalue()
