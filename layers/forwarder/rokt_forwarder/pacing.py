"""Share the account's rate limit across containers that cannot talk to each other.

The Event API allows about 270 batches per second per account and answers 429 above it
(docs/event-api.md, "Rate limit"). Every container of the function, and whatever else the advertiser
sends, draws on that one limit. The API does not say how it counts, nor what its
`X-mp-rate-limit-percentage-used` header measures, so the rate here (`Rate`) trusts only what means
the same under every model of it (docs/architecture.md, "Pacing"):

- a 429 is the truth: the rate drops at once to BACK_OFF of what the API actually took from this
  container lately (the rate may be far above that), its Retry-After holds the container, and the
  first 429 of an overshoot sets a ceiling the rate returns to quickly and then passes slowly. One
  exception: a 429 that comes right after an answer whose usage header read below FAR_BELOW percent
  is taken for a fault (its Retry-After still holds, the rate stays): a reading that low leaves half
  a second of the limit unspent on every model, so the limit cannot speak within READING_SECONDS
  unless the account's traffic doubled at once. Only one such 429 in a row is excused, so a header
  that reads low for another reason cannot hide an overshoot. Without the exception, sporadic 429s
  ratchet the rate down to nothing;
- the usage header is a brake, never an accelerator: from HOLD_AT percent the rate stops growing,
  from EASE_AT it eases off. A low reading says nothing (a token bucket with burst capacity reads
  low while nearly spent), so no growth depends on it;
- growth is cautious and earned by sending at the rate: a slow start from a quarter of the fair
  share after a cold start or an idle spell (a drain after an outage must not trip the API's
  acceleration limit, and a 429 naming it slows the start further); past a ceiling, a step of
  PROBE of the fair share per second; after QUIET_SECONDS without any brake, QUIET_GROWTH of the
  rate per second, to find room nobody uses.

`Pacer` turns the rate into shares: a request waits for about a second's share and carries what was
earned, so traffic stays smooth. The constants were chosen with a simulation of a fleet against
several models of the API (bench/simulate.py) and measured with real processes (make
bench-rate, docs/benchmarks.md). No library paces like this: urllib3 and botocore retry after the
fact (botocore's adaptive mode knows no shared limit, usage header or deadline). The pacer lives as
long as the container; its waits are the caller's, who checks them against the deadline first.
"""

import math
import random
from collections import deque
from dataclasses import dataclass

from rokt_forwarder.ports import Clock

ACCELERATION = "acceleration"  # X-mp-rate-limit-exceeded of a 429 when the rate rose too fast
HEADROOM = 0.97  # of the limit is shared out: shares adding up to all of it would meet the limit
START = 0.2  # of the fair share: where a slow start begins
SLOW_START = 0.2  # growth per second of a slow start, until the fair share (or the ceiling)
BACK_OFF = 0.8  # the rate after a 429, as a share of what the API took from the container lately
CEILING = 0.85  # of that: where the rate returns to quickly after the first 429 of an overshoot
APPROACH = 0.3  # of the way back to the ceiling per second
PROBE = 0.002  # of the fair share per second: growth past the ceiling
QUIET_SECONDS = 60.0  # this long without a brake (a 429, a high usage header), probing speeds up
QUIET_GROWTH = 0.02  # to this share of the rate per second
HOLD_AT = 99.0  # percent used, as the header says (smoothed): stop growing from here
EASE_AT = 105.0  # and ease off from here
EASE = 0.95
FAR_BELOW = 50.0  # percent used, as the latest reading says: a 429 now is not the rate limit
READING_SECONDS = 2.0  # a reading older than this says nothing about a 429
SMOOTHING = 0.15  # weight of the latest reading: one second's count of lumpy requests swings widely
TOOK_SECONDS = 5.0  # what the API took from the container is measured over this long
REACTION_SECONDS = 2.0  # at most one cut per this long: the 429s of one overshoot come together
EPISODE_SECONDS = 5.0  # 429s closer than this are one overshoot
IDLE_SECONDS = 10.0  # nothing sent for this long: start slowly again
MAX_GROWTH_SECONDS = 10.0  # growth is per second between two answers, at most this many
MIN_SHARE = 0.05  # the rate never goes below this share of the fair share
MIN_BATCHES = 10  # a request waits for at least this many batches' share (or all it has, if fewer)
SHARE_SECONDS = 1.0  # and for at least what the rate earns in this time: about a request a second


class Rate:
    """This container's batches per second, following the API's answers (the module docstring)."""

    def __init__(self, limit: float, fair_share: float, now: float) -> None:
        self.limit = limit
        self.fair_share = fair_share
        self.value = START * fair_share
        self.ceiling: float | None = None
        self._took: deque[tuple[float, int]] = deque()  # (when, batches) the API accepted
        self._usage: float | None = None  # the usage header, smoothed
        self._reading: tuple[float, float] | None = None  # (when, percent) of the latest header
        self._start(now)
        self._grown_at = self._braked_at = now
        self._cut_at = now - REACTION_SECONDS
        self._last_429 = now - EPISODE_SECONDS

    def _start(self, now: float) -> None:
        self._slow_start = True
        self._start_growth = SLOW_START
        self._started_at = now

    def restart_after_idle(self, now: float) -> None:
        """After an idle spell the account's traffic may have changed: ramp up again."""
        if not self._slow_start:
            self._start(now)
            self.value = min(self.value, START * (self.ceiling or self.fair_share))

    def accepted(self, now: float, batches: int, used_percent: float | None, tested: bool) -> None:
        """A 2xx for `batches`; `tested`: the request had waited for the rate, so growth was earned."""
        self._took.append((now, batches))
        seconds = min(now - self._grown_at, MAX_GROWTH_SECONDS)
        self._grown_at = now
        if used_percent is not None:
            self._reading = (now, used_percent)
            last = self._usage if self._usage is not None else used_percent
            self._usage = last + SMOOTHING * (used_percent - last)
            if self._usage >= HOLD_AT:
                self._braked_at = now
                if self._usage >= EASE_AT and now - self._cut_at >= REACTION_SECONDS:
                    self._cut_at = now
                    self._set(self.value * EASE)
                return
        if tested and seconds > 0:
            self._set(self._grown(now, seconds))

    def _grown(self, now: float, seconds: float) -> float:
        """The rate after `seconds` of sending at it without a brake."""
        if self._slow_start:
            top = self.ceiling or self.fair_share
            grown: float = min(self.value * (1 + self._start_growth) ** seconds, top)
            self._slow_start = grown < top
            return grown
        growth = PROBE * min(self.fair_share, self.ceiling or self.fair_share)
        if self.ceiling and self.value < self.ceiling:
            growth = max(growth, APPROACH * (self.ceiling - self.value))
        if now - self._braked_at >= QUIET_SECONDS:
            growth = max(growth, QUIET_GROWTH * self.value)
        return self.value + growth * seconds

    def throttled(self, now: float, limit_exceeded: str | None) -> None:
        """A 429; `limit_exceeded` is its X-mp-rate-limit-exceeded."""
        excused = limit_exceeded != ACCELERATION and self._far_below_limit(now)
        self._reading = None  # so the next 429 in a row is the limit's, whatever came before
        if excused:
            return
        first = now - self._last_429 >= EPISODE_SECONDS  # of an overshoot
        self._last_429 = self._braked_at = now
        if now - self._cut_at < REACTION_SECONDS:
            return
        self._cut_at = self._grown_at = now
        took = min(self.value, self._took_lately(now) or self.value)
        if limit_exceeded == ACCELERATION and self._slow_start:
            # Not the speed limit: the rate rose faster than the API allows. Step back a little
            # (what was taken so far says nothing yet) and ramp on more slowly.
            self._start_growth = max(self._start_growth * 2 / 3, SLOW_START * 2 / 3)
            self._set(BACK_OFF * self.value)
            return
        if first or self.ceiling is None:
            self.ceiling = CEILING * took
        self._slow_start = False
        self._set(BACK_OFF * took)

    def _far_below_limit(self, now: float) -> bool:
        """The latest usage header, if fresh, put the account far below its rate limit."""
        if self._reading is None:
            return False
        when, percent = self._reading
        return now - when <= READING_SECONDS and percent < FAR_BELOW

    def _took_lately(self, now: float) -> float | None:
        """Batches per second the API accepted from this container over the last TOOK_SECONDS."""
        while self._took and self._took[0][0] <= now - TOOK_SECONDS:
            self._took.popleft()
        since = max(now - TOOK_SECONDS, self._started_at)  # a fresh start has no longer history
        batches = sum(n for when, n in self._took if when > since)
        return batches / max(now - since, 1.0) if batches else None

    def _set(self, value: float) -> None:
        self.value = min(max(value, MIN_SHARE * self.fair_share), self.limit)


@dataclass(frozen=True, slots=True)
class Share:
    """What a request may carry: `batches` of them, sent after waiting `wait` seconds."""

    batches: int
    wait: float


class Pacer:
    """A token bucket in batches per second at the container's `Rate`, and the holds of Retry-After."""

    def __init__(
        self, limit: float, concurrency: int, clock: Clock, rng: random.Random | None = None
    ) -> None:
        """`limit`: the account's batches per second; `concurrency`: how many containers share it."""
        self.limit = limit
        self.fair_share = HEADROOM * limit / max(concurrency, 1)
        self._clock = clock
        self.restart(rng or random.Random())

    @property
    def rate(self) -> float:
        return self._rate.value

    def restart(self, rng: random.Random) -> None:
        """Start afresh: slowly, with a random part of a small request in the bucket.

        Containers that start together (a backlog drained by many pollers at once, or restored from
        one SnapStart snapshot) then spread their first requests over time.
        """
        now = self._clock.monotonic()
        self._rate = Rate(self.limit, self.fair_share, now)
        self._stamp = self._resume_at = self._sent_at = now
        self._tested = False  # the last share waited for the rate
        self._tokens = rng.uniform(0, MIN_BATCHES)

    def take(self, batches: int, within: float) -> Share | None:
        """A share of up to `batches` for the next request, or None if not even one batch comes in time.

        It waits for about a second's worth (at least MIN_BATCHES, at most all `batches`, less if only
        less can come `within`), then takes what has been earned: a container with a small share
        sends small requests at its pace instead of saving up for a full one, which keeps the
        account's traffic smooth, and one with a large share sends few requests.
        """
        self._refill()
        now = self._clock.monotonic()
        if now - self._sent_at > IDLE_SECONDS:
            self._rate.restart_after_idle(now)
        self._sent_at = now
        hold = max(self._resume_at - now, 0.0)
        if hold > within:
            return None
        rate = self.rate
        can_earn = self._tokens + (within - hold) * rate
        least = min(batches, max(MIN_BATCHES, math.floor(rate * SHARE_SECONDS)), math.floor(can_earn))
        if least < 1:
            return None
        earning = (least - self._tokens) / rate
        self._tested = earning > 0
        wait = max(hold, earning)
        # The bucket as it will be when the request goes: what it holds then, never more than it can.
        earned = min(self._capacity(), self._tokens + wait * rate)
        share = min(batches, max(least, math.floor(earned)))
        self._tokens, self._stamp = earned - share, self._stamp + wait
        return Share(share, wait)

    def held_for(self) -> float:
        """Seconds until a 429's Retry-After lets this container send again (0 when it is not held)."""
        return max(self._resume_at - self._clock.monotonic(), 0.0)

    def observe(
        self,
        status: int,
        batches: int,
        used_percent: float | None,
        retry_after: float | None,
        limit_exceeded: str | None = None,
    ) -> None:
        """Follow the API's answer to a request of `batches`. Only an accepted request counts
        against the limit: any other gives its share back, so the retry of a 503 or a 429 is not
        charged twice and an outage does not eat the time after it.
        """
        self._refill()
        now = self._clock.monotonic()
        if 200 <= status < 300:
            self._rate.accepted(now, batches, used_percent, self._tested)
            return
        self.refund(batches)
        if status == 429:
            self._rate.throttled(now, limit_exceeded)
            if retry_after:
                self._resume_at = max(self._resume_at, now + retry_after)

    def refund(self, batches: int) -> None:
        """Give back the share of a request that never reached the API's count."""
        self._tokens = min(self._capacity(), self._tokens + batches)

    def _capacity(self) -> float:
        """A second's worth (at least a small request): after a pause, a fleet of containers never
        bursts more than a second of its rate between them, which the API's own burst absorbs.
        """
        return max(self.rate, MIN_BATCHES)

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self._capacity(), self._tokens + max(now - self._stamp, 0.0) * self.rate)
        self._stamp = now
