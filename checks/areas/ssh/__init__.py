"""SSH keys and configuration, judged by OpenSSH's own rules (the `ssh.*` ids).

On the laptop: the client and ~/.ssh (`client`), the key ssh will offer (`key`), and how ssh
connects (`session`: config, agent, login). On the cluster: authorized_keys and sshd's
StrictModes walk (`server`). Each verdict follows what OpenSSH's code does (authfile.c,
readconf.c, auth2-pubkeyfile.c, misc.c: safe_path), proven in the tests against a real sshd and
ssh. Importing this package registers all of them, in report order.
"""

from __future__ import annotations

# Importing the modules registers their checks, in report order (the registry keeps declaration
# order within an area), so the order of these lines matters.
# isort: off
from . import client  # noqa: F401
from . import key  # noqa: F401
from . import session  # noqa: F401
from . import server  # noqa: F401
# isort: on
