"""The tool's version: in every report, so an instructor knows which checks made it."""

__version__ = "0.1.0"
