"""Tools around the checks: `collect` (a class's reports, for instructors), `explain` (error
messages to causes and fixes) and `machine` (captured or simulated machines)."""
