"""Model names as clients send them -> the AIModel that prices them.

The order is genai-prices' own (`find_provider_model`), so a name resolves to the
model genai-prices picks, then a gateway's `<prefix>/<model>` and names no provider
claims; docs/api.md, "Model names", gives the steps. Deterministic: every order is
(position, id). Each process keeps one compiled `Catalogue`, checked against the
one-row ModelCatalogueVersion once per batch, which every change to providers,
models or rules bumps (`catalogue_changed`).
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date

from django.db import connection

from billing.models.pricing import AIModel, AIProvider, ModelCatalogueVersion
from billing.pricing.catalogue.match_rules import InvalidRule, Predicate, compile_rule

LITELLM = "litellm"
GATEWAY_PREFIXES = ("models",)  # Google's API names models "models/<name>"
MEMO_LIMIT = 20_000  # resolved names kept per catalogue; past it the memo starts afresh
_COMPACT_DATE = re.compile(r"(-)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)")


class UnknownModel(LookupError):
    """No model for the name (and provider); the message says what was looked for."""


@dataclass
class _Provider:
    slug: str
    model_match: Predicate | None = None
    provider_match: Predicate | None = None
    fallbacks: tuple[str, ...] = ()
    exact: dict[str, AIModel] = field(default_factory=dict)
    rules: list[tuple[Predicate, AIModel]] = field(default_factory=list)


@dataclass(frozen=True)
class Resolution:
    model: AIModel
    how: str  # "exact name", "match rule", "fallback provider", ... for the admin's tester


class Catalogue:
    """Providers and models with their compiled rules, as of one catalogue version."""

    def __init__(self, providers: list[AIProvider], models: list[AIModel], *, version=None):
        self.version = version
        self.broken_rules: list[str] = []
        self._providers: dict[str, _Provider] = {}
        for row in sorted(providers, key=lambda p: (p.position, p.pk or 0)):
            self._providers[row.slug] = _Provider(
                slug=row.slug,
                model_match=self._compile(row.model_match, f"provider {row.slug} model_match"),
                provider_match=self._compile(row.provider_match,
                                             f"provider {row.slug} provider_match"),
                fallbacks=tuple(str(s).lower() for s in row.fallback_providers or ()),
            )
        self._by_name: dict[str, list[AIModel]] = {}
        for model in sorted(models, key=lambda m: (m.position, m.pk or 0)):
            # A provider known only from its models: no rules of its own, tried last.
            provider = self._providers.setdefault(model.provider, _Provider(slug=model.provider))
            provider.exact.setdefault(model.name, model)
            predicate = self._compile(model.match_rule, f"model {model}")
            if predicate is not None:
                provider.rules.append((predicate, model))
            self._by_name.setdefault(model.name, []).append(model)
        self._memo: dict[tuple[str, str], Resolution | UnknownModel] = {}
        self._lock = threading.Lock()

    def _compile(self, rule, label: str) -> Predicate | None:
        if rule is None:
            return None
        try:
            return compile_rule(rule)
        except InvalidRule as error:  # the admin refuses these; a bad row must not stop billing
            self.broken_rules.append(f"{label}: {error}")
            return None

    # -- lookups ---------------------------------------------------------------------------

    def resolve(self, name: str, provider: str = "") -> AIModel:
        return self.explain(name, provider).model

    def explain(self, name: str, provider: str = "") -> Resolution:
        """The model for a name, and which step found it; UnknownModel when none does."""
        key = ((name or "").strip().lower(), (provider or "").strip().lower())
        found = self._memo.get(key)
        if found is None:
            try:
                found = self._resolve(*key)
            except UnknownModel as error:
                found = error
            with self._lock:
                if len(self._memo) >= MEMO_LIMIT:
                    self._memo.clear()
                self._memo[key] = found
        if isinstance(found, UnknownModel):
            raise UnknownModel(str(found))
        return found

    def _resolve(self, ref: str, provider_sent: str) -> Resolution:
        if not ref:
            raise UnknownModel("model is required")
        if provider_sent == LITELLM and "/" in ref:
            prefix, rest = ref.split("/", 1)
            if prefix and self.find_provider(prefix) is not None:
                provider_sent, ref = prefix, rest
        provider = self.find_provider(provider_sent) if provider_sent else None
        if provider is None:
            if provider_sent and provider_sent != LITELLM:
                raise UnknownModel(f"unknown provider {provider_sent!r}")
            provider = self._claiming(ref)
        if provider is not None:
            found = self._in_provider(provider, ref)
            if found is not None:
                return found
        found = self._without_gateway_prefix(ref, provider)
        if found is not None:
            return found
        if not provider_sent or provider_sent == LITELLM:
            if ref in self._by_name or provider is not None:
                return self._by_exact_name(ref)
            return self._by_any_rule(ref)
        raise UnknownModel(f"unknown model {ref!r} for provider {provider.slug!r}")

    def find_provider(self, sent: str) -> _Provider | None:
        sent = sent.strip().lower()
        if sent in self._providers:
            return self._providers[sent]
        for provider in self._providers.values():
            if provider.provider_match is not None and provider.provider_match(sent):
                return provider
        return None

    def _claiming(self, ref: str) -> _Provider | None:
        for provider in self._providers.values():
            if provider.model_match is not None and provider.model_match(ref):
                return provider
        return None

    def _in_provider(self, provider: _Provider, ref: str) -> Resolution | None:
        found = self._match(provider, ref)
        if found is None:
            spelled = _spell_out_compact_date(ref)
            if spelled != ref:
                found = self._match(provider, spelled)
        return found

    def _match(self, provider: _Provider, ref: str) -> Resolution | None:
        found = _match_own(provider, ref)
        if found is not None:
            return found
        for slug in provider.fallbacks:
            fallback = self._providers.get(slug)
            if fallback is not None and (found := _match_own(fallback, ref)) is not None:
                return Resolution(found.model, f"fallback provider {slug}: {found.how}")
        return None

    def _without_gateway_prefix(self, ref: str, provider: _Provider | None) -> Resolution | None:
        if "/" not in ref:
            return None
        prefix, rest = ref.split("/", 1)
        if not rest:
            return None
        named = None if prefix in GATEWAY_PREFIXES else self.find_provider(prefix)
        if named is None and prefix not in GATEWAY_PREFIXES:
            return None
        target = provider or named or self._claiming(rest)
        if target is None:
            return None
        found = self._in_provider(target, rest) or self._without_gateway_prefix(rest, target)
        if found is None:
            return None
        return Resolution(found.model, f"gateway prefix {prefix}/ dropped: {found.how}")

    def models_named(self, name: str) -> list[AIModel]:
        """Every provider's model of this exact name (the same model sold elsewhere)."""
        return list(self._by_name.get(name, ()))

    def _by_exact_name(self, ref: str) -> Resolution:
        candidates = self._by_name.get(ref, [])
        if not candidates:
            raise UnknownModel(f"unknown model {ref!r}")
        active = [m for m in candidates if m.active] or candidates
        if len(active) == 1:
            return Resolution(active[0], "exact name")
        default = [m for m in active if m.default_for_name]
        if len(default) == 1:
            return Resolution(default[0], "exact name, the provider marked default for it")
        providers = ", ".join(sorted(m.provider for m in active))
        raise UnknownModel(f"several providers offer {ref!r} ({providers}): send provider")


    def _by_any_rule(self, ref: str) -> Resolution:
        """A name no provider claims: the rules of every provider; only one may match."""
        found = [r for p in self._providers.values() if (r := _match_own(p, ref)) is not None]
        if len(found) == 1:
            return Resolution(found[0].model, "match rule (no provider claims the name)")
        if not found:
            raise UnknownModel(f"unknown model {ref!r}")
        providers = ", ".join(sorted(r.model.provider for r in found))
        raise UnknownModel(f"the rules of several providers match {ref!r} ({providers}): "
                           "send provider")


def _match_own(provider: _Provider, ref: str) -> Resolution | None:
    model = provider.exact.get(ref)
    if model is not None:
        return Resolution(model, "exact name")
    for predicate, model in provider.rules:
        if predicate(ref):
            return Resolution(model, "match rule")
    return None


def _spell_out_compact_date(ref: str) -> str:
    def replace(match: re.Match) -> str:
        year, month, day = (int(match.group(i)) for i in range(2, 5))
        try:
            date(year, month, day)
        except ValueError:
            return match.group(0)
        return f"-{year:04d}-{month:02d}-{day:02d}"

    return _COMPACT_DATE.sub(replace, ref)


# -- the process-level cache ----------------------------------------------------------------

_cached: Catalogue | None = None


def catalogue_version():
    """The one-row version every process cache checks (None before the row exists).
    Read by every batch: on PostgreSQL as raw SQL, no ORM query compiled each time."""
    if connection.vendor != "postgresql":
        return ModelCatalogueVersion.objects.values_list("version", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL)
        row = cursor.fetchone()
    return row[0] if row else None


_VERSION_SQL = f"SELECT version FROM {ModelCatalogueVersion._meta.db_table} ORDER BY id LIMIT 1"


_UNREAD = object()


def current_catalogue(*, version=_UNREAD) -> Catalogue:
    """The catalogue as of now: one query when nothing changed, three when something did.
    A caller that has just read `catalogue_version()` passes it (one query per batch)."""
    global _cached
    # The version is read first: a change committed while loading makes the next call reload.
    if version is _UNREAD:
        version = catalogue_version()
    cached = _cached
    if cached is not None and version is not None and cached.version == version:
        return cached
    catalogue = load_catalogue(version=version)
    if version is not None:
        _cached = catalogue
    return catalogue


def load_catalogue(*, version=None) -> Catalogue:
    models = AIModel.objects.only(
        "id", "provider", "name", "active", "default_for_name", "match_rule", "position"
    ).order_by()
    return Catalogue(list(AIProvider.objects.order_by()), list(models), version=version)


def catalogue_changed(**_ignored) -> None:
    """Give the catalogue a fresh version (in the caller's transaction, if any).

    Also the price cache's version (billing.pricing.quotes.price_cache): every change to
    prices, meters, the credit rate or markups calls it too."""
    if not ModelCatalogueVersion.objects.update(version=uuid.uuid4()):
        ModelCatalogueVersion.objects.create(version=uuid.uuid4())
