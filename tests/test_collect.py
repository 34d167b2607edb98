"""Grading a class: halves, fixed scores, identity, integrity flags, roster, due, CSV, Gradescope.

Every expectation follows the configured assignment (the course setting), never methodology-1's
numbers: the scored checks and their points are read from the assignment the same way collect does.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import xml.dom.minidom
from pathlib import Path
from typing import Dict, Optional

import pytest
from conftest import ROOT
from gradescope_results import validate_results
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import expectations, render
from checks.cli import main
from checks.model import Fix, Report, Result
from checks.status import Status
from checks.tools.collect import collect
from checks.tools.grading import requirements

EXP = expectations.load()  # the course's assignment
REQS = requirements(EXP)
FP_A = "SHA256:" + "A" * 43
FP_B = "SHA256:" + "B" * 43


def points(half: Optional[str] = None) -> float:
    return sum(r.points for r in REQS if half in (None, r.half))


def report(user: str, side: str = "laptop", statuses: Optional[Dict[str, str]] = None,
           created: str = "2026-11-20T10:00:00Z", source: str = "option", assignment: str = EXP.id,
           observed: Optional[Dict[str, object]] = None, summaries: Optional[Dict[str, str]] = None) -> str:
    """A report whose every required check for that half passes, unless `statuses` says otherwise."""
    half = "laptop" if side == "laptop" else "server"
    wanted = {r.check: "pass" for r in REQS if r.half == half}
    if statuses is not None:
        wanted.update(statuses)
    observed = observed or {}
    results = tuple(Result(cid, Status(s), "t", (summaries or {}).get(cid, f"{cid} said {s}"),
                           Fix("do it", ["true"]) if s in ("fail", "warn") else None, observed=observed.get(cid))
                    for cid, s in wanted.items() if s != "absent")
    return render.json_text(Report(results, side=side, assignment=assignment, user=user, user_source=source,
                                   host="h", created=created, tool_version="0.1.0"))


def cli(*args: str):
    out, err = io.StringIO(), io.StringIO()
    return main(["collect", *args], stdout=out, stderr=err), out.getvalue(), err.getvalue()


def rows(path: Path):
    return {r["user"]: r for r in csv.DictReader(path.open(encoding="utf-8"))}


def first_laptop_check(prefix: str) -> str:
    return next(r.check for r in REQS if r.half == "laptop" and r.check.startswith(prefix))


def test_halves_make_one_student_scored_against_every_required_check(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    (d / "ana-laptop.json").write_text(report("ana", "laptop"))
    (d / "ana-server.json").write_text(report("ana", "server"))
    (d / "ben.json").write_text(report("ben", "laptop"))
    code, _, err = cli(str(d), "--csv", str(tmp_path / "g.csv"))
    assert code == 0 and "Traceback" not in err
    got = rows(tmp_path / "g.csv")
    assert got["ana"]["status"] == "complete" and float(got["ana"]["score"]) == points() == float(got["ana"]["max_score"])
    assert got["ana"]["halves"] == "agree" and got["ana"]["assignment"] == EXP.id
    assert got["ben"]["status"].startswith("partial") and float(got["ben"]["score"]) == points("laptop")
    assert float(got["ben"]["max_score"]) == points()  # the denominator never shrinks
    assert "server env.side: no server report" in got["ben"]["reasons"] or "no server report" in got["ben"]["reasons"]


def test_blocked_absent_and_wrong_side_score_nothing_and_are_named(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    blocked = first_laptop_check("ssh.key")
    (d / "cy.json").write_text(report("cy", statuses={"ssh.dir": "fail", blocked: "skip"},
                                      summaries={blocked: "blocked by: ssh.dir"}))
    only_env = {r.check: "absent" for r in REQS if r.half == "laptop" and not r.check.startswith("env.")}
    (d / "dee.json").write_text(report("dee", statuses=only_env))  # a genuine --only env run
    server_only = [r.check for r in REQS if r.half == "server" and r.check.startswith("resources.cpus")]
    (d / "eve-laptop.json").write_text(report("eve"))
    (d / "eve-jump.json").write_text(report("eve", "jumpbox", statuses={c: "skip" for c in server_only},
                                            summaries={c: "runs on the server; this is the jumpbox" for c in server_only}))
    code, _, _ = cli(str(d), "--csv", str(tmp_path / "g.csv"))
    got = rows(tmp_path / "g.csv")
    cy = got["cy"]
    assert float(cy["score"]) == points("laptop") - EXP.points_for("ssh.dir") - EXP.points_for(blocked)
    assert f"laptop {blocked}: blocked by ssh.dir" in cy["reasons"] and cy[f"laptop:{blocked}"] == "skip: blocked"
    dee = got["dee"]
    absent = [r for r in REQS if r.half == "laptop" and not r.check.startswith("env.")]
    assert float(dee["score"]) == points("laptop") - sum(r.points for r in absent)
    assert all(f"laptop {r.check}: absent from the laptop report" in dee["reasons"] for r in absent)
    if server_only:
        assert f"server {server_only[0]}: not run where it applies" in got["eve"]["reasons"]
        assert float(got["eve"]["score"]) == points() - sum(EXP.points_for(c) for c in server_only)


def test_an_assignment_gives_points_per_check_or_area(tmp_path: Path) -> None:
    toml = (ROOT / "checks" / "assignments" / f"{EXP.id}.toml").read_text()
    toml = re.sub(r"(?m)^points = .*\n", "", toml)  # the course's own points, if it gives any
    toml = toml.replace(f'id = "{EXP.id}"', 'id = "weighted"', 1).replace("\n[", '\npoints = { ssh = 2, "ssh.dir" = 5 }\n\n[', 1)
    path = tmp_path / "weighted.toml"
    path.write_text(toml)
    exp = expectations.load(str(path))
    reqs = requirements(exp)
    d = tmp_path / "r"
    d.mkdir()
    (d / "a.json").write_text(report("ana", statuses={"ssh.dir": "fail"}, assignment="weighted"))
    code, _, err = cli(str(d), "--assignment", str(path), "--csv", str(tmp_path / "g.csv"))
    ana = rows(tmp_path / "g.csv")["ana"]
    assert code == 0, err
    assert float(ana["max_score"]) == sum(r.points for r in reqs)
    assert exp.points_for("ssh.dir") == 5 and exp.points_for("ssh.key.type") == 2 and exp.points_for("env.side") == 1
    laptop = sum(r.points for r in reqs if r.half == "laptop")
    assert float(ana["score"]) == laptop - 5


def test_identity_never_merges_students_on_a_laptop_login_name(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    for name in ("one", "two", "three"):
        (d / f"{name}.json").write_text(report("student", source="local_login"))
    (d / "none.json").write_text(report("", source=""))
    code, out, err = cli(str(d), "--summary")
    assert code == 0
    assert "4 unidentified" in out
    code, _, _ = cli(str(d), "--csv", str(tmp_path / "g.csv"))
    got = list(csv.DictReader((tmp_path / "g.csv").open()))
    assert len(got) == 4 and all(r["status"] == "unidentified" for r in got)
    assert all("not a cluster username" in r["flags"] or "names no user" in r["flags"] for r in got)


def test_the_newest_trusted_report_wins_and_a_future_one_is_flagged(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    (d / "a1.json").write_text(report("ana", statuses={"ssh.dir": "fail"}, created="2026-11-20T10:00:00Z"))
    (d / "a2.json").write_text(report("ana", created="2026-11-21T09:00:00Z"))
    (d / "a3.json").write_text(report("ana", statuses={"ssh.client": "fail"}, created="2099-01-01T00:00:00Z"))
    (d / "a4.json").write_text(report("ana", statuses={"env.side": "fail"}, created="yesterday"))
    code, _, _ = cli(str(d), "--csv", str(tmp_path / "g.csv"))
    ana = rows(tmp_path / "g.csv")["ana"]
    assert ana["laptop_file"].endswith("a2.json") and float(ana["score"]) == points("laptop")
    assert "lies in the future" in ana["flags"] and "is not a time this tool writes" in ana["flags"]


def test_edited_and_inconsistent_reports_are_flagged(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    honest = report("ana", statuses={"ssh.dir": "fail"})
    (d / "sed.json").write_text(honest.replace('"fail"', '"pass"').replace('"ana"', '"sed"'))
    doc = json.loads(report("ver"))
    doc["tool_version"] = "9.9.9"
    doc["results"].append({"id": "ssh.telepathy", "status": "pass", "summary": "", "title": "", "fix": None})
    doc["results"].append({"id": "env.side", "status": "passed", "summary": "", "title": "", "fix": None})
    (d / "ver.json").write_text(json.dumps(doc))
    code, _, _ = cli(str(d), "--csv", str(tmp_path / "g.csv"))
    got = rows(tmp_path / "g.csv")
    assert "do not match its results" in got["sed"]["flags"] and "says pass but carries a fix" in got["sed"]["flags"]
    flags = got["ver"]["flags"]
    assert "a version that does not exist" in flags and "ssh.telepathy" in flags and "'passed'" in flags
    assert "lists env.side 2 times" in flags


def test_roster_due_and_the_cohort_summary(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    (d / "ana.json").write_text(report("ana", created="2026-11-20T10:00:00Z"))
    (d / "ana-s.json").write_text(report("ana", "server", created="2026-11-22T10:00:00Z"))
    (d / "zed.json").write_text(report("zed"))
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeffuser,name,section\nana,Ana Ng,=A01\nbo,Bo Li,A02\n", encoding="utf-8")
    code, out, err = cli(str(d), "--roster", str(roster), "--due", "2026-11-21T00:00Z", "--csv", str(tmp_path / "g.csv"),
                         "--summary")
    assert code == 0, err
    got = list(csv.DictReader((tmp_path / "g.csv").open(encoding="utf-8")))
    assert [r["user"] for r in got] == ["ana", "bo", "zed"]
    ana, bo, zed = got
    assert ana["name"] == "Ana Ng" and ana["section"] == "'=A01"  # carried, and inert in a spreadsheet
    assert ana["late"] == "server (2026-11-22T10:00:00Z)"
    assert bo["status"] == "missing" and float(bo["score"]) == 0 and float(bo["max_score"]) == points()
    assert "not on the roster" in zed["flags"]
    assert "self-reported" in out and "Not on the roster: zed" in out
    assert "1 missing" in out


def test_csv_cells_are_formula_safe(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    (d / "=HYPERLINK(1).json").write_text(report("ana", statuses={"ssh.dir": "fail"},
                                                 summaries={"ssh.dir": "=cmd|' /C calc'!A0"}))
    (d / "+x.json").write_text(report("-bo"))  # not a username: flagged, and its cells stay text
    code, _, _ = cli("--csv", str(tmp_path / "g.csv"), str(d / "=HYPERLINK(1).json"), str(d / "+x.json"))
    for row in csv.reader((tmp_path / "g.csv").open()):
        for value in row:
            assert value[:1] not in ("=", "+", "-", "@"), value


def test_halves_that_disagree_are_flagged(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    laptop_obs = {"ssh.key.present": {"files": ["~/.ssh/id_ed25519"], "fingerprints": [FP_A]}, "env.python": "3.12.1",
                  "env.packages": {"installed": {"numpy": "2.0.0"}}}
    server_obs = {"ssh.authorized_keys": {"fingerprints": [FP_B], "broken_lines": 0}, "env.python": "3.11.9",
                  "env.packages": {"installed": {"numpy": "1.26.4"}}}
    (d / "a.json").write_text(report("ana", observed=laptop_obs))
    (d / "b.json").write_text(report("ana", "server", observed=server_obs))
    (d / "c.json").write_text(report("cy", observed={**laptop_obs, "env.python": "3.11.2"}))
    both = {**server_obs, "ssh.authorized_keys": {"fingerprints": [FP_B, FP_A]}}
    (d / "e.json").write_text(report("cy", "server", observed=both))
    code, out, _ = cli(str(d), "--csv", str(tmp_path / "g.csv"), "--summary")
    got = rows(tmp_path / "g.csv")
    assert "key: the laptop offers " + FP_A in got["ana"]["halves"]
    assert "python: 3.12.1 on the laptop, 3.11.9 on the server" in got["ana"]["halves"]
    assert got["cy"]["halves"] == "agree"
    assert "Halves disagree (2 students with both): key 1, python 1" in out


def test_packages_the_assignment_lists_are_compared_across_halves(tmp_path: Path) -> None:
    exp = EXP.replace(packages=(("numpy", ">=1"),))
    from checks.tools.collect import grade_class

    d = tmp_path / "r"
    d.mkdir()
    (d / "a.json").write_text(report("ana", observed={"env.packages": {"installed": {"numpy": "2.0.0", "x": "1"}}}))
    (d / "b.json").write_text(report("ana", "server", observed={"env.packages": {"installed": {"NumPy": "1.26.4"}}}))
    cls = grade_class(collect([str(d)], EXP.id, packages=["numpy"]), exp, "test")
    assert cls.students[0].disagreements == ["packages: numpy 2.0.0 on the laptop, 1.26.4 on the server"]


def test_reports_written_by_powershell_and_with_a_bom_are_read(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    text = report("ana").replace("\n", "\r\n")
    (d / "ps51.json").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))  # Windows PowerShell 5.1's `>`
    (d / "bom.json").write_bytes(b"\xef\xbb\xbf" + report("bo").encode())
    result = collect([str(d)], EXP.id)
    assert sorted(s.user for s in result.submissions) == ["ana", "bo"] and result.rejected == []


def validated(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    problems = validate_results(doc)
    assert problems == [], problems
    return doc


def test_gradescope_one_submission_always_gets_one_valid_file(tmp_path: Path) -> None:
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "laptop.json").write_text(report("ana", statuses={"ssh.dir": "fail"}))
    (sub / "server.json").write_text(report("ana", "server"))
    target = tmp_path / "results" / "results.json"
    target.parent.mkdir()
    code, _, _ = cli(str(sub), "--gradescope", str(target))
    doc = validated(target)
    assert code == 0 and doc["score"] == points() - EXP.points_for("ssh.dir")
    assert len(doc["tests"]) == len(REQS) and "self-reported" in doc["output"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.json").write_text("{broken")
    code, _, _ = cli(str(empty), "--gradescope", str(target))
    doc = validated(target)
    assert code == 1 and doc["score"] == 0 and "No usable self-check report" in doc["output"]
    assert "notes.json" in doc["output"] and len(doc["tests"]) == len(REQS)


def test_gradescope_folder_names_never_collide(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    for i, user in enumerate(["ana", "Ana", "a_b", "a.b", "CON", "x@y"]):
        (d / f"{i}.json").write_text(report(user))
    code, _, _ = cli(str(d), "--gradescope", str(tmp_path / "gs"))
    files = sorted(p.name for p in (tmp_path / "gs").iterdir())
    assert code == 0 and len(files) == 6 and len({f.lower() for f in files}) == 6
    assert len({"ana.json", "Ana.json"} & set(files)) == 1  # the other of the two gets a hash
    for f in files:
        validated(tmp_path / "gs" / f)


@pytest.mark.parametrize("where", ["missing-dir/g.csv", "a-file/g.csv", "a-dir"])
def test_outputs_that_cannot_be_written_exit_2_in_one_sentence(tmp_path: Path, where: str) -> None:
    d = tmp_path / "r"
    d.mkdir()
    (d / "a.json").write_text(report("ana"))
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir").mkdir()
    for option in ("--csv", "--svg", "--gradescope"):
        target = str(tmp_path / where) + (".json" if option == "--gradescope" else "")
        if option == "--gradescope" and where == "a-dir":
            (tmp_path / "a-dir.json").mkdir(exist_ok=True)  # the old bug: an empty folder named like a file
        code, _, err = cli(str(d), option, target)
        assert code == 2, (option, where, err)
        last = err.strip().splitlines()[-1]
        assert last.startswith("selfcheck collect: cannot write") and "Traceback" not in err


def test_missing_path_and_bad_options_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = cli(str(tmp_path / "nope"))
    assert code == 2 and "no such file or folder" in err
    (tmp_path / "r").mkdir()
    code, _, err = cli(str(tmp_path / "r"), "--due", "next friday")
    assert code == 2 and "--due" in err
    (tmp_path / "roster.csv").write_text("name\nana\n")
    code, _, err = cli(str(tmp_path / "r"), "--roster", str(tmp_path / "roster.csv"))
    assert code == 2 and "no 'user' column" in err
    code, _, err = cli(str(tmp_path / "r"), "--assignment", "no-such-assignment")
    assert code == 2 and "no assignment called" in err


def test_summary_and_svg(tmp_path: Path) -> None:
    d = tmp_path / "r"
    d.mkdir()
    (d / "a.json").write_text(report("ana", statuses={"ssh.dir": "fail"}))
    (d / "b.json").write_text(report("bo"))
    svg = tmp_path / "cohort.svg"
    code, out, _ = cli(str(d), "--summary", "--svg", str(svg))
    assert code == 0 and f"Assignment {EXP.id}" in out and "2 students" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("laptop:ssh.dir "))
    assert line.split()[1:4] == ["1", "0", "1"]
    doc = xml.dom.minidom.parse(str(svg))
    assert doc.getElementsByTagName("title")[0].firstChild.data == "Self-check results by check"


def test_a_real_cli_report_is_collected(tmp_path: Path) -> None:
    out = io.StringIO()
    main(["--only", "env.python", "--json", "--user", "dana"], stdout=out, stderr=io.StringIO())
    doc = json.loads(out.getvalue())
    assert doc["user"] == "dana" and doc["user_source"] == "option"
    (tmp_path / "d.json").write_text(out.getvalue())
    result = collect([str(tmp_path)])
    assert [s.user for s in result.submissions] == ["dana"] and result.rejected == []
    assert result.submissions[0].flags == []


def test_csv_to_standard_output_piped_into_head(tmp_path: Path) -> None:
    """`collect --csv - | head -n 2`: the reader closes the pipe early; no traceback, no noise."""
    d = tmp_path / "r"
    d.mkdir()
    for i in range(400):
        (d / f"{i}.json").write_text(report(f"s{i:03d}", summaries={"env.side": "x" * 1500}))
    proc = subprocess.Popen([sys.executable, "-m", "checks", "collect", str(d), "--csv", "-"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        head = [proc.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]  # as head does after its lines
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert head[0].startswith(b"user,") and head[1].strip()
    assert proc.returncode == 0, err
    text = err.decode(errors="replace")
    assert "Traceback" not in text and "Exception ignored" not in text and "Broken" not in text, text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20))
def test_any_json_is_collected_or_rejected_never_crashes(tmp_path_factory, value) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    doc = {"schema": 1, "tool_version": "0.1.0", "assignment": EXP.id, "side": "laptop", "results": value}
    (folder / "a.json").write_text(json.dumps(doc))
    (folder / "b.json").write_text(json.dumps(value))
    result = collect([str(folder)], EXP.id)
    assert len(result.submissions) + len(result.rejected) == 2
    code, _, err = cli(str(folder), "--csv", os.devnull)
    assert code in (0, 1) and "Traceback" not in err
