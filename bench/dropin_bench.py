#!/usr/bin/env python
"""Drop-in ingestion beside our own API, in one run (targets and figures: bench/README.md).
Not part of `make test`.

On a PostgreSQL database of its own (dropped, re-created, migrated, priced), one
gunicorn serves, in rounds (the order of each pair swapped every other round, so
drift and order hit every shape alike):

1. batches of 1,000 events through our API (`POST /api/v1/usage-events`) and the same
   events as CloudEvents batches (`POST /api/v1/events`, application/cloudevents-batch+json,
   AI tokens through staff mappings, meters by their codes), each into an org of its own;
2. single events from 8 clients through our API and as Stripe meter events
   (`POST /v1/billing/meter_events`, form-encoded), the Stripe shape's only form.

Every figure is printed with its ratio to our own API's in the same run.

    .venv/bin/python bench/dropin_bench.py                  # ~3 min
    .venv/bin/python bench/dropin_bench.py --batches 10     # quicker
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import urllib.parse
from functools import partial
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    app_env,
    free_port,
    migrate_and_seed,
    recreate_database,
    run_threads,
    server_env,
    settle,
    start_gunicorn,
    stop,
)
from bench.ingest_bench import BATCH, make_event

MAPPED_MODELS = ("gpt-4o-mini", "gpt-4o")  # make_event's models, one mapping each
OURS, CLOUDEVENTS, STRIPE = "/api/v1/usage-events", "/api/v1/events", "/v1/billing/meter_events"


def ours_and_cloudevents(rng: random.Random, prefix: str, slug: str) -> tuple[dict, dict]:
    """One event in our shape and the same event as a CloudEvent (no cached tokens: the
    mapping reads input and output only)."""
    event = make_event(rng, f"{prefix}-{rng.getrandbits(64):x}")
    event.pop("cached_input_tokens", None)
    if event["type"] == "ai_tokens":
        kind, data = f"llm.{event['model']}", {
            "input_tokens": event["input_tokens"], "output_tokens": event["output_tokens"],
            "user": event["user"], "operation": event["operation"]}
    else:
        kind, data = event["meter"], {"value": event["quantity"]}
        event.pop("operation")
    return event, {"specversion": "1.0", "id": event["idempotency_key"], "source": "bench",
                   "type": kind, "subject": slug, "data": data}


def add_mappings(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        for name in MAPPED_MODELS:
            conn.execute(
                "INSERT INTO billing_eventmapping (event_name, ai_model_id, value_path, "
                "input_tokens_path, output_tokens_path, user_path, operation_path, created_at, "
                "updated_at) SELECT %s, id, '$.value', '$.input_tokens', '$.output_tokens', "
                "'$.user', '$.operation', now(), now() FROM billing_aimodel "
                "WHERE name = %s AND provider = 'openai'", (f"llm.{name}", name))


class Client:
    def __init__(self, port: int, raw_key: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.key = raw_key

    def post(self, path: str, body: bytes, content_type: str, expect: int) -> None:
        self.conn.request("POST", path, body=body, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": content_type})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != expect:
            raise RuntimeError(f"{path}: HTTP {response.status}: {data[:300]!r}")


def batches(port, key, bodies, path, content_type, expect) -> float:
    def work(i):
        client = Client(port, key)
        for body in bodies[i]:
            client.post(path, body, content_type, expect)

    return sum(len(b) for b in bodies) * BATCH / run_threads(len(bodies), work)


def singles(port, key, bodies, path, content_type) -> float:
    def work(i):
        client = Client(port, key)
        for body in bodies[i]:
            client.post(path, body, content_type, 200)

    return sum(len(b) for b in bodies) / run_threads(len(bodies), work)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="credits_bench_dropin")
    parser.add_argument("--batches", type=int, default=20, help="1,000-event batches per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2, help="clients posting batches")
    parser.add_argument("--singles", type=int, default=800, help="single events per round")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=29)
    args = parser.parse_args()

    db_url = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
    env = app_env(db_url)
    print(f"Database {args.database}: re-creating, migrating, seeding…", flush=True)
    recreate_database(args.admin_url, args.database)
    slugs = ["bench-ours", "bench-ce", "bench-s-ours", "bench-s-stripe"]
    keys = migrate_and_seed(env, slugs)
    add_mappings(db_url)
    rng = random.Random(args.seed)
    per_client = max(1, args.batches // args.clients)

    def batch_bodies(prefix):
        ours, cloud = [], []
        for i in range(args.clients):
            ours.append([]), cloud.append([])
            for b in range(per_client):
                pairs = [ours_and_cloudevents(rng, f"{prefix}{i}-{b}", "bench-ce")
                         for _ in range(BATCH)]
                ours[-1].append(json.dumps({"events": [p[0] for p in pairs]}).encode())
                cloud[-1].append(json.dumps([p[1] for p in pairs]).encode())
        return ours, cloud

    def single_bodies(prefix, clients=8):
        ours, stripe = [[] for _ in range(clients)], [[] for _ in range(clients)]
        for n in range(args.singles):
            key = f"{prefix}-{n}"
            quantity = f"{rng.uniform(0.5, 500):.3f}"
            ours[n % clients].append(json.dumps({"events": [{
                "idempotency_key": key, "type": "infrastructure",
                "meter": "compute.gpu_seconds", "quantity": quantity}]}).encode())
            stripe[n % clients].append(urllib.parse.urlencode({
                "event_name": "compute.gpu_seconds", "identifier": key,
                "payload[value]": quantity,
                "payload[stripe_customer_id]": "bench-s-stripe"}).encode())
        return ours, stripe

    port = free_port()
    log = Path(tempfile.gettempdir()) / "dropin_bench_gunicorn.log"
    proc = start_gunicorn(server_env(env), port, args.workers, args.threads, log)
    figures = {"ours": [], "ce": [], "s_ours": [], "s_stripe": []}
    try:
        warm_ours, warm_ce = batch_bodies("warm")  # every worker's caches and connections
        batches(port, keys["bench-ours"], warm_ours, OURS, "application/json", 200)
        batches(port, keys["bench-ce"], warm_ce, CLOUDEVENTS,
                "application/cloudevents-batch+json", 204)
        for r in range(args.rounds):
            ours, cloud = batch_bodies(f"r{r}")
            s_ours, s_stripe = single_bodies(f"s{r}")
            phases = [
                ("ours", partial(batches, port, keys["bench-ours"], ours, OURS,
                                 "application/json", 200)),
                ("ce", partial(batches, port, keys["bench-ce"], cloud, CLOUDEVENTS,
                               "application/cloudevents-batch+json", 204)),
                ("s_ours", partial(singles, port, keys["bench-s-ours"], s_ours, OURS,
                                   "application/json")),
                ("s_stripe", partial(singles, port, keys["bench-s-stripe"], s_stripe, STRIPE,
                                     "application/x-www-form-urlencoded")),
            ]
            if r % 2:  # every other round the drop-in shape goes first: no order bias
                phases = [phases[1], phases[0], phases[3], phases[2]]
            for name, phase in phases:
                settle(db_url)
                figures[name].append(phase())
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s"
                                                 for k, v in figures.items()), flush=True)
    finally:
        stop(proc)

    def total(name):
        return sum(figures[name]) / len(figures[name])

    print()
    print("| what | events/s per round | mean | ratio to ours |")
    print("|---|---|---|---|")
    for name, what, base in (
            ("ours", f"our API, batches of 1,000, {args.clients} clients", "ours"),
            ("ce", f"CloudEvents batches of 1,000, {args.clients} clients", "ours"),
            ("s_ours", "our API, single events, 8 clients", "s_ours"),
            ("s_stripe", "Stripe meter events, 8 clients", "s_ours")):
        rounds = " / ".join(f"{v:,.0f}" for v in figures[name])
        print(f"| {what} | {rounds} | {total(name):,.0f} | {total(name) / total(base):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
