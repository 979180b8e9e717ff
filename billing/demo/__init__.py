"""The demo's steps, in one place: what seed_demo creates (the order is in steps.py)."""
