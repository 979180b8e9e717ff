"""The rows of the ten-million-row database (bench/load_scale.py), written as COPY text.

Every event is one of a few thousand templates priced by the app's own
ingestion code (`read_and_price`, `plan_charge`, `reason`), so its breakdown,
fingerprint, credits and digest line are exactly what the API would have
stored. Per org, in time order, the generator then does what a Book does:
groups the events into charges (batches, and single events), posts one usage
entry per charge committing to its events by their digest (`charge_metadata`),
keeps the balance and the chain head, draws each charge from the live grants
in burn-down order (all adjustment grants without expiry, so oldest first),
posts a top-up grant when the balance runs low, and signs every entry with the
project's chain (`billing.ledger.chain.entry_hash`, v3, the settings' key, the
allocations included). Rollups are the sums of the events, by template and day.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from billing import money
from billing.ledger.chain import (
    KEYED_VERSION,
    current_key_id,
    entry_hash,
    fingerprint_of,
    metadata_json,
)
from billing.ledger.usage_charges import (
    CHARGE_PREFIX,
    charge_metadata,
    charge_reason,
    events_digest,
)
from billing.usage.ingestion import charges
from billing.usage.ingestion import record as ingestion
from billing.usage.ingestion.charges import COLUMNS

MODELS = {"gpt-4o-mini": 5, "gpt-4o": 2, "gpt-4.1-mini": 2, "claude-3-5-haiku-latest": 1,
          "claude-sonnet-4-0": 1}
METERS = ["compute.gpu_seconds", "compute.vcpu_seconds", "storage.gb_hours",
          "bandwidth.egress_gb", "data_ops.requests"]
OPERATIONS = ["chat.completion", "summarise", "classify", "agent.step", "embed"]
USERS = [f"user{i}@bench.test" for i in range(20)]
# The event columns that vary per event; every other column comes from the template.
EVENT_VARYING = ["id", "organization_id", "api_key_id", "idempotency_key", "occurred_at",
                 "received_at", "balance_after", "entry_id"]
ENTRY_COLUMNS = ["id", "account_id", "seq", "amount", "balance_after", "idempotency_key",
                 "metadata", "created_at", "hash", "kind", "actor_type", "actor_user_id",
                 "actor_api_key_id", "actor_label", "reason", "fingerprint", "reverses_id",
                 "key_id", "chain_version"]
ALLOCATION_COLUMNS = ["id", "entry_id", "grant_id", "amount"]
GRANT_COLUMNS = ["id", "account_id", "kind", "amount", "remaining", "debt_repaid", "priority",
                 "expires_at", "expired_at", "parent_id", "created_at"]
ROLLUP_COLUMNS = ["organization_id", "day", "usage_type", "resource", "operation", "user_label",
                  "event_count", "quantity", "input_tokens", "output_tokens", "cost_usd",
                  "credits"]
TOPUP_LABEL = "system:bench-loader"
PROGRESS_EVERY = 250_000
NULL = "\\N"  # COPY's text for no value


def copy_text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str):
        text = (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return text


def random_event(rng: random.Random, index: int, models: dict, meters: list) -> dict:
    if rng.random() < 0.8:
        input_tokens = rng.randint(200, 6000)
        return {"idempotency_key": f"t{index}", "type": "ai_tokens",
                "model": rng.choices(list(models), weights=list(models.values()))[0],
                "operation": rng.choice(OPERATIONS), "user": rng.choice(USERS),
                "input_tokens": input_tokens,
                "cached_input_tokens": rng.randint(0, input_tokens // 2),
                "output_tokens": rng.randint(20, 900)}
    return {"idempotency_key": f"t{index}", "type": "infrastructure",
            "meter": rng.choice(meters), "quantity": f"{rng.uniform(0.5, 500):.3f}",
            "operation": rng.choice(OPERATIONS)}


@dataclass
class Template:
    type: str
    resource: str
    operation: str
    user_label: str
    quantity: Decimal
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    credits: Decimal
    constant_text: str  # the event's non-varying columns, tab-separated COPY text
    reason: str  # a charge of this one event's
    line_tail: str  # its line for its charge's digest, after the length-prefixed key


def event_constant_columns(fields) -> list[str]:
    return [f.attname for f in fields if f.attname not in EVENT_VARYING]


def price_templates(*, count: int, plan: str, first: datetime, last: datetime, seed: int,
                    event_fields, models: dict = MODELS, meters: list = METERS) -> list[Template]:
    """`count` event templates priced as ingestion prices them; refuses prices that change
    between `first` and `last` (an event is charged at the price in force when it occurred)."""
    rng = random.Random(seed)
    raw = [random_event(rng, i, models, meters) for i in range(count)]
    early = ingestion.read_and_price([dict(e) for e in raw], plan=plan, now=first)
    late = ingestion.read_and_price([dict(e) for e in raw], plan=plan, now=last)
    changed = [e.resource for e, f in zip(early, late, strict=True)
               if e.quote.breakdown() != f.quote.breakdown()]
    if changed:
        raise SystemExit(f"prices of {sorted(set(changed))} change inside the history: "
                         "shorten it (--days)")
    constant = event_constant_columns(event_fields)
    templates = []
    for event in late:
        planned = charges.plan_charge(_NoOrg, event, None, last)
        row = dict(zip(COLUMNS, planned.row, strict=True))
        prefix = f"{len(event.key)}:{event.key}"  # the line starts with the event's key
        if not planned.line.startswith(prefix):
            raise SystemExit("an event's digest line no longer starts with its key: "
                             "teach bench/scale_data.py its new shape")
        templates.append(Template(
            type=event.type, resource=event.resource, operation=event.operation,
            user_label=event.user_label, quantity=event.quantity, input_tokens=event.tokens[0],
            output_tokens=event.tokens[1], cost_usd=event.quote.cost_usd,
            credits=event.quote.credits,
            constant_text="\t".join(copy_text(row[name]) for name in constant),
            reason=charges.reason(event), line_tail=planned.line[len(prefix):],
        ))
    return templates


class _NoOrg:
    pk = None


class EntryFacts:
    """The fields the chain hashes, without a model instance per entry."""

    __slots__ = ("account_id", "seq", "kind", "amount", "balance_after", "actor_type",
                 "actor_user_id", "actor_api_key_id", "actor_label", "reason",
                 "idempotency_key", "fingerprint", "reverses_id", "metadata", "created_at",
                 "key_id", "chain_version")

    def __init__(self, **values):
        for name in self.__slots__:
            setattr(self, name, values.get(name))


@dataclass
class OrgPlan:
    """One org to generate: its ids, its size and its share of history."""

    organization_id: int
    account_id: int
    api_key_id: int
    api_key_label: str
    slug: str
    events: int
    topups: int  # about how many top-up grants its history holds
    batch: int = 1000  # events per charge (a request, queue batch or import batch)
    single_share: float = 0.05  # the share of its events charged one at a time


@dataclass
class Ids:
    """The next id of each table for one generator (a range reserved by the loader)."""

    event: int
    entry: int
    allocation: int
    grant: int


@dataclass
class OrgResult:
    balance: Decimal
    last_hash: str
    entry_count: int
    grants: list = field(default_factory=list)  # [id, amount, remaining, created_at]
    rollup_counts: Counter = field(default_factory=Counter)  # (day, template index) -> n


def generate_org(org: OrgPlan, templates: list[Template], ids: Ids, *, first: datetime,
                 last: datetime, seed: int, write_event, write_entry, write_allocation,
                 progress=None) -> OrgResult:
    """Generate one org's history and hand each row's COPY text to the writers;
    `progress(n)` is called about every PROGRESS_EVERY events.

    Events are charged as the app charges them: one usage entry per charge (a request, a
    queue batch or an import batch of `org.batch` events; a single event is a charge of
    one, `org.single_share` of the events), committing to its events by their digest."""
    rng = random.Random(seed)
    key_id = current_key_id()
    avg = sum(t.credits for t in templates) / len(templates)
    topup = money.round_credits(max(avg * org.events / max(org.topups, 1), avg * 50,
                                    avg * org.batch * 2) * 105 / 100)
    topup_text = copy_text(topup)
    topup_fingerprint = fingerprint_of("grant", "adjustment", "adjustment",
                                       money.canonical(topup), None, 100)
    usage_prefix = f"usage\tapi_key\t\\N\t{org.api_key_id}\t{copy_text(org.api_key_label)}"
    result = OrgResult(balance=Decimal(0), last_hash="", entry_count=0)
    live: list[list] = []  # [grant id, remaining] oldest first: the burn-down order here
    facts = EntryFacts(kind="usage", actor_type="api_key", actor_api_key_id=org.api_key_id,
                       actor_label=org.api_key_label, key_id=key_id,
                       chain_version=KEYED_VERSION)
    start, span = first.timestamp(), (last - first).total_seconds()
    counts = result.rollup_counts
    count = len(templates)
    n = org.events
    # The chance that a charge is a single event, so that `single_share` of the events are.
    share = org.single_share
    single_chance = share / (share + (1 - share) / org.batch) if org.batch > 1 else 1.0
    last_created = first
    reported = 0
    i = 0
    while i < n:
        size = min(1 if rng.random() < single_chance else org.batch, n - i)
        chosen = []  # (key, occurred, template index)
        for j in range(i, i + size):
            # Density grows linearly over the year (a growing customer); times stay sorted.
            occurred_ts = start + span * ((j + rng.random()) / n) ** 0.5
            chosen.append((f"{org.slug}-{j}", datetime.fromtimestamp(occurred_ts, UTC),
                           int(rng.random() * count)))
        i += size
        created = max(last_created, chosen[-1][1]) + timedelta(
            microseconds=1 + int(rng.random() * 2_000_000))
        last_created = created
        total = sum((templates[t].credits for _, _, t in chosen), Decimal(0))
        while result.balance - total < topup / 20:
            _post_topup(org, result, live, ids, created - timedelta(milliseconds=1), topup,
                        topup_text, topup_fingerprint, key_id, write_entry, write_allocation)
        entry_id = _post_charge(org, templates, chosen, total, created, result, live, ids,
                                facts, usage_prefix, write_entry, write_allocation)
        created_text = created.isoformat()
        balance = result.balance + total
        for key, occurred, index in chosen:
            template = templates[index]
            balance -= template.credits
            write_event(f"{ids.event}\t{org.organization_id}\t{org.api_key_id}\t{key}\t"
                        f"{occurred.isoformat()}\t{created_text}\t{balance}\t"
                        f"{entry_id if template.credits else NULL}\t"
                        f"{template.constant_text}\n")
            ids.event += 1
            counts[(occurred.date(), index)] += 1
        if progress is not None and i - reported >= PROGRESS_EVERY:
            progress(i - reported)
            reported = i
    if progress is not None and i > reported:
        progress(i - reported)
    remaining = {grant_id: left for grant_id, left in live}
    for grant in result.grants:
        grant[2] = remaining.get(grant[0], Decimal(0))
    return result


def _post_charge(org, templates, chosen, total, created, result, live, ids, facts,
                 usage_prefix, write_entry, write_allocation) -> int | None:
    """The charge's one usage entry (record.py's _post_charge), for its events that cost
    credits; None when none did."""
    paid = [(key, occurred, templates[t]) for key, occurred, t in chosen
            if templates[t].credits]
    if not paid:
        return None
    digest = events_digest([f"{len(key)}:{key}{t.line_tail}" for key, _, t in paid])
    metadata = charge_metadata(
        digest=digest, count=len(paid),
        cost_usd=sum((t.cost_usd for _, _, t in paid), Decimal(0)),
        types=(t.type for _, _, t in paid), resources=(t.resource for _, _, t in paid),
        operations=(t.operation for _, _, t in paid), users=(t.user_label for _, _, t in paid),
        occurred=(occurred for _, occurred, _ in paid))
    metadata_text = metadata_json(metadata)
    entry_id = ids.entry
    ids.entry += 1
    result.balance -= total
    result.entry_count += 1
    allocations = _draw(live, total)
    reason = (charge_reason(metadata["resources"], len(paid)) if len(paid) > 1
              else paid[0][2].reason)
    ledger_key = f"{CHARGE_PREFIX}{result.entry_count}"
    facts.account_id, facts.seq = org.account_id, result.entry_count
    facts.amount, facts.balance_after = -total, result.balance
    facts.reason, facts.idempotency_key = reason, ledger_key
    facts.fingerprint, facts.metadata, facts.created_at = digest, metadata, created
    result.last_hash = entry_hash(facts, result.last_hash, allocations, metadata_text)
    write_entry(f"{entry_id}\t{org.account_id}\t{result.entry_count}\t{-total}\t"
                f"{result.balance}\t{ledger_key}\t{copy_text(metadata_text)}\t"
                f"{created.isoformat()}\t{result.last_hash}\t{usage_prefix}\t"
                f"{copy_text(reason)}\t{digest}\t\\N\t{facts.key_id}\t{KEYED_VERSION}\n")
    for grant_id, amount in allocations:
        write_allocation(f"{ids.allocation}\t{entry_id}\t{grant_id}\t{amount}\n")
        ids.allocation += 1
    return entry_id


def _draw(live: list[list], amount: Decimal) -> list[tuple[int, Decimal]]:
    """Take `amount` from the oldest live grants; empty grants leave the queue."""
    allocations, left = [], amount
    while left > 0:
        head = live[0]
        take = min(head[1], left)
        head[1] -= take
        left -= take
        allocations.append((head[0], -take))
        if head[1] == 0:
            live.pop(0)
    return allocations


def _post_topup(org, result, live, ids, created, amount, amount_text, fingerprint, key_id,
                write_entry, write_allocation) -> None:
    grant_id, entry_id = ids.grant, ids.entry
    ids.grant += 1
    ids.entry += 1
    result.balance += amount
    result.entry_count += 1
    metadata = {"grant_id": grant_id}
    ledger_key = f"adjust:{org.slug}-topup-{len(result.grants)}"
    facts = EntryFacts(account_id=org.account_id, seq=result.entry_count, kind="adjustment",
                       amount=amount, balance_after=result.balance, actor_type="system",
                       actor_label=TOPUP_LABEL, reason="Credits top-up", metadata=metadata,
                       idempotency_key=ledger_key, fingerprint=fingerprint, created_at=created,
                       key_id=key_id, chain_version=KEYED_VERSION)
    result.last_hash = entry_hash(facts, result.last_hash, [(grant_id, amount)])
    write_entry(f"{entry_id}\t{org.account_id}\t{result.entry_count}\t{amount_text}\t"
                f"{result.balance}\t{ledger_key}\t{{\"grant_id\": {grant_id}}}\t"
                f"{created.isoformat()}\t{result.last_hash}\tadjustment\tsystem\t\\N\t\\N\t"
                f"{TOPUP_LABEL}\tCredits top-up\t{fingerprint}\t\\N\t{key_id}\t"
                f"{KEYED_VERSION}\n")
    write_allocation(f"{ids.allocation}\t{entry_id}\t{grant_id}\t{amount_text}\n")
    ids.allocation += 1
    live.append([grant_id, amount])
    result.grants.append([grant_id, amount, amount, created])


def grant_rows(org: OrgPlan, result: OrgResult):
    for grant_id, amount, remaining, created in result.grants:
        yield (f"{grant_id}\t{org.account_id}\tadjustment\t{amount}\t{remaining}\t0\t100\t\\N\t"
               f"\\N\t\\N\t{created.isoformat()}\n")


def rollup_rows(org: OrgPlan, result: OrgResult, templates: list[Template]):
    """The org's daily rollup rows: per day and dimensions, the sums of its events."""
    sums: dict[tuple, list] = {}
    for (day, index), n in result.rollup_counts.items():
        t = templates[index]
        key = (day, t.type, t.resource, t.operation, t.user_label)
        row = sums.setdefault(key, [0, Decimal(0), 0, 0, Decimal(0), Decimal(0)])
        row[0] += n
        row[1] += t.quantity * n
        row[2] += t.input_tokens * n
        row[3] += t.output_tokens * n
        row[4] += t.cost_usd * n
        row[5] += t.credits * n
    for (day, usage_type, resource, operation, user_label), row in sums.items():
        values = [org.organization_id, day, usage_type, resource, operation, user_label, *row]
        yield "\t".join(copy_text(v) for v in values) + "\n"



def write_results(cursor, results: list[tuple[OrgPlan, OrgResult]], templates) -> None:
    """After the events: the grants, the rollups and each account's balance and chain head,
    through a psycopg cursor."""
    with cursor.copy(copy_statement("billing_creditgrant", GRANT_COLUMNS)) as copy:
        for plan, result in results:
            copy.write("".join(grant_rows(plan, result)))
    with cursor.copy(copy_statement("billing_dailyusage", ROLLUP_COLUMNS)) as copy:
        for plan, result in results:
            copy.write("".join(rollup_rows(plan, result, templates)))
    cursor.executemany(
        "UPDATE billing_creditaccount SET balance = %s, last_hash = %s, entry_count = %s, "
        "updated_at = now() WHERE id = %s",
        [(r.balance, r.last_hash, r.entry_count, p.account_id) for p, r in results])


def copy_statement(table: str, columns: list[str]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"
