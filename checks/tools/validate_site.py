"""`python3 -m checks validate-site sites/<name>`: check a site file (or folder) the way the book
build and the checks will read it. Exit 0 and a one-line summary when it is valid; exit 2 and the
problem, naming the key, when it is not."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, TextIO


def main(args: List[str], stdout: TextIO, stderr: TextIO) -> int:
    from ..site import SiteError, load_site

    if len(args) != 1 or args[0].startswith("-"):
        stderr.write("usage: validate-site sites/<name> (a site folder, or its site.toml)\n")
        return 2
    try:
        site = load_site(args[0])
    except SiteError as exc:
        stderr.write(f"{exc}\n")
        return 2
    stdout.write(f"{site.source}: valid. The site {site.name!r}: {site.cluster} ({site.launch_kind}), "
                 f"login host {site.login_host}, launch command: {site.values()['launch_command']}\n")
    return 0
