"""`python -m checks` and `python3 selfcheck.pyz` start here."""

import sys

if sys.version_info < (3, 9):  # plain syntax: an old Python must get this far and say so (exit 2: usage)
    sys.stderr.write("selfcheck needs Python 3.9 or newer, and this is Python %d.%d: try python3.11 or "
                     "python3.12, or your course notebook (import checks)\n" % sys.version_info[:2])
    sys.exit(2)

from checks.cli import main  # after the version check, on purpose

if __name__ == "__main__":
    sys.exit(main())
