"""A lint for Windows PowerShell 5.1 commands, the shell Windows 10 and 11 open.

There is no PowerShell here (it is not a Debian package), so the commands the checker prints for
Windows are not executed: they are read by this lint, which knows the mistakes a bash habit brings
into PowerShell 5.1. It tokenizes like PowerShell (single- and double-quoted strings, `$(...)`,
script blocks, hash tables, pipelines) and reports:

- `&&` and `||` (PowerShell 7 only), `%VAR%` (cmd's syntax, not expanded by PowerShell), `/dev/null`,
  redirection to a file with `>` (UTF-16 in 5.1), and `<` (reserved, a parse error);
- a command that is not a cmdlet or program of a stock Windows 10/11 (grep, nano, chmod, du, sudo,
  ssh-copy-id, ...), with the few exceptions named in ALLOWED_EXTRA;
- `~` given to a native program, which does not expand it (ssh's remote command is for the remote
  shell, and is allowed it);
- a bare native argument holding a comma (PowerShell would pass an array) or starting with `@`;
- a path with a space that is not inside quotes (the caller names the paths to look for).
"""

from __future__ import annotations

import re
from typing import List, Sequence, Tuple

# Cmdlets in Windows PowerShell 5.1 as shipped with Windows 10/11 (the ones our fixes may use).
CMDLETS = {
    "add-content", "add-windowscapability", "foreach-object", "get-acl", "get-childitem", "get-content",
    "get-nettcpconnection", "get-process", "get-service", "measure-object", "move-item", "new-item",
    "out-file", "remove-item", "select-object", "select-string", "set-content", "set-service", "sort-object",
    "start-service", "stop-process", "where-object", "write-output",
}
# Programs in C:\Windows\System32 (OpenSSH's client is an optional feature installed by default
# since Windows 10 1809).
PROGRAMS = {"ssh", "ssh-keygen", "ssh-add", "scp", "icacls", "notepad", "netstat", "tasklist", "whoami", "where.exe"}
# Not stock, and why they may still appear.
ALLOWED_EXTRA = {
    "py": "the Python launcher that runs the checker itself",
    "python": "the Microsoft Store's Python, when that is what runs the checker",
    "git": "git.sync runs only where git is installed",
    "jupyter": "tunnel.user suggests it only when a Jupyter of the student's own holds the port",
}
KNOWN = CMDLETS | PROGRAMS | set(ALLOWED_EXTRA)
NATIVE = PROGRAMS | {"py", "python", "git", "jupyter"}


class Token:
    def __init__(self, text: str, kind: str) -> None:
        self.text = text
        self.kind = kind  # "word", "squote", "dquote", "op", "open", "close", "expr"

    def __repr__(self) -> str:
        return f"{self.kind}:{self.text}"


def _read_dquote(command: str, i: int) -> int:
    """The index after a double-quoted string starting at i (backtick escapes, nested $(...))."""
    i += 1
    depth = 0
    while i < len(command):
        c = command[i]
        if c == "`":
            i += 2
            continue
        if command.startswith("$(", i):
            depth += 1
            i += 2
            continue
        if c == ")" and depth:
            depth -= 1
        elif c == '"' and not depth:
            return i + 1
        i += 1
    raise ValueError("an unclosed double quote")


def tokenize(command: str) -> List[Token]:
    tokens: List[Token] = []
    i = 0
    while i < len(command):
        c = command[i]
        if c in " \t":
            i += 1
        elif c == "'":
            j = i + 1
            while True:
                j = command.find("'", j)
                if j < 0:
                    raise ValueError("an unclosed single quote")
                if command.startswith("''", j):
                    j += 2
                    continue
                break
            tokens.append(Token(command[i:j + 1], "squote"))
            i = j + 1
        elif c == '"':
            j = _read_dquote(command, i)
            tokens.append(Token(command[i:j], "dquote"))
            i = j
        elif command.startswith(("&&", "||", "2>&1", ">>", "@{", "@("), i):
            op = next(o for o in ("&&", "||", "2>&1", ">>", "@{", "@(") if command.startswith(o, i))
            tokens.append(Token(op, "open" if op in ("@{", "@(") else "op"))
            i += len(op)
        elif c in "|;<>":
            tokens.append(Token(c, "op"))
            i += 1
        elif c in "({":
            tokens.append(Token(c, "open"))
            i += 1
        elif c in ")}":
            tokens.append(Token(c, "close"))
            i += 1
        else:
            j = i
            while j < len(command) and command[j] not in " \t|;<>(){}'\"" and not command.startswith(("@{", "@("), j):
                j += 1
            tokens.append(Token(command[i:j], "word"))
            i = j
    return tokens


def lint(command: str, paths_with_spaces: Sequence[str] = ()) -> List[str]:
    """What is wrong with `command` as typed into Windows PowerShell 5.1 (empty when nothing)."""
    problems: List[str] = []
    command = re.sub(r"<[A-Za-z][A-Za-z .'-]*>", "X", command)  # placeholders the student fills in
    try:
        tokens = tokenize(command)
    except ValueError as exc:
        return [f"does not parse: {exc}"]
    # Statement starts: the first word, after | ; { ( and at a pipeline's start.
    stack: List[str] = []
    expect_command = True
    current: Tuple[str, bool] = ("", False)  # (command name, native)
    args_after_target = 0
    for tok in tokens:
        if tok.kind == "op":
            if tok.text in ("&&", "||"):
                problems.append(f"{tok.text} is PowerShell 7 syntax, an error in Windows PowerShell 5.1")
            elif tok.text in (">", ">>"):
                problems.append(f"'{tok.text}' writes UTF-16 in PowerShell 5.1 (use Out-File -Encoding ascii)")
            elif tok.text == "<":
                problems.append("'<' is reserved in PowerShell (a parse error)")
            if tok.text in ("|", ";"):
                expect_command = True
            continue
        if tok.kind == "open":
            stack.append(tok.text)
            expect_command = tok.text in ("(", "{")
            continue
        if tok.kind == "close":
            if not stack:
                problems.append("an unmatched closing bracket")
            else:
                stack.pop()
            expect_command = False
            continue
        in_table = bool(stack) and stack[-1] == "@{"
        text = tok.text
        if "/dev/null" in text:
            problems.append("/dev/null does not exist on Windows")
        if tok.kind != "squote" and re.search(r"%[A-Za-z_][A-Za-z0-9_]*%", text):
            problems.append(f"{text}: %VAR% is cmd's syntax; PowerShell writes $env:VAR")
        if expect_command and not in_table:
            expect_command = False
            if tok.kind == "word" and not text.startswith(("$", "[", "@")) and not re.match(r"^[\d.]", text):
                name = text.lower()
                if name not in KNOWN:
                    problems.append(f"{text}: not a cmdlet or program of a stock Windows 10/11")
                current = (name, name in NATIVE)
                args_after_target = 0
            continue
        name, native = current
        if not native:
            continue
        if name == "ssh" and tok.kind in ("squote", "dquote") and args_after_target:
            continue  # the remote command, for the login node's shell
        if name == "ssh" and re.search(r"@", text) and not text.startswith("-"):
            args_after_target = 1
        if "~" in text:
            problems.append(f"{text}: '~' is not expanded for {name}; use $HOME")
        if tok.kind == "word":
            if "," in text:
                problems.append(f"{text}: a bare comma makes PowerShell pass an array; quote it")
            if text.startswith("@"):
                problems.append(f"{text}: '@' starts a splat in PowerShell; quote it")
    if stack:
        problems.append("an unclosed bracket")
    for path in paths_with_spaces:
        quoted = " ".join(t.text for t in tokens if t.kind in ("squote", "dquote"))
        if command.count(path) != quoted.count(path):
            problems.append(f"the path {path!r} is not inside quotes")
    return problems
