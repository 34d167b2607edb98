"""Markdown generated from the checks package for the book's reference pages.

Every string that comes from the checks (docstrings, titles, fix texts, messages) goes through
`text()` or `code()`, so nothing in it is read as Markdown or HTML: `<you>` stays `<you>`.
Only `checks.registry`, `checks.tools.explain.PATTERNS` and `checks.expectations` are used.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

AREA_TITLES = {"env": "Where you are and your environment", "ssh": "SSH keys and configuration",
               "tunnel": "The Jupyter tunnel (port forward)", "resources": "Server resources",
               "git": "Keeping code in sync"}
SIDES = ("laptop", "jumpbox", "server")
_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_TRAILING_COMMENT = re.compile(r"\s+#\s+([^'\"#\n]+?)\s*$")
_POWERSHELL = re.compile(r"\$env:|\$HOME\\|\bGet-[A-Z]|\bSet-[A-Z]|\bicacls\b|\bfindstr\b|\btaskkill\b")


def text(value: str) -> str:
    """Markdown for a generated string: `backticks` become code, everything else is literal."""
    value = " ".join(str(value).split())
    parts = value.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: show the text as it is
        parts = [value]
    return "".join(code(part) if i % 2 else _PUNCT.sub(r"\\\1", part) for i, part in enumerate(parts))


def code(value: str) -> str:
    """An inline code span holding `value` exactly (a fence longer than any backtick run in it)."""
    value = " ".join(str(value).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def cell(markdown: str) -> str:
    """Markdown made safe for a table cell (one line, pipes escaped outside escapes already made)."""
    return re.sub(r"(?<!\\)\|", r"\\|", markdown.replace("\n", " "))


def command_block(command: str, indent: str = "") -> List[str]:
    """One command in its own fenced block: one copy button, one runnable thing.

    A trailing `# note` (e.g. "# Windows") becomes a label above the block: pasted into zsh,
    where interactive comments are off, it would turn into arguments.
    """
    lines: List[str] = []
    note = _TRAILING_COMMENT.search(command)
    if note:
        command = command[:note.start()]
        lines += [f"{indent}{text(note.group(1))}:", ""]
    fence = "`" * max(3, max((len(run) + 1 for run in re.findall(r"`+", command)), default=0))
    lang = "powershell" if _POWERSHELL.search(command) else "bash"
    return lines + [f"{indent}{fence}{lang}", *(f"{indent}{line}" for line in command.splitlines()), f"{indent}{fence}"]


def fix_parts(fix: Any) -> Tuple[str, Tuple[str, ...]]:
    """A registry fix as (sentence, commands): a plain string today, a Fix-like object later."""
    sentence = getattr(fix, "text", None)
    if sentence is None:
        return str(fix), ()
    return str(sentence), tuple(str(c) for c in (getattr(fix, "commands", None) or ()))


def explained() -> List[Tuple[Any, str, Tuple[str, ...]]]:
    """Each message `explain` knows, with the fix it gives for its own example: (pattern, text, commands)."""
    from pathlib import Path

    from checks.shell import Shell
    from checks.tools.explain import PATTERNS

    # The examples' paths are under /home/you: the book's fixes are written for that home, so they
    # say ~/.ssh/config, which works pasted on any machine, not the builder's or a made-up path.
    shell = Shell(Path("/home/you"))
    out = []
    for pattern in PATTERNS:
        sentence, commands = "", ()
        match = pattern.regex.search(pattern.example)
        if match is not None:
            try:
                fix = pattern.fix(match, shell)
            except Exception:
                fix = None
            if fix is not None:
                sentence, commands = fix_parts(fix)
        out.append((pattern, sentence, commands))
    return out


def message_anchor(pattern: Any) -> str:
    return "message-" + re.sub(r"[^a-z0-9]+", "-", str(pattern.name).lower()).strip("-")


def _sides(spec: Any) -> str:
    return ", ".join(s for s in SIDES if s in spec.sides)


def _ref(label: str, title_markdown: str) -> str:
    """A link to a label on this page; its text is Markdown already escaped by `text` or `code`."""
    return f"[{title_markdown}](#{label})"


def _message_entry(pattern: Any, sentence: str, commands: Sequence[str], spec_by_id: Dict[str, Any]) -> List[str]:
    out = [f"({message_anchor(pattern)})=", f"#### {code(pattern.example)}", "",
           f"**What it means:** {text(pattern.cause)}", ""]
    if sentence:
        out += [f"**What to do:** {text(sentence)}", ""]
    for command in commands:
        out += command_block(command) + [""]
    spec = spec_by_id.get(pattern.check)
    target = _ref(spec.anchor, code(spec.id)) if spec is not None else code(pattern.check)
    out += [f"**The check that confirms it:** {target}", ""]
    return out


def _check_entry(spec: Any, messages: List[Any], kind: str = "") -> List[str]:
    out = [f"({spec.anchor})=", f"### {code(spec.id)}: {text(spec.title)}", "",
           f"**Checks:** {text(spec.description)}", ""]
    if spec.explanation:
        out += [text(spec.explanation), ""]
    live = " (only with the live option, " + code("--live") + ")" if spec.live else ""
    out += [f"**Runs on:** {text(_sides(spec))}{live}", ""]
    if spec.requires:
        out += ["**Needs first:** " + ", ".join(code(r) for r in spec.requires), ""]
    fixes = [fix for fix in spec.fixes if not kind or getattr(fix, "applies_to", lambda _kind: True)(kind)]
    if fixes:
        out += ["**Fixes it can suggest:**", ""]
        for fix in fixes:
            sentence, commands = fix_parts(fix)
            out += [f"- {text(sentence)}"]
            for command in commands:
                out += [""] + command_block(command, indent="  ")
            out += [""]
    if messages:
        out += ["**Messages it confirms:** " + ", ".join(_ref(message_anchor(p), code(p.example)) for p in messages), ""]
    return out


def troubleshooting_markdown(kind: str = "") -> str:
    """The generated part of the troubleshooting page: the known messages, then every check by area
    (with the fixes that apply on a cluster of this `kind`, a site's launch.kind; "": all)."""
    from checks.registry import all_checks

    specs = all_checks()
    spec_by_id = {spec.id: spec for spec in specs}
    messages = explained()
    areas: List[str] = []
    for spec in specs:
        if spec.area not in areas:
            areas.append(spec.area)

    def area_of(pattern: Any) -> str:
        spec = spec_by_id.get(pattern.check)
        return spec.area if spec is not None else str(pattern.check).split(".", 1)[0]

    out = ["(known-messages)=", "## Error messages the self-check knows", "",
           "Find the message you saw; the link leads to what it means and what to do.", "",
           "| When you see | Area |", "|---|---|"]
    for pattern, _, _ in messages:
        area = area_of(pattern)
        out.append(f"| {cell(_ref(message_anchor(pattern), code(pattern.example)))} | "
                   f"{cell(_ref('area-' + area, text(AREA_TITLES.get(area, area))))} |")
    out.append("")
    for area in areas:
        in_area = [s for s in specs if s.area == area]
        out += [f"(area-{area})=", f"## {text(AREA_TITLES.get(area, area))}", "",
                "| Check | What it checks | Runs on |", "|---|---|---|"]
        out += [f"| {cell(_ref(s.anchor, code(s.id)))} | {cell(text(s.title))} | {cell(text(_sides(s)))} |" for s in in_area]
        out.append("")
        in_messages = [m for m in messages if area_of(m[0]) == area]
        if in_messages:
            out += [f"(messages-{area})=", "### Messages you may see", ""]
            for pattern, sentence, commands in in_messages:
                out += _message_entry(pattern, sentence, commands, spec_by_id)
        for spec in in_area:
            out += _check_entry(spec, [p for p, _, _ in messages if p.check == spec.id], kind)
    return "\n".join(out)


def expectations_markdown(assignment: Optional[str]) -> str:
    """An assignment's expectations as a two-column table, from the file the checks read: only the
    rows that the assignment's checks use (no RSA row for an assignment that refuses RSA)."""
    from checks import expectations
    from checks.registry import select

    exp = expectations.load(assignment or expectations.default_assignment())
    ids = {spec.id for spec in select(exp.checks)}

    def uses(*prefixes: str) -> bool:
        return any(i == p or i.startswith(p + ".") for i in ids for p in prefixes)

    rows: List[Tuple[str, str]] = [("Login host", code(exp.login_host))]
    if exp.launch_script:  # a Slurm site has none: the launch command below says it all
        rows.append(("Launch script", code(exp.launch_script) + (f" (GPU: {code(exp.gpu_launch_script)})" if exp.gpus else "")))
    if uses("resources.cpus"):
        rows.append(("CPUs", text(f"{exp.cpus:g}")))
    if uses("resources.memory"):
        rows.append(("Memory", text(f"{exp.memory_gb:g} GB")))
    if uses("resources.gpus"):
        rows.append(("GPUs", text(str(exp.gpus))))
    if uses("resources.disk"):
        rows.append(("Free disk space", text(f"at least {exp.min_free_disk_gb:g} GB")))
    rows.append(("Launch command", code(exp.launch_command())))
    if uses("tunnel"):
        rows.append(("Local port for the tunnel", text(str(exp.local_port))))
    if uses("ssh.key.type"):
        rows.append(("SSH key types accepted", text(", ".join(exp.key_types))))
        if "rsa" in exp.key_types:
            rows.append(("Smallest RSA key", text(f"{exp.min_rsa_bits} bits (recommended: {exp.recommended_rsa_bits})")))
    if exp.python and uses("env.python"):
        rows.append(("Python", code(exp.python)))
    if uses("env.packages"):
        rows += [(f"Package {code(name)}", code(spec)) for name, spec in exp.packages]
    return "\n".join(["| Expectation | Value |", "|---|---|"] + [f"| {cell(k)} | {cell(v)} |" for k, v in rows])


def grading_markdown(assignment: Optional[str]) -> str:
    """What `selfcheck collect` scores for an assignment: each check, on which report, for how many points."""
    from checks import expectations
    from checks.registry import get
    from checks.tools.grading import requirements

    reqs = requirements(expectations.load(assignment or expectations.default_assignment()))
    rows = ["| Check | What it checks | Report | Points |", "|---|---|---|---|"]
    rows += [f"| {{ref}}`{r.check} <{get(r.check).anchor}>` | {cell(text(get(r.check).title))} | {r.half} "
             f"| {r.points:g} |" for r in reqs]
    rows.append(f"| | **Total** | | **{sum(r.points for r in reqs):g}** |")
    return "\n".join(rows)


def schema_markdown() -> str:
    """Every key of an expectations file, from the validator itself."""
    from checks.expectations import schema_rows

    rows = ["| key | expected | required |", "|---|---|---|"]
    rows += [f"| {cell(code(key))} | {cell(text(what))} | {'yes' if required else 'no'} |"
             for key, what, required in schema_rows()]
    return "\n".join(rows)


def site_schema_markdown() -> str:
    """Every key of a site file (sites/<name>/site.toml), from the validator itself."""
    from checks.site import schema_rows

    rows = ["| key | expected | required |", "|---|---|---|"]
    rows += [f"| {cell(code(key))} | {cell(text(what))} | {'yes' if required else 'no'} |"
             for key, what, required in schema_rows()]
    return "\n".join(rows)


def site_values_markdown(name: str) -> str:
    """The values pages may write as {{ site.<key> }}, with this site's text."""
    from checks.site import load_site

    rows = ["| key | this site's value |", "|---|---|"]
    rows += [f"| {cell(code('site.' + key))} | {cell(code(value) if value else '(empty)')} |"
             for key, value in sorted(load_site(name).values().items())]
    return "\n".join(rows)
