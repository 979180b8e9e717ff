"""The org portal's billing pages: packages and purchases, auto-topup and alerts; the header."""
