"""The tool's version: in every report, so an instructor knows which checks made it."""

__version__ = "0.1.0"

# Every version that ever made reports: `selfcheck collect` flags a report that names another.
RELEASES = ("0.1.0",)
