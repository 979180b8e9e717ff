"""What text PostgreSQL can store: the one check every free-text input goes through.

A NUL character or a lone surrogate (from JSON's "\\ud800" or undecodable
command-line bytes) cannot be stored in a text column; refused at the door
with a clear message, it never reaches the database as an error.
"""


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if value.isascii():  # no surrogate can be there: skip encoding it (batches check 4,000)
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None
