"""The Python packages installed here, read from their metadata folders, and a saved list of
them (`pip freeze`'s format) to compare against."""

from __future__ import annotations

import re

from ..context import Context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Optional, Tuple


def installed_packages(ctx: Context) -> Dict[str, str]:
    """Installed distributions' names (normalised) and versions, from their metadata folders.

    A `.dist-info` folder is named `<name>-<version>.dist-info` (the packaging spec), so one
    directory listing per path entry gives every version without parsing METADATA files or
    importing anything. Older `.egg-info` folders without a version in their name have it read
    from their PKG-INFO header.
    """
    import os

    found: Dict[str, str] = {}
    for entry in ctx.python_path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            stem, dot, kind = folder.rpartition(".")
            if kind not in ("dist-info", "egg-info") or not dot:
                continue
            name, sep, version = stem.partition("-")
            if kind == "egg-info" and (not sep or not version[:1].isdigit()):
                name, version = stem.split("-", 1)[0], _pkg_info_version(os.path.join(entry, folder))
            if name and version:
                found.setdefault(normalise(name), version.split("-", 1)[0])
    return found


def _pkg_info_version(path: str) -> str:
    import os

    target = os.path.join(path, "PKG-INFO") if os.path.isdir(path) else path
    from ..files import FileProblem, decode, open_regular

    try:
        with open_regular(target, 64 << 20, what="package metadata") as handle:
            for _ in range(200):  # the version is in the header, a few lines down
                line = decode(handle.readline(4096))[0]
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    break
    except (FileProblem, OSError):
        pass
    return ""


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_freeze(text: str) -> Dict[str, str]:
    """`pip freeze` lines (how reports of version 0.1 listed packages) as name → version."""
    found = {}
    for line in text.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name:
            found[normalise(name)] = version
    return found


def _plausible(versions: Dict[str, str]) -> Dict[str, str]:
    """Only names and versions that could be real: they are printed into a pip command."""
    return {name: version for name, version in versions.items()
            if re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,99}", name) and re.fullmatch(r"[A-Za-z0-9.+!_-]{1,64}", version)}


MAX_REPORT = 16 << 20  # a report with a thousand packages is under 200 KB


def load_compare(ctx: Context) -> Tuple[Optional[Dict[str, str]], str]:
    """The other side's package versions from its JSON report (--compare), or why not."""
    path = ctx.options.compare
    if not path:
        return None, ""
    import json

    from ..files import FileProblem, read_text

    try:
        doc = json.loads(read_text(path, MAX_REPORT, what="a self-check report").text)
    except FileProblem as exc:
        return None, f"cannot read {path}: it {exc.reason}"
    except ValueError as exc:
        return None, f"cannot read {path}: it is not a JSON report ({str(exc).splitlines()[0][:80]})"
    except RecursionError:
        return None, f"cannot read {path}: it is not a self-check report (its JSON is nested hundreds deep)"
    results = doc.get("results") if isinstance(doc, dict) else None
    for result in results if isinstance(results, list) else []:
        if isinstance(result, dict) and result.get("id") == "env.packages":
            observed = result.get("observed")
            installed = observed.get("installed") if isinstance(observed, dict) else None
            if isinstance(installed, str):
                return _plausible(parse_freeze(installed)), ""
            if isinstance(installed, dict):
                return _plausible({normalise(str(k)): str(v) for k, v in installed.items()}), ""
    return None, f"{path} has no env.packages result with package versions (make it with --json)"
