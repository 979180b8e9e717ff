"""Accounts: users, organisations, memberships, API keys, settings history. Imports no other app."""
