"""Rendering: the only module that turns reports into text, HTML and JSON.

Every string passes through the redactor before it is shown, so a Jupyter token never appears
in any view. Output is deterministic (no random symbols, sorted JSON keys), so golden files can
pin it.
"""

from __future__ import annotations

from ._text import printable
from .redact import Redactor
from .status import STATUS_ORDER, Status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional

    from .model import Report, Result

SCHEMA_VERSION = 1

SYMBOLS = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.SKIP: "–", Status.ERROR: "☠"}
ASCII_SYMBOLS = {Status.PASS: "+", Status.WARN: "!", Status.FAIL: "x", Status.SKIP: "-", Status.ERROR: "E"}
_COLORS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.SKIP: "2", Status.ERROR: "35"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def footer(report: Report) -> str:
    """One line that says whether the student has anything to do."""
    c = report.counts
    total = len(report.results)
    problems = c["fail"] + c["error"]
    parts = [f"{c['pass']} passed"]
    if c["warn"]:
        parts.append(_plural(c["warn"], "warning"))
    if c["fail"]:
        parts.append(f"{c['fail']} failed")
    if c["skip"]:
        parts.append(f"{c['skip']} skipped")
    if c["error"]:
        parts.append(_plural(c["error"], "checker error"))
    tally = ", ".join(parts)
    if total == 0:
        return "no checks ran"
    if problems:
        what = _plural(problems, "problem")
        tail = " (a checker error is a bug in the checker: please report it)" if c["error"] else ""
        return f"{what} found — fixes above ({tally}){tail}"
    if c["pass"] == total:
        return f"all {total} checks passed" if total != 1 else "the check passed"
    return f"no problems found ({tally})"


def text(report: Report, *, color: bool = False, ascii_only: bool = False, verbose: bool = False,
         docs_url: Optional[str] = None) -> str:
    """The terminal view: one line per check, the fix indented under each problem.

    Every value is redacted, then made printable: an escape sequence in a file or user name is
    shown as text (\\x1b), never sent to the terminal.
    """
    redact = Redactor(report.secrets)

    def safe(value: object) -> str:
        return printable(redact(str(value)), newlines=False)

    docs_url = report.docs_url if docs_url is None else docs_url
    symbols = ASCII_SYMBOLS if ascii_only else SYMBOLS
    width = max([len(r.id) for r in report.results] + [10])
    lines: List[str] = []
    head = f"Self-check: {safe(report.assignment or 'no assignment')} on the {safe(report.side or 'unknown side')}"
    if report.user:
        head += f" (user {safe(report.user)})"
    lines.append(head)
    for result in report.results:
        mark = f"{symbols[result.status]} {result.status.value:<5}"
        if color:
            mark = f"\033[{_COLORS[result.status]}m{mark}\033[0m"
        lines.append(f"{mark}  {safe(result.id):<{width}}  {safe(result.summary)}")
        pad = " " * 10
        if result.fix and result.status in (Status.FAIL, Status.WARN, Status.ERROR):
            lines.append(f"{pad}Fix: {safe(result.fix.text)}")
            for command in result.fix.commands:
                lines.append(f"{pad}    {safe(command)}")
        if verbose:
            if result.expected is not None:
                lines.append(f"{pad}expected: {safe(_plain(result.expected))}")
            if result.observed is not None:
                lines.append(f"{pad}observed: {safe(_plain(result.observed))}")
            for detail in result.details:
                lines.append(f"{pad}| {safe(detail)}")
        if result.docs and result.status in (Status.FAIL, Status.WARN) and (verbose or result.fix):
            lines.append(f"{pad}Read more: {safe(docs_url)}{safe(result.docs)}")
    lines.append(footer(report))
    out = redact("\n".join(lines)) + "\n"
    return to_ascii(out) if ascii_only else out


# Characters our own texts use, spelled in ASCII for a console that cannot show them.
_ASCII = str.maketrans({"—": "-", "–": "-", "→": "->", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...",
                        "≥": ">=", "≤": "<=", "×": "x", "⁹": "^9", "³": "^3", "⁰": "^0", "\u00a0": " "})


def to_ascii(text: str) -> str:
    """The text in ASCII: our typographic characters spelled out, anything else as "?"."""
    return text.translate(_ASCII).encode("ascii", "replace").decode("ascii")


def for_stream(text: str, stream: Any) -> str:
    """The text as `stream` can show it (ASCII when its encoding lacks a character)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return to_ascii(text)
    except LookupError:
        pass
    return text


def _plain(value: Any) -> str:
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def report_dict(report: Report) -> Dict[str, Any]:
    """The JSON report (schema 1): what a student submits and instructors collect."""
    redact = Redactor(report.secrets)
    doc = {
        "schema": SCHEMA_VERSION,
        "tool_version": report.tool_version,
        "side": report.side,
        "assignment": report.assignment,
        "user": report.user,
        "user_source": report.user_source,
        "host": report.host,
        "created": report.created,
        "results": [_result_dict(r) for r in report.results],
        "counts": report.counts,
    }
    redacted: Dict[str, Any] = _redact_tree(doc, redact)
    return redacted


def _result_dict(result: Result) -> Dict[str, Any]:
    full = result.to_dict()
    return {key: full[key] for key in ("id", "status", "title", "summary", "fix", "expected", "observed")}


def _redact_tree(value: Any, redact: Redactor) -> Any:
    """Every string redacted, then made printable (lone surrogates from undecodable file names
    would make the JSON unwritable; escape sequences would reach whoever prints it)."""
    if isinstance(value, str):
        return printable(redact(value))
    if isinstance(value, dict):
        return {printable(redact(str(k))): _redact_tree(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_tree(v, redact) for v in value]
    return value


def json_text(report: Report) -> str:
    """The JSON document, keys sorted, as printed by `--json`."""
    import json

    redact = Redactor(report.secrets)
    # ASCII (non-ASCII characters as \\u escapes): the file survives any code page and editor.
    return redact(json.dumps(report_dict(report), sort_keys=True, indent=2, ensure_ascii=True)) + "\n"


_CSS = (
    # Own colours, whatever the page's theme: notebook outputs sit on a light panel even in dark mode.
    ".selfcheck-report{color:#1f2933;background:#ffffff;padding:4px}"
    ".selfcheck-report caption{color:#1f2933;caption-side:top;text-align:left;font-weight:bold}"
    ".selfcheck-report table{border-collapse:collapse;width:100%}"
    ".selfcheck-report code{color:#1f2933;background:#eef1f4;border:0}"
    ".selfcheck-report th,.selfcheck-report td{border:1px solid #8a8a8a;padding:4px 8px;"
    "text-align:left;vertical-align:top}"
    ".selfcheck-report td.sc-pass{color:#0a6b2d}.selfcheck-report td.sc-warn{color:#7a4d00}"
    ".selfcheck-report td.sc-fail{color:#a4141d}.selfcheck-report td.sc-skip{color:#555}"
    ".selfcheck-report td.sc-error{color:#6b1f7a}.selfcheck-report .sc-status{white-space:nowrap;font-weight:bold}"
    # Commands wrap inside their cell rather than being cropped; a pasted command is still one line.
    ".selfcheck-report pre{margin:4px 0;white-space:pre-wrap;overflow-wrap:anywhere}"
    # A dark panel where the notebook is dark: JupyterLab's theme attribute, or the system's choice.
    "[data-jp-theme-light=false] .selfcheck-report,html[data-theme=dark] .selfcheck-report{color:#e4e7eb;"
    "background:#1f2328}[data-jp-theme-light=false] .selfcheck-report :is(caption,code),"
    "html[data-theme=dark] .selfcheck-report :is(caption,code){color:#e4e7eb;background:transparent}"
    "[data-jp-theme-light=false] .selfcheck-report td.sc-pass,html[data-theme=dark] .selfcheck-report td.sc-pass"
    "{color:#6fdc8c}[data-jp-theme-light=false] .selfcheck-report td.sc-warn,html[data-theme=dark] "
    ".selfcheck-report td.sc-warn{color:#f1c21b}[data-jp-theme-light=false] .selfcheck-report td.sc-fail,"
    "html[data-theme=dark] .selfcheck-report td.sc-fail{color:#ff8389}[data-jp-theme-light=false] "
    ".selfcheck-report td.sc-skip,html[data-theme=dark] .selfcheck-report td.sc-skip{color:#a8b0b8}"
)


def html(report: Report, *, docs_url: Optional[str] = None) -> str:
    """The notebook view: an accessible table. Status is a symbol and a word, never colour alone."""
    import html as _html  # here, not at the top: the terminal never needs it

    redact = Redactor(report.secrets)
    docs_url = report.docs_url if docs_url is None else docs_url

    def esc(value: Any) -> str:
        return _html.escape(printable(redact(str(value)), newlines=False), quote=True)

    rows = []
    for r in report.results:
        fix = ""
        if r.fix and r.status in (Status.FAIL, Status.WARN, Status.ERROR):
            fix = f"<p>{esc(r.fix.text)}</p>"
            if r.fix.commands:
                fix += "<pre><code>" + "\n".join(esc(c) for c in r.fix.commands) + "</code></pre>"
        if r.docs and r.status in (Status.FAIL, Status.WARN):
            # The class and data-docs are a stable hook: the book turns the page's name into a link.
            hook = f'class="selfcheck-read-more" data-docs="{esc(r.docs)}"'
            if docs_url:
                fix += f'<p {hook}><a href="{esc(docs_url + r.docs)}">Read more about {esc(r.title.lower())}</a></p>'
            else:  # no published address known: name the page, never a link that would break
                fix += f"<p {hook}>Read more in the lesson: <code>{esc(r.docs)}</code></p>"
        rows.append(
            f'<tr class="sc-{r.status.value}">'
            f'<td class="sc-status sc-{r.status.value}">{SYMBOLS[r.status]} {r.status.value}</td>'
            f"<td><code>{esc(r.id)}</code><br>{esc(r.title)}</td>"
            f"<td>{esc(r.summary)}</td><td>{fix}</td></tr>"
        )
    caption = f"Self-check results: {esc(report.assignment or 'no assignment')}, {esc(report.side or 'unknown side')}"
    return (
        f'<div class="selfcheck-report"><style>{_CSS}</style>'
        f"<table><caption>{caption}</caption>"
        '<thead><tr><th scope="col">Status</th><th scope="col">Check</th>'
        '<th scope="col">What was found</th><th scope="col">How to fix it</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"<p><strong>{esc(footer(report).replace('fixes above', 'see How to fix it'))}</strong></p></div>"
    )


def can_encode(stream: Any, sample: str = "✓✗–☠—") -> bool:
    """Whether a stream's encoding can show the status symbols (else use ASCII)."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        sample.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def use_color(stream: Any, env: Optional[Mapping[str, str]] = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    import os

    env = os.environ if env is None else env
    if "NO_COLOR" in env or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    if not (isatty and isatty()):
        return False
    if os.name == "nt":  # the old Windows console prints escape codes as text; Windows Terminal does not
        return bool(env.get("WT_SESSION") or env.get("TERM") or env.get("ANSICON"))
    return True


__all__ = ["text", "html", "json_text", "report_dict", "footer", "SYMBOLS", "STATUS_ORDER"]


def wrap_width(stream: Any) -> int:
    """The width to wrap prose to on `stream`: its terminal's, or 0 (do not wrap) when it is a pipe
    or a file, so scripts reading the output get one line per item."""
    import os

    isatty = getattr(stream, "isatty", None)
    if "COLUMNS" in os.environ or (isatty and isatty()):
        return terminal_columns()
    return 0


def terminal_columns() -> int:
    """`shutil.get_terminal_size().columns`, without importing shutil (argparse's help formatter
    would, on every add_argument, and shutil brings bz2 and lzma with it)."""
    import os
    import sys

    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]  # None: caught below
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80
