"""Transient infrastructure failures: told apart from bugs and answered 503 (docs/api.md)."""
