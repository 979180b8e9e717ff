"""Fixed-window request limits kept in Django's cache (Redis when REDIS_URL is set, so
every web process shares them; docs/operate.md, "Rate limits").

`over_limit` counts one request of `who` in `scope` and answers the seconds until the
window ends when the count passed `limit`, else None. A limit of 0 is off. When the
cache is unreachable the request passes (logged): a Redis outage must not stop logins
or billing, and the limit is a brake, not a gate of money.
"""

import logging
import math
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)


def over_limit(*, scope: str, who: str, limit: int, window_seconds: int) -> int | None:
    if limit <= 0:
        return None
    now = time.time()
    window = int(now // window_seconds)
    key = f"rate:{scope}:{who}:{window}"
    try:
        cache.add(key, 0, timeout=window_seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: this request opens the window
            cache.set(key, 1, timeout=window_seconds + 1)
            count = 1
    except Exception:  # noqa: BLE001 - any cache failure
        logger.warning("rate limit %s not checked: the cache is unreachable", scope, exc_info=True)
        return None
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * window_seconds - now))
