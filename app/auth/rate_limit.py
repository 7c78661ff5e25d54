"""Failed-login counters in Redis, per username and per client IP, over a fixed window.

Only failures count. If Redis is unreachable the limiter fails open (logins still work) and logs a
warning: SPEC §4 keeps Redis out of the request path's critical dependencies.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.config import Settings
from app.errors import TooManyRequests

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoginLimiter:
    redis: Redis
    settings: Settings

    def _keys(self, username: str, client_ip: str) -> list[tuple[str, int]]:
        # Hashed: a username is whatever the client typed, and a key should stay small.
        user_key = hashlib.sha256(username.lower().encode()).hexdigest()
        return [
            (f"login-fail:user:{user_key}", self.settings.login_max_failures_per_username),
            (f"login-fail:ip:{client_ip}", self.settings.login_max_failures_per_ip),
        ]

    async def check(self, username: str, client_ip: str) -> None:
        """Raise 429 with Retry-After when either counter is at its limit."""
        keys = self._keys(username, client_ip)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, _ in keys:
                    pipe.get(key)
                    pipe.ttl(key)
                replies = await pipe.execute()
        except RedisError as exc:
            logger.warning("login rate limit unavailable, failing open: %s", exc)
            return
        for index, (_, limit) in enumerate(keys):
            count, ttl = replies[2 * index], replies[2 * index + 1]
            if count is not None and int(count) >= limit:
                raise TooManyRequests(
                    "Too many failed login attempts; try again later", retry_after=ttl
                )

    async def record_failure(self, username: str, client_ip: str) -> None:
        """Count one failure. The window starts with the first failure: `SET NX EX` creates the
        counter with its expiry and INCR keeps it (`EXPIRE ... NX` would need Redis 7)."""
        window = self.settings.login_failure_window_seconds
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for key, _ in self._keys(username, client_ip):
                    pipe.set(key, 0, ex=window, nx=True)
                    pipe.incr(key)
                await pipe.execute()
        except RedisError as exc:
            logger.warning("could not record failed login: %s", exc)
