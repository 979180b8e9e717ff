"""Fixtures shared by the admin tests."""

import pytest


@pytest.fixture
def staff_client(client, admin_user):
    """The org's admin made staff and superuser, so the actions are attributed to a member.
    A module whose staff need no org membership defines its own."""
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    return client
