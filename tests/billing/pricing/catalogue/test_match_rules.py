"""Match rules: regexes run in linear time (RE2) or are refused when saved."""

import time

import pytest

from billing.admin.model_names import clean_rule
from billing.pricing.catalogue.match_rules import InvalidRule, compile_rule, upstream_patterns


def test_a_catastrophic_pattern_answers_at_once_on_a_long_name():
    """Python's re takes seconds on 24 a's and a '!' (doubling with each a); RE2 is linear."""
    matches = compile_rule({"regex": "(a+)+$"})
    started = time.perf_counter()
    assert not matches("a" * 24 + "!")
    assert not matches("a" * 199 + "!")
    assert time.perf_counter() - started < 0.1
    assert matches("aaaa")


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=gpt)gpt", "^(?!.*-mini)gpt", "(?<=x)y"])
def test_what_re2_cannot_run_linearly_is_refused_with_the_reason(pattern):
    with pytest.raises(InvalidRule, match="does not compile as a linear-time \\(RE2\\) pattern"):
        compile_rule({"regex": pattern})


def test_the_admin_form_refuses_it():
    with pytest.raises(Exception, match="linear-time"):
        clean_rule({"or": [{"equals": "x"}, {"regex": r"(a)\1"}]})


def test_patterns_genai_prices_ships_still_compile():
    """The pinned package's look-aheads (reviewed upstream) keep resolving as upstream does."""
    assert upstream_patterns()
    for pattern in upstream_patterns():
        compile_rule({"regex": pattern})
    tts = next(p for p in upstream_patterns() if p.startswith("^(?!.*-[tT][tT][sS]"))
    assert compile_rule({"regex": tts})("gpt-4o") and not compile_rule({"regex": tts})("x-tts")
