"""The ledger: accounts, grants and entries; posting (the Book), corrections, expiry, verify.

The rules it keeps are in docs/ledger.md. Only book.py writes ledger rows."""
