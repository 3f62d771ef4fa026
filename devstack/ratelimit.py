"""Models of the Event API's account rate limit, for the sandbox and the pacing simulation.

The API documents the limit (270 batches/s per account), that a 429 names the limit exceeded in
`X-mp-rate-limit-exceeded` (one of them "acceleration": the rate rose too fast), and that a 2xx carries
`X-mp-rate-limit-percentage-used` (docs/event-api.md, "Rate limit"). It does not say how the limiter
counts, nor how the percentage is computed, nor what the acceleration limit allows. Each is a choice
here, so a sender can be tested against several (`Usage`, `Limiter`):

- the speed limit is a token bucket of `rate` batches/s holding `burst` seconds' worth; a request of
  n batches needs n tokens (or a full bucket, when n is more than it holds);
- the usage header is, by `Usage`: the share of the bucket spent (`bucket`), the batches accepted in
  the last second over the rate (`window`, which passes 100 during a burst), or absent (`none`);
- the acceleration limit (off unless `acceleration` is set): the batches accepted in the last second
  may be at most `acceleration` times the mean per second of the `ACCELERATION_WINDOW` seconds before
  it, or `ACCELERATION_FLOOR` of the rate, whichever is more. With it on, the header reports the
  higher of the two usages, as the API documents.
"""

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

ACCELERATION_WINDOW: Final = 5.0  # seconds the acceleration limit compares the last second with
ACCELERATION_FLOOR: Final = 0.25  # of the rate: allowed whatever came before (a start from idle)


class Usage(StrEnum):
    """What `X-mp-rate-limit-percentage-used` reports."""

    BUCKET = "bucket"
    WINDOW = "window"
    NONE = "none"


class Exceeded(StrEnum):
    """The values of `X-mp-rate-limit-exceeded` this model can answer."""

    ACCOUNT = "account"
    ACCELERATION = "acceleration"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Admitted (retry_after None), or refused with the seconds to wait and the limit exceeded."""

    retry_after: int | None = None
    exceeded: Exceeded | None = None

    @property
    def admitted(self) -> bool:
        return self.retry_after is None


class Limiter:
    """One account's limit: `admit` a request of n batches, then read `percentage_used` for its answer."""

    def __init__(
        self,
        rate: float,
        *,
        usage: Usage = Usage.WINDOW,
        burst: float = 1.0,
        acceleration: float = 0.0,
        clock: Callable[[], float],
    ) -> None:
        """`rate` 0 is no limit; `burst` in seconds of the rate; `acceleration` 0 is no acceleration limit."""
        self.rate = rate
        self.usage = usage
        self.capacity = rate * burst
        self.acceleration = acceleration
        self._clock = clock
        self._tokens = self.capacity
        self._stamp = clock()
        self._accepted: deque[tuple[float, int]] = deque()  # (when, batches) of the last seconds

    def admit(self, batches: int) -> Verdict:
        if self.rate <= 0:
            return Verdict()
        now = self._clock()
        self._refill(now)
        self._forget(now)
        if self.acceleration and self._last_second(now) + batches > self._acceleration_allows(now):
            return Verdict(1, Exceeded.ACCELERATION)
        need = min(batches, self.capacity)
        if self._tokens < need:
            return Verdict(max(1, math.ceil((need - self._tokens) / self.rate)), Exceeded.ACCOUNT)
        self._tokens -= batches
        self._accepted.append((now, batches))
        return Verdict()

    def percentage_used(self) -> float | None:
        """The header's value as this model computes it now, or None when the model sends none."""
        if self.usage is Usage.NONE:
            return None
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        self._refill(now)
        self._forget(now)
        if self.usage is Usage.BUCKET:
            speed = 100 * min(max(1 - self._tokens / self.capacity, 0.0), 1.0)
        else:
            speed = 100 * self._last_second(now) / self.rate
        if not self.acceleration:
            return speed
        return max(speed, 100 * self._last_second(now) / self._acceleration_allows(now))

    def _acceleration_allows(self, now: float) -> float:
        before = sum(n for when, n in self._accepted if when <= now - 1.0)
        return max(ACCELERATION_FLOOR * self.rate, self.acceleration * before / ACCELERATION_WINDOW)

    def _last_second(self, now: float) -> int:
        return sum(n for when, n in self._accepted if when > now - 1.0)

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + max(now - self._stamp, 0.0) * self.rate)
        self._stamp = now

    def _forget(self, now: float) -> None:
        horizon = now - 1.0 - ACCELERATION_WINDOW
        while self._accepted and self._accepted[0][0] <= horizon:
            self._accepted.popleft()
