"""`make bench-outage`: what an Event API outage costs, hours of it in seconds, in simulated time.

A queue with the template's settings (visibility timeout, maxReceiveCount and its redrive to the DLQ,
as SQS applies them), the event source mapping's pollers, and the real handler's `Forwarder` with its
retry schedule, last-chance dead-lettering and outage probe. The API is down for the outage (answering
503, refusing connections, or not answering at all), then up at the rate limit. Everything runs on
`VirtualTime`, so a day of outage takes seconds. It prints, per outage: what ended in the DLQ (with
and without a reason), the Lambda time per invocation and the receives per message during the
outage, and after it the receives a message needed and the time to drain the backlog.
The end-to-end test (tests/e2e/test_outage.py) drives the same story through moto's real SQS.
"""

import argparse
import itertools
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.contenders import ROOT
from bench.events import bodies
from bench.simulate import quiet_invocations, simulated_settings
from bench.suite import Table
from devstack.ratelimit import Limiter, Usage
from devstack.template import StackSettings
from devstack.virtual_time import VirtualTime
from rokt_forwarder.adapters.api import CONNECT_TIMEOUT_SECONDS
from rokt_forwarder.errors import TransportError
from rokt_forwarder.invocation import Forwarder
from rokt_forwarder.outage import Outage
from rokt_forwarder.pacing import Pacer
from rokt_forwarder.ports import DeadLetter, Delay, Response, TimeLeft

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:rokt-conversions"
KINDS = ("503", "refused", "silent")


@dataclass
class Message:
    id: str
    body: str
    sent: float
    visible_at: float = 0.0
    receives: int = 0
    receipt: str = ""
    receives_while_down: int = 0


@dataclass
class Queue:
    """SQS as it treats one standard queue with a redrive policy (aws-notes: moved on the receive
    after ApproximateReceiveCount reached maxReceiveCount)."""

    visibility: float
    max_receives: int
    messages: dict[str, Message] = field(default_factory=dict)
    by_receipt: dict[str, Message] = field(default_factory=dict)
    moved: list[Message] = field(default_factory=list)  # by SQS itself: no reason
    letters: list[tuple[Message, str]] = field(default_factory=list)  # by the function: a reason
    _receipts: "itertools.count[int]" = field(default_factory=itertools.count)

    def receive(self, now: float, most: int) -> list[Message]:
        taken: list[Message] = []
        for message in sorted(self.messages.values(), key=lambda m: m.visible_at):
            if message.visible_at > now or len(taken) == most:
                break
            if message.receives >= self.max_receives:
                self.moved.append(self.messages.pop(message.id))
                continue
            message.receives += 1
            message.visible_at = now + self.visibility
            message.receipt = f"r{next(self._receipts)}"
            self.by_receipt[message.receipt] = message
            taken.append(message)
        return taken

    def delete(self, message: Message) -> None:
        self.messages.pop(message.id, None)


class _Api:
    """The Event API: down until `up_at` (answering as `kind` says), then a 270 batches/s account."""

    def __init__(self, clock: VirtualTime, up_at: float, kind: str) -> None:
        self._clock, self._up_at, self._kind = clock, up_at, kind
        self._limiter = Limiter(270, usage=Usage.BUCKET, clock=clock.monotonic)
        self.requests = 0

    def load_credentials(self, refresh: bool, time_left: float) -> None:
        pass

    def post(self, path: str, body: bytes, timeout: float) -> Response:
        self.requests += 1
        if self._clock.monotonic() < self._up_at:
            if self._kind == "refused":
                self._clock.sleep(0.002)
                raise TransportError("NewConnectionError")
            if self._kind == "silent":  # no SYN-ACK: the connect timeout, or the request's if shorter
                self._clock.sleep(min(timeout, CONNECT_TIMEOUT_SECONDS))
                raise TransportError("ConnectTimeoutError")
            self._clock.sleep(0.05)
            return Response(503)
        self._clock.sleep(0.05)
        batches = 1 if path == "/events" else len(orjson.loads(body))
        verdict = self._limiter.admit(batches)
        if verdict.admitted:
            return Response(202, used_percent=self._limiter.percentage_used())
        return Response(429, retry_after=verdict.retry_after, limit_exceeded=verdict.exceeded)


class _Sqs:
    """The forwarder's DLQ and visibility ports over the model queue."""

    def __init__(self, queue: Queue, clock: VirtualTime) -> None:
        self._queue, self._clock = queue, clock

    def dead_letter(self, dlq_url: str, letters: Sequence[DeadLetter], time_left: TimeLeft) -> set[str]:
        for letter in letters:
            message = self._queue.messages.pop(letter.message_id)
            self._queue.letters.append((message, letter.reason))
        return set()

    def delay(self, delays: Sequence[Delay], time_left: TimeLeft) -> None:
        for delay in delays:
            message = self._queue.by_receipt.get(delay.receipt_handle)
            if message is not None and message.receipt == delay.receipt_handle:
                message.visible_at = self._clock.monotonic() + delay.seconds


class _Context:
    def __init__(self, clock: VirtualTime, seconds: float) -> None:
        self._clock, self._deadline = clock, clock.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.monotonic()) * 1000))


@dataclass
class Result:
    hours: float
    kind: str
    messages: int
    invocations_during: list[float]  # Lambda seconds of each invocation during the outage
    receives_during: int
    queue: Queue
    delivered_at: list[float]
    receives_after: list[int]  # per message delivered after the outage: receives it took then
    api_requests: int


def run(hours: float, kind: str, *, messages: int, settings: StackSettings, seed: int = 1) -> Result:
    """`messages` on the queue when the API goes down for `hours`; run until all are settled."""
    with quiet_invocations():
        return _run(hours, kind, messages=messages, settings=settings, seed=seed)


def _run(hours: float, kind: str, *, messages: int, settings: StackSettings, seed: int) -> Result:
    clock = VirtualTime()
    epoch = time.time()  # the simulated wall clock starts now: the messages' timestamps are recent
    up_at = hours * 3600
    queue = Queue(visibility=settings.queue_visibility_timeout, max_receives=settings.max_receive_count)
    for n, body in enumerate(bodies(messages, seed=seed)):
        queue.messages[f"m{n}"] = Message(f"m{n}", body, sent=0.0)
    api, sqs = _Api(clock, up_at, kind), _Sqs(queue, clock)
    config = simulated_settings(
        concurrency=settings.max_concurrency, max_receive_count=settings.max_receive_count
    )
    during: list[float] = []
    receives_during = [0]
    delivered_at: list[float] = []
    receives_after: list[int] = []

    def poller(seed: int) -> None:
        forwarder = Forwarder(
            settings=config,
            transport=api,
            dead_letters=sqs,
            visibility=sqs,
            clock=clock,
            now_ms=lambda: int((epoch + clock.monotonic()) * 1000),
            rng=random.Random(seed),
            pacer=Pacer(config.rate_limit, config.concurrency, clock, random.Random(seed)),
            outage=Outage(),
        )
        while queue.messages:
            batch = queue.receive(clock.monotonic(), settings.batch_size)
            if not batch:
                clock.sleep(1.0)
                continue
            started = clock.monotonic()
            response = forwarder(_event(batch, epoch), _Context(clock, settings.function_timeout_seconds))
            if started < up_at:
                during.append(clock.monotonic() - started)
                receives_during[0] += len(batch)
                for message in batch:
                    message.receives_while_down = message.receives
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
            for message in batch:
                if message.id not in failed and message.id in queue.messages:
                    delivered_at.append(clock.monotonic())
                    receives_after.append(message.receives - message.receives_while_down)
                    queue.delete(message)
            clock.sleep(0.02)

    for n in range(settings.max_concurrency):
        clock.spawn(poller, seed * 100 + n)
    try:
        clock.run_until(up_at + 7 * 24 * 3600)
    finally:
        clock.close()
    return Result(
        hours, kind, messages, during, receives_during[0], queue, delivered_at, receives_after, api.requests
    )


def _event(batch: Sequence[Message], epoch: float) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message.id,
                "receiptHandle": message.receipt,
                "body": message.body,
                "attributes": {
                    "ApproximateReceiveCount": str(message.receives),
                    "SentTimestamp": str(int((epoch + message.sent) * 1000)),
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1",
            }
            for message in batch
        ]
    }


def cells(result: Result) -> list[str]:
    queue = result.queue
    after = [at - result.hours * 3600 for at in result.delivered_at]
    return [
        f"{result.hours:g} h",
        result.kind,
        f"{len(queue.letters)} with a reason, {len(queue.moved)} without",
        f"{statistics.fmean(result.invocations_during):.2f}" if result.invocations_during else "-",
        f"{result.receives_during / result.messages:.0f}",
        f"{max(result.receives_after, default=0)}",
        f"{max(after, default=0) / 60:.1f} min",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make bench-outage BENCH_ARGS=...",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--hours", default="1,24,36", help="comma-separated outage lengths")
    parser.add_argument("--kinds", default=",".join(KINDS), help="how the API is down: 503,refused,silent")
    parser.add_argument("--messages", type=int, default=300, help="messages waiting when it goes down")
    args = parser.parse_args(argv)
    settings = StackSettings.from_template(ROOT / "template.yaml")
    rows = []
    for hours in (float(h) for h in args.hours.split(",")):
        for kind in args.kinds.split(","):
            rows.append(cells(run(hours, kind, messages=args.messages, settings=settings)))
            print(f"{hours:g} h, {kind}: done", flush=True)
    header = ["outage", "API answers", "dead letters", "Lambda s per invocation during it"]
    header += ["receives per message during it", "receives to deliver after it", "drained after"]
    notes = [
        f"The template's settings: maxReceiveCount {settings.max_receive_count}, visibility "
        f"{settings.queue_visibility_timeout} s, BatchSize {settings.batch_size}, MaximumConcurrency "
        f"{settings.max_concurrency}, timeout {settings.function_timeout_seconds} s; "
        f"{args.messages} messages waiting when the API goes down; then 270 batches/s.",
    ]
    print(Table("An Event API outage, in simulated time", header, rows, notes))
    return 0
