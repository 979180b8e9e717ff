"""Read-only ledger admin; staff actions go through the posting services."""
