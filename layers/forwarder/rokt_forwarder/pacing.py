"""Share the account's rate limit across containers that cannot talk to each other.

The Event API allows about 270 batches per second per account and answers 429 above it
(docs/event-api.md, "Rate limit"). Every container of the function sends to the same account, so
each one paces itself with a token bucket. Its rate starts at the fair share, a little under the
budget over the event source mapping's MaximumConcurrency, which is what it is due when every
container is busy; then it follows what the API says to everyone:

- the `X-mp-rate-limit-percentage-used` header of each 2xx is the account's usage over the last
  second: from EASE_AT percent the rate eases off (not below the fair share), below GROW_BELOW it
  grows by a step, and in proportion to the room while the limit stays clearly under-used (fewer
  containers are busy than MaximumConcurrency says);
- a 429 halves the rate (multiplicative decrease) and its Retry-After holds every request of the
  container until then; with room again the rate comes back to the fair share quickly.

A request waits for about a second's share and carries what was earned, so traffic stays smooth.
docs/benchmarks.md measures the result (make bench-rate). No library paces like this: urllib3 and
botocore retry after the fact, and none reads the API's usage. The pacer lives as long as the
container; its waits are the caller's, who checks them against the deadline first (see `Delivery`).
"""

import math
import random
from dataclasses import dataclass

from rokt_forwarder import limits
from rokt_forwarder.ports import Clock

EASE_AT = 100.0  # percent of the account's limit used over the last second: ease off from here
GROW_BELOW = 90.0  # and grow below this
EASE = 0.9
BACK_OFF = 0.5
STEP = 0.1  # of the fair share: the least growth per answer with room to spare
RECOVER = 1.5  # the most growth per answer, as a factor
HEADROOM = 0.97  # of the budget is shared out: shares adding up to all of it would meet the limit
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
        self.fair_share = HEADROOM * budget / max(sharers, 1)
        self._clock = clock
        self.restart(rng or random.Random())

    def restart(self, rng: random.Random) -> None:
        """Start afresh: at the fair share, with a random part of a small request in the bucket.

        Containers that start together (a backlog drained by many pollers at once, or restored from
        one SnapStart snapshot) then spread their first requests over time.
        """
        self.rate = self.fair_share
        self._low_usage = False  # the last answer reported the limit clearly under-used
        self._stamp = self._resume_at = self._clock.monotonic()
        self._tokens = rng.uniform(0, MIN_BATCHES)

    def take(self, batches: int, within: float) -> Share | None:
        """A share of up to `batches` for the next request, or None if not even one batch comes in time.

        It waits for about a second's worth (at least MIN_BATCHES, at most all `batches`, less if only
        less can come `within`), then takes what has been earned: a container with a small share
        sends small requests at its pace instead of saving up for a full one, which keeps the
        account's traffic smooth, and one with a large share sends few requests.
        """
        self._refill()
        hold = max(self._resume_at - self._clock.monotonic(), 0.0)
        if hold > within:
            return None
        can_earn = self._tokens + (within - hold) * self.rate
        least = min(batches, max(MIN_BATCHES, math.floor(self.rate * SHARE_SECONDS)), math.floor(can_earn))
        if least < 1:
            return None
        wait = max(hold, (least - self._tokens) / self.rate)
        # The bucket as it will be when the request goes: what it holds then, never more than it can.
        earned = min(self._capacity(), self._tokens + wait * self.rate)
        share = min(batches, max(least, math.floor(earned)))
        self._tokens, self._stamp = earned - share, self._stamp + wait
        return Share(share, wait)

    def held_for(self) -> float:
        """Seconds until a 429's Retry-After lets this container send again (0 when it is not held)."""
        return max(self._resume_at - self._clock.monotonic(), 0.0)

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
                # Never below the fair share for that: the shares add up to the budget, and the usage
                # of one lumpy second would otherwise starve a container (429s still can).
                self.rate = max(self.rate * EASE, min(self.rate, self.fair_share))
            elif used_percent is None or used_percent < GROW_BELOW:
                self.rate = self._grown(used_percent)
        else:
            self.refund(batches)
        if status == 429:
            self.rate *= BACK_OFF
            if retry_after:
                self._resume_at = max(self._resume_at, self._clock.monotonic() + retry_after)
        self.rate = min(max(self.rate, MIN_SHARE * self.fair_share), self.budget)

    def _grown(self, used_percent: float | None) -> float:
        """A step of the fair share; back to the fair share fast after a 429 (it is this container's
        due); and with the limit clearly under-used on two answers running (fewer containers are busy
        than MaximumConcurrency says), in proportion to the room reported, at most RECOVER times.

        Two answers, not one: a container's first answers may come before the API's one-second usage
        window has filled, and every container growing on that at once would overshoot.
        """
        low = used_percent is not None and used_percent < GROW_BELOW / 2
        roomy, self._low_usage = low and self._low_usage, low
        grown = self.rate + STEP * self.fair_share
        if roomy and used_percent is not None:
            grown = max(grown, self.rate * min(RECOVER, 1 + (GROW_BELOW - used_percent) / 100))
        if self.rate < self.fair_share:
            grown = max(grown, min(self.rate * RECOVER, self.fair_share))
        return grown

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
