"""A fleet of forwarder containers against a model of the API's rate limit, in simulated time.

Each container is the real `Forwarder` (send loop, pacer, deadline) invoked on 100-record events in a
loop, as one draining a backlog; the API is a `devstack.ratelimit.Limiter` answering after `latency`;
another sender of the same account may take a steady part of the limit. Time is `VirtualTime`, so a
minute of a 20-container fleet runs in seconds and the same seeds give the same run. `make bench-rate`
measures the real processes over HTTP; this measures the design, on every model, quickly (and the
tests use it to hold the pacing to its targets on each).
"""

import contextlib
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.events import bodies, sqs_event
from devstack.ratelimit import Limiter, Usage
from devstack.virtual_time import VirtualTime
from rokt_forwarder.config import Settings
from rokt_forwarder.invocation import Forwarder
from rokt_forwarder.invocation import logger as invocation_logger
from rokt_forwarder.pacing import Pacer
from rokt_forwarder.ports import DeadLetter, Delay, Response, TimeLeft

INVOCATION_SECONDS = 30.0
BETWEEN_INVOCATIONS = 0.02  # the event source mapping's turnaround between two batches of a container


@dataclass(frozen=True)
class Scenario:
    """One row of the matrix: who sends, and what the API's limiter and usage header are."""

    containers: int = 5
    concurrency: int | None = None  # ROKT_CONCURRENCY; None: the number of containers
    usage: Usage = Usage.WINDOW
    rate: float = 270.0
    burst: float = 1.0
    acceleration: float = 0.0
    other_share: float = 0.0  # of the rate, sent by another sender of the account
    latency: float = 0.05
    spurious_429: float = 0.0  # of requests answered 429 whatever the limiter says (a fault, not the limit)
    records: int = 100
    seconds: float = 60.0
    warmup: float = 30.0  # a steady drain is measured after the start from idle
    seed: int = 1

    @property
    def room(self) -> float:
        """Batches per second left to the forwarder by the other sender."""
        return self.rate * (1 - self.other_share)


@dataclass
class Second:
    """What happened in one simulated second."""

    accepted: int = 0
    requests: int = 0
    throttled: int = 0
    other_accepted: int = 0
    other_requests: int = 0
    other_throttled: int = 0
    records: int = 0  # of the invocations that started in this second
    failed: int = 0


@dataclass
class Run:
    scenario: Scenario
    seconds: list[Second] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(s.records for s in self.window())

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.window())

    def window(self) -> list[Second]:
        return self.seconds[int(self.scenario.warmup) : int(self.scenario.warmup + self.scenario.seconds)]

    @property
    def room_share(self) -> float:
        """Batches accepted in the window over the room the other sender left."""
        window = self.window()
        return sum(s.accepted for s in window) / (self.scenario.room * len(window))

    @property
    def throttled_share(self) -> float:
        window = self.window()
        return sum(s.throttled for s in window) / max(sum(s.requests for s in window), 1)

    @property
    def other_throttled_share(self) -> float:
        window = self.window()
        return sum(s.other_throttled for s in window) / max(sum(s.other_requests for s in window), 1)


class _Api:
    """`ports.Transport` answering from the limiter after the latency, on the simulated clock."""

    def __init__(
        self, limiter: Limiter, clock: VirtualTime, latency: float, run: Run, rng: random.Random
    ) -> None:
        self._limiter, self._clock, self._latency, self._run = limiter, clock, latency, run
        self._rng = rng

    def load_credentials(self, refresh: bool, time_left: float) -> None:
        pass

    def post(self, path: str, body: bytes, timeout: float) -> Response:
        batches = 1 if path == "/events" else len(orjson.loads(body))
        self._clock.sleep(self._latency / 2)
        second = self._run.seconds[int(self._clock.monotonic())]
        second.requests += 1
        if self._rng.random() < self._run.scenario.spurious_429:
            self._clock.sleep(self._latency / 2)
            second.throttled += 1
            return Response(429, retry_after=1)
        verdict = self._limiter.admit(batches)
        self._clock.sleep(self._latency / 2)
        if verdict.admitted:
            second.accepted += batches
            return Response(202, used_percent=self._limiter.percentage_used())
        second.throttled += 1
        return Response(429, retry_after=verdict.retry_after, limit_exceeded=verdict.exceeded)


class _Sqs:
    """The dead-letter and visibility ports: nothing to do in a rate-limit run."""

    def dead_letter(self, dlq_url: str, letters: Sequence[DeadLetter], time_left: TimeLeft) -> set[str]:
        return set()

    def delay(self, delays: Sequence[Delay], time_left: TimeLeft) -> None:
        pass


class _Context:
    def __init__(self, clock: VirtualTime, seconds: float) -> None:
        self._clock, self._deadline = clock, clock.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.monotonic()) * 1000))


def simulated_settings(**settings: Any) -> Settings:
    """A Forwarder's settings for a model API and model queues: nothing is read, nothing is real."""
    return Settings(
        **{
            "secret_id": "simulated",  # no secret is read: the transport is a model
            "api_url": "https://sim/v2",
            "environment": "development",
            "dlq_url": "https://sqs/dlq",
            "hash_pii": False,
            **settings,
        }
    )


@contextlib.contextmanager
def quiet_invocations() -> Iterator[None]:
    """No "invocation done" line per simulated invocation, nor "Event API down" per container.

    The tables say what the fleet did. Errors still show; the level is the process's again after.
    """
    level = invocation_logger.log_level
    invocation_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        invocation_logger.setLevel(level)


def run(scenario: Scenario) -> Run:
    """Simulate the scenario; containers start together from idle with a full backlog."""
    with quiet_invocations():
        return _run(scenario)


def _run(scenario: Scenario) -> Run:
    clock = VirtualTime()
    total = scenario.warmup + scenario.seconds
    result = Run(scenario, [Second() for _ in range(int(total) + 2)])
    limiter = Limiter(
        scenario.rate,
        usage=scenario.usage,
        burst=scenario.burst,
        acceleration=scenario.acceleration,
        clock=clock.monotonic,
    )
    api = _Api(limiter, clock, scenario.latency, result, random.Random(scenario.seed))
    pool = bodies(200, seed=scenario.seed)
    settings = simulated_settings(
        rate_limit=scenario.rate, concurrency=scenario.concurrency or scenario.containers
    )

    def container(seed: int) -> None:
        rng = random.Random(seed)
        forwarder = Forwarder(
            settings=settings,
            transport=api,
            dead_letters=_Sqs(),
            visibility=_Sqs(),
            clock=clock,
            rng=rng,
            pacer=Pacer(settings.rate_limit, settings.concurrency, clock, random.Random(seed)),
        )
        start = 0
        while clock.monotonic() < total:
            event: dict[str, Any] = sqs_event(pool, scenario.records, start=start)
            start += scenario.records
            second = result.seconds[int(clock.monotonic())]
            response = forwarder(event, _Context(clock, INVOCATION_SECONDS))
            second.records += scenario.records
            second.failed += len(response["batchItemFailures"])
            clock.sleep(BETWEEN_INVOCATIONS)

    def other_sender() -> None:
        # A steady sender (a web SDK, another integration): small requests, a 429 is dropped, not retried.
        size, per_second = 5, scenario.other_share * scenario.rate
        while clock.monotonic() < total:
            verdict = limiter.admit(size)
            second = result.seconds[int(clock.monotonic())]
            second.other_requests += 1
            if verdict.admitted:
                second.other_accepted += size
            else:
                second.other_throttled += 1
            clock.sleep(size / per_second)

    for n in range(scenario.containers):
        clock.spawn(container, scenario.seed * 1000 + n)
    if scenario.other_share:
        clock.spawn(other_sender)
    try:
        clock.run_until(total)
    finally:
        clock.close()
    return result


def describe(result: Run) -> str:
    s = result.scenario
    return (
        f"{s.containers:>3} containers, ROKT_CONCURRENCY {s.concurrency or s.containers:>3}, "
        f"usage {s.usage:<6}, other {s.other_share:.0%}, accel {s.acceleration:g}: "
        f"room {result.room_share:6.1%}, 429 {result.throttled_share:5.1%}, "
        f"failed {result.failed}/{result.records}, other 429 {result.other_throttled_share:5.1%}"
    )


if __name__ == "__main__":
    import sys

    for spec in sys.argv[1:] or ["5:window", "20:window", "5:bucket", "20:bucket", "5:none", "20:none"]:
        parts = dict(item.split("=") for item in spec.split(",")[1:])
        containers, usage = spec.split(",")[0].split(":")
        scenario = Scenario(
            containers=int(containers),
            usage=Usage(usage),
            concurrency=int(parts["c"]) if "c" in parts else None,
            other_share=float(parts.get("other", 0)),
            acceleration=float(parts.get("accel", 0)),
            seconds=float(parts.get("s", 60)),
            spurious_429=float(parts.get("p429", 0)),
        )
        print(describe(run(scenario)), flush=True)
