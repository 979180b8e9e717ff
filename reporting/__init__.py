"""Reporting: pages that read billing's data (today the usage page).

Imports billing, never the reverse."""
