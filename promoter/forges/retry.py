"""Retrying forge API calls: 5xx and connection errors back off; rate limits wait as told.

Forge-neutral: each forge supplies a ``classify(exc) -> Decision | None``
(``None``: not retryable, re-raise). Helpers here read the standard headers:
``Retry-After`` (seconds or an HTTP date), GitHub's ``x-ratelimit-reset`` /
``x-ratelimit-remaining`` and GitLab's ``RateLimit-Reset``.

:func:`create_or_adopt` is the idempotent create used by both forges: a create
whose first attempt reached the server but whose answer was lost is retried,
meets "already exists" (GitHub 422, GitLab 409), and then adopts the existing
pull/merge request instead of failing or opening a second one.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Decision:
    wait: float | None = None  # seconds the server asked for; None: use exponential backoff
    reason: str = ""


@dataclass(slots=True)
class RetryPolicy:
    attempts: int = 8  # total tries, the first included
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_wait: float = 900.0  # longest server-requested wait we accept before giving up
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    log: Callable[[str], None] | None = None

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for retry number ``attempt`` (0-based)."""
        cap = min(self.max_delay, self.base_delay * (2.0**attempt))
        return cap / 2 + self.rng.random() * cap / 2


class RetryExhausted(RuntimeError):
    """Raised with the last error as ``__cause__`` when every attempt failed."""


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    lname = name.lower()
    for k, v in headers.items():
        if k.lower() == lname:
            return str(v)
    return None


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None
                        ) -> float | None:
    """Seconds to wait from ``Retry-After`` or a rate-limit reset header, if any."""
    now = time.time() if now is None else now
    value = header(headers, "Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
            return max(0.0, when - now)
        except (TypeError, ValueError):
            pass
    remaining = header(headers, "x-ratelimit-remaining") or header(headers, "RateLimit-Remaining")
    reset = header(headers, "x-ratelimit-reset") or header(headers, "RateLimit-Reset")
    if remaining == "0" and reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now) + 1.0
    return None


def call_with_retry(
    fn: Callable[[], T],
    classify: Callable[[BaseException], Decision | None],
    policy: RetryPolicy | None = None,
    what: str = "forge API call",
) -> T:
    policy = policy or RetryPolicy()
    for attempt in range(policy.attempts):
        try:
            return fn()
        except Exception as exc:
            decision = classify(exc)
            if decision is None:
                raise
            if attempt + 1 >= policy.attempts:
                raise RetryExhausted(
                    f"{what} still failing after {policy.attempts} attempts "
                    f"({decision.reason or type(exc).__name__}); the forge may be down or "
                    "rate-limiting: retry the job later"
                ) from exc
            wait = decision.wait if decision.wait is not None else policy.backoff(attempt)
            if wait > policy.max_wait:
                raise RetryExhausted(
                    f"{what}: the forge asked us to wait {wait:.0f}s "
                    f"({decision.reason}), more than the {policy.max_wait:.0f}s we accept; "
                    "retry the job after the rate limit resets"
                ) from exc
            if policy.log:
                policy.log(f"{what}: {decision.reason or type(exc).__name__}; "
                           f"retrying in {wait:.1f}s (attempt {attempt + 2}/{policy.attempts})")
            policy.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def create_or_adopt(
    create: Callable[[], T],
    find_existing: Callable[[], T | None],
    is_duplicate: Callable[[BaseException], bool],
    classify: Callable[[BaseException], Decision | None],
    policy: RetryPolicy | None = None,
    what: str = "create pull request",
) -> tuple[T, bool]:
    """(object, adopted): create with retries; on "already exists", adopt the existing one."""
    try:
        return call_with_retry(create, classify, policy, what), False
    except Exception as exc:
        if not is_duplicate(exc):
            raise
        existing = call_with_retry(find_existing, classify, policy, f"{what} (find existing)")
        if existing is None:
            raise
        return existing, True
