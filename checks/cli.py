"""The command line: `selfcheck` / `python -m checks` / `python3 selfcheck.pyz`.

Exit status: 0 nothing failed; 1 something failed; 2 usage or expectations error; 3 nothing
failed but the checker itself broke.
"""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, NoReturn, Optional, Sequence, TextIO

    from .registry import CheckSpec

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CHECKER = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse that says what is wrong in one line and exits 2, never a traceback."""

    def error(self, message: str) -> "NoReturn":
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n(run '{self.prog} --help' for the options)\n")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r}: expected seconds between 0 and 600")
    return value


def _listing(specs: List[CheckSpec], columns: int) -> str:
    """Every check id and what it verifies, the descriptions wrapped to `columns` (0: not wrapped)."""
    import textwrap

    width = max(len(s.id) for s in specs)
    room = max(30, columns - width - 3) if columns else 0
    lines = []
    for spec in specs:
        wrapped = (textwrap.wrap(spec.description, room) if room else [spec.description]) or [""]
        lines.append(f"{spec.id:<{width}}  {wrapped[0]}")
        lines += [" " * (width + 2) + more for more in wrapped[1:]]
    return "\n".join(lines) + "\n"


def _course_assignment() -> str:
    from .course import setting

    return setting().assignment


def build_parser() -> argparse.ArgumentParser:
    import os
    from pathlib import Path

    from . import render
    from ._version import __version__
    from .shell import Invocation, for_platform

    width = render.terminal_columns() - 2  # once: argparse builds a formatter for every add_argument
    # The help names the command the student typed (checks.shell knows how it was started).
    prog = for_platform(os.name == "nt", Path("."), Invocation.current()).selfcheck()
    p = _Parser(
        prog=prog,
        formatter_class=lambda prog: argparse.HelpFormatter(prog, width=width),
        description="Check that your SSH keys, your Jupyter tunnel and your server's resources "
                    "meet the assignment's expectations, and say exactly how to fix what doesn't.",
        epilog=f"Other commands: '{prog} explain \"<error text>\"' explains an error message you "
               f"saw; '{prog} collect DIR --csv grades.csv' grades students' JSON reports; "
               f"'{prog} validate FILE.toml' checks an assignment file.",
    )
    which = p.add_argument_group("what to check")
    which.add_argument("--assignment", metavar="ID", help="a shipped assignment (default: the course's, "
                                                          f"{_course_assignment()})")
    which.add_argument("--expectations", metavar="FILE", help="an instructor's expectations file (TOML)")
    which.add_argument("--side", choices=["laptop", "jumpbox", "server"],
                       help="where this runs (default: detected)")
    which.add_argument("--only", metavar="ID[,ID]", help="only these check ids or areas, e.g. ssh,tunnel.url")
    which.add_argument("--list", action="store_true", help="list every check id with its description")
    which.add_argument("--live", action="store_true", help="also run checks that contact the login host")
    inputs = p.add_argument_group("what to check against")
    inputs.add_argument("--url", help="the Jupyter URL the launch script printed (its token is never shown)")
    inputs.add_argument("--user", help="your username on the cluster")
    inputs.add_argument("--pubkey", metavar="KEY|FILE|FINGERPRINT",
                        help="the public key the server side should find in authorized_keys")
    inputs.add_argument("--home", metavar="DIR", help="whose SSH files to check (default: yours)")
    inputs.add_argument("--procfs", metavar="PATH", help="the /proc to read (default: /proc)")
    inputs.add_argument("--sysfs", metavar="PATH", help="the /sys to read (default: /sys)")
    inputs.add_argument("--compare", metavar="REPORT.json",
                        help="compare package versions with another side's JSON report")
    inputs.add_argument("--timeout", type=_positive, default=3.0, metavar="SECONDS",
                        help="time bound for each network probe (default: 3)")
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON report (the one you submit)")
    out.add_argument("--output", metavar="FILE",
                     help="write the report (JSON with --json) to FILE, in UTF-8, and show the results here "
                          "(use this rather than '> FILE', which PowerShell writes in UTF-16)")
    out.add_argument("-v", "--verbose", action="store_true", help="show expected and observed values and details")
    out.add_argument("--fix", action="store_true",
                     help="tighten file permissions that ssh refuses (never creates, moves or deletes a key)")
    out.add_argument("--version", action="version", version=f"selfcheck {__version__}")
    return p


def main(argv: Optional[Sequence[str]] = None, stdout: Optional[TextIO] = None,
         stderr: Optional[TextIO] = None) -> int:
    """Run the command line; returns the exit status."""
    stdout = stdout or _tolerant(sys.stdout)
    stderr = stderr or _tolerant(sys.stderr)
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] == "explain":
            from .tools.explain import main as explain_main

            return explain_main(args[1:], stdout, stderr)
        if args and args[0] == "collect":
            from .tools.collect import main as collect_main

            return collect_main(args[1:], stdout, stderr)
        if args and args[0] == "validate":
            from .tools.validate import main as validate_main

            return validate_main(args[1:], stdout, stderr)
        if args and args[0] == "validate-site":
            from .tools.validate_site import main as validate_site_main

            return validate_site_main(args[1:], stdout, stderr)
        return _run(args, stdout, stderr)
    except KeyboardInterrupt:
        stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:  # `selfcheck ... | head`: the reader has what it wanted
        _quiet_stdout()
        return EXIT_OK
    except Exception as exc:  # the last guard: one redacted line, never a traceback with a token in it
        import os

        if os.environ.get("SELFCHECK_DEBUG"):  # for whoever fixes the bug: the whole traceback
            raise
        return _broke(exc, args, stderr)


def _quiet_stdout() -> None:
    """Point stdout at the null device, so Python's final flush into a closed pipe says nothing."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _broke(exc: BaseException, args: Sequence[str], stderr: TextIO) -> int:
    """Say that the checker itself broke, in one line that shows no secret; exit 3."""
    import os

    from ._text import printable
    from .redact import Redactor

    redact = Redactor([os.environ.get("JUPYTER_TOKEN") or ""])
    for arg in args:
        redact.add_url(arg)
    detail = printable(redact(f"{type(exc).__name__}: {exc}"), newlines=False)[:300]
    try:
        stderr.write(f"selfcheck: the checker itself broke ({detail}); this is a bug in the checker, please "
                     "report it\n")
    except (OSError, ValueError):
        pass
    return EXIT_CHECKER


def _tolerant(stream: TextIO) -> TextIO:
    """The console stream, set never to raise for a character its code page lacks (Windows' cp1252
    has no "✓"): the views choose ASCII for such a stream, and anything left is replaced."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="replace")
        except (ValueError, OSError):  # a stream already written to, or closed
            pass
    return stream


def _run(argv: List[str], stdout: TextIO, stderr: TextIO) -> int:
    import contextlib

    from . import render, runner
    from .expectations import ExpectationsError
    from .registry import all_checks, unknown_selectors

    parser = build_parser()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            ns = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if ns.assignment and ns.expectations:
        stderr.write("selfcheck: give --assignment or --expectations, not both\n")
        return EXIT_USAGE
    from ._text import printable
    if ns.list:
        stdout.write(render.for_stream(_listing(all_checks(), render.wrap_width(stdout)), stdout))
        return EXIT_OK
    only = [s.strip() for s in ns.only.split(",")] if ns.only else None
    if only:
        unknown = unknown_selectors(only)
        if unknown:
            stderr.write(f"selfcheck: --only names no check: {printable(', '.join(unknown), newlines=False)} "
                         f"(run '{parser.prog} --list' for the ids)\n")
            return EXIT_USAGE
    try:
        ctx = runner.make_context(
            assignment=ns.assignment, expectations_file=ns.expectations, side=ns.side, url=ns.url, user=ns.user,
            pubkey=ns.pubkey, home=ns.home, procfs=ns.procfs, sysfs=ns.sysfs, live=ns.live,
            fix=ns.fix, timeout=ns.timeout, verbose=ns.verbose, compare=ns.compare, ahead=only or [])
    except (ExpectationsError, runner.UsageError) as exc:
        stderr.write(f"selfcheck: {printable(str(exc), newlines=False)}\n")
        return EXIT_USAGE
    report = runner.run(ctx, only)
    if ns.output:
        document = render.json_text(report) if ns.json else render.text(report, verbose=ns.verbose)
        problem = _write(ns.output, document)
        if problem:
            stderr.write(f"selfcheck: --output {ns.output}: {problem}\n")
            return EXIT_USAGE
    if ns.json and not ns.output:
        stdout.write(render.json_text(report))
        for change in ctx.changes:  # stdout holds only the JSON document
            stderr.write(render.for_stream(f"changed: {printable(ctx.redactor(change), newlines=False)}\n", stderr))
    else:
        stdout.write(render.text(report, color=render.use_color(stdout), ascii_only=not render.can_encode(stdout),
                                 verbose=ns.verbose))
        for change in ctx.changes:
            stdout.write(render.for_stream(f"changed: {printable(ctx.redactor(change), newlines=False)}\n", stdout))
        if ns.output:
            what = "JSON report" if ns.json else "report"
            stdout.write(render.for_stream(f"The {what} is in {printable(ns.output, newlines=False)} (UTF-8).\n",
                                           stdout))
    return report.exit_code


def _write(name: str, document: str) -> str:
    """Write a report file in UTF-8 whatever the console's code page; "" or why it could not be."""
    try:
        with open(name, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(document)
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""
