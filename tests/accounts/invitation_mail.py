"""The two links of an invitation email, as paths a test client can follow."""

import re


def _path(message, pattern: str) -> str:
    match = re.search(rf"http://testserver({pattern})", message.body)
    assert match, message.body
    return match.group(1)


def invitation_path_in(message) -> str:
    return _path(message, r"/invitations/[^/\s]+/")


def password_path_in(message) -> str:
    return _path(message, r"/password-reset/[^/\s]+/[^/\s]+/")
