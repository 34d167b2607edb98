"""Gradescope's results.json, as its autograder specification documents it
(gradescope-autograders.readthedocs.io, "Autograder Specifications", "Output format"): every field
it names, its type, and the values it allows. A file our exports write must pass this."""

from __future__ import annotations

from typing import Any, Dict, List

VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
TOP = {"score": (int, float), "execution_time": (int, float), "output": str, "output_format": str,
       "test_output_format": str, "test_name_format": str, "visibility": str, "stdout_visibility": str,
       "extra_data": dict, "tests": list, "leaderboard": list}
TEST = {"score": (int, float), "max_score": (int, float), "status": str, "name": str, "name_format": str,
        "number": str, "output": str, "output_format": str, "tags": list, "visibility": str, "extra_data": dict}


def validate_results(doc: Any) -> List[str]:
    """Every way `doc` departs from the documented results.json (empty when it is valid)."""
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    problems = _fields(doc, TOP, "results.json")
    if "score" not in doc and not all(isinstance(t, dict) and "score" in t for t in doc.get("tests", [])):
        problems.append("no top-level score, and a test without one")
    for i, test in enumerate(doc.get("tests", []) if isinstance(doc.get("tests"), list) else []):
        if not isinstance(test, dict):
            problems.append(f"tests[{i}] is not an object")
            continue
        problems += _fields(test, TEST, f"tests[{i}]")
        if test.get("status") not in (None, "passed", "failed"):
            problems.append(f"tests[{i}].status {test['status']!r} is not passed or failed")
        if isinstance(test.get("score"), (int, float)) and isinstance(test.get("max_score"), (int, float)) \
                and test["score"] > test["max_score"]:
            problems.append(f"tests[{i}] scores more than its max_score")
    return problems


def _fields(obj: Dict[str, Any], spec: Dict[str, Any], where: str) -> List[str]:
    problems = [f"{where} has a field Gradescope does not know: {k}" for k in obj if k not in spec]
    for key, kind in spec.items():
        if key in obj and (isinstance(obj[key], bool) or not isinstance(obj[key], kind)):
            problems.append(f"{where}.{key} has the wrong type ({type(obj[key]).__name__})")
    for key in ("visibility", "stdout_visibility"):
        if key in obj and obj[key] not in VISIBILITY:
            problems.append(f"{where}.{key} {obj[key]!r} is not one of {sorted(VISIBILITY)}")
    for key in ("output_format", "test_output_format", "test_name_format", "name_format"):
        if key in obj and obj[key] not in FORMATS:
            problems.append(f"{where}.{key} {obj[key]!r} is not one of {sorted(FORMATS)}")
    return problems


def test_the_validator_catches_what_gradescope_refuses() -> None:
    assert validate_results({"score": 1.0, "tests": []}) == []
    assert validate_results([]) == ["not a JSON object"]
    bad = {"tests": [{"name": "x", "status": "ok", "score": 2, "max_score": 1}], "visibility": "public", "grade": 1}
    problems = validate_results(bad)
    assert any("grade" in p for p in problems) and any("status" in p for p in problems)
    assert any("visibility" in p for p in problems) and any("more than" in p for p in problems)
