"""The transactions page's filters (django-filter): kind, UTC date range (of when the
entry was charged, or of when its usage happened), user or API key, model or meter,
operation and the sign of the amount.

Every filter narrows one org's ledger on an indexed column or to the entries whose
usage events match (a usage entry is one charge of many events: docs/ledger.md; the
model or meter through the events' (organization, resource) index); the choices
come from the org's members and keys, the suggestions from the last month of its
daily rollup, never from a scan of the ledger. By when the usage happened, a usage
entry matches when one of its events occurred in the range (the events'
(organization, occurred_at) index), any other entry when it was made in it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from billing.models import DailyUsage, EntryKind, LedgerEntry, UsageEvent

SIGNS = [("in", "Credits in (+)"), ("out", "Credits out (\u2212)")]
USER, KEY = "user", "key"
CHARGED, USED = "charged", "used"
DATE_BASES = [(CHARGED, "When charged"), (USED, "When the usage happened")]
# The date range is one condition over these three fields (TransactionFilter.in_range).
RANGE_FIELDS = ("start", "end", "dates")


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
        label="From (UTC)", method="range_part",
        widget=forms.DateInput(attrs={"type": "date"}))
    end = django_filters.DateFilter(
        label="To (UTC)", method="range_part", widget=forms.DateInput(attrs={"type": "date"}))
    dates = django_filters.ChoiceFilter(label="Dates are", choices=DATE_BASES,
                                        empty_label=None, method="range_part")
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

    def range_part(self, queryset, name, value):
        """start, end and dates make one condition, applied by filter_queryset: by when
        the usage happened, each bound alone would let a charge whose events straddle
        the range match it."""
        return queryset

    def filter_queryset(self, queryset):
        return self.in_range(super().filter_queryset(queryset))

    def _bounds(self) -> tuple[datetime | None, datetime | None]:
        data = self.form.cleaned_data
        start, end = data.get("start"), data.get("end")
        return (_utc_midnight(start) if start else None,
                _utc_midnight(end + timedelta(days=1)) if end else None)

    def _by_use(self) -> bool:
        return self.form.cleaned_data.get("dates") == USED

    def _made_in(self, low, high) -> Q:
        made = Q()
        if low is not None:
            made &= Q(created_at__gte=low)
        if high is not None:
            made &= Q(created_at__lt=high)
        return made

    def _used_in(self, low, high) -> list[Q]:
        """The two halves of "happened in the range": usage entries by their events,
        every other entry by when it was made."""
        events = UsageEvent.objects.filter(organization=self.organization)
        if low is not None:
            events = events.filter(occurred_at__gte=low)
        if high is not None:
            events = events.filter(occurred_at__lt=high)
        # = ANY(ARRAY(...)): the events' entry ids are read once, through the events'
        # (organization, occurred_at) index, and the entries fetched by id. As `IN`, the
        # planner merged the events with the ledger read newest first down to the range
        # (bench/history.md, "Transactions by when the usage happened").
        sql, params = events.order_by().values("entry_id").query.sql_with_params()
        matched = RawSQL(f'"billing_ledgerentry"."id" = ANY(ARRAY({sql}))', params,
                         output_field=BooleanField())
        return [Q(matched),
                ~Q(kind=EntryKind.USAGE) & self._made_in(low, high)]

    def in_range(self, queryset):
        low, high = self._bounds()
        if low is None and high is None:
            return queryset
        if self._by_use():
            usage, other = self._used_in(low, high)
            return queryset.filter(usage | other)
        return queryset.filter(self._made_in(low, high))

    def filter_who(self, queryset, name, value):
        kind, _, pk = value.partition(":")
        if kind == USER:
            return queryset.filter(Q(actor_user_id=pk) | Q(pk__in=self._charges_of(user_id=pk)))
        return queryset.filter(actor_api_key_id=pk)

    def page_parts(self) -> list | None:
        """The filtered rows as querysets whose union they are, where a filter is an OR
        of two conditions each with an index of its own and none for their OR: a user
        (the entries the user made, those of the user's usage events: a user with few
        entries made PostgreSQL read the whole ledger) and a range of when the usage
        happened (the usage entries by their events, the others by when they were
        made). None when no filter is such an OR."""
        kind, _, pk = (self.form.cleaned_data.get("who") or "").partition(":")
        by_user = kind == USER
        low, high = self._bounds()
        by_use = self._by_use() and (low is not None or high is not None)
        if not by_user and not by_use:
            return None
        rest = self.queryset.all()
        for name, value in self.form.cleaned_data.items():
            if name != "who" and name not in RANGE_FIELDS:
                rest = self.filters[name].filter(rest, value)
        if not by_use:
            rest = self.in_range(rest)
            return [rest.filter(actor_user_id=pk), rest.filter(pk__in=self._charges_of(user_id=pk))]
        usage, other = self._used_in(low, high)
        if not by_user:
            return [rest.filter(usage), rest.filter(other)]
        # A user's events belong to usage entries only: their part by when the other
        # entries were made is empty, and reading it cost a scan of the ledger.
        return [rest.filter(usage, actor_user_id=pk), rest.filter(other, actor_user_id=pk),
                rest.filter(usage, pk__in=self._charges_of(user_id=pk))]

    def filter_sign(self, queryset, name, value):
        return queryset.filter(amount__gt=0) if value == "in" else queryset.filter(amount__lt=0)
