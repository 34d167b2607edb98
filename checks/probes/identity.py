"""Who the student is on the cluster: the username a report is filed under, and where it came from.

Instructors group reports by this name, so it must be the cluster username, never a guess that
three students share (a laptop account called `student`). In order:

1. `--user NAME`;
2. the Jupyter URL's `/user/<name>/`;
3. on the login node or the server: the login name there (it *is* the cluster account);
4. on the laptop: ssh's `User` for the login host (`ssh -G`), when it is set in ~/.ssh/config,
   that is, when it differs from this computer's own login name (ssh's default).

When none of these is known, the report keeps this computer's login name, marked as such
(`local_login`), and `selfcheck collect` does not take it for a cluster username.
"""

from __future__ import annotations

import os

from ..context import Context
from .jupyter import parsed_url
from .openssh import ssh_config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Tuple

# Where a report's `user` came from (public: the JSON report's `user_source`).
OPTION, URL, SSH_CONFIG, SERVER_LOGIN, LOCAL_LOGIN = "option", "url", "ssh_config", "server_login", "local_login"
CONFIRMED = (OPTION, URL, SSH_CONFIG, SERVER_LOGIN)


def local_names(ctx: Context) -> List[str]:
    """This machine's own login name(s), as the environment and the account database say."""
    names = [ctx.env.get(var, "") for var in ("USER", "LOGNAME", "USERNAME")]
    names.append(ctx.platform.user_name())
    if hasattr(os, "getuid"):  # the account ssh itself defaults to (getpwuid), whatever $USER says
        try:
            import pwd

            names.append(pwd.getpwuid(os.getuid()).pw_name)
        except (ImportError, KeyError):
            pass
    return [n for n in dict.fromkeys(names) if n]


def cluster_identity(ctx: Context) -> Tuple[str, str]:
    """(the student's cluster username, where it came from), or ("", "") when nothing is known."""
    if ctx.options.user:
        return ctx.options.user, OPTION
    from_url = parsed_url(ctx).user
    if from_url:
        return from_url, URL
    local = local_names(ctx)
    if ctx.side in ("server", "jumpbox"):
        return (local[0], SERVER_LOGIN) if local else ("", "")
    config = ssh_config(ctx)
    if config.from_ssh and config.user and config.user.lower() not in {n.lower() for n in local}:
        return config.user, SSH_CONFIG
    return (local[0], LOCAL_LOGIN) if local else ("", "")
