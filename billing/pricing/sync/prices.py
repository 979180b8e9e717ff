"""The price sync: providers, models, their match rules and prices from the pinned
genai-prices package, plus (through house_catalogue) our meters, credit rate and markups.

It only adds what it does not have; a difference from genai-prices is reported, and
with `apply` becomes new rows from the next UTC midnight (series staff changed are
left alone). `write=False` only reports. One transaction, which bumps the model
catalogue's version. What it writes, in full: docs/decisions.md, "Reading genai-prices".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from billing.models.pricing import AIModel, AIProvider, ModelPrice, PriceSource
from billing.pricing.catalogue.house_catalogue import seed_meters, seed_rate_and_markups
from billing.pricing.catalogue.match_rules import rule_from_genai
from billing.pricing.catalogue.resolution import catalogue_changed
from billing.pricing.sync.upstream import Row, model_timeline
from billing.pricing.sync.upstream_changes import (
    LeftAlone,
    PriceDifference,
    apply_series,
    compare,
    hand_edited,
    next_midnight,
)

# When several providers offer a model of the same name, an event naming the
# model alone (and no provider claiming it) means the maker's own API.
FIRST_PARTY = (
    "openai", "anthropic", "google", "mistral", "x-ai", "deepseek", "cohere", "meta",
    "moonshotai", "minimax", "zai", "zhipuai", "perplexity", "voyageai", "elevenlabs",
)
NAME_SIZE = AIModel._meta.get_field("name").max_length


@dataclass
class SyncReport:
    providers_added: int = 0
    models_added: int = 0
    rules_restored: int = 0
    prices_added: int = 0
    meters_added: int = 0
    meter_prices_added: int = 0
    rates_added: int = 0
    markups_added: int = 0
    differences: list[PriceDifference] = field(default_factory=list)
    applied: list[PriceDifference] = field(default_factory=list)
    left_alone: list[LeftAlone] = field(default_factory=list)
    models_not_synced: int = 0  # upstream models not here (write=False only)
    skipped: Counter = field(default_factory=Counter)


@dataclass
class _Upstream:
    provider: str
    name: str
    display: str
    rule: dict | None
    position: int
    groups: dict[tuple[str, str], list[Row]]


def sync_prices(*, now: datetime | None = None, providers: Iterable[str] | None = None,
                upstream: list | None = None, apply: bool = False,
                write: bool = True) -> SyncReport:
    """Add what is missing; report (or, with `apply`, apply) what differs.

    `upstream`: genai-prices providers (tests); `providers`: only these provider ids.
    """
    now = now or timezone.now()
    if upstream is None:
        from genai_prices.data import providers as upstream
    wanted = {p.lower() for p in providers} if providers else None
    chosen = [p for p in upstream if wanted is None or p.id.lower() in wanted]
    report = SyncReport()
    with transaction.atomic():
        desired = _read_upstream(chosen, report)
        if write:
            _sync_providers(chosen, report)
            _sync_models(desired, report)
        _sync_prices(desired, now=now, report=report, apply=apply and write, write=write)
        if write:
            report.meters_added, report.meter_prices_added = seed_meters()
            report.rates_added, report.markups_added = seed_rate_and_markups()
            catalogue_changed()
    return report


def _read_upstream(chosen: list, report: SyncReport) -> dict[tuple[str, str], _Upstream]:
    desired: dict[tuple[str, str], _Upstream] = {}
    for provider in chosen:
        for position, info in enumerate(provider.models):
            key = (provider.id.lower(), info.id.strip().lower())
            if key in desired:
                report.skipped["duplicate model name"] += 1
                continue
            if len(key[1]) > NAME_SIZE:
                report.skipped["model name too long"] += 1
                continue
            groups = model_timeline(info, skipped=report.skipped)
            if not groups:
                report.skipped["models priced only in what events cannot report"] += 1
            desired[key] = _Upstream(*key, (info.name or info.id)[:NAME_SIZE],
                                     rule_from_genai(info.match), position, groups)
    return desired


def _sync_providers(chosen: list, report: SyncReport) -> None:
    known = set(AIProvider.objects.values_list("slug", flat=True))
    new = [
        AIProvider(
            slug=p.id.lower(), name=p.name or "", position=position,
            model_match=rule_from_genai(p.model_match),
            provider_match=rule_from_genai(p.provider_match),
            fallback_providers=list(p.fallback_model_providers or ()),
        )
        for position, p in enumerate(chosen) if p.id.lower() not in known
    ]
    AIProvider.objects.bulk_create(new)
    report.providers_added = len(new)


def _sync_models(desired: dict[tuple[str, str], _Upstream], report: SyncReport) -> None:
    existing = {(m.provider, m.name): m for m in AIModel.objects.all()}
    new_models = [
        AIModel(provider=u.provider, name=u.name, display_name=u.display, match_rule=u.rule,
                position=u.position)
        for key, u in desired.items() if key not in existing
    ]
    AIModel.objects.bulk_create(new_models, batch_size=1000)
    report.models_added = len(new_models)
    restored = []
    for key, model in existing.items():
        u = desired.get(key)
        if u is not None and model.match_rule is None and u.rule is not None:
            model.match_rule, model.position = u.rule, u.position
            restored.append(model)
    AIModel.objects.bulk_update(restored, ["match_rule", "position"], batch_size=1000)
    report.rules_restored = len(restored)
    if new_models:
        _choose_defaults({m.name for m in new_models})


def _sync_prices(desired, *, now: datetime, report: SyncReport, apply: bool,
                 write: bool) -> None:
    models = {(m.provider, m.name): m for m in AIModel.objects.all()}
    stored: dict[tuple[int, str, str], list[ModelPrice]] = defaultdict(list)
    for row in ModelPrice.objects.order_by():
        stored[(row.model_id, row.bucket, row.service_tier)].append(row)
    priced_models = {model_id for model_id, _, _ in stored}
    starts_at = next_midnight(now)
    rows = []
    for key, u in desired.items():
        model = models.get(key)
        if model is None:  # not written (write=False): nothing to compare it with
            report.models_not_synced += 1
            continue
        if model.pk not in priced_models:
            # A model without any price yet gets genai-prices' whole history.
            rows += [
                ModelPrice(model=model, bucket=bucket, service_tier=tier,
                           min_input_tokens=r.min_input_tokens, daily_window=r.daily_window,
                           price_per_million_usd=r.price,
                           starts_at=r.starts_at, ends_at=r.ends_at,
                           source=PriceSource.GENAI_PRICES)
                for (bucket, tier), upstream_rows in u.groups.items() for r in upstream_rows
            ]
            continue
        series_keys = {(b, t) for (m, b, t) in stored if m == model.pk} | set(u.groups)
        for bucket, tier in sorted(series_keys):
            upstream_rows = u.groups.get((bucket, tier), [])
            current = stored.get((model.pk, bucket, tier), [])
            found = compare(model, bucket, tier, upstream_rows, current,
                            now=starts_at if apply else now)
            if not found:
                continue
            if not apply:
                report.differences += found
            elif hand_edited(current):
                report.left_alone.append(LeftAlone(
                    str(model), bucket, tier,
                    f"changed by hand; genai-prices has {found[0]}"))
            elif (refused := apply_series(model, bucket, tier, upstream_rows,
                                          starts_at=starts_at)) is not None:
                report.left_alone.append(refused)
            else:
                report.applied += found
    if write:
        ModelPrice.objects.bulk_create(rows, batch_size=1000)
        report.prices_added = len(rows)


def _choose_defaults(names: set[str]) -> None:
    """For names offered by several providers, mark the maker's own model, unless one is marked."""
    by_name = defaultdict(list)
    for model in AIModel.objects.filter(name__in=names):
        by_name[model.name].append(model)
    chosen = []
    for models in by_name.values():
        if len(models) < 2 or any(m.default_for_name for m in models):
            continue
        ranked = [m for m in models if m.provider in FIRST_PARTY]
        if ranked:
            chosen.append(min(ranked, key=lambda m: FIRST_PARTY.index(m.provider)).pk)
    AIModel.objects.filter(pk__in=chosen).update(default_for_name=True)
