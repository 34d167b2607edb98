"""The shape check shared by the TOML files instructors write (assignments, sites).

A schema maps section -> key -> (allowed types, required, what is expected, field name); the
section "" is the top level. `walk` reports every unknown key, missing key and wrong type at
once, each message naming the key, and returns the values found under their field names.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

    Schema = Dict[str, Dict[str, Tuple[Tuple[type, ...], bool, str, str]]]


def walk(data: Mapping[str, Any], schema: Schema, values: Dict[str, Any],
         free: Optional[Mapping[str, Callable[[str, Dict[str, Any]], List[str]]]] = None) -> List[str]:
    """Check `data` against `schema`, putting what is valid into `values`; the problems found.

    `free` names sections whose keys are not fixed: each gets its table and says what is wrong.
    """
    problems: List[str] = []
    free = free or {}
    for key in data:
        if key not in schema and key not in schema[""]:
            problems.append(f"unknown key {short(key)} (known: {', '.join(known(schema, ''))})")
    for section, keys in schema.items():
        table: Any = data if section == "" else data.get(section, {})
        where = f"[{section}]" if section else "the top level"
        if not isinstance(table, dict):
            problems.append(f"{section!r} must be a table ([{section}])")
            continue
        if section in free:
            problems += free[section](section, table)
            continue
        for key in table:
            if section and key not in keys:
                problems.append(f"unknown key {section}.{short(key)[1:-1]} in {where} "
                                f"(known: {', '.join(known(schema, section))})")
        for key, (types, required, expected, attr) in keys.items():
            name = f"{section}.{key}" if section else key
            if key not in table:
                if required:
                    problems.append(f"missing {name}: expected {expected}")
                continue
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, types):
                problems.append(f"{name} is {describe(value)}: expected {expected}")
                continue
            values[attr] = value
    return problems


def short(value: Any) -> str:
    """A value as a message can quote it: repr() (control characters escaped), cut short."""
    try:
        text = repr(value)
    except RecursionError:  # pragma: no cover - the parser refuses what is this deep
        text = "a deeply nested value"
    return text if len(text) <= 60 else text[:57] + "..."


def known(schema: Schema, section: str) -> List[str]:
    if section:
        return list(schema[section])
    return list(schema[""]) + [f"[{s}]" for s in schema if s]


def describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a whole number", float: "a number", str: "a string",
             list: "a list", dict: "a table"}
    return f"{kinds.get(type(value), type(value).__name__)} ({short(value)})"


def rows(schema: Schema) -> List[Tuple[str, str, bool]]:
    """(key, what is expected, required) for every key: the instructor guide's tables."""
    out = []
    for section, keys in schema.items():
        for key, (_types, required, expected, _attr) in keys.items():
            out.append((f"{section}.{key}" if section else key, expected, required))
    return out
