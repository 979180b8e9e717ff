"""Every operator command, fed generated garbage, answers with a one-line error (or does
its work): never a traceback, and a refused run changes nothing.

Hypothesis draws argument lists mixing each command's own options with garbage
values (NUL, lone surrogates, huge and tiny numbers, other options' names), and
for import_usage, files of garbage lines.
"""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.accounts.row_counts import row_counts

pytestmark = pytest.mark.django_db

# A valid run of each command; garbage replaces some of its values, or joins them.
VALID = {
    "adjust_credits": {"--org": "acme", "--credits": "5", "--reason": "goodwill",
                       "--actor": "admin@acme.test", "--request-id": "r-1"},
    "create_api_key": {"--org": "acme", "--name": "ci"},
    "create_organization": {"--slug": "initech", "--name": "Initech", "--plan": "professional",
                            "--admin-email": "boss@initech.test"},
    "charge_queued_usage": {"--org": "acme"},
    "expire_credits": {"--org": "acme"},
    "import_usage": {"--org": "acme", "--chunk-size": "10"},
    "simulate_usage": {"--org": "acme", "--days": "1", "--seed": "1", "--per-day": "1"},
    "sync_model_prices": {"--provider": "openai"},
    "create_starter_packages": {"--currency": "usd"},
    "run_auto_topups": {"--org": "acme"},
    "send_low_balance_alerts": {"--org": "acme"},
    "record_ledger_digest": {},
    "sync_schedules": {},
    "verify_ledger": {"--org": "acme"},
    "seed_demo": {},
}
# Inputs that once gave a traceback, always tried first.
KNOWN = {
    "adjust_credits": [
        ["--org", "acme", "--credits", "1e999999999999999999", "--reason", "x"],
        ["--org", "acme", "--credits", "5", "--reason", "chargeback\x00"],
        ["--org", "acme", "--credits", "5", "--reason", "x", "--actor", "a\x00@b.test"],
    ],
    "create_organization": [
        ["--slug", "initech", "--name", "Ini\x00tech", "--plan", "professional"],
        ["--slug", "initech", "--name", "Initech", "--plan", "professional",
         "--admin-email", "boss\x00@initech.test"],
    ],
    "create_api_key": [["--org", "acme", "--name", "ci\x00"],
                       ["--org", "acme", "--name", "\udcff"]],
    "verify_ledger": [["--org", "\udcff"], ["--org", "acme\x00"],
                      ["--digest", "2026-13-01"], ["--digest", "\x00"]],
    "create_starter_packages": [["--currency", "us\x00"], ["--currency", "\udcff"]],
}
# Commands whose valid run is long (each has its own module for that) always get
# at least one piece of garbage, so a run here stays short.
ALWAYS_GARBAGE = {"seed_demo", "sync_model_prices", "sync_schedules", "simulate_usage"}

any_char = st.characters(codec=None, categories=None)
values = st.one_of(
    st.text(alphabet=any_char, max_size=30),
    st.sampled_from([
        "acme", "acme\x00", "\ud800", "İ" * 300, "1e999999999999999999", "-1e-999999999",
        "1e99999999999999999999999999", "NaN", "-Infinity", "0", "-0", "10" * 20,
        "99999999999999.999999", "-99999999999999", "0.0000001", "free", "professional",
        "a@b.test", "--org", "-", "", " ",
    ]),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
)


@st.composite
def arguments(draw, command):
    valid = VALID[command]
    names = list(valid)
    parts, garbled = [], False
    for name, value in valid.items():
        action = draw(st.sampled_from(["keep", "keep", "garble", "drop"]))
        if action == "drop":
            garbled = garbled or name in ("--org", "--credits", "--reason", "--slug")
            continue
        if action == "garble":
            value, garbled = draw(values), True
        parts += [name, value]
    extra = draw(st.lists(st.tuples(st.sampled_from(names or ["--x"]) | values, values),
                          min_size=0 if garbled or command not in ALWAYS_GARBAGE else 1,
                          max_size=2))
    for name, value in extra:
        parts += [name, value]
    return parts


garbage_lines = st.lists(
    st.one_of(st.text(alphabet=any_char, max_size=60),
              st.sampled_from(['{"idempotency_key": "x", "type": ["ai_tokens"]}',
                               '{"idempotency_key": "y", "type": "infrastructure", '
                               '"meter": "bandwidth.egress_gb", "quantity": "99999999999999"}',
                               "[" * 5000, '{"quantity": 1e99999999999999999999}'])),
    max_size=5,
)


def run(command, args, tmp_path=None, lines=None):
    """(refused, output) of one run; any exception but CommandError fails the test."""
    if lines is not None:
        path = tmp_path / "events.jsonl"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
        args = [str(path), *args]
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err)
    except CommandError as error:  # printed as one "CommandError: ..." line, exit 1
        return True, str(error)
    except SystemExit as exit_:
        return exit_.code not in (0, None), err.getvalue()
    return False, out.getvalue()


@pytest.fixture
def world(org, admin_user):
    """An org with a member, so lookups that match reach further."""
    return org


@pytest.mark.parametrize("command", sorted(set(VALID) - {"import_usage"}))
def test_garbage_arguments_get_a_one_line_error_and_change_nothing(world, command):
    @settings(max_examples=50, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(args=arguments(command))
    def check(args):
        before = row_counts()
        refused, _ = run(command, args)
        if refused:
            assert row_counts() == before, args

    for args in KNOWN.get(command, []):
        check = example(args=args)(check)
    check()


def test_import_usage_of_garbage_files_never_crashes(world, tmp_path):
    from tests.billing.usage_fixtures import funded, seed_prices

    seed_prices()
    funded(world)

    @settings(max_examples=80, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(args=arguments("import_usage"), lines=garbage_lines)
    def check(args, lines):
        before = row_counts()
        refused, _ = run("import_usage", ["--no-progress", *args], tmp_path, lines)
        if refused:
            assert row_counts() == before, (args, lines)

    check()
