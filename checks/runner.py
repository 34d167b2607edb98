"""The runner: runs selected checks in order, each guarded and time-bounded.

A check outside its side or platform is SKIP with the reason; a check whose prerequisite failed
is SKIP "blocked by: <id>"; an unexpected exception or a check that outlives its bound is ERROR,
and the run goes on.
"""

from __future__ import annotations

import threading
import time

from .context import Context
from .model import Report, Result, Verdict
from .process import discard_ahead, find_program, finished_ahead, start_ahead
from .registry import CheckSpec
from .status import Status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

    from .redact import Redactor

BUG = "a bug in the checker, please report it"


def run_specs(ctx: Context, specs: Iterable[CheckSpec]) -> Report:
    """Run the given checks against the context and gather a report.

    Checks run concurrently in waves: each wave holds the checks whose prerequisites have
    finished, so a slow probe (a subprocess, a socket) does not hold up unrelated checks.
    Results keep the given order.
    """
    from .course import docs_address, setting

    specs = list(specs)
    results = _run_waves(ctx, specs)
    user, source = report_identity(ctx)
    return Report(
        results=results,
        side=ctx.side,
        assignment=ctx.expectations.id,
        user=user,
        user_source=source,
        host=ctx.hostname or _hostname(),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ctx.clock())),
        tool_version=_version(),
        docs_url=docs_address(ctx.expectations.docs_url) or setting().docs_url,
        secrets=ctx.redactor.secrets,
    )


def _run_waves(ctx: Context, specs: List[CheckSpec]) -> Tuple[Result, ...]:
    """Each check's result, in the given order."""
    in_run = {spec.id for spec in specs}
    done: Dict[str, Result] = {}
    blocked: Dict[str, str] = {}  # a check skipped for a failed prerequisite -> the check that failed
    pending = specs
    while pending:
        wave = [s for s in pending if all(d not in in_run or d in done for d in s.requires)] or pending[:1]
        running = []
        for spec in wave:
            gate = _gate(ctx, spec, done, blocked)
            if gate is not None:
                done[spec.id] = _result(spec, gate, 0.0)
            else:
                running.append((spec, time.monotonic(), _start(ctx, spec)))
        for spec, started, (worker, box) in running:
            verdict = _finish(spec, started, worker, box)
            done[spec.id] = _result(spec, verdict, time.monotonic() - started)
        pending = [s for s in pending if s.id not in done]
    return tuple(done[spec.id] for spec in specs)


def _result(spec: CheckSpec, verdict: Verdict, duration: float) -> Result:
    return Result(id=spec.id, status=verdict.status, title=spec.title, summary=verdict.summary, fix=verdict.fix,
                  expected=verdict.expected, observed=verdict.observed, details=verdict.details, docs=spec.docs,
                  duration=duration)


def _gate(ctx: Context, spec: CheckSpec, done: Dict[str, Result], blocked: Dict[str, str]) -> Optional[Verdict]:
    """A SKIP verdict when the check does not apply here, else None."""
    if ctx.side not in spec.sides:
        where = " or ".join(sorted(spec.sides, key=["laptop", "jumpbox", "server"].index))
        return Verdict(Status.SKIP, f"runs on the {where}; this is the {ctx.side}")
    if spec.platforms is not None and ctx.platform.name not in spec.platforms:
        return Verdict(Status.SKIP, f"does not apply on {ctx.platform.name}")
    if spec.live and not ctx.options.live:
        return Verdict(Status.SKIP, "contacts the login host: run with --live to include it")
    for dep in spec.requires:
        prior = done.get(dep)
        root = dep if prior is not None and prior.status in (Status.FAIL, Status.ERROR) else blocked.get(dep)
        if root:  # named by the root cause, when the prerequisite was itself blocked
            blocked[spec.id] = root
            return Verdict(Status.SKIP, f"{BLOCKED}{root}")
    return None


BLOCKED = "blocked by: "  # public: a report's summary says so, and collect reads it


def _start(ctx: Context, spec: CheckSpec) -> Tuple[threading.Thread, Dict[str, object]]:
    """Start one check in a worker thread; its outcome lands in the returned box."""
    box: Dict[str, object] = {}

    def work() -> None:
        try:
            box["verdict"] = spec.func(ctx)
        except BaseException as exc:
            import traceback  # only when a check breaks: it costs milliseconds to import

            box["error"] = exc
            box["trace"] = traceback.format_exc()

    worker = threading.Thread(target=work, name=f"check:{spec.id}", daemon=True)
    worker.start()
    return worker, box


def _finish(spec: CheckSpec, started: float, worker: threading.Thread, box: Dict[str, object]) -> Verdict:
    """Wait for a check within its time bound: exceptions and overruns become ERROR."""
    worker.join(max(0.0, started + spec.timeout - time.monotonic()))
    if worker.is_alive():
        return Verdict(Status.ERROR, f"the check did not finish within {spec.timeout:g} s — {BUG}",
                       details=(f"{spec.id} was still running after {spec.timeout:g} s and was abandoned",))
    if "error" in box:
        exc = box["error"]
        return Verdict(Status.ERROR, f"the check crashed ({type(exc).__name__}) — {BUG}",
                       details=tuple(str(box["trace"]).rstrip().splitlines()))
    verdict = box.get("verdict")
    if not isinstance(verdict, Verdict):
        return Verdict(Status.ERROR, f"the check returned {type(verdict).__name__}, not a verdict — {BUG}")
    return verdict


def report_identity(ctx: Context) -> Tuple[str, str]:
    """(the student's cluster username, where it came from): see checks/probes/identity.py."""
    from .probes.identity import cluster_identity

    return cluster_identity(ctx)


def _hostname() -> str:
    import os

    if hasattr(os, "uname"):  # what socket.gethostname() answers on POSIX, without importing socket
        return os.uname().nodename
    import socket

    return socket.gethostname()


def _version() -> str:
    from ._version import __version__

    return __version__


class UsageError(ValueError):
    """An option that cannot be used as given."""


def make_context(assignment: Optional[str] = None, *, side: Optional[str] = None, url: Optional[str] = None,
                 user: Optional[str] = None, pubkey: Optional[str] = None, home: Optional[str] = None,
                 procfs: Optional[str] = None, sysfs: Optional[str] = None, live: bool = False,
                 fix: bool = False, timeout: float = 3.0, verbose: bool = False,
                 compare: Optional[str] = None, expectations: Optional[object] = None,
                 env: Optional[Mapping[str, str]] = None, platform: Optional[object] = None,
                 machine: Optional[str] = None, expectations_file: Optional[str] = None,
                 ahead: Optional[Sequence[str]] = None) -> Context:
    """Build the context for a run from the student's options.

    `machine` (or the SELFCHECK_MACHINE variable) points every check at a captured or simulated
    machine folder instead of this computer (see `checks.tools.machine`). `expectations_file` is
    an instructor's file, read as a file even when a shipped assignment has the same name.
    `ahead`: the selectors the caller will run (`--only`; empty for all): the programs their
    checks ask are started now, while the rest loads (the command line's start-up: see
    checks/process.py and bench/cli_run.py).
    """
    import os

    from ._text import is_user, printable
    from .redact import Redactor

    redactor = Redactor()
    redactor.add_url(url)  # first: nothing below may show the token, whatever it raises
    if url is not None and not isinstance(url, str):
        raise UsageError("--url must be text: the URL the launch script printed")
    if user is not None and not is_user(user):
        raise UsageError(f"--user {printable(str(user), newlines=False)!s}: not a user name (letters, digits, '.', "
                         "'_' and '-', not starting with '-')")
    early = None
    if ahead is not None and env is None and platform is None and not machine and os.name != "nt" \
            and not os.environ.get("SELFCHECK_MACHINE"):
        early = _Early(ahead, side, user, url)
    try:
        ctx = _make(assignment, redactor, early, side=side, url=url, user=user, pubkey=pubkey, home=home,
                    procfs=procfs, sysfs=sysfs, live=live, fix=fix, timeout=timeout, verbose=verbose,
                    compare=compare, expectations=expectations, env=env, platform=platform, machine=machine,
                    expectations_file=expectations_file)
    except BaseException:
        discard_ahead()
        raise
    return ctx


class _Early:
    """Starts the programs a command-line run's checks will ask, as early as each can be known:
    `ssh -V` and `git config` before the assignment is read, `ssh -G` once the login host and
    the side are known. Each is the very command its probe runs (checks/probes/openssh.py,
    repo.py), so the probe collects it instead of starting its own."""

    def __init__(self, selectors: Sequence[str], side: Optional[str], user: Optional[str], url: Optional[str]) -> None:
        import os
        from pathlib import Path

        from .probes.repo import FILTERS_QUERY, top_level

        def wanted(area: str) -> bool:
            return not selectors or any(s == area or s.startswith(area + ".") for s in selectors)

        self.env = dict(os.environ)
        self.cwd = Path.cwd()
        path = self.env.get("PATH", "")
        # The laptop's report names the login host's `User` from ssh -G unless told who the student is.
        self.ssh = find_program("ssh", path) if side in (None, "laptop") and (wanted("ssh") or not (user or url)) \
            else None
        if self.ssh:
            from .probes.openssh import version_command

            start_ahead(version_command(self.ssh), env=self.env, cwd=str(self.cwd))
        self.git = find_program("git", path) if wanted("git") and top_level(self.cwd) is not None else None
        if self.git:
            start_ahead((self.git, *FILTERS_QUERY[1:]), env=self.env, cwd=str(self.cwd))

    def then(self, ctx: Context) -> None:
        """With the context made: `ssh -G` on the laptop, and `git status` once `git config` has
        said which filters to switch off (only if it has already exited: this never waits)."""
        if ctx.env != self.env or ctx.cwd != self.cwd:
            return
        cwd = str(ctx.cwd)
        if self.ssh and ctx.side == "laptop":
            from .probes.openssh import CONFIG_ENV, config_command

            start_ahead(config_command(ctx, self.ssh), env={**ctx.env, **CONFIG_ENV}, cwd=cwd)
        from .probes.repo import FILTERS_QUERY, STATUS_ARGS, filter_drivers, safe_git

        if self.git and finished_ahead((self.git, *FILTERS_QUERY[1:]), env=ctx.env, cwd=cwd):
            filters = filter_drivers(ctx)  # collects that git config; the check reads the same answer
            if filters is not None:
                start_ahead((self.git, *safe_git(list(STATUS_ARGS), filters)[1:]), env=ctx.env, cwd=cwd)


def _make(assignment: Optional[str], redactor: Redactor, early: Optional[_Early], *, side: Optional[str],
          url: Optional[str], user: Optional[str], pubkey: Optional[str], home: Optional[str],
          procfs: Optional[str], sysfs: Optional[str], live: bool, fix: bool, timeout: float, verbose: bool,
          compare: Optional[str], expectations: Optional[object], env: Optional[Mapping[str, str]],
          platform: Optional[object], machine: Optional[str], expectations_file: Optional[str]) -> Context:
    import os
    from pathlib import Path

    from . import expectations as _exp
    from .context import Options
    from .platform import Platform
    from .probes.side import detect_side

    if isinstance(expectations, _exp.Expectations):
        exp = expectations
    elif expectations_file is not None:
        exp = _exp.load_file(expectations_file)
    else:
        exp = _exp.load(assignment)
    for name, value in (("--home", home), ("--procfs", procfs), ("--sysfs", sysfs)):
        if value is not None and not Path(value).is_dir():
            raise UsageError(f"{name} {value}: no such directory")
    ctx = Context(
        expectations=exp,
        home=Path(home).expanduser() if home else Path.home(),
        procfs=Path(procfs or "/proc"),
        sysfs=Path(sysfs or "/sys"),
        env=dict(os.environ if env is None else env),
        platform=platform or Platform.current(),  # type: ignore[arg-type]
        options=Options(url=url, user=user, pubkey=pubkey, live=live, fix=fix, timeout=timeout,
                        verbose=verbose, compare=compare),
        redactor=redactor,
    )
    machine = machine or os.environ.get("SELFCHECK_MACHINE")
    if machine:
        from .tools.machine import MachineError, apply

        try:
            apply(ctx, Path(machine))
        except (MachineError, OSError, KeyError, TypeError, ValueError) as exc:
            raise UsageError(str(exc) if isinstance(exc, (MachineError, OSError))
                             else f"{machine} is not a usable machine folder ({type(exc).__name__}: {exc})") from None
    if home:
        ctx.home = Path(home).expanduser()
    ctx.secret(ctx.env.get("JUPYTER_TOKEN"))  # the server's own token, inside the container
    if url:
        from .probes.jupyter import parse_url

        ctx.secret(parse_url(url).token)
    if side:
        ctx.side, ctx.side_reason = side, "given with --side"
    else:
        ctx.side, evidence = detect_side(ctx, ctx.hostname or _hostname())
        ctx.side_reason = "; ".join(evidence)
    if early is not None:
        early.then(ctx)
    return ctx


def run(ctx: Context, only: Optional[Iterable[str]] = None) -> Report:
    """Run the assignment's checks (narrowed by `only`) against the context."""
    from .registry import select

    try:
        specs = select(ctx.expectations.checks)
        if only:
            wanted = {spec.id for spec in select(only)}
            specs = [spec for spec in specs if spec.id in wanted] or select(only)
        return run_specs(ctx, specs)
    finally:
        discard_ahead()  # what make_context(ahead=...) started that no check asked for
