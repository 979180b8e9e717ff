"""The transactions page's filters (django-filter): kind, UTC date range, user or API key,
model or meter, operation and the sign of the amount.

Every filter narrows one org's ledger on an indexed column or to the entries whose
usage events match (a usage entry is one charge of many events: docs/ledger.md; the
model or meter through the events' (organization, resource) index); the choices
come from the org's members and keys, the suggestions from the last month of its
daily rollup, never from a scan of the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Q

from billing.models import DailyUsage, EntryKind, LedgerEntry, UsageEvent

SIGNS = [("in", "Credits in (+)"), ("out", "Credits out (\u2212)")]
USER, KEY = "user", "key"


def _utc_midnight(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


SUGGESTION_DAYS = 31


def recent_names(organization) -> dict[str, list[str]]:
    """Models, meters and operations seen in the last month: one query on the rollup."""
    since = datetime.now(UTC).date() - timedelta(days=SUGGESTION_DAYS)
    pairs = (DailyUsage.objects.filter(organization=organization, day__gte=since)
             .values_list("resource", "operation").distinct().order_by())
    resources, operations = set(), set()
    for resource, operation in pairs:
        resources.add(resource)
        operations.add(operation)
    return {"resource": sorted(r for r in resources if r),
            "operation": sorted(o for o in operations if o)}


class TransactionFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=EntryKind.choices, empty_label="All kinds")
    start = django_filters.DateFilter(
        label="From (UTC)", method="filter_start",
        widget=forms.DateInput(attrs={"type": "date"}))
    end = django_filters.DateFilter(
        label="To (UTC)", method="filter_end", widget=forms.DateInput(attrs={"type": "date"}))
    who = django_filters.ChoiceFilter(label="User or API key", method="filter_who",
                                      empty_label="Anyone")
    # Free text with suggestions: any name ever sent can be filtered on, and the
    # suggestions cost one bounded scan of the recent rollup, not a scan of all of it.
    resource = django_filters.CharFilter(
        label="Model or meter", method="filter_resource",
        widget=forms.TextInput(attrs={"list": "resource-names", "autocomplete": "off"}))
    operation = django_filters.CharFilter(
        label="Operation", method="filter_operation",
        widget=forms.TextInput(attrs={"list": "operation-names", "autocomplete": "off"}))
    sign = django_filters.ChoiceFilter(label="Amount", choices=SIGNS, empty_label="In and out",
                                       method="filter_sign")

    class Meta:
        model = LedgerEntry
        fields = ["kind"]

    def __init__(self, data=None, queryset=None, *, organization, members, api_keys, **kwargs):
        super().__init__(data, queryset, **kwargs)
        self.filters["who"].extra["choices"] = [
            *[(f"{USER}:{m.user_id}", m.user.email) for m in members],
            *[(f"{KEY}:{k.pk}", f"API key {k.name} ({k.prefix}\u2026)") for k in api_keys],
        ]
        self.organization = organization
        self.suggestions = recent_names(organization)

    def filter_resource(self, queryset, name, value):
        # The org condition is implied by the entry's account; it lets the usage events'
        # (organization, resource) index find a rare name's entries, or their absence,
        # without reading every event (bench/history.md).
        return queryset.filter(pk__in=self._charges_of(resource=value))

    def filter_operation(self, queryset, name, value):
        return queryset.filter(pk__in=self._charges_of(operation=value))

    def _charges_of(self, **event_values):
        """The entries of the org's usage events with these values."""
        return (UsageEvent.objects.filter(organization=self.organization, **event_values)
                .values("entry_id"))

    def filter_start(self, queryset, name, value):
        return queryset.filter(created_at__gte=_utc_midnight(value))

    def filter_end(self, queryset, name, value):
        return queryset.filter(created_at__lt=_utc_midnight(value + timedelta(days=1)))

    def filter_who(self, queryset, name, value):
        kind, _, pk = value.partition(":")
        if kind == USER:
            return queryset.filter(Q(actor_user_id=pk) | Q(pk__in=self._charges_of(user_id=pk)))
        return queryset.filter(actor_api_key_id=pk)

    def page_parts(self) -> list | None:
        """For a user, the filtered rows as two querysets, the entries the user made and
        those of the user's usage events: each has an index (the entry's actor, the
        event's user), their OR has none, and a user with few entries made PostgreSQL
        read the whole ledger. None for any other filter."""
        kind, _, pk = (self.form.cleaned_data.get("who") or "").partition(":")
        if kind != USER:
            return None
        rest = self.queryset.all()
        for name, value in self.form.cleaned_data.items():
            if name != "who":
                rest = self.filters[name].filter(rest, value)
        return [rest.filter(actor_user_id=pk), rest.filter(pk__in=self._charges_of(user_id=pk))]

    def filter_sign(self, queryset, name, value):
        return queryset.filter(amount__gt=0) if value == "in" else queryset.filter(amount__lt=0)
