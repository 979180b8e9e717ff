"""Match rules: which model names mean a model, in genai-prices' own format.

A rule is JSON, one clause per object, as genai-prices writes its match logic:

    {"equals": "gpt-4o"}            the whole name
    {"starts_with": "gpt-4o-"}      a prefix       {"ends_with": "-latest"}  a suffix
    {"contains": "sonnet"}          a part         {"regex": "^o[134]"}      RE2 search
    {"or": [rule, ...]}             any of them    {"and": [rule, ...]}      all of them

Names are compared lower-cased; `compile_rule` turns a rule into a predicate once.
Regexes run on RE2 (linear time: a staff rule like `(a+)+$` cannot hold a worker); what
RE2 cannot run is refused when saved, except genai-prices' own few look-aheads, which
stay on Python's `re` (docs/decisions.md, "Match rules on RE2").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import re2

TEXT_CLAUSES = ("equals", "starts_with", "ends_with", "contains")
CLAUSES = (*TEXT_CLAUSES, "regex", "or", "and")
MAX_DEPTH = 8
MAX_TEXT = 500

Predicate = Callable[[str], bool]

RE2_OPTIONS = re2.Options()
RE2_OPTIONS.log_errors = False  # the refusal says why; no line on stderr


class InvalidRule(ValueError):
    """A rule that is not one of the clauses above; the message says what is wrong."""


def compile_rule(rule, *, depth: int = 0) -> Predicate:
    """A predicate over lower-cased names; InvalidRule when the rule is malformed."""
    if depth > MAX_DEPTH:
        raise InvalidRule(f"rules nest at most {MAX_DEPTH} levels deep")
    if not isinstance(rule, dict) or len(rule) != 1:
        raise InvalidRule(
            "a rule is an object with exactly one of: " + ", ".join(CLAUSES)
        )
    (clause, value), = rule.items()
    if clause in TEXT_CLAUSES or clause == "regex":
        if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
            raise InvalidRule(f'"{clause}" takes a text of 1 to {MAX_TEXT} characters')
        if clause == "regex":
            pattern = _compile_regex(value)
            return lambda name: pattern.search(name) is not None
        text = value.lower()
        if clause == "equals":
            return lambda name: name == text
        if clause == "starts_with":
            return lambda name: name.startswith(text)
        if clause == "ends_with":
            return lambda name: name.endswith(text)
        return lambda name: text in name
    if clause in ("or", "and"):
        if not isinstance(value, list) or not value:
            raise InvalidRule(f'"{clause}" takes a non-empty list of rules')
        parts = tuple(compile_rule(part, depth=depth + 1) for part in value)
        if clause == "or":
            return lambda name: any(part(name) for part in parts)
        return lambda name: all(part(name) for part in parts)
    raise InvalidRule(f"unknown clause {clause!r}: use one of " + ", ".join(CLAUSES))


def _compile_regex(value: str):
    try:
        return re2.compile(value, RE2_OPTIONS)
    except re2.error as error:
        if value in upstream_patterns():
            return re.compile(value)
        reason = error.args[0].decode() if error.args else "invalid"
        raise InvalidRule(
            f'"regex" {value!r} does not compile as a linear-time (RE2) pattern: {reason}'
        ) from None


@cache
def upstream_patterns() -> frozenset[str]:
    """Every regex the pinned genai-prices package ships in its match rules."""
    from genai_prices.data import providers  # the package's data, read once

    found: set[str] = set()

    def walk(clause):
        if clause is None:
            return
        if isinstance(getattr(clause, "regex", None), str):
            found.add(clause.regex)
        for name in ("or_", "and_"):
            for part in getattr(clause, name, None) or ():
                walk(part)

    for provider in providers:
        walk(provider.model_match)
        walk(provider.provider_match)
        for model in provider.models:
            walk(model.match)
    return frozenset(found)


def equals_names(rule) -> list[str]:
    """The names a rule names outright (its "equals" clauses outside any "and")."""
    if not isinstance(rule, dict) or len(rule) != 1:
        return []
    (clause, value), = rule.items()
    if clause == "equals" and isinstance(value, str):
        return [value.lower()]
    if clause == "or" and isinstance(value, list):
        return [name for part in value for name in equals_names(part)]
    return []


def rule_from_genai(clause) -> dict | None:
    """A genai-prices match clause (its dataclasses) as a JSON rule."""
    if clause is None:
        return None
    for name in ("or_", "and_"):
        parts = getattr(clause, name, None)
        if parts is not None:
            return {name.rstrip("_"): [rule_from_genai(part) for part in parts]}
    for name in CLAUSES:
        value = getattr(clause, name, None)
        if isinstance(value, str):
            return {name: value}
    raise InvalidRule(f"unsupported genai-prices clause {type(clause).__name__}")
