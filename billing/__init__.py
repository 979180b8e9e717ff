"""Billing: a folder per area (see docs/architecture.md). Imports accounts, never reporting."""
