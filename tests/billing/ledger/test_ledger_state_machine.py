"""A Hypothesis state machine drives the ledger and checks every invariant after each step."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from billing.ledger.corrections import adjust_credits, reverse_entry
from billing.ledger.errors import InsufficientCredits, NotReversible
from billing.ledger.expiry import expire_credits
from billing.ledger.verify import verify_ledger
from billing.models import CreditAccount, CreditGrant, GrantKind, LedgerEntry
from tests.billing.postings import SYSTEM, consume, grant
from tests.conftest import make_org

amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("500"), places=6)
_slugs = itertools.count()


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.org = make_org(f"sm-{next(_slugs)}")
        self.now = timezone.now()
        self.expected = Decimal(0)
        self.keys = itertools.count()

    def balance(self):
        return CreditAccount.objects.get(organization=self.org).balance

    @rule(amount=amounts, kind=st.sampled_from(GrantKind.values),
          expires_in=st.one_of(st.none(), st.integers(min_value=1, max_value=10)),
          priority=st.sampled_from([1, 100, 100, 200]))
    def add_grant(self, amount, kind, expires_in, priority):
        expires_at = self.now + timedelta(hours=expires_in) if expires_in else None
        grant(self.org, amount, kind=kind, expires_at=expires_at, priority=priority,
              now=self.now, key=f"sm:grant:{next(self.keys)}")
        self.expected += amount

    def entry_count(self):
        return LedgerEntry.objects.filter(account__organization=self.org).count()

    @rule(amount=amounts)
    def use(self, amount):
        before, entries_before = self.balance(), self.entry_count()
        try:
            posting = consume(self.org, amount, key=f"usage:{next(self.keys)}", now=self.now)
        except InsufficientCredits:
            # Refused only when it could not be paid, and then nothing was written (not
            # even the expiries its book posted first: they roll back with it).
            assert before < 0 or amount > before or CreditGrant.objects.filter(
                account__organization=self.org, expired_at__isnull=True,
                expires_at__lte=self.now).exists()
            assert (self.balance(), self.entry_count()) == (before, entries_before)
            return
        assert posting.entry.balance_after >= 0
        assert posting.entry.amount == -amount
        # Expiries may have posted first under the same lock.
        self.expected = posting.entry.balance_after
        assert before - amount >= posting.entry.balance_after

    @rule(amount=amounts, negative=st.booleans())
    def adjust(self, amount, negative):
        posting = adjust_credits(organization=self.org, credits=-amount if negative else amount,
                                 reason="state machine", actor=SYSTEM, now=self.now)
        self.expected = posting.entry.balance_after

    @precondition(lambda self: LedgerEntry.objects.filter(
        account__organization=self.org).exists())
    @rule(pick=st.integers(min_value=0))
    def reverse(self, pick):
        entries = list(LedgerEntry.objects.filter(account__organization=self.org).order_by("id"))
        entry = entries[pick % len(entries)]
        try:
            posting = reverse_entry(entry=entry, reason="state machine", actor=SYSTEM,
                                    now=self.now)
        except NotReversible:
            return
        if not posting.replayed:
            assert posting.entry.amount == -entry.amount
        self.expected = self.balance()

    @rule(hours=st.integers(min_value=1, max_value=12))
    def time_passes_and_expiry_runs(self, hours):
        self.now += timedelta(hours=hours)
        expire_credits(organization=self.org, now=self.now)
        self.expected = self.balance()
        assert not CreditGrant.objects.filter(
            account__organization=self.org, expired_at__isnull=True, expires_at__lte=self.now
        ).exists()

    @invariant()
    def ledger_is_sound(self):
        if not hasattr(self, "org"):
            return
        report = verify_ledger(organization=self.org)
        assert report.ok, [str(p) for p in report.problems]
        assert self.balance() == self.expected


@pytest.mark.long
@pytest.mark.django_db
def test_ledger_state_machine():
    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=25, stateful_step_count=20, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    ))
