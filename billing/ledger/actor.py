"""Who caused a posting: every ledger entry is attributed to one."""

from __future__ import annotations

from dataclasses import dataclass

from billing.models import ActorType


@dataclass(frozen=True)
class Actor:
    """Who caused a posting: a person, an API key, or a named system job."""

    type: str
    label: str
    by_user: object | None = None
    by_api_key: object | None = None

    @classmethod
    def user(cls, user) -> Actor:
        return cls(type=ActorType.USER, label=user.email, by_user=user)

    @classmethod
    def api_key(cls, api_key) -> Actor:
        label = f"API key {api_key.name} ({api_key.prefix}…)"
        return cls(type=ActorType.API_KEY, label=label, by_api_key=api_key)

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(type=ActorType.SYSTEM, label=f"system:{job}")
