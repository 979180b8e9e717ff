"""Demo data of the billing module, run by seed_demo in this order."""

DEMO_STEPS: list = []
