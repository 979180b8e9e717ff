"""The demo's steps after its organisation, in the order seed_demo runs them. Each is idempotent,
writes one line of what it added or found already there, and returns whether it added anything.

Prices come before usage: the simulated usage history is charged at them. The history
comes before today's purchase: its entries are dated on the days the usage happened, so
the ledger's order is the order of its dates.
"""

from billing.demo.credit_history import seed_credit_history
from billing.demo.first_purchase import seed_packages_and_purchase
from billing.demo.price_catalogue import seed_price_catalogue
from billing.demo.saved_card import seed_saved_card
from billing.demo.usage_history import seed_usage_history

DEMO_STEPS = [
    seed_credit_history,
    seed_price_catalogue,
    seed_usage_history,
    seed_packages_and_purchase,
    seed_saved_card,
]
