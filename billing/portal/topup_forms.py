"""The forms of the auto-topup and low-balance alert settings pages."""

from decimal import Decimal

from django import forms

from billing import money
from billing.models import CreditPackage, TopupMode
from billing.models.purchases import currency_exponent

CREDITS = {"max_digits": money.CREDIT_DIGITS + money.CREDIT_PLACES,
           "decimal_places": money.CREDIT_PLACES, "min_value": Decimal(0)}


class CreditsField(forms.DecimalField):
    """Credits typed by a person: a stored 5499.000000 is shown as 5499."""

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            return f"{value.normalize():f}"
        return super().prepare_value(value)


class AutoTopupForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Auto-topup on")
    threshold = CreditsField(label="When the balance falls below (credits)", **CREDITS)
    package = forms.ModelChoiceField(queryset=CreditPackage.objects.filter(active=True),
                                     required=False, empty_label="Choose a package")
    mode = forms.ChoiceField(choices=TopupMode.choices, widget=forms.RadioSelect,
                             initial=TopupMode.FIXED)
    target_balance = CreditsField(required=False, label="Target balance (credits)",
                                  help_text="Target mode: buy as many packages as reach "
                                            "this balance.", **CREDITS)
    monthly_cap = forms.DecimalField(required=False, min_value=Decimal(0), max_digits=14,
                                     decimal_places=3, label="Monthly spend cap",
                                     help_text="In the package's currency; empty for no cap.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Name the cap's currency when every package on offer shares one (the usual case).
        currencies = set(self.fields["package"].queryset.values_list("currency", flat=True))
        if len(currencies) == 1:
            self.fields["monthly_cap"].label = f"Monthly spend cap ({currencies.pop().upper()})"

    def clean(self):
        """The cap in the package currency's minor units, as cleaned_data['monthly_cap_minor']."""
        data = super().clean()
        if data.get("mode") == TopupMode.TARGET and data.get("target_balance") is None:
            # At its field, not above the form (the service refuses it as well).
            self.add_error("target_balance", "Target mode needs a target balance.")
        cap, package = data.get("monthly_cap"), data.get("package")
        data["monthly_cap_minor"] = None
        if cap is not None:
            minor = cap.scaleb(currency_exponent(package.currency if package else "usd"))
            if minor != minor.to_integral_value():
                self.add_error("monthly_cap", "The cap has more decimals than the currency.")
            else:
                data["monthly_cap_minor"] = int(minor)
        return data

    @staticmethod
    def initial_from(row) -> dict:
        cap = None
        if row.monthly_cap_minor is not None:
            currency = row.package.currency if row.package else "usd"
            cap = Decimal(row.monthly_cap_minor).scaleb(-currency_exponent(currency))
        return {"enabled": row.enabled, "threshold": row.threshold, "package": row.package,
                "mode": row.mode, "target_balance": row.target_balance, "monthly_cap": cap}


class AlertLevelsForm(forms.Form):
    warning_level = CreditsField(required=False, label="Warning level (credits)", **CREDITS)
    critical_level = CreditsField(required=False, label="Critical level (credits)", **CREDITS)

    def clean(self):
        data = super().clean()
        warning, critical = data.get("warning_level"), data.get("critical_level")
        if warning is not None and critical is not None and critical > warning:
            raise forms.ValidationError("The critical level must not be above the warning level.")
        return data
