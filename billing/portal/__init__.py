"""The org portal's billing pages: dashboard, entries, packages and purchases; the header."""
