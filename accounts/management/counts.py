"""Counts in command output: "1 account", "2 accounts", "1,000 lines"."""


def plural_count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"
