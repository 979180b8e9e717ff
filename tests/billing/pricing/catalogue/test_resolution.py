"""Model names resolve to the model genai-prices picks, from the rules sync_model_prices stores."""

from datetime import UTC, datetime

import pytest
from genai_prices.data_snapshot import get_snapshot

from billing.models import AIModel, AIProvider
from billing.pricing.catalogue import resolution
from billing.pricing.catalogue.match_rules import equals_names, rule_from_genai
from billing.pricing.catalogue.resolution import UnknownModel, current_catalogue
from billing.pricing.quotes.price_book import PriceBook, PricingError
from billing.pricing.sync.prices import sync_prices
from tests.kept_rows import rows_kept_for_these_tests

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)

# Names as provider responses carry them (response.model), and as gateways forward them.
DATED_NAMES = [
    # OpenAI
    ("gpt-4o-2024-08-06", None), ("gpt-4o-2024-05-13", None), ("gpt-4o-mini-2024-07-18", None),
    ("o1-2024-12-17", None), ("o3-mini-2025-01-31", None), ("gpt-4.1-2025-04-14", None),
    ("gpt-4-turbo-2024-04-09", None), ("gpt-5.2-20251211", None),
    # Anthropic
    ("claude-3-5-sonnet-20241022", None), ("claude-3-5-sonnet-latest", None),
    ("claude-3-5-haiku-20241022", None), ("claude-3-opus-20240229", None),
    ("claude-sonnet-4-20250514", None), ("claude-opus-4-1-20250805", None),
    ("claude-sonnet-4-5-20250929", "anthropic"),
    # Google
    ("gemini-1.5-flash-002", None), ("gemini-1.5-pro-002", None),
    ("gemini-2.0-flash-001", None), ("gemini-2.5-flash-preview-05-20", None),
    ("gemini-2.5-pro-preview-06-05", "google"),
    # Gateways, the way genai-prices reads them
    ("openai/gpt-4o-2024-08-06", "litellm"), ("anthropic/claude-3-5-sonnet-20241022", "litellm"),
    ("vertex_ai/gemini-2.5-pro", "litellm"), ("openai/gpt-4o", "openrouter"),
    ("anthropic/claude-3.5-sonnet", "openrouter"), ("gpt-4o", "azure"),
    ("claude-sonnet-4-20250514", "google"),
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "aws"),
]


def genai_pick(name, provider):
    try:
        found_provider, model = get_snapshot().find_provider_model(name, None, provider, None)
    except LookupError:
        return None
    owner = next(p.id for p in get_snapshot().providers if any(m is model for m in p.models))
    return owner, model.id.lower()


def ours(name, provider=None):
    model = current_catalogue().resolve(name, provider or "")
    return model.provider, model.name


@pytest.fixture(scope="class")
def snapshot_synced(django_db_setup, django_db_blocker):
    with rows_kept_for_these_tests(django_db_blocker, lambda: sync_prices(now=NOW)):
        yield


@pytest.fixture
def synced(snapshot_synced, db):
    """The whole catalogue of the genai-prices snapshot, synced once for the class that
    reads it (a sync writes about 10,000 rows)."""


class TestNamesAsTheSnapshotResolvesThem:
    """Read only: the catalogue is synced once for all of them."""

    @pytest.mark.parametrize(("name", "provider"), DATED_NAMES)
    def test_dated_and_gateway_names_resolve_as_genai_prices_does(self, synced, name, provider):
        expected = genai_pick(name, provider)
        assert expected is not None, f"genai-prices does not resolve {name!r}"
        assert ours(name, provider) == expected

    def test_every_model_id_and_equals_name_of_the_snapshot_agrees_with_genai_prices(
            self, synced):
        catalogue = current_catalogue()
        checked = disagreements = 0
        for provider in get_snapshot().providers:
            for info in provider.models:
                for name in {info.id.lower(), *equals_names(rule_from_genai(info.match))}:
                    expected = genai_pick(name, provider.id)
                    if expected is None:
                        continue  # genai-prices does not resolve it: nothing to agree with
                    model = catalogue.resolve(name, provider.id)
                    checked += 1
                    disagreements += (model.provider, model.name) != expected
        assert checked > 3000 and disagreements == 0

    def test_gateway_prefixes_genai_prices_refuses_resolve_to_the_makers_model(self, synced):
        assert genai_pick("openai/gpt-4o", None) is None
        assert ours("openai/gpt-4o") == ("openai", "gpt-4o")
        assert ours("google/gemini-2.5-pro") == ("google", "gemini-2.5-pro")
        assert ours("models/gemini-2.5-pro") == ("google", "gemini-2.5-pro")
        assert ours("anthropic/claude-3-5-sonnet-20241022") == ("anthropic", "claude-3-5-sonnet")
        assert ours("openai/gpt-4o-2024-08-06", "openai") == ("openai", "gpt-4o")
        how = current_catalogue().explain("openai/gpt-4o", "").how
        assert how.startswith("gateway prefix openai/ dropped")

    def test_provider_narrows_and_an_unknown_provider_is_refused(self, synced):
        # Azure serves OpenAI's models (a fallback provider), as genai-prices says.
        assert ours("gpt-4o", "azure") == genai_pick("gpt-4o", "azure") == ("openai", "gpt-4o")
        assert ours("gpt-4o", "OpenAI") == ("openai", "gpt-4o")
        with pytest.raises(UnknownModel, match="unknown provider 'acme'"):
            current_catalogue().resolve("gpt-4o", "acme")
        with pytest.raises(PricingError, match="unknown model 'gpt-4o' for provider 'anthropic'"):
            PriceBook(plan="professional").resolve_model(name="gpt-4o", provider="anthropic")

    def test_a_batch_of_fifty_names_costs_one_query_once_the_rules_are_cached(
            self, synced, django_assert_num_queries):
        names = [m.name for m in AIModel.objects.filter(provider="openai").order_by("pk")[:40]]
        names = list(dict.fromkeys(names + [n for n, provider in DATED_NAMES if provider is None]))
        names = names[:50]
        assert len(set(names)) == 50
        current_catalogue()  # warm this process's cache
        with django_assert_num_queries(1):  # the version check
            book = PriceBook(plan="professional")
            for i in range(1000):
                book.resolve_model(name=names[i % 50])


# --- rules staff write --------------------------------------------------------------------------


def test_exact_name_first_then_rules_by_position_then_id(db):
    AIProvider.objects.create(slug="acme", model_match={"starts_with": "acme-"})
    late = AIModel.objects.create(provider="acme", name="acme-late", position=5,
                                  match_rule={"starts_with": "acme-"})
    early = AIModel.objects.create(provider="acme", name="acme-early", position=1,
                                   match_rule={"contains": "acme"})
    tie = AIModel.objects.create(provider="acme", name="acme-tie", position=1,
                                 match_rule={"regex": "^acme-"})
    assert current_catalogue().resolve("acme-late") == late  # its exact name wins
    assert current_catalogue().resolve("acme-2026-01-01") == early  # position 1, lower id
    early.match_rule = {"equals": "nothing-like-it"}
    early.save()
    assert current_catalogue().resolve("acme-2026-01-01") == tie


def test_a_rule_staff_add_is_seen_by_the_next_batch(db):
    model = AIModel.objects.create(provider="acme", name="acme-one")
    with pytest.raises(UnknownModel):
        current_catalogue().resolve("acme-one-2026-05-01")
    model.match_rule = {"or": [{"equals": "acme-one"}, {"starts_with": "acme-one-20"}]}
    model.save()
    # No provider claims the name: every provider's rules are tried, and one matches.
    assert current_catalogue().resolve("acme-one-2026-05-01") == model
    assert current_catalogue().resolve("acme-one-2026-05-01", "acme") == model


def test_rules_of_two_providers_matching_an_unclaimed_name_ask_for_the_provider(db):
    AIModel.objects.create(provider="acme", name="llama-x", match_rule={"contains": "llama"})
    AIModel.objects.create(provider="other", name="llama-y", match_rule={"contains": "llama"})
    with pytest.raises(UnknownModel, match=r"rules of several providers match .*acme, other"):
        current_catalogue().resolve("llama-3-70b")
    assert current_catalogue().resolve("llama-3-70b", "other").name == "llama-y"


def test_a_change_in_another_transaction_reloads_and_a_broken_rule_does_not_stop_billing(db):
    model = AIModel.objects.create(provider="acme", name="acme-one")
    first = current_catalogue()
    assert current_catalogue() is first
    AIModel.objects.filter(pk=model.pk).update(match_rule={"regex": "("})  # bypasses checks
    resolution.catalogue_changed()
    second = current_catalogue()
    assert second is not first
    assert second.resolve("acme-one") == model  # the exact name still works
    assert second.broken_rules and "does not compile" in second.broken_rules[0]


def test_compact_dates_are_spelled_out_as_genai_prices_does():
    assert resolution._spell_out_compact_date("gpt-5.2-20251211") == "gpt-5.2-2025-12-11"
    assert resolution._spell_out_compact_date("x-20251341") == "x-20251341"  # not a date
