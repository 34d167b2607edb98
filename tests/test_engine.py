"""The engine: statuses, gating, guards and time bounds, exit codes, and the three views."""

from __future__ import annotations

import json
import time

import pytest
from conftest import GOLDEN
from helpers import make_ctx, spec

from checks import render
from checks.model import Fix, Report, Result, Status, failed, passed, skipped, warned
from checks.runner import run_specs


def test_statuses_and_order_are_kept() -> None:
    ctx = make_ctx()
    report = run_specs(ctx, [
        spec("t.a", lambda c: passed("fine")),
        spec("t.b", lambda c: warned("meh", Fix("do", ["x"]))),
        spec("t.c", lambda c: failed("bad", Fix("fix it", ["y"]))),
        spec("t.d", lambda c: skipped("n/a")),
    ])
    assert [r.status for r in report.results] == [Status.PASS, Status.WARN, Status.FAIL, Status.SKIP]
    assert report.counts == {"pass": 1, "warn": 1, "fail": 1, "skip": 1, "error": 0}
    assert report.exit_code == 1


def test_a_check_that_raises_is_an_error_and_the_run_goes_on() -> None:
    def boom(ctx):
        raise ZeroDivisionError("oops")

    report = run_specs(make_ctx(), [spec("t.boom", boom), spec("t.after", lambda c: passed("still ran"))])
    assert report["t.boom"].status is Status.ERROR
    assert "bug in the checker" in report["t.boom"].summary
    assert any("ZeroDivisionError" in d for d in report["t.boom"].details)
    assert report["t.after"].status is Status.PASS
    assert report.exit_code == 3


def test_a_check_that_outlives_its_bound_is_cut_off() -> None:
    def sleepy(ctx):
        time.sleep(3)
        return passed("too late")

    # The run returning at all, with this verdict, is the proof: the check sleeps far longer.
    report = run_specs(make_ctx(), [spec("t.slow", sleepy, timeout=0.3), spec("t.next", lambda c: passed("ok"))])
    assert report["t.slow"].status is Status.ERROR
    assert "did not finish within 0.3 s" in report["t.slow"].summary
    assert report["t.next"].status is Status.PASS


def test_a_check_returning_nonsense_is_an_error() -> None:
    report = run_specs(make_ctx(), [spec("t.none", lambda c: None)])
    assert report["t.none"].status is Status.ERROR


def test_dependents_of_a_failure_are_blocked_not_cascaded() -> None:
    calls = []

    def dependent(ctx):
        calls.append(1)
        return failed("should not run")

    report = run_specs(make_ctx(), [
        spec("t.base", lambda c: failed("missing", Fix("make it", ["make"]))),
        spec("t.dep", dependent, requires=["t.base"]),
    ])
    assert report["t.dep"].status is Status.SKIP
    assert report["t.dep"].summary == "blocked by: t.base"
    assert calls == []
    assert report.counts["fail"] == 1


def test_dependents_of_a_pass_run() -> None:
    report = run_specs(make_ctx(), [spec("t.base", lambda c: passed("ok")),
                                    spec("t.dep", lambda c: passed("ran"), requires=["t.base"])])
    assert report["t.dep"].summary == "ran"


def test_side_platform_and_live_gates_skip_with_a_reason() -> None:
    ctx = make_ctx(side="laptop")
    report = run_specs(ctx, [
        spec("t.server", lambda c: failed("no"), sides=["server"]),
        spec("t.win", lambda c: failed("no"), platforms=["windows"]),
        spec("t.live", lambda c: failed("no"), live=True),
    ])
    assert report["t.server"].status is Status.SKIP and "runs on the server; this is the laptop" in report["t.server"].summary
    assert report["t.win"].status is Status.SKIP and "linux" in report["t.win"].summary
    assert report["t.live"].status is Status.SKIP and "--live" in report["t.live"].summary
    assert report.exit_code == 0


# -- the three views, pinned by golden files ---------------------------------------------------

TOKEN = "ce5cfea8c9a8892593868b91ddc55b21ff61220989eb17d6ee303c6604609009"


def fixed_report() -> Report:
    return Report(
        results=(
            Result("env.side", Status.PASS, "Where these checks run", "this is your own computer (set by the test)"),
            Result("ssh.key.permissions", Status.FAIL, "Private key is private",
                   "/home/u/.ssh/id_ed25519 has mode 0644: ssh refuses a key others can read",
                   Fix("Make the key readable only by you:", ["chmod 600 /home/u/.ssh/id_ed25519"]),
                   expected="0600", observed="0644", details=("owner uid 1000",),
                   docs="lessons/ssh-keys.html#permissions"),
            Result("ssh.key.type", Status.WARN, "Key type and size",
                   "RSA key of 2048 bits: accepted, but 3072 or more is recommended",
                   Fix("Make a new ed25519 key:", ["ssh-keygen -t ed25519"]), expected=3072, observed=2048,
                   docs="lessons/ssh-keys.html#key-types"),
            Result("tunnel.token", Status.SKIP, "Token accepted", f"blocked by: tunnel.jupyter <b>&amp; token={TOKEN}"),
            Result("resources.gpus", Status.ERROR, "GPUs visible",
                   "the check crashed (KeyError) — a bug in the checker, please report it"),
        ),
        side="laptop", assignment="methodology-1", user="student", user_source="option", host="laptop-1",
        created="2026-01-01T00:00:00Z", tool_version="0.1.0", secrets=(TOKEN,),
    )


def _golden(name: str, actual: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{name} is missing; write it with UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8"), f"{name} changed; rerun with UPDATE_GOLDEN=1 if intended"


@pytest.fixture
def update_golden() -> bool:
    import os

    return bool(os.environ.get("UPDATE_GOLDEN"))


def test_text_golden(update_golden: bool) -> None:
    _golden("report.txt", render.text(fixed_report()), update_golden)
    _golden("report-verbose-ascii.txt", render.text(fixed_report(), verbose=True, ascii_only=True), update_golden)


def test_html_golden(update_golden: bool) -> None:
    _golden("report.html", render.html(fixed_report()) + "\n", update_golden)


def test_json_golden(update_golden: bool) -> None:
    _golden("report.json", render.json_text(fixed_report()), update_golden)


def test_json_shape() -> None:
    doc = json.loads(render.json_text(fixed_report()))
    assert set(doc) == {"schema", "tool_version", "side", "assignment", "user", "user_source", "host", "created",
                        "results", "counts"}
    assert doc["schema"] == 1
    assert set(doc["results"][0]) == {"id", "status", "title", "summary", "fix", "expected", "observed"}
    assert doc["counts"] == {"pass": 1, "warn": 1, "fail": 1, "skip": 1, "error": 1}


def test_views_never_show_the_token() -> None:
    report = fixed_report()
    for out in (render.text(report), render.text(report, verbose=True), render.html(report), render.json_text(report),
                str(report), report._repr_html_()):
        assert TOKEN not in out


def test_html_escapes_and_never_relies_on_colour() -> None:
    out = render.html(fixed_report())
    assert "<b>" not in out and "&lt;b&gt;" in out
    for word in ("✓ pass", "✗ fail", "! warn", "– skip", "☠ error"):
        assert word in out
    assert "<caption>" in out and 'scope="col"' in out


def test_footer_wording() -> None:
    ok = Report(results=(Result("a.b", Status.PASS, "t", "s"), Result("a.c", Status.PASS, "t", "s")))
    assert render.footer(ok) == "all 2 checks passed"
    assert render.footer(fixed_report()).startswith("2 problems found — fixes above")
    mixed = Report(results=(Result("a.b", Status.PASS, "t", "s"), Result("a.c", Status.SKIP, "t", "s")))
    assert render.footer(mixed) == "no problems found (1 passed, 1 skipped)"


def test_color_only_on_a_tty_and_never_with_no_color() -> None:
    class Tty:
        encoding = "utf-8"

        def isatty(self):
            return True

    assert render.use_color(Tty(), {}) is True
    assert render.use_color(Tty(), {"NO_COLOR": ""}) is False
    assert render.use_color(object(), {}) is False
    colored = render.text(fixed_report(), color=True)
    assert "\033[31m" in colored and "\033[" not in render.text(fixed_report())


def test_ascii_fallback_when_the_terminal_cannot_encode_symbols() -> None:
    class Latin1:
        encoding = "ascii"

    assert render.can_encode(Latin1()) is False
    out = render.text(fixed_report(), ascii_only=True)
    out.encode("ascii")
    assert "x fail" in out and "+ pass" in out
