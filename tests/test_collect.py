"""Collecting a class's reports: CSV, cohort summary, SVG, Gradescope; bad reports never crash it."""

from __future__ import annotations

import csv
import io
import json
import xml.dom.minidom
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from checks import render
from checks.cli import main
from checks.model import Report, Result, Status
from checks.tools.collect import collect, gradescope


def report(user: str, statuses: dict, created: str = "2026-11-20T10:00:00Z", assignment: str = "methodology-1") -> str:
    results = tuple(Result(cid, Status(s), "t", f"{cid} said {s}") for cid, s in statuses.items())
    return render.json_text(Report(results, side="laptop", assignment=assignment, user=user, host="h",
                                   created=created, tool_version="0.1.0"))


def write_class(folder: Path) -> None:
    folder.mkdir()
    (folder / "ana.json").write_text(report("ana", {"ssh.key.present": "pass", "tunnel.local_port": "pass"}))
    (folder / "ben.json").write_text(report("ben", {"ssh.key.present": "fail", "tunnel.local_port": "skip"}))
    (folder / "ben-again.json").write_text(report("ben", {"ssh.key.present": "pass", "tunnel.local_port": "pass"},
                                                  created="2026-11-21T09:00:00Z"))
    (folder / "nameless.json").write_text(report("", {"ssh.key.present": "warn"}))
    (folder / "other.json").write_text(report("cy", {"ssh.key.present": "pass"}, assignment="lab-9"))
    (folder / "broken.json").write_text("{not json")
    (folder / "list.json").write_text("[1, 2]")
    (folder / "schema2.json").write_text(json.dumps({"schema": 2, "results": []}))


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    return main(["collect", *args], stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_csv_one_row_per_student_and_reasons_for_the_rest(tmp_path: Path) -> None:
    write_class(tmp_path / "reports")
    out_csv = tmp_path / "grades.csv"
    code, out, err = cli(str(tmp_path / "reports"), "--csv", str(out_csv))
    assert code == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["user"] for r in rows] == ["ana", "ben", "nameless"]  # no user: keyed by file name
    ben = rows[1]
    assert ben["ssh.key.present"] == "pass" and ben["file"].endswith("ben-again.json")  # newest wins
    assert rows[0]["summary"] == "ok" and rows[2]["warn"] == "1"
    for reason in ("duplicate: ben", "a report for 'lab-9'", "not valid JSON", "no JSON object", "unknown report schema 2"):
        assert reason in err, reason
    assert "Traceback" not in err


def test_summary_and_svg(tmp_path: Path) -> None:
    write_class(tmp_path / "reports")
    svg = tmp_path / "cohort.svg"
    code, out, _ = cli(str(tmp_path / "reports"), "--summary", "--svg", str(svg))
    assert code == 0
    assert "3 student report(s)" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("ssh.key.present"))
    assert line.split()[1:] == ["2", "1", "0", "0", "0"]
    doc = xml.dom.minidom.parse(str(svg))
    assert doc.getElementsByTagName("title")[0].firstChild.data == "Self-check results by check"
    assert len(doc.getElementsByTagName("rect")) >= 5


def test_gradescope_results(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "r.json").write_text(report("ana", {"a.b": "pass", "a.c": "fail", "a.d": "skip", "a.e": "warn"}))
    target = tmp_path / "results.json"
    code, _, _ = cli(str(tmp_path / "one"), "--gradescope", str(target))
    doc = json.loads(target.read_text())
    assert code == 0 and doc["score"] == 2.0
    tests = {t["name"]: t for t in doc["tests"]}
    assert tests["a.c"]["status"] == "failed" and tests["a.d"]["max_score"] == 0.0
    assert "self-reported" in doc["output"]
    write_class(tmp_path / "many")
    code, _, _ = cli(str(tmp_path / "many"), "--gradescope", str(tmp_path / "gs"))
    assert sorted(p.name for p in (tmp_path / "gs").iterdir()) == ["ana.json", "ben.json", "nameless.json"]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = cli(str(tmp_path / "nope"))
    assert code == 2 and "no such file or folder" in err


def test_a_real_cli_report_is_collected(tmp_path: Path) -> None:
    out = io.StringIO()
    main(["--only", "env.python", "--json", "--user", "dana"], stdout=out, stderr=io.StringIO())
    (tmp_path / "d.json").write_text(out.getvalue())
    result = collect([str(tmp_path)], "methodology-1")
    assert [s.user for s in result.students] == ["dana"] and result.rejected == []
    assert gradescope(result.students[0])["score"] == 1.0


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20))
def test_any_json_is_collected_or_rejected_never_crashes(tmp_path_factory, value) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    doc = {"schema": 1, "tool_version": "0.1.0", "assignment": "methodology-1", "results": value}
    (folder / "a.json").write_text(json.dumps(doc))
    (folder / "b.json").write_text(json.dumps(value))
    result = collect([str(folder)], "methodology-1")
    assert len(result.students) + len(result.rejected) == 2
