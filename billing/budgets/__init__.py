"""Monthly budgets per API key and per user: set and cleared by org admins, read with
what they used, and their notifications (docs/budgets.md)."""
