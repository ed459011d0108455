"""Token buckets: how fast the outbox may send through one channel account and to one recipient.

The limits are per process. On PostgreSQL with several workers, each worker enforces the account's
full rate, so N workers may reach N times the rate; run one worker per rate-limited account or
divide the configured rate (see docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict


class TokenBucket:
    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1, burst)
        self._tokens = float(self.capacity)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Wait until a token is available and take it. Waiters are served in arrival order."""
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def pause(self, seconds: float) -> None:
        """The provider said to slow down: no tokens for ``seconds``."""
        self._refill()
        self._tokens = min(self._tokens, 0.0) - seconds * self.rate


class RateLimiter:
    """Per-account buckets, plus per-recipient buckets kept for recently seen recipients only."""

    MAX_RECIPIENTS = 10_000

    def __init__(self) -> None:
        self._accounts: dict[str, TokenBucket] = {}
        self._recipients: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()

    def account(self, name: str, rate: float, burst: int) -> TokenBucket:
        bucket = self._accounts.get(name)
        if bucket is None:
            bucket = self._accounts[name] = TokenBucket(rate, burst)
        return bucket

    def recipient(self, account: str, recipient: str, rate: float) -> TokenBucket:
        key = (account, recipient)
        bucket = self._recipients.get(key)
        if bucket is None:
            bucket = self._recipients[key] = TokenBucket(rate, 1)
            if len(self._recipients) > self.MAX_RECIPIENTS:
                self._recipients.popitem(last=False)
        else:
            self._recipients.move_to_end(key)
        return bucket
