"""Per-token rate limits for the expensive requests (starting runs, imports): 429 with ``Retry-After``.

Counting is the ``limits`` library's moving window, in the process by default or in Redis when
several server processes serve one database (``RATE_LIMIT_STORAGE``).
"""

from __future__ import annotations

import math
import time

from fastapi import HTTPException
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.settings import Settings

UNITS = {"second": "秒", "minute": "分", "hour": "時間", "day": "日", "month": "か月", "year": "年"}


class RateLimits:
    def __init__(self, settings: Settings):
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
        self._limits = {"runs": parse(settings.run_rate_limit), "imports": parse(settings.import_rate_limit)}

    def hit(self, kind: str, user_id: int) -> None:
        """Count one request of ``kind`` for the token's user; 429 when over the limit."""
        limit = self._limits[kind]
        key = f"user{user_id}"
        if self._limiter.hit(limit, kind, key):
            return
        reset, _ = self._limiter.get_window_stats(limit, kind, key)
        wait = max(1, math.ceil(reset - time.time()))
        unit = UNITS.get(limit.GRANULARITY.name, limit.GRANULARITY.name)
        per = f"{limit.multiples} {unit}" if limit.multiples != 1 else f"1 {unit}"
        raise HTTPException(429, f"リクエストが多すぎます（上限：{per}あたり {limit.amount} 回）。"
                                 f"{wait} 秒後にもう一度お試しください",
                            headers={"Retry-After": str(wait)})
