"""Staff admin for auto-topup (the same settings as the portal page, through the same
service, so every change reaches the settings history), attempts and saved cards (read
only), and the low-balance levels and notifications."""

from django import forms
from django.contrib import admin

from accounts.read_only_admin import ReadOnlyAdmin
from billing.admin.figures import exact_credits, minor_money
from billing.alerts import services as alert_services
from billing.models import (
    AlertSettings,
    AutoTopupSettings,
    Notification,
    SavedCard,
    TopupAttempt,
)
from billing.topups import configuration

TOPUP_FIELDS = ["enabled", "threshold", "package", "mode", "target_balance", "monthly_cap_minor"]


class AutoTopupAdminForm(forms.ModelForm):
    class Meta:
        model = AutoTopupSettings
        fields = ["organization", *TOPUP_FIELDS]

    def choice(self) -> configuration.TopupChoice:
        return configuration.TopupChoice(**{f: self.cleaned_data.get(f) for f in TOPUP_FIELDS})

    def clean(self):
        data = super().clean()
        organization = data.get("organization") or getattr(self.instance, "organization", None)
        if organization is not None and not self.errors:
            try:
                configuration.validate(self.choice(), has_card=SavedCard.objects.filter(
                    organization=organization).exists())
            except configuration.TopupSettingsError as error:
                raise forms.ValidationError(str(error)) from None
        return data


@admin.register(AutoTopupSettings)
class AutoTopupSettingsAdmin(admin.ModelAdmin):
    form = AutoTopupAdminForm
    list_display = ["organization", "enabled", exact_credits("threshold", "Threshold"),
                    "package", "mode",
                    "consecutive_failures", "disabled_reason"]
    list_filter = ["enabled", "mode"]
    search_fields = ["organization__slug", "organization__name"]
    readonly_fields = ["consecutive_failures", "disabled_reason", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "organization"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        saved = configuration.update_settings(organization=form.cleaned_data.get("organization")
                                              or obj.organization,
                                              choice=form.choice(), actor=request.user)
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TopupAttempt)
class TopupAttemptAdmin(ReadOnlyAdmin):
    list_display = ["id", "organization", "status", "package_name", "units",
                    minor_money("amount_minor", "Amount"), "tries", "payment_intent_id",
                    "created_at"]
    list_filter = ["status", "provider"]
    search_fields = ["organization__slug", "payment_intent_id"]


@admin.register(SavedCard)
class SavedCardAdmin(ReadOnlyAdmin):
    list_display = ["organization", "provider", "brand", "last4", "exp_month", "exp_year"]


class AlertLevelsAdminForm(forms.ModelForm):
    class Meta:
        model = AlertSettings
        fields = ["organization", "warning_level", "critical_level"]


@admin.register(AlertSettings)
class AlertSettingsAdmin(admin.ModelAdmin):
    form = AlertLevelsAdminForm
    list_display = ["organization", "warning_level", "critical_level", "warning_armed",
                    "critical_armed"]

    def save_model(self, request, obj, form, change):
        saved = alert_services.update_levels(
            organization=form.cleaned_data.get("organization") or obj.organization,
            warning_level=form.cleaned_data["warning_level"],
            critical_level=form.cleaned_data["critical_level"], actor=request.user)
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organization", "kind", "balance", "recipients"]
    list_filter = ["kind"]
