"""The send loop: post batches to the Event API and learn, for each, whether it was delivered.

urllib3's Retry cannot do this: it knows no Lambda deadline, cannot split a refused bulk request,
and cannot read a 202's per-batch errors. So the loop is ours; I/O stays behind `ports.Transport`.
"""

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import assert_never

from rokt_forwarder import policy, wire
from rokt_forwarder.errors import CredentialsError, TransportError
from rokt_forwarder.outcome import DELIVERED, Failed, Refused, Result
from rokt_forwarder.packing import pack
from rokt_forwarder.ports import Clock, Response, Transport

# Below this many seconds before the deadline no request is started: it could not finish.
MIN_REQUEST_SECONDS = 0.5


@dataclass(slots=True)
class DeliveryStats:
    """What one invocation's sending took: for the log line and the metrics."""

    requests: int = 0
    retries: int = 0
    splits: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    api_seconds: float = 0.0  # time spent in requests, answered or not
    waited_seconds: float = 0.0  # time spent waiting before a retry
    # Why sending stopped for want of credentials (unreadable secret, or 401/403 after the re-read):
    # names the secret or the status, never a value. None while the credentials work.
    credentials_failure: str | None = None

    @property
    def throttled(self) -> int:
        return self.by_status.get("429", 0)


class Delivery:
    """One invocation's sender: shares its deadline, stats and re-authentication across calls."""

    def __init__(
        self,
        transport: Transport,
        *,
        clock: Clock,
        deadline: float,
        request_timeout: float,
        rng: random.Random | None = None,
    ) -> None:
        self._transport = transport
        self._clock = clock
        self._deadline = deadline
        self._request_timeout = request_timeout
        self._rng = rng or random.Random()
        self._reauthenticated = False
        self._halt: Failed | None = None
        self.stats = DeliveryStats()

    def deliver(self, batches: Sequence[bytes]) -> list[Result]:
        """One result per batch, in order: Delivered, Refused (dead-letter it) or Failed (SQS retries it).

        Batches are packed into as few requests as the API's limits allow. A batch is posted again
        only when no answer said it was accepted or refused, and never once the deadline leaves no
        time for a request: what is left then is Failed. A credentials problem fails every later
        batch unsent; it never refuses one.
        """
        results: list[Result | None] = [None] * len(batches)
        queue = deque(pack([len(b) for b in batches]))
        while queue:
            request = queue.popleft()
            for index, result in self._send(request, batches, queue.appendleft):
                results[index] = result
        return [r if r is not None else Failed("not sent") for r in results]

    def _send(
        self, request: list[int], batches: Sequence[bytes], requeue: Callable[[list[int]], None]
    ) -> list[tuple[int, Result]]:
        """Post one request until its answer settles its batches; parts to ask again go to `requeue`."""
        attempt = 0
        while True:
            if self._halt:
                return [(i, self._halt) for i in request]
            timeout = min(self._request_timeout, self._remaining())
            if timeout < MIN_REQUEST_SECONDS:
                return [(i, Failed("Lambda deadline reached before delivery")) for i in request]
            try:
                response = self._post(request, batches, timeout)
            except CredentialsError as error:
                self._halt_on_credentials(f"credentials: {error}")
                continue
            except TransportError as error:
                decision: policy.Decision = policy.Retry(f"connection: {error}")
            else:
                decision = policy.decide(
                    response.status, response.body, response.retry_after, batches=len(request)
                )
            match decision:
                case policy.Accepted(refused, unplaced) if unplaced and len(request) > 1:
                    # Errors we cannot pin on a batch: ask again one batch at a time (ids make it safe).
                    for index in reversed([i for n, i in enumerate(request) if n not in refused]):
                        requeue([index])
                    self.stats.splits += 1
                    return [(request[n], Refused(reason)) for n, reason in refused.items()]
                case policy.Accepted(refused):
                    return [
                        (i, Refused(refused[n]) if n in refused else DELIVERED) for n, i in enumerate(request)
                    ]
                case policy.Split(reason) if len(request) > 1:
                    half = len(request) // 2
                    requeue(request[half:])
                    requeue(request[:half])
                    self.stats.splits += 1
                    return []
                case policy.Split(reason):
                    return [(request[0], Refused(reason))]
                case policy.Reauthenticate(reason) if not self._reauthenticated:
                    self._reauthenticated = True
                    try:
                        self._transport.reauthenticate()
                    except CredentialsError as error:
                        self._halt_on_credentials(f"credentials: {error}")
                    continue
                case policy.Reauthenticate(reason):
                    # A credentials problem is never the records' fault: retry them later, send no more now.
                    self._halt_on_credentials(reason)
                    continue
                case policy.GiveUp(reason):
                    return [(i, Failed(reason)) for i in request]
                case policy.Retry(reason, after):
                    wait = after if after else policy.backoff(attempt, self._rng)
                    if self._remaining() - wait < MIN_REQUEST_SECONDS:
                        if after:
                            # The API asked everyone to wait past our deadline: send nothing more now.
                            self._halt = Failed(reason, after)
                        return [(i, Failed(reason, after)) for i in request]
                    attempt += 1
                    self.stats.retries += 1
                    self.stats.waited_seconds += wait
                    self._clock.sleep(wait)
                case _:
                    assert_never(decision)

    def _halt_on_credentials(self, reason: str) -> None:
        self._halt = Failed(reason)
        self.stats.credentials_failure = reason

    def _post(self, request: list[int], batches: Sequence[bytes], timeout: float) -> Response:
        if len(request) == 1:
            path, body = "/events", batches[request[0]]
        else:
            path, body = "/bulkevents", wire.join([batches[i] for i in request])
        self.stats.requests += 1
        started = self._clock.monotonic()
        try:
            response = self._transport.post(path, body, timeout)
        except TransportError:
            self._count("error")
            raise
        finally:
            self.stats.api_seconds += self._clock.monotonic() - started
        self._count(str(response.status))
        return response

    def _count(self, key: str) -> None:
        self.stats.by_status[key] = self.stats.by_status.get(key, 0) + 1

    def _remaining(self) -> float:
        return self._deadline - self._clock.monotonic()
