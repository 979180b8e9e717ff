"""The ledger: accounts, grants and entries; posting (the Book), corrections, expiry, verify.

The rules it keeps are in docs/ledger.md. Every ledger row is written through the Book (book.py)."""
