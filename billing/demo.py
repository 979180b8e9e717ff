"""Billing's demo steps, in the order seed_demo runs them. Each step is idempotent.

Prices come before usage: the simulated usage history is charged at them.
"""

from billing.ledger.demo import seed_credit_history
from billing.pricing.demo import demo_step as seed_price_catalogue
from billing.purchases.demo import seed_packages_and_purchase
from billing.topups.demo import seed_saved_card
from billing.usage.demo import seed_usage_history

DEMO_STEPS = [
    seed_credit_history,
    seed_packages_and_purchase,
    seed_saved_card,
    seed_price_catalogue,
    seed_usage_history,
]
