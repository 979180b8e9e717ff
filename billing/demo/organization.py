"""The demo organisation and its people, the first thing seed_demo makes. Idempotent."""

from accounts.models import Membership, Organization, Plan, Role, User

DEMO_PASSWORD = "demo"
DEMO_ADMIN = "demo@example.com"
DEMO_MEMBER = "member@example.com"


def ensure_user(email: str, *, staff: bool = False) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, is_staff=staff, is_superuser=staff)
    return user


def accounts_present() -> bool:
    """The organisation and both logins, each a member, are there already."""
    return Membership.objects.filter(organization__slug="acme",
                                     user__email__in=[DEMO_ADMIN, DEMO_MEMBER]).count() == 2


def seed_accounts() -> Organization:
    org, _ = Organization.objects.get_or_create(
        slug="acme", defaults={"name": "Acme Robotics", "plan": Plan.PROFESSIONAL}
    )
    admin = ensure_user(DEMO_ADMIN, staff=True)
    member = ensure_user(DEMO_MEMBER)
    Membership.objects.get_or_create(user=admin, organization=org, defaults={"role": Role.ADMIN})
    Membership.objects.get_or_create(user=member, organization=org, defaults={"role": Role.MEMBER})
    return org
