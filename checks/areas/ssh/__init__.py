"""SSH keys and configuration, judged by OpenSSH's own rules (the `ssh.*` ids).

On the laptop: the client and ~/.ssh (`client`), the key ssh will offer (`key`), and how ssh
connects (`session`: config, agent, login). On the cluster: authorized_keys and sshd's
StrictModes walk (`server`). Each verdict follows what OpenSSH's code does (authfile.c,
readconf.c, auth2-pubkeyfile.c, misc.c: safe_path), proven in the tests against a real sshd and
ssh. Importing this package registers all of them, in report order.
"""

from __future__ import annotations

from pathlib import Path

from ...context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

DOCS = "lessons/ssh-keys.html"


def home_rel(ctx: Context, path: Path) -> str:
    """A path as the student would type it: ~/.ssh/id_ed25519."""
    return ctx.shown(path)


def shell_path(ctx: Context, path: Path) -> str:
    """A path as a command argument for the student's shell."""
    text = home_rel(ctx, path) if not ctx.platform.is_windows else str(path)
    return f'"{text}"' if " " in text else text


def tighten(ctx: Context, path: Path, mode: int) -> None:
    """With --fix, chmod to a stricter mode and record it. Never touches content."""
    if not ctx.options.fix or ctx.platform.is_windows:
        return
    before = ctx.platform.stat(path).mode
    if before & ~mode & 0o777 == 0:
        return
    ctx.platform.chmod(path, before & mode)
    ctx.note_change(f"chmod {before & mode:04o} {path} (was {before:04o})")


def icacls_fix(ctx: Context, path: Path, principals: List[str]) -> List[str]:
    p = f'"{path}"'
    commands = [f"icacls {p} /inheritance:r", f'icacls {p} /grant:r "%USERNAME%:F"']
    commands += [f'icacls {p} /remove:g "{who}"' for who in principals]
    return commands


# Importing the modules registers their checks, in report order (the registry keeps declaration
# order within an area), so the order of these lines matters.
# isort: off
from . import client  # noqa: E402,F401
from . import key  # noqa: E402,F401
from . import session  # noqa: E402,F401
from . import server  # noqa: E402,F401
# isort: on
