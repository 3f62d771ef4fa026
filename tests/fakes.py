"""Stand-ins for the edges (the Event API, the clock, SQS) in unit tests of the pure core."""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rokt_forwarder.errors import TransportError
from rokt_forwarder.ports import Response

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
    reauthentications: int = 0

    def post(self, path: str, body: bytes, timeout: float) -> Response:
        parsed = json.loads(body, parse_float=Decimal)
        batches = parsed if isinstance(parsed, list) else [parsed]
        self.calls.append((path, batches))
        if self.clock:
            self.clock.now += self.cost
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        if isinstance(reply, TransportError):
            raise reply
        return reply(path, batches) if callable(reply) else reply

    def reauthenticate(self) -> None:
        self.reauthentications += 1

    def sent_ids(self) -> list[str]:
        return [b["source_request_id"] for _, batches in self.calls for b in batches]


class Context:
    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
