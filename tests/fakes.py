"""Stand-ins for the edges (the Event API, the clock, SQS) in unit tests of the pure core."""

import json
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rokt_forwarder.config import Settings
from rokt_forwarder.errors import TransportError
from rokt_forwarder.invocation import Forwarder
from rokt_forwarder.ports import DeadLetter, Delay, Response, TimeLeft

Reply = Response | TransportError | Callable[[str, list[Any]], Response]


@dataclass
class FakeClock:
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class FakeApi:
    """Answers each POST with the next scripted reply (the last one repeats); records what it got."""

    replies: Sequence[Reply] = (Response(202),)
    clock: FakeClock | None = None
    cost: float = 0.01
    calls: list[tuple[str, list[Any]]] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)  # the timeout each POST was given
    credential_reloads: int = 0

    def post(self, path: str, body: bytes, timeout: float) -> Response:
        parsed = json.loads(body, parse_float=Decimal)
        batches = parsed if isinstance(parsed, list) else [parsed]
        self.calls.append((path, batches))
        self.timeouts.append(timeout)
        if self.clock:
            # As a real transport does: an answer slower than the timeout is abandoned at the timeout.
            self.clock.now += min(self.cost, timeout)
            if self.cost > timeout:
                raise TransportError("no complete answer before the request deadline")
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        if isinstance(reply, TransportError):
            raise reply
        return reply(path, batches) if callable(reply) else reply

    def load_credentials(self, refresh: bool, time_left: float) -> None:
        """Reading the key/secret costs nothing here; a refresh (a re-read after 401/403) is counted."""
        assert time_left > 0
        self.credential_reloads += refresh

    def sent_ids(self) -> list[str]:
        return [b["source_request_id"] for _, batches in self.calls for b in batches]


class Context:
    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


QUEUE = "arn:aws:sqs:us-east-1:123456789012:rokt-conversions"
FIFO_QUEUE = QUEUE + ".fifo"


def record(
    body: Any, *, queue: str = QUEUE, group: str | None = None, receives: int = 1, mid: str = ""
) -> dict[str, Any]:
    """An SQS record as Lambda hands it over; a body that is not a string is sent as JSON."""
    attributes = {"ApproximateReceiveCount": str(receives), "SentTimestamp": "1767225600000"}
    if group:
        attributes["MessageGroupId"] = group
    return {
        "messageId": mid or str(uuid.uuid4()),
        "receiptHandle": "handle-" + (mid or "x"),
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "attributes": attributes,
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": queue,
        "awsRegion": "us-east-1",
    }


class Edges:
    """A Forwarder whose API is scripted and whose SQS calls are recorded (as `letters` and `delays`)."""

    def __init__(
        self,
        api: FakeApi,
        *,
        dlq: str | None = "https://sqs/dlq",
        dlq_fails: bool = False,
        hash_pii: bool = False,
        max_receives: int | None = None,
    ) -> None:
        self.api = api
        self.clock = api.clock or FakeClock()
        self.letters: list[DeadLetter] = []
        self.delays: list[Delay] = []
        self.dlq_fails = dlq_fails
        settings = Settings(
            secret_id="s",
            api_url="https://api/v2",
            environment="development",
            dlq_url=dlq,
            hash_pii=hash_pii,
            max_receive_count=max_receives,
        )
        self.forward = Forwarder(
            settings=settings,
            transport=api,
            clock=self.clock,
            dead_letters=self,
            visibility=self,
            rng=random.Random(1),
            now_ms=lambda: 1_767_225_600_000,
        )

    def dead_letter(self, dlq_url: str, letters: list[DeadLetter], time_left: TimeLeft) -> set[str]:
        assert time_left() > 0
        if self.dlq_fails:
            return {letter.message_id for letter in letters}
        self.letters.extend(letters)
        return set()

    def delay(self, delays: list[Delay], time_left: TimeLeft) -> None:
        self.delays.extend(delays)

    def __call__(self, records: list[dict], remaining_ms: int = 30_000) -> list[str]:
        response = self.forward({"Records": records}, Context(remaining_ms))
        return [item["itemIdentifier"] for item in response["batchItemFailures"]]
