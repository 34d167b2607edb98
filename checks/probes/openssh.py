"""What the OpenSSH client will do: its version, what `ssh -G` says for the login host, and the
private keys it will offer (or never try).

`ssh -G` is asked with the student's own config file, so the answer is OpenSSH's own reading of
it (Host, Match, Include), not ours.
"""

from __future__ import annotations

from pathlib import Path

from .._record import Record
from ..context import Context
from . import keys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple


DEFAULT_IDENTITIES = ("id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa")


NOT_KEYS = {"config", "known_hosts", "known_hosts.old", "authorized_keys", "authorized_keys2", "environment", "rc"}


class SshConfig(Record):
    """What `ssh -G <login host>` says, or the defaults when ssh cannot be asked."""

    identity_files: Tuple[Path, ...]
    user: str
    hostname: str
    error: str = ""
    from_ssh: bool = False


def ssh_version(ctx: Context) -> Tuple[Optional[str], str]:
    """(the `ssh -V` banner, the path of ssh) or (None, why)."""

    def compute() -> Tuple[Optional[str], str]:
        exe = ctx.which("ssh")
        if exe is None:
            return None, "no ssh program on PATH"
        proc = ctx.run([exe, "-V"], timeout=5)
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
        null = "NUL" if ctx.platform.is_windows else "/dev/null"
        # -F makes ssh read this home's config, whoever runs the check (tests run as root).
        proc = ctx.run([exe, "-G", "-F", str(config) if config.is_file() else null, host], timeout=5)
        if not proc.ok:
            first = (proc.stderr.strip().splitlines() or [proc.error or "failed"])[0]
            return SshConfig(defaults, ctx.options.user or "", host, error=f"ssh -G {host}: {first}")
        parsed = parse_ssh_g(proc.stdout)
        files = tuple(_expand(ctx, f) for f in parsed.get("identityfile", []))
        return SshConfig(files or defaults, (parsed.get("user") or [""])[0],
                         (parsed.get("hostname") or [host])[0], from_ssh=True)

    return ctx.memo("ssh.config", compute)


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
        cfg = ssh_config(ctx)
        offered = []
        for path in cfg.identity_files:
            if path.is_file():
                offered.append(keys.read_key_file(path))
        tried = {p.resolve() for p in cfg.identity_files if p.exists()}
        stray = []
        ssh_dir = ctx.home / ".ssh"
        if ssh_dir.is_dir():
            for path in sorted(ssh_dir.iterdir()):
                if path.name in NOT_KEYS or path.suffix == ".pub" or not path.is_file() or path.resolve() in tried:
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
