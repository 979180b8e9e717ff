from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from genai_prices import types as gp

from billing.models import (
    AIModel,
    AIProvider,
    CreditRate,
    Meter,
    MeterPrice,
    ModelPrice,
    PlanMarkup,
)
from billing.models.pricing import EPOCH
from billing.pricing.catalogue.changes import change_model_price, change_plan_markup
from billing.pricing.sync.prices import sync_prices

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("sync_model_prices", *args, stdout=out)
    return out.getvalue()


def fake_provider(*models):
    return gp.Provider(id="acme", name="Acme", api_pattern="", models=list(models))


def fake_model(model_id, prices, variants=None):
    return gp.ModelInfo(id=model_id, match=gp.ClauseEquals(equals=model_id), prices=prices,
                        price_variants=variants)


def rows(model_name, **filters):
    filters.setdefault("daily_window", "")
    return list(ModelPrice.objects.filter(model__name=model_name, **filters)
                .order_by("bucket", "service_tier", "min_input_tokens", "starts_at")
                .values_list("bucket", "service_tier", "min_input_tokens",
                             "price_per_million_usd", "starts_at", "ends_at", "source"))


def test_first_run_adds_second_run_adds_nothing():
    first = run("--provider", "openai")
    assert "Model prices added: 0" not in first
    models, prices = AIModel.objects.count(), ModelPrice.objects.count()
    assert models > 50 and prices > models
    assert f"AI models added: {models}" in first
    assert f"Model prices added: {prices}" in first
    second = run("--provider", "openai")
    assert "AI models added: 0" in second and "Model prices added: 0" in second
    assert "Differences from genai-prices (not applied; --apply to apply): 0" in second
    assert (AIModel.objects.count(), ModelPrice.objects.count()) == (models, prices)


def test_gpt_4o_rows_from_genai_prices():
    run("--provider", "openai")
    gpt = AIModel.objects.get(provider="openai", name="gpt-4o")
    assert gpt.display_name == "gpt 4o"
    default = {(b, p) for b, t, _, p, s, e, src in rows("gpt-4o", service_tier="")}
    assert default == {("input", Decimal("2.5")), ("cached_input", Decimal("1.25")),
                       ("output", Decimal("10"))}
    assert {r[4] for r in rows("gpt-4o", service_tier="")} == {EPOCH}
    assert {r[6] for r in rows("gpt-4o")} == {"genai-prices"}
    # Batch prices from their verification date, priority likewise.
    batch = rows("gpt-4o", service_tier="batch")
    assert [(b, p, s) for b, _, _, p, s, _, _ in batch] == [
        ("input", Decimal("1.25"), datetime(2026, 10, 14, tzinfo=UTC)),
        ("output", Decimal("5"), datetime(2026, 10, 14, tzinfo=UTC)),
    ]


def test_the_whole_package_syncs_quickly_and_idempotently():
    started = timezone.now()
    report = sync_prices()
    assert report.models_added > 1000 and report.prices_added > report.models_added
    assert not report.differences
    assert (timezone.now() - started).total_seconds() < 30
    again = sync_prices()
    assert (again.models_added, again.prices_added, len(again.differences)) == (0, 0, 0)


def test_staff_price_wins_and_the_difference_is_reported():
    run("--provider", "openai")
    gpt = AIModel.objects.get(provider="openai", name="gpt-4o")
    staff = change_model_price(model=gpt, bucket="input", price_per_million_usd=Decimal("3"),
                               starts_at=timezone.now() - timedelta(days=1),
                               now=timezone.now() - timedelta(days=1))
    before = ModelPrice.objects.count()
    out = run("--provider", "openai")
    assert "Model prices added: 0" in out
    assert "Differences from genai-prices (not applied; --apply to apply): 1" in out
    assert "openai/gpt-4o input at" in out
    assert "in force $3.0000000000/M (staff), genai-prices $2.5/M" in out
    assert ModelPrice.objects.count() == before
    staff.refresh_from_db()
    assert staff.ends_at is None and staff.price_per_million_usd == Decimal("3")


def test_a_series_staff_closed_is_not_reopened():
    run("--provider", "openai")
    gpt = AIModel.objects.get(provider="openai", name="gpt-4o")
    ModelPrice.objects.filter(model=gpt, bucket="cached_input", service_tier="").update(
        ends_at=datetime(2026, 1, 1, tzinfo=UTC))
    report = sync_prices(providers=["openai"])
    assert report.prices_added == 0
    [difference] = report.differences
    assert (difference.bucket, difference.current) == ("cached_input", ())
    assert "no price" in str(difference)


def test_a_model_without_prices_gets_its_history_a_new_series_waits_for_apply():
    run("--provider", "openai")
    gpt = AIModel.objects.get(provider="openai", name="gpt-4o")
    ModelPrice.objects.filter(model=gpt, service_tier="batch").delete()  # as if new upstream
    AIModel.objects.get(provider="openai", name="gpt-4o-mini").prices.all().delete()
    report = sync_prices(providers=["openai"])
    assert report.models_added == 0
    # gpt-4o-mini had no price at all: its whole history is added, as for a new model.
    assert report.prices_added == ModelPrice.objects.filter(model__name="gpt-4o-mini").count() > 0
    # gpt-4o's batch series is a change to a priced model: reported, not back-dated.
    assert not ModelPrice.objects.filter(model=gpt, service_tier="batch").exists()
    assert {(d.bucket, d.service_tier) for d in report.differences} == {
        ("input", "batch"), ("output", "batch")}


def test_dated_prices_tiers_and_variants_become_effective_dated_rows():
    cut = date(2026, 3, 13)
    model = fake_model("m1", [
        gp.ConditionalPrice(prices=gp.ModelPrice(
            input_mtok=gp.TieredPrices(base=Decimal("3"), tiers=[gp.Tier(200_000, Decimal("6"))]),
            output_mtok=Decimal("15"), web_searches_kcount=Decimal("10"))),
        gp.ConditionalPrice(constraint=gp.StartDateConstraint(cut), prices=gp.ModelPrice(
            input_mtok=Decimal("3"), output_mtok=Decimal("12"))),
        gp.ConditionalPrice(
            constraint=gp.TimeOfDateConstraint(start_time=time(0, 0), end_time=time(12, 0)),
            prices=gp.ModelPrice(input_mtok=Decimal("0.01"), output_mtok=Decimal("0.01"))),
    ], variants=[
        gp.PriceVariant(when={"processing": "batch"},
                        prices=gp.ModelPrice(input_mtok=Decimal("0.18000000000000002"))),
        gp.PriceVariant(when={"speed": "fast"}, prices=gp.ModelPrice(input_mtok=Decimal("9"))),
    ])
    report = sync_prices(upstream=[fake_provider(model)])
    at_cut = datetime(2026, 3, 13, tzinfo=UTC)
    assert rows("m1") == [
        ("input", "", 0, Decimal("3"), EPOCH, None, "genai-prices"),
        # genai-prices applies a tier above its start: 200,000 tokens still pay the base.
        ("input", "", 200_001, Decimal("6"), EPOCH, at_cut, "genai-prices"),
        # A float artefact brought to the column's ten places.
        ("input", "batch", 0, Decimal("0.18"), EPOCH, None, "genai-prices"),
        ("output", "", 0, Decimal("15"), EPOCH, at_cut, "genai-prices"),
        ("output", "", 0, Decimal("12"), at_cut, None, "genai-prices"),
    ]
    # The time-of-day price becomes rows with a daily window.
    assert list(ModelPrice.objects.exclude(daily_window="").order_by("bucket").values_list(
        "bucket", "daily_window", "price_per_million_usd", "starts_at", "ends_at")) == [
        ("input", "00:00-12:00", Decimal("0.01"), EPOCH, None),
        ("output", "00:00-12:00", Decimal("0.01"), EPOCH, None),
    ]
    assert report.skipped["unsupported price variant"] == 1
    assert report.skipped["non-token price"] == 1


def test_a_model_priced_only_in_what_events_cannot_report_is_created_without_prices():
    # Created, so that its names resolve to it as in genai-prices, and refused when priced.
    model = fake_model("tts", gp.ModelPrice(audio_hours=Decimal("1")))
    report = sync_prices(upstream=[fake_provider(model)])
    assert report.skipped["models priced only in what events cannot report"] == 1
    tts = AIModel.objects.get(name="tts")
    assert tts.match_rule == {"equals": "tts"} and not tts.prices.exists()


def test_future_upstream_change_is_reported_against_existing_rows():
    now = datetime(2026, 11, 27, tzinfo=UTC)
    old = fake_model("m1", gp.ModelPrice(input_mtok=Decimal("1"), output_mtok=Decimal("2")))
    sync_prices(upstream=[fake_provider(old)], now=now)
    new = fake_model("m1", [
        gp.ConditionalPrice(prices=gp.ModelPrice(input_mtok=Decimal("1"),
                                                 output_mtok=Decimal("2"))),
        gp.ConditionalPrice(constraint=gp.StartDateConstraint(date(2027, 1, 1)),
                            prices=gp.ModelPrice(input_mtok=Decimal("0.5"),
                                                 output_mtok=Decimal("2"))),
    ])
    report = sync_prices(upstream=[fake_provider(new)], now=now)
    assert report.prices_added == 0
    [difference] = report.differences
    assert (difference.bucket, difference.at.date()) == ("input", date(2027, 1, 1))


def test_meters_rate_and_markups_are_seeded_once():
    out = run("--provider", "none")
    assert "Meters added: 5, meter prices added: 5" in out
    assert "Credit rates added: 1, plan markups added: 3" in out
    assert set(Meter.objects.values_list("code", flat=True)) == {
        "compute.vcpu_seconds", "compute.gpu_seconds", "storage.gb_hours",
        "bandwidth.egress_gb", "data_ops.requests",
    }
    assert set(Meter.objects.values_list("category", flat=True)) == {
        "compute", "storage", "bandwidth", "data_ops",
    }
    assert all(p.starts_at == EPOCH and p.price_per_unit_usd > 0
               for p in MeterPrice.objects.all())
    assert CreditRate.objects.get().credits_per_usd == 100
    assert dict(PlanMarkup.objects.values_list("plan", "multiplier")) == {
        "free": Decimal("1.5"), "professional": Decimal("1.2"), "enterprise": Decimal("1.1"),
    }
    # Staff changes survive a second run, which adds nothing.
    change_plan_markup(plan="professional", multiplier=Decimal("1.3"),
                       starts_at=timezone.now(),
                       now=timezone.now())
    out = run("--provider", "none")
    assert "Meters added: 0, meter prices added: 0" in out
    assert "Credit rates added: 0, plan markups added: 0" in out
    assert PlanMarkup.objects.get(plan="professional", ends_at=None).multiplier == Decimal("1.3")


# --- --apply: upstream changes become rows from the next UTC midnight -------------------------

NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 28, tzinfo=UTC)


def priced_m1(input_price, output_price="2", start=None):
    prices = gp.ModelPrice(input_mtok=Decimal(input_price), output_mtok=Decimal(output_price))
    if start is None:
        return fake_model("m1", prices)
    return fake_model("m1", [
        gp.ConditionalPrice(prices=gp.ModelPrice(input_mtok=Decimal("1"),
                                                 output_mtok=Decimal(output_price))),
        gp.ConditionalPrice(constraint=gp.StartDateConstraint(start), prices=prices),
    ])


def test_apply_starts_upstream_changes_at_the_next_utc_midnight_never_in_the_past():
    sync_prices(upstream=[fake_provider(priced_m1("1"))], now=NOW)
    report = sync_prices(upstream=[fake_provider(priced_m1("0.8"))], now=NOW, apply=True)
    assert [(d.bucket, d.at) for d in report.applied] == [("input", MIDNIGHT)]
    assert rows("m1", bucket="input") == [
        ("input", "", 0, Decimal("1"), EPOCH, MIDNIGHT, "genai-prices"),
        ("input", "", 0, Decimal("0.8"), MIDNIGHT, None, "genai-prices"),
    ]
    assert rows("m1", bucket="output")[0][5] is None  # unchanged series untouched
    again = sync_prices(upstream=[fake_provider(priced_m1("0.8"))], now=NOW, apply=True)
    assert (again.applied, again.left_alone, again.prices_added) == ([], [], 0)


def test_apply_a_minute_before_midnight_waits_for_the_midnight_after():
    sync_prices(upstream=[fake_provider(priced_m1("1"))], now=NOW)
    late = datetime(2026, 11, 27, 23, 58, tzinfo=UTC)  # events may come 5 minutes ahead
    sync_prices(upstream=[fake_provider(priced_m1("0.8"))], now=late, apply=True)
    assert rows("m1", bucket="input")[1][4] == datetime(2026, 11, 29, tzinfo=UTC)


def test_apply_keeps_a_later_upstream_start_date_and_a_past_one_moves_to_midnight():
    sync_prices(upstream=[fake_provider(priced_m1("1"))], now=NOW)
    upstream = [fake_provider(priced_m1("0.5", start=date(2027, 1, 1)))]
    sync_prices(upstream=upstream, now=NOW, apply=True)
    assert [r[3:5] for r in rows("m1", bucket="input")] == [
        (Decimal("1"), EPOCH), (Decimal("0.5"), datetime(2027, 1, 1, tzinfo=UTC))]
    # An upstream change dated last month is applied from the next midnight, not back-dated.
    ModelPrice.objects.all().delete()
    AIModel.objects.all().delete()
    sync_prices(upstream=[fake_provider(priced_m1("1"))], now=NOW)
    sync_prices(upstream=[fake_provider(priced_m1("0.5", start=date(2026, 10, 1)))],
                now=NOW, apply=True)
    assert [r[3:5] for r in rows("m1", bucket="input")] == [
        (Decimal("1"), EPOCH), (Decimal("0.5"), MIDNIGHT)]


def test_apply_leaves_a_series_changed_by_hand_alone_and_reports_it():
    sync_prices(upstream=[fake_provider(priced_m1("1"))], now=NOW)
    m1 = AIModel.objects.get(name="m1")
    change_model_price(model=m1, bucket="input", price_per_million_usd=Decimal("1.5"),
                       starts_at=NOW - timedelta(days=1),
                       now=NOW - timedelta(days=1))
    before = rows("m1")
    report = sync_prices(upstream=[fake_provider(priced_m1("0.8", output_price="3"))], now=NOW,
                         apply=True)
    assert rows("m1", bucket="input") == [r for r in before if r[0] == "input"]
    [alone] = report.left_alone
    assert (alone.bucket, "changed by hand" in alone.reason) == ("input", True)
    assert [(d.bucket, d.at) for d in report.applied] == [("output", MIDNIGHT)]


def test_apply_closes_a_cliff_tier_upstream_dropped():
    tiered = fake_model("m1", gp.ModelPrice(
        input_mtok=gp.TieredPrices(base=Decimal("3"), tiers=[gp.Tier(200_000, Decimal("6"))]),
        output_mtok=Decimal("2")))
    sync_prices(upstream=[fake_provider(tiered)], now=NOW)
    sync_prices(upstream=[fake_provider(priced_m1("3"))], now=NOW, apply=True)
    assert [(r[2], r[5]) for r in rows("m1", bucket="input")] == [(0, None), (200_001, MIDNIGHT)]


def test_the_command_applies_only_with_apply():
    run("--provider", "openai")
    gpt = AIModel.objects.get(provider="openai", name="gpt-4o")
    ModelPrice.objects.filter(model=gpt, bucket="output", service_tier="").update(
        price_per_million_usd=Decimal("11"))  # as if upstream had moved since
    out = run("--provider", "openai")
    assert "not applied; --apply to apply): 1" in out
    out = run("--provider", "openai", "--apply")
    assert "Applied from genai-prices: 1" in out and "Left alone: 0" in out
    [old, new] = ModelPrice.objects.filter(model=gpt, bucket="output", service_tier="") \
        .order_by("starts_at")
    assert (old.price_per_million_usd, new.price_per_million_usd) == (Decimal("11"), Decimal("10"))
    assert new.starts_at > timezone.now() and new.starts_at.time() == datetime.min.time()


def test_rules_come_with_models_an_empty_rule_is_restored_a_staff_rule_kept():
    run("--provider", "openai", "--provider", "azure")
    gpt = AIModel.objects.get(provider="openai", name="gpt-4o")
    assert {"equals": "gpt-4o-2024-08-06"} in gpt.match_rule["or"]
    azure = AIProvider.objects.get(slug="azure")
    assert "openai" in azure.fallback_providers
    assert AIProvider.objects.get(slug="openai").model_match["or"][0] == {"starts_with": "gpt-"}
    mini = AIModel.objects.get(provider="openai", name="gpt-4o-mini")
    AIModel.objects.filter(pk=gpt.pk).update(match_rule=None, position=0)  # as before rules
    mini.match_rule = {"equals": "gpt-4o-mini"}  # staff narrowed it
    mini.save()
    out = run("--provider", "openai")
    assert "match rules restored: 1" in out
    gpt.refresh_from_db()
    mini.refresh_from_db()
    assert gpt.match_rule is not None and gpt.position > 0
    assert mini.match_rule == {"equals": "gpt-4o-mini"}
