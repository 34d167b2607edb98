"""The book's command blocks, as a student pastes them from the built pages.

- Every command for the single file (`python3 selfcheck.pyz ...`) is pasted into `zsh -f -i`
  (macOS's shell, interactive, where `#` does not start a comment) with its placeholders filled,
  and the arguments zsh hands to Python are parsed by the checker's own parser.
- No bash command block carries an inline `# comment` (zsh would pass it on as arguments).
- Every PowerShell block passes the PowerShell 5.1 lint (tests/pslint.py; there is no PowerShell
  here to run it).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from conftest import IN_CI
from pslint import lint

from checks.cli import build_parser

pytestmark = pytest.mark.slow

PLACEHOLDERS = {
    "<the URL the launch script printed>": "http://dsmlp-login.ucsd.edu:12733/user/jdoe/?token=" + "0" * 64,
    "<the URL your launch printed>": "http://dsmlp-login.ucsd.edu:12733/user/jdoe/?token=" + "0" * 64,
    "<the URL>": "http://dsmlp-login.ucsd.edu:12733/user/jdoe/?token=" + "0" * 64,
    "<the message>": "Permission denied (publickey).",
    "<username>": "jdoe",
    "<port>": "12733",
}


def blocks(built_book: Path) -> List[Tuple[str, str, str]]:
    """(page, language, text) of every highlighted code block in the built book's pages."""
    found = []
    for page in sorted(built_book.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        for lang, body in re.findall(r'<div class="highlight-(\w+) notranslate"><div class="highlight"><pre>(.*?)</pre>',
                                     text, re.S):
            found.append((str(page.relative_to(built_book)), lang, html.unescape(re.sub(r"<[^>]+>", "", body))))
    return found


def _fill(command: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    assert not re.search(r"<[a-z][^>]*>", command), f"an unfilled placeholder in {command!r}"
    return command


def single_file_commands(built_book: Path) -> Dict[str, str]:
    """Every line of a bash block that runs the single file, with the page it is on."""
    commands = {}
    for page, lang, text in blocks(built_book):
        if lang not in ("bash", "shell", "console", "zsh"):
            continue
        for line in text.splitlines():
            line = line.strip()
            remote = re.fullmatch(r'ssh \S+ "((?:python3|py) selfcheck\.pyz[^"]*)"', line)
            if remote:  # run on the login node through ssh: the quoted command is what its shell gets
                line = remote.group(1)
            if line.startswith(("python3 selfcheck.pyz", "py selfcheck.pyz")):
                commands[line] = page
    return commands


def test_book_single_file_commands_run_in_zsh_and_parse(built_book: Path, tmp_path: Path) -> None:
    zsh = shutil.which("zsh")
    if zsh is None:
        if IN_CI:
            pytest.fail("zsh is missing: scripts/system-deps.sh installs it")
        pytest.skip("zsh is not installed here (scripts/system-deps.sh installs it)")
    commands = single_file_commands(built_book)
    assert len(commands) >= 5, commands
    parser = build_parser()
    for command, page in commands.items():
        record = tmp_path / "argv"
        record.unlink(missing_ok=True)
        # python3 and py stand in for Python here: they record the arguments zsh passes.
        # On the shell's input, as pasted: `zsh -c` would take `#` as a comment, an interactive zsh does not.
        script = (f"python3() {{ print -rN -- \"$@\" > {record}; }}\npy() {{ python3 \"$@\"; }}\n"
                  f"{_fill(command)}\necho __status=$?\n")
        proc = subprocess.run([zsh, "-f", "-i"], input=script, capture_output=True, text=True, timeout=30,
                              cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TERM": "dumb"})
        assert "__status=0" in proc.stdout and record.exists(), f"{page}: {command!r} in zsh: {proc.stderr}"
        argv = record.read_text().split("\0")[:-1]
        assert argv[0] == "selfcheck.pyz", (page, command, argv)
        rest = argv[1:]
        if rest[:1] == ["explain"]:
            assert len(rest) == 2, (page, command, rest)  # one message, in quotes
            continue
        if rest[:1] == ["validate"]:
            assert len(rest) == 2, (page, command, rest)  # one assignment file
            continue
        if rest[:1] == ["collect"]:  # the instructor's command has its own parser
            from checks.tools.collect import UsageError
            from checks.tools.collect import build_parser as collect_parser

            try:
                collect_parser().parse_args(rest[1:])
            except (SystemExit, UsageError):
                pytest.fail(f"{page}: collect's parser refuses {command!r} as zsh passes it: {rest}")
            continue
        try:
            parser.parse_args(rest)
        except SystemExit:
            pytest.fail(f"{page}: the checker's parser refuses {command!r} as zsh passes it: {rest}")


def test_no_inline_comments_in_bash_blocks(built_book: Path) -> None:
    """Interactive zsh takes `# ...` as words: a command block carries no trailing comment."""
    bad = []
    for page, lang, text in blocks(built_book):
        if lang not in ("bash", "shell", "zsh"):
            continue
        for line in text.splitlines():
            unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "", line)
            if re.search(r"(^|\s)#", unquoted):
                bad.append(f"{page}: {line}")
    assert bad == []


def test_powershell_blocks_are_windows_powershell_5(built_book: Path) -> None:
    found = [(page, text) for page, lang, text in blocks(built_book) if lang in ("powershell", "ps1", "pwsh")]
    assert found, "the book shows PowerShell commands for Windows"
    for page, text in found:
        for line in text.splitlines():
            if line.strip():
                assert lint(line) == [], (page, line, lint(line))


# The book's one report command per half (issue 13): the single file, with --url on the laptop
# (and, on a site whose Jupyter URL names no user, --user): per site, from its `book.laptop_report`.
SERVER_REPORT = "python3 selfcheck.pyz --json --output selfcheck-server.json"
REPORT_COMMANDS = {
    'python3 selfcheck.pyz --url "<the URL your launch printed>" --json --output selfcheck-laptop.json',
    SERVER_REPORT,
}


def report_commands(book: Path) -> Dict[str, List[str]]:
    """Every report-making command line in a built book's pages, with the pages it is on."""
    found: Dict[str, List[str]] = {}
    for page in book.rglob("*.html"):
        if "_static" in page.parts or page.name in ("instructors.html", "genindex.html", "search.html"):
            continue  # the instructor guide shows how to make reports for testing, not the students' command
        for block in re.findall(r"<pre>(.*?)</pre>", page.read_text(encoding="utf-8"), re.S):
            for line in html.unescape(re.sub(r"<[^>]+>", "", block)).splitlines():
                if "--json" in line and ("selfcheck" in line or "checks" in line):
                    found.setdefault(line.strip(), []).append(page.relative_to(book).as_posix())
    return found


def test_every_report_command_in_the_book_is_the_same(built_book: Path) -> None:
    found = report_commands(built_book)
    assert found, "no report command found in the built book"
    assert set(found) <= REPORT_COMMANDS, {c: pages for c, pages in found.items() if c not in REPORT_COMMANDS}
    assert any("selfcheck-laptop" in c for c in found) and any("selfcheck-server" in c for c in found)
