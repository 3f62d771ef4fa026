"""Share the account's rate limit across containers that cannot talk to each other.

The Event API allows about 270 batches per second per account and answers 429 above it
(docs/event-api.md, "Rate limit"). Every container of the function sends to the same account, so
each one paces itself with a token bucket whose rate starts at its fair share (the budget over the
event source mapping's MaximumConcurrency) and then follows what the API says to everyone:

- the `X-mp-rate-limit-percentage-used` header of each 2xx is the account's usage: above EASE_AT
  percent the rate shrinks a little before the limit is reached, below GROW_BELOW it grows by a step
  (additive increase while the API has room);
- a 429 halves the rate (multiplicative decrease) and its Retry-After stops every request of the
  container until then.

No library paces like this: urllib3 and botocore retry after the fact, and none reads the API's usage.
The pacer lives as long as the container; its waits are the caller's, who checks them against the
deadline first (see `Delivery`).
"""

import math
import random
from dataclasses import dataclass

from rokt_forwarder import limits
from rokt_forwarder.ports import Clock

EASE_AT = 95.0  # percent of the account's limit in use: ease off above this
GROW_BELOW = 85.0  # and grow below it
EASE = 0.9
BACK_OFF = 0.5
STEP = 0.1  # of the fair share, per answer with room to spare
MIN_SHARE = 0.05  # the rate never goes below this share of the fair share
MIN_BATCHES = 10  # a request waits for at least this many batches' share (or all it has, if fewer)
SHARE_SECONDS = 1.0  # and for at least what the rate earns in this time: about a request a second


@dataclass(frozen=True, slots=True)
class Share:
    """What a request may carry: `batches` of them, sent after waiting `wait` seconds."""

    batches: int
    wait: float


class Pacer:
    """A token bucket in batches per second, whose rate follows the API's answers."""

    def __init__(self, budget: float, sharers: int, clock: Clock, rng: random.Random | None = None) -> None:
        """`budget`: the account's batches per second; `sharers`: how many containers share it."""
        self.budget = budget
        self.fair_share = budget / max(sharers, 1)
        self._clock = clock
        self.restart(rng or random.Random())

    def restart(self, rng: random.Random) -> None:
        """Start afresh: at the fair share, with a random part of a small request in the bucket.

        Containers that start together (a backlog drained by many pollers at once, or restored from
        one SnapStart snapshot) then spread their first requests over time.
        """
        self.rate = self.fair_share
        self._stamp = self._resume_at = self._clock.monotonic()
        self._tokens = rng.uniform(0, MIN_BATCHES)

    def take(self, batches: int, within: float) -> Share | None:
        """A share of up to `batches` for the next request, or None if not even a small one comes in time.

        It waits for about a second's worth (at least MIN_BATCHES, at most all `batches`), then takes
        what has been earned: a container with a small share sends small requests at its pace instead
        of saving up for a full one, which keeps the account's traffic smooth, and one with a large
        share sends few requests.
        """
        self._refill()
        least = min(batches, max(MIN_BATCHES, math.floor(self.rate * SHARE_SECONDS)))
        now = self._clock.monotonic()
        wait = max(self._resume_at - now, (least - self._tokens) / self.rate, 0.0)
        if wait > within:
            return None
        earned = self._tokens + wait * self.rate
        share = min(batches, max(least, math.floor(earned)))
        self._tokens -= share
        return Share(share, wait)

    def observe(
        self, status: int, batches: int, used_percent: float | None, retry_after: float | None
    ) -> None:
        """Follow the API's answer to a request of `batches`: ease off near its limit, back off on
        429, grow while it has room. Only an accepted request counts against the limit: any other
        gives its share back, so the retry of a 503 or a 429 is not charged twice and an outage
        does not eat the time after it.
        """
        self._refill()
        if 200 <= status < 300:
            if used_percent is not None and used_percent >= EASE_AT:
                self.rate *= EASE
            elif used_percent is None or used_percent < GROW_BELOW:
                self.rate += STEP * self.fair_share
        else:
            self.refund(batches)
        if status == 429:
            self.rate *= BACK_OFF
            if retry_after:
                self._resume_at = max(self._resume_at, self._clock.monotonic() + retry_after)
        self.rate = min(max(self.rate, MIN_SHARE * self.fair_share), self.budget)

    def refund(self, batches: int) -> None:
        """Give back the share of a request that never reached the API's count."""
        self._tokens = min(self._capacity(), self._tokens + batches)

    def _capacity(self) -> float:
        """A second's worth, and at least one full request: after a pause a container never bursts more."""
        return max(self.rate, limits.MAX_BATCHES_PER_REQUEST)

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self._capacity(), self._tokens + max(now - self._stamp, 0.0) * self.rate)
        self._stamp = now
