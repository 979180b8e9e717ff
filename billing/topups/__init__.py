"""Auto-topup: the saved card, the settings, attempts, the trigger and the sweep."""
