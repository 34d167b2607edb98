"""What the OpenSSH client will do: its version, what `ssh -G` says for the login host, and the
private keys it will offer (or never try).

`ssh -G` is asked with the student's own config file, so the answer is OpenSSH's own reading of
it (Host, Match, Include), not ours. It is asked so that it can run nothing: `Match exec` is the
one directive `ssh -G` executes, through the shell named by $SHELL, and ssh is given a shell that
does not exist, so where it would run such a command it stops instead, and the answer says that
the block cannot be judged. The config and its Includes are read first, to name the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from .._record import Record
from ..context import Context
from ..files import FileProblem
from . import keys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Set, Tuple


DEFAULT_IDENTITIES = ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa")


NOT_KEYS = {"config", "known_hosts", "known_hosts.old", "authorized_keys", "authorized_keys2", "environment", "rc"}


# ssh runs `Match exec` commands (and ProxyCommand) with $SHELL; this one cannot run.
NO_SHELL = "/nonexistent/selfcheck-runs-no-command-from-your-config"
MAX_INCLUDE_DEPTH = 16  # readconf.c's READCONF_MAX_DEPTH
MAX_CONFIG = 1 << 20


class ExecLine(Record):
    """A config line that makes ssh run a command while it reads the config."""

    path: Path
    line_no: int
    text: str


class SshConfig(Record):
    """What `ssh -G <login host>` says, or the defaults when ssh cannot be asked."""

    identity_files: Tuple[Path, ...]
    user: str
    hostname: str
    error: str = ""
    from_ssh: bool = False
    exec_lines: Tuple[ExecLine, ...] = ()  # `Match exec` lines in the config and its Includes
    would_exec: bool = False  # ssh would run one of them for the login host: its answer cannot be judged
    runs_commands: Tuple[str, ...] = ()  # what ssh would run when it connects: "proxycommand ...", ...


def ssh_version(ctx: Context) -> Tuple[Optional[str], str]:
    """(the `ssh -V` banner, the path of ssh) or (None, why)."""

    def compute() -> Tuple[Optional[str], str]:
        exe = ctx.which("ssh")
        if exe is None:
            return None, "no ssh program on PATH"
        proc = ctx.run(version_command(exe), timeout=5)
        banner = proc.output.strip().splitlines()[0] if proc.output.strip() else ""
        if proc.returncode is None or not banner:
            return None, proc.error or "ssh -V printed nothing"
        return banner, exe

    return ctx.memo("ssh.version", compute)


def ssh_config(ctx: Context) -> SshConfig:
    """The identity files, user and host name ssh will use for the login host."""

    def compute() -> SshConfig:
        host = ctx.expectations.login_host
        banner, exe = ssh_version(ctx)
        defaults = tuple(ctx.home / ".ssh" / name for name in DEFAULT_IDENTITIES)
        if banner is None:
            return SshConfig(defaults, ctx.options.user or "", host, error=exe)
        config = ctx.home / ".ssh" / "config"
        execs = tuple(exec_lines(ctx, config))
        if execs and ctx.platform.is_windows:  # Win32-OpenSSH runs it without $SHELL: do not ask ssh at all
            return SshConfig(defaults, ctx.options.user or "", host, exec_lines=execs, would_exec=True,
                             error="not asked: the config holds a Match exec line")
        proc = ctx.run(config_command(ctx, exe), timeout=5, env=CONFIG_ENV)
        if not proc.ok:
            if NO_SHELL in proc.stderr:
                return SshConfig(defaults, ctx.options.user or "", host, exec_lines=execs, would_exec=True,
                                 error="ssh would run a command from a Match exec block")
            why = proc.error if proc.timed_out or proc.returncode is None else ""
            first = why or (proc.stderr.strip().splitlines() or [proc.error or f"exit status {proc.returncode}"])[0]
            return SshConfig(defaults, ctx.options.user or "", host, error=f"ssh -G {host}: {first}",
                             exec_lines=execs)
        parsed = parse_ssh_g(proc.stdout)
        files = tuple(_expand(ctx, f) for f in parsed.get("identityfile", []))
        runs = tuple(f"{key} {parsed[key][0]}" for key in ("proxycommand", "knownhostscommand")
                     if parsed.get(key) and parsed[key][0].lower() != "none")
        if (parsed.get("permitlocalcommand") or ["no"])[0] == "yes" and parsed.get("localcommand"):
            runs += (f"localcommand {parsed['localcommand'][0]}",)
        return SshConfig(files or defaults, (parsed.get("user") or [""])[0],
                         (parsed.get("hostname") or [host])[0], from_ssh=True, exec_lines=execs, runs_commands=runs)

    return ctx.memo("ssh.config", compute)


def version_command(exe: str) -> List[str]:
    return [exe, "-V"]


CONFIG_ENV = {"SHELL": NO_SHELL}  # what `ssh -G` runs with, beside the context's environment


def config_command(ctx: Context, exe: str) -> List[str]:
    """`ssh -G` for the login host, reading this home's config (-F: whoever runs the check, tests
    run as root); `--` ends the options, so the host can never be read as one."""
    config = ctx.home / ".ssh" / "config"
    null = "NUL" if ctx.platform.is_windows else "/dev/null"
    return [exe, "-G", "-F", str(config) if config.is_file() else null, "--", ctx.expectations.login_host]


def exec_lines(ctx: Context, config: Path) -> List[ExecLine]:
    """The `Match ... exec` lines of a config file and of every file it Includes (as ssh finds
    them: relative to ~/.ssh, `~` for the home, glob patterns), read safely; never raises."""
    found: List[ExecLine] = []
    seen: Set[str] = set()

    def scan(path: Path, depth: int) -> None:
        key = str(path)
        if depth > MAX_INCLUDE_DEPTH or key in seen or len(seen) > 256:
            return
        seen.add(key)
        try:
            text = ctx.read_file(path, MAX_CONFIG, what="an ssh config file").text
        except FileProblem:
            return
        for number, line in enumerate(text.splitlines(), start=1):
            keyword, args = _config_words(line)
            if keyword == "match" and any(a.lower().lstrip("!") == "exec" for a in args):
                found.append(ExecLine(path, number, line.strip()))
            elif keyword == "include":
                for pattern in args:
                    for included in _include_targets(ctx, pattern):
                        scan(included, depth + 1)

    if config.exists():
        scan(config, 0)
    return found


def _config_words(line: str) -> Tuple[str, List[str]]:
    """(lowercase keyword, arguments) of an ssh_config line, quotes honoured as ssh does."""
    match = re.match(r"\s*([A-Za-z0-9]+)(?:\s*=\s*|\s+)(.*)$", line)
    if not match or line.lstrip().startswith("#"):
        return "", []
    rest = match.group(2)
    words = [m.group(1) if m.group(1) is not None else m.group(2) for m in re.finditer(r'"([^"]*)"|(\S+)', rest)]
    return match.group(1).lower(), words


def _include_targets(ctx: Context, pattern: str) -> List[Path]:
    import glob

    if pattern.startswith("~/") or pattern == "~":
        pattern = str(ctx.home) + pattern[1:]
    elif not Path(pattern).is_absolute():
        pattern = str(ctx.home / ".ssh" / pattern)
    try:
        return [Path(p) for p in sorted(glob.glob(pattern))[:64]]
    except (OSError, ValueError, RecursionError):
        return []


def _expand(ctx: Context, value: str) -> Path:
    value = value.strip('"')
    if value.startswith("~/") or value == "~":
        return ctx.home / value[2:]
    value = value.replace("%d", str(ctx.home)).replace("%u", ctx.platform.user_name())
    return Path(value) if Path(value).is_absolute() else ctx.home / value


def _looks_private(path: Path) -> Optional[keys.KeyFile]:
    """The file as a key file, when it is one (private or PuTTY), else None."""
    info = keys.read_key_file(path)
    if info.kind in ("openssh", "pem", "pkcs8", "putty"):
        return info
    return None


class KeyChoice(Record):
    """The private keys ssh will try for the login host, and keys it will never try."""

    offered: Tuple[keys.KeyFile, ...]
    stray: Tuple[keys.KeyFile, ...]
    config: SshConfig


def key_choice(ctx: Context) -> KeyChoice:
    def compute() -> KeyChoice:
        import os

        cfg = ssh_config(ctx)
        # Whatever is at a name ssh tries is looked at, so an empty file, a folder or a pipe there
        # is reported as what it is, not as "no key" (ssh-keygen would then offer to overwrite it).
        offered = [keys.read_key_file(path) for path in cfg.identity_files if os.path.lexists(path)]
        tried = {os.path.realpath(p) for p in cfg.identity_files if os.path.lexists(p)}
        stray = []
        ssh_dir = ctx.home / ".ssh"
        if ssh_dir.is_dir():
            try:
                children = sorted(ssh_dir.iterdir())[:1000]
            except OSError:
                children = []
            for path in children:
                if path.name in NOT_KEYS or path.suffix == ".pub" or not path.is_file() or os.path.realpath(path) in tried:
                    continue
                info = _looks_private(path)
                if info is not None:
                    stray.append(info)
        return KeyChoice(tuple(offered), tuple(stray), cfg)

    return ctx.memo("ssh.keys", compute)


def loadable_keys(ctx: Context) -> List[keys.KeyFile]:
    return [k for k in key_choice(ctx).offered if k.kind not in ("unreadable", "empty")]


def parse_ssh_g(text: str) -> Dict[str, List[str]]:
    """`ssh -G host` output → keyword → values (keywords repeat, e.g. identityfile)."""
    config: Dict[str, List[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or " " not in line:
            continue
        key, _, value = line.partition(" ")
        config.setdefault(key.lower(), []).append(value.strip())
    return config
