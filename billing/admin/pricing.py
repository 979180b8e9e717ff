"""Staff admin for prices, the credit rate and plan markups.

Price rows are history: existing rows are read-only and never deleted. Adding
a row goes through billing.pricing.catalogue.changes, which closes the row in force and
opens the new one in one transaction.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.read_only_admin import ReadOnlyInline
from billing.admin import model_names
from billing.models.pricing import (
    AIModel,
    CreditRate,
    Meter,
    MeterPrice,
    ModelPrice,
    PlanMarkup,
    PriceSource,
    ZeroPriceAllowance,
)
from billing.pricing.catalogue import changes as price_changes
from billing.pricing.catalogue.daily_windows import InvalidWindow, parse_window

STARTS_HELP = (
    "When the new price takes effect: now or later, never in the past (events already "
    "charged keep their price). The row in force is closed at this moment."
)


class PriceChangeForm(forms.ModelForm):
    """A form for a new row; validation runs the service's own checks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "starts_at" in self.fields:
            self.fields["starts_at"].initial = timezone.now
            self.fields["starts_at"].help_text = STARTS_HELP

    def clean(self):
        cleaned = super().clean()
        if self.errors or cleaned.get("starts_at") is None:
            return cleaned
        try:
            starts_at = price_changes.effective_start(cleaned["starts_at"])
            price_changes.check_change(self.series(cleaned), starts_at=starts_at)
        except price_changes.PriceChangeError as error:
            raise ValidationError({"starts_at": str(error)}) from None
        return cleaned

    def series(self, cleaned):
        raise NotImplementedError


class ModelPriceForm(PriceChangeForm):
    class Meta:
        model = ModelPrice
        fields = ["model", "bucket", "service_tier", "min_input_tokens", "daily_window",
                  "price_per_million_usd", "starts_at"]

    def clean_daily_window(self):
        window = (self.cleaned_data.get("daily_window") or "").strip()
        if window:
            try:
                parse_window(window)
            except InvalidWindow as error:
                raise ValidationError(str(error)) from None
        return window

    def series(self, cleaned):
        return ModelPrice.objects.filter(
            model=cleaned.get("model"), bucket=cleaned.get("bucket"),
            service_tier=cleaned.get("service_tier") or "",
            min_input_tokens=cleaned.get("min_input_tokens") or 0,
            daily_window=cleaned.get("daily_window") or "",
        )


class MeterPriceForm(PriceChangeForm):
    class Meta:
        model = MeterPrice
        fields = ["meter", "price_per_unit_usd", "starts_at"]

    def series(self, cleaned):
        return MeterPrice.objects.filter(meter=cleaned.get("meter"))


class CreditRateForm(PriceChangeForm):
    class Meta:
        model = CreditRate
        fields = ["credits_per_usd", "starts_at"]

    def series(self, cleaned):
        return CreditRate.objects.all()


class PlanMarkupForm(PriceChangeForm):
    class Meta:
        model = PlanMarkup
        fields = ["plan", "multiplier", "starts_at"]

    def series(self, cleaned):
        return PlanMarkup.objects.filter(plan=cleaned.get("plan"))


class HistoryAdmin(admin.ModelAdmin):
    """Add through a service; view only afterwards; never delete."""

    date_hierarchy = "starts_at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in self.model._meta.fields]

    def get_fields(self, request, obj=None):
        if obj is None:
            return super().get_fields(request, obj)
        return [f.name for f in self.model._meta.fields if f.name != "id"]

    def save_model(self, request, obj, form, change):
        new = self.change(form.cleaned_data, user=request.user)
        obj.pk = new.pk
        obj.__dict__.update({f.attname: getattr(new, f.attname) for f in new._meta.concrete_fields})

    def change(self, data, *, user):
        raise NotImplementedError

    @admin.display(boolean=True, description="in force")
    def is_open(self, obj):
        return obj.ends_at is None


class OpenFilter(admin.SimpleListFilter):
    title = "period"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Open (no end)"), ("no", "Closed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(ends_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(ends_at__isnull=False)
        return queryset


class PriceHistoryInline(ReadOnlyInline):
    show_change_link = True
    ordering = ["-starts_at"]


class ModelPriceInline(PriceHistoryInline):
    model = ModelPrice
    fields = ["bucket", "service_tier", "min_input_tokens", "daily_window",
              "price_per_million_usd", "starts_at", "ends_at", "source", "created_by"]
    readonly_fields = fields
    ordering = ["bucket", "service_tier", "min_input_tokens", "-starts_at"]


class MeterPriceInline(PriceHistoryInline):
    model = MeterPrice
    fields = ["price_per_unit_usd", "starts_at", "ends_at", "source", "created_by"]
    readonly_fields = fields


class AIModelForm(forms.ModelForm):
    class Meta:
        model = AIModel
        fields = ["provider", "name", "display_name", "active", "default_for_name",
                  "match_rule", "position"]

    def clean_match_rule(self):
        return model_names.clean_rule(self.cleaned_data.get("match_rule"))


@admin.register(AIModel)
class AIModelAdmin(admin.ModelAdmin):
    form = AIModelForm
    change_list_template = "admin/billing/aimodel/change_list.html"
    list_display = ["name", "provider", "display_name", "active", "default_for_name",
                    "position", "match_rule"]
    list_filter = ["active", "default_for_name", "provider"]
    search_fields = ["name", "provider", "display_name"]
    inlines = [ModelPriceInline]
    readonly_fields = ["add_price"]

    def get_urls(self):
        return [
            path("resolve/", self.admin_site.admin_view(self.resolve_view),
                 name="billing_aimodel_resolve"),
            *super().get_urls(),
        ]

    def resolve_view(self, request):
        return model_names.resolve_view(self, request)

    def get_readonly_fields(self, request, obj=None):
        # Events refer to a model by provider and name; renaming would orphan them.
        return ["provider", "name", "add_price"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="prices")
    def add_price(self, obj):
        url = reverse("admin:billing_modelprice_add") + f"?model={obj.pk}"
        return format_html('<a href="{}">Change a price of this model</a>', url)


@admin.register(ModelPrice)
class ModelPriceAdmin(HistoryAdmin):
    form = ModelPriceForm
    list_display = ["model", "bucket", "service_tier", "min_input_tokens", "daily_window",
                    "price_per_million_usd", "starts_at", "ends_at", "source", "is_open"]
    list_filter = [OpenFilter, "source", "bucket", "service_tier", "model__provider"]
    search_fields = ["model__name", "model__provider"]
    autocomplete_fields = ["model"]
    list_select_related = ["model"]

    def change(self, data, *, user):
        return price_changes.change_model_price(
            model=data["model"], bucket=data["bucket"], service_tier=data["service_tier"] or "",
            min_input_tokens=data["min_input_tokens"] or 0,
            daily_window=data.get("daily_window") or "",
            price_per_million_usd=data["price_per_million_usd"], starts_at=data["starts_at"],
            created_by=user, source=PriceSource.STAFF,
        )


@admin.register(Meter)
class MeterAdmin(admin.ModelAdmin):
    list_display = ["code", "category", "unit", "active"]
    list_filter = ["category", "active"]
    search_fields = ["code", "description"]
    inlines = [MeterPriceInline]

    def get_readonly_fields(self, request, obj=None):
        return ["code", "add_price"] if obj else []

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="prices")
    def add_price(self, obj):
        url = reverse("admin:billing_meterprice_add") + f"?meter={obj.pk}"
        return format_html('<a href="{}">Change the price of this meter</a>', url)


@admin.register(MeterPrice)
class MeterPriceAdmin(HistoryAdmin):
    form = MeterPriceForm
    list_display = ["meter", "price_per_unit_usd", "starts_at", "ends_at", "source", "is_open"]
    list_filter = [OpenFilter, "source", "meter"]
    list_select_related = ["meter"]

    def change(self, data, *, user):
        return price_changes.change_meter_price(
            meter=data["meter"], price_per_unit_usd=data["price_per_unit_usd"],
            starts_at=data["starts_at"], created_by=user, source=PriceSource.STAFF,
        )


@admin.register(CreditRate)
class CreditRateAdmin(HistoryAdmin):
    form = CreditRateForm
    list_display = ["credits_per_usd", "starts_at", "ends_at", "created_by", "is_open"]
    list_filter = [OpenFilter]

    def change(self, data, *, user):
        return price_changes.change_credit_rate(
            credits_per_usd=data["credits_per_usd"], starts_at=data["starts_at"], created_by=user,
        )


@admin.register(PlanMarkup)
class PlanMarkupAdmin(HistoryAdmin):
    form = PlanMarkupForm
    list_display = ["plan", "multiplier", "starts_at", "ends_at", "created_by", "is_open"]
    list_filter = [OpenFilter, "plan"]

    def change(self, data, *, user):
        return price_changes.change_plan_markup(
            plan=data["plan"], multiplier=data["multiplier"], starts_at=data["starts_at"],
            created_by=user,
        )


@admin.register(ZeroPriceAllowance)
class ZeroPriceAllowanceAdmin(admin.ModelAdmin):
    """Which orgs may be charged a provider's zero price for a model others charge for."""

    list_display = ("organization", "provider", "reason", "granted_by", "created_at")
    list_filter = ("provider",)
    search_fields = ("organization__slug", "organization__name", "provider")
    fields = ("organization", "provider", "reason")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.granted_by = request.user
        obj.provider = obj.provider.strip().lower()
        super().save_model(request, obj, form, change)
