"""When to send a refused request again: only on 429 (the gateway's in-flight limit) and 503
(worker restarting or a method still loading), the two answers that say "later" and come with
``Retry-After``. Bounded twice, so a script never hangs: by the number of attempts and by the
total time spent waiting."""

from __future__ import annotations

import email.utils
import math
import time
from dataclasses import dataclass

import httpx

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. ``attempts`` counts the first try (1 means never
    retry); ``max_total_wait_s`` caps the sleeping over all retries of one call: a
    ``Retry-After`` that would pass it ends the call at once with the service's error instead
    of waiting in vain; ``fallback_delay_s`` is the wait when the answer names none."""

    attempts: int = 4
    max_total_wait_s: float = 30.0
    fallback_delay_s: float = 1.0

    def delay(self, response: httpx.Response, attempt: int, waited_s: float) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up now."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.attempts:
            return None
        named = parse_retry_after(response.headers.get("Retry-After"))
        wait = self.fallback_delay_s if named is None else named
        if waited_s + wait > self.max_total_wait_s:
            return None
        return wait


NO_RETRY = RetryPolicy(attempts=1)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: either a number of seconds or an HTTP date (RFC 9110 10.2.3);
    ``None`` when absent or unreadable. A date in the past means 0."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
