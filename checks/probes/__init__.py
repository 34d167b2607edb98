"""Probes: parsing and I/O helpers that return facts (never verdicts, never message text that
code later tests). Checks in `checks.areas` turn these facts into results."""
