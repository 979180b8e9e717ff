"""The mutation run over the money paths (`make mutants`; docs/testing.md).

Runs mutmut on one money module at a time, each against the test modules that
own it (MUTANT_TESTS, read by tests/conftest.py), then prints the score of each
module and every surviving mutant. The money write path (ON_POSTGRES: the ledger's
store and writers, the chain, digests, usage charges, counters, disputes, auto-topup,
webhooks) runs on PostgreSQL always, with its database tests; the others on SQLite, or
on PostgreSQL with --postgres.
PostgreSQL's database is MUTANT_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/credits_mutants): its test database is built
per module, with every migration (the guard triggers), then reused by each mutant's run.

    .venv/bin/python tests/mutants.py                  # every money module
    .venv/bin/python tests/mutants.py billing.money    # some of them
    .venv/bin/python tests/mutants.py --report         # only the table of the last run
    .venv/bin/python tests/mutants.py --report --show  # ... and what each survivor changes
    .venv/bin/python tests/mutants.py --sample=4       # every 4th mutant of each module
    .venv/bin/python tests/mutants.py --skip-killed    # only what the last run did not kill
    .venv/bin/python tests/mutants.py --postgres billing.ledger.chain  # on PostgreSQL

--skip-killed is sound only when tests were added since the last run, none changed or
removed: a mutant that tests killed is then still killed.

The hypothesis state machines and the concurrency tests are left out on purpose: a
mutant must be caught by a deterministic test.
"""

import ast
import difflib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = Path(sys.executable).parent / "mutmut"

LEDGER_TESTS = [
    "tests/billing/ledger/test_book.py",
    "tests/billing/ledger/test_burn_down.py",
    "tests/billing/ledger/test_fingerprints.py",
    "tests/billing/ledger/test_corrections.py",
    "tests/billing/ledger/test_adjust_credits_command.py",
    "tests/billing/ledger/test_expire_credits_command.py",
    "tests/billing/ledger/test_expiry.py",
]
VERIFY_TESTS = [
    "tests/billing/ledger/test_chain.py",
    "tests/billing/ledger/test_verify.py",
    "tests/billing/ledger/test_immutability.py",
    "tests/billing/ledger/test_verify_ledger_command.py",
    "tests/billing/ledger/test_keyed_chain.py",
    "tests/billing/ledger/test_digests.py",
]
PURCHASE_TESTS = [
    "tests/billing/purchases/test_fulfilment.py",
    "tests/billing/purchases/test_refunds.py",
    "tests/billing/purchases/test_held.py",
    "tests/billing/refunds/test_confirmed.py",
    "tests/billing/refunds/test_topup_refunds.py",
    "tests/billing/demo/test_first_purchase.py",
    "tests/billing/webhooks/test_webhook_view.py",
]
USAGE_TESTS = [
    "tests/billing/usage/test_events.py",
    "tests/billing/usage/ingestion/test_record.py",
    "tests/billing/usage/ingestion/test_refusal_messages.py",
    "tests/billing/usage/rollup/test_totals.py",
    "tests/billing/api/test_usage_events.py",
]
TOPUP_TESTS = [  # the hypothesis state machine is left out, as for the ledger
    "tests/billing/topups/test_settlement.py",
    "tests/billing/topups/test_attempts.py",
    "tests/billing/topups/test_runner.py",
    "tests/billing/topups/test_cards.py",
    "tests/billing/topups/test_stripe_errors.py",
    "tests/billing/topups/test_run_auto_topups_command.py",
]

USAGE_CHARGE_TESTS = [
    "tests/billing/ledger/test_usage_charges.py",
    "tests/billing/ledger/test_verify_usage.py",
    "tests/billing/ledger/test_verify_usage_sql.py",
    "tests/billing/usage/ingestion/test_charge_path.py",
    "tests/billing/usage/ingestion/test_record.py",
    "tests/billing/pricing/quotes/test_breakdown_text.py",
]

STORE_TESTS = [
    "tests/billing/ledger/store/test_copy_format.py",
    "tests/billing/ledger/store/test_postgres.py",
    "tests/billing/ledger/store/test_one_statement.py",
    "tests/billing/ledger/test_database_attacks.py",
    "tests/billing/ledger/test_immutability.py",
    "tests/billing/usage/ingestion/test_charge_path.py",
    *LEDGER_TESTS,
]

# money module -> the test modules that own it
MODULES = {
    "billing.money": ["tests/billing/test_money.py", "tests/billing/ledger/test_book.py",
                      "tests/billing/pricing/quotes/test_price_book.py"],
    "billing.ledger.book": LEDGER_TESTS,
    "billing.ledger.corrections": LEDGER_TESTS,
    "billing.ledger.expiry": LEDGER_TESTS,
    # the pinned encodings of every version; the terms a grant's entry commits (test_book)
    "billing.ledger.chain": [*VERIFY_TESTS, "tests/billing/ledger/test_fingerprints.py",
                             "tests/billing/ledger/test_chain_versions.py",
                             "tests/billing/ledger/test_book.py"],
    "billing.ledger.verify": VERIFY_TESTS,
    "billing.purchases.refunds": PURCHASE_TESTS,
    "billing.purchases.fulfilment": PURCHASE_TESTS,
    "billing.refunds.confirmed": PURCHASE_TESTS,
    "billing.payments.charges": [*PURCHASE_TESTS, "tests/billing/disputes/test_chargebacks.py"],
    "billing.pricing.quotes.price_book": ["tests/billing/pricing/quotes/test_price_book.py",
                                          "tests/billing/pricing/quotes/test_price_book_lookups.py"],
    "billing.usage.events": USAGE_TESTS,
    "billing.usage.ingestion.record": USAGE_TESTS,
    "billing.usage.rollup.totals": USAGE_TESTS,
    "billing.webhooks.dispatcher": ["tests/billing/webhooks/test_webhook_view.py"],
    "billing.topups.attempts": TOPUP_TESTS,
    "billing.topups.settlement": TOPUP_TESTS,
    # the attacks: history written into the past, digests deleted, the mailed fingerprint
    "billing.ledger.digests": [*VERIFY_TESTS, "tests/billing/ledger/test_database_attacks.py"],
    "billing.disputes.chargebacks": ["tests/billing/disputes/test_chargebacks.py",
                                     "tests/billing/disputes/test_dispute_steps.py"],
    "billing.ledger.store.postgres": STORE_TESTS,
    "billing.ledger.store.one_statement": STORE_TESTS,
    "billing.ledger.store.copy_format": STORE_TESTS,
    "billing.ledger.usage_charges": USAGE_CHARGE_TESTS,
    "billing.ledger.verify_counters": ["tests/billing/ledger/test_verify_counters.py",
                                       "tests/billing/disputes/test_chargebacks.py"],
}
# Run on PostgreSQL always: the ledger's store and writers (only PostgreSQL runs them), and
# the money write path whose tests are partly `postgres` ones (row locks, the guard
# triggers, the jsonb text, the counters changed in SQL): on SQLite those are skipped.
ON_POSTGRES = {"billing.ledger.store.postgres", "billing.ledger.store.one_statement",
               "billing.ledger.store.copy_format", "billing.ledger.chain",
               "billing.ledger.digests", "billing.ledger.usage_charges",
               "billing.ledger.verify_counters", "billing.disputes.chargebacks",
               "billing.topups.attempts", "billing.topups.settlement",
               "billing.webhooks.dispatcher"}
POSTGRES_URL = os.environ.get("MUTANT_DATABASE_URL",
                              "postgres://postgres@127.0.0.1:5432/credits_mutants")

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", None: "not checked"}


def test_environment(module: str, *, postgres: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # SQLite
    env["MUTANT_TESTS"] = ",".join(MODULES[module])
    if postgres or module in ON_POSTGRES:
        env["DATABASE_URL"] = POSTGRES_URL
        # --no-migrations (pyproject's) only applies when a test database is created:
        # prepare_postgres() made it with the migrations, and every run reuses it.
        env["PYTEST_ADDOPTS"] = "--reuse-db"
    return env


def prepare_postgres() -> int:
    """Build the test database once, from the unmutated code, with every migration."""
    env = {**os.environ, "DATABASE_URL": POSTGRES_URL}
    print(f"== the PostgreSQL test database of {POSTGRES_URL}: built with its migrations",
          flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-p", "no:randomly", "--create-db", "--reuse-db",
                            "tests/billing/ledger/store/test_one_statement.py"],
                           cwd=ROOT, env=env)


def run(module: str, names: list[str] | None = None, *, postgres: bool = False) -> int:
    """mutmut over the module's mutants (or only `names`), against its own test modules."""
    env = test_environment(module, postgres=postgres)
    children = os.environ.get("MUTANT_CHILDREN", "1")
    if names == []:
        print(f"== {module}: nothing to run", flush=True)
        return 0
    print(f"== {module}: {len(names) if names else 'all'} mutants, "
          f"{len(MODULES[module])} test modules", flush=True)
    return subprocess.call([str(MUTMUT), "run", "--max-children", children,
                            *(names or [f"{module}.*"])], cwd=ROOT, env=env)


def results(module: str) -> dict[str, str]:
    meta = ROOT / "mutants" / (module.replace(".", "/") + ".py.meta")
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: STATUS.get(code, "suspicious") for name, code in codes.items()}


def changed_lines(module: str, name: str) -> list[str]:
    """The lines a mutant changes, read from the mutated copy of its module."""
    path = ROOT / "mutants" / (module.replace(".", "/") + ".py")
    functions = {node.name: node for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    short = name.rsplit(".", 1)[1]
    original = functions.get(short.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
    mutant = functions.get(short)
    if original is None or mutant is None:
        return []
    lines = [ast.unparse(node).splitlines()[1:] for node in (original, mutant)]
    changed = [line.strip() for line in difflib.unified_diff(*lines, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    if len(changed) == 2:  # one line changed: show where in it
        (old, new) = (changed[0][1:], changed[1][1:])
        start = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                     min(len(old), len(new)))
        end = 0
        while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
            end += 1
        cut = max(0, start - 50)
        changed = [f"- ...{old[cut:len(old) - end + 30]}", f"+ ...{new[cut:len(new) - end + 30]}"]
    return changed


def report(modules, *, sample: int = 1, show: bool = False) -> None:
    """Score = killed (timeouts count as killed) / (killed + survived); `other` are the
    mutants no selected test reaches, or not run (in a sampled run)."""
    print(f"\n{'module':32} {'mutants':>7} {'killed':>6} {'survived':>8} {'other':>5} {'score':>6}")
    for module in modules:
        found = results(module)
        if sample > 1:
            found = {n: found[n] for n in sorted(found)[::sample]}
        counts = Counter(found.values())
        tested = counts["killed"] + counts["survived"] + counts["timeout"]
        score = f"{100 * (counts['killed'] + counts['timeout']) / tested:.0f}%" if tested else "-"
        other = len(found) - tested
        print(f"{module:32} {len(found):7} {counts['killed']:6} {counts['survived']:8} "
              f"{other:5} {score:>6}")
    for module in modules:
        found = results(module)
        names = sorted(found)[::sample] if sample > 1 else sorted(found)
        for name, status in ((n, found[n]) for n in names):
            if status not in ("killed", "timeout"):
                print(f"  {status:9} {name}")
                if show:
                    for line in changed_lines(module, name):
                        print(f"      {line[:150]}")


def chosen(module: str, *, sample: int, skip_killed: bool) -> list[str] | None:
    """The mutant names to run (None: all of them; mutants must have been generated)."""
    if sample <= 1 and not skip_killed:
        return None
    found = results(module)
    names = sorted(found)[::sample] if sample > 1 else sorted(found)
    if skip_killed:
        names = [n for n in names if found[n] not in ("killed", "timeout")]
    return names


def main(argv: list[str]) -> int:
    options = {a.split("=")[0]: a.partition("=")[2] for a in argv if a.startswith("--")}
    modules = [a for a in argv if not a.startswith("--")] or list(MODULES)
    unknown = set(modules) - set(MODULES)
    if unknown:
        print(f"not a money module: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    sample = int(options.get("--sample") or 1)
    postgres = "--postgres" in options
    failed = 0
    if "--report" not in options:
        for module in modules:
            # Built afresh per module: a mutant killed in the middle of a flush can leave
            # the truncate guards off, and the next module's clean run would fail on it.
            if (postgres or module in ON_POSTGRES) and prepare_postgres() != 0:
                print("the PostgreSQL test database could not be built", file=sys.stderr)
                return 1
            names = chosen(module, sample=sample, skip_killed="--skip-killed" in options)
            failed |= run(module, names, postgres=postgres) != 0
    report(modules, sample=sample, show="--show" in options)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
