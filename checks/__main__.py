"""`python -m checks` and `python3 selfcheck.pyz` start here."""

import sys

from checks.cli import main

if __name__ == "__main__":
    sys.exit(main())
