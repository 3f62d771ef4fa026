"""The send loop: post batches to the Event API and learn, for each, whether it was delivered.

urllib3's Retry cannot do this: it knows no Lambda deadline, cannot split a refused bulk request,
and cannot read a 202's per-batch errors. So the loop is ours; I/O stays behind `ports.Transport`.
"""

import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import assert_never

from rokt_forwarder import policy, wire
from rokt_forwarder.config import MIN_REQUEST_SECONDS
from rokt_forwarder.errors import CredentialsError, DeadlineError, TransportError
from rokt_forwarder.outage import Outage
from rokt_forwarder.outcome import DELIVERED, Failed, Refused, Result
from rokt_forwarder.pacing import Pacer
from rokt_forwarder.packing import pack
from rokt_forwarder.ports import Clock, DeliveryStats, Response, Transport

DEADLINE_REACHED = Failed("Lambda deadline reached before delivery")
NO_SHARE = "no share of the API's rate limit before the Lambda deadline"
API_DOWN = "Event API unavailable, not retried in this invocation"


class Delivery:
    """One invocation's sender: shares its deadline, stats and credentials reload across calls."""

    def __init__(
        self,
        transport: Transport,
        *,
        clock: Clock,
        deadline: float,
        request_timeout: float,
        rng: random.Random | None = None,
        pacer: Pacer | None = None,
        outage: Outage | None = None,
    ) -> None:
        self._transport = transport
        self._pacer = pacer
        self._outage = outage
        self._clock = clock
        self._deadline = deadline
        self._request_timeout = request_timeout
        self._rng = rng or random.Random()
        self._credentials_loaded = False
        self._credentials_reloaded = False
        self._halt: Failed | None = None
        self.stats = DeliveryStats()

    def deliver(self, batches: Sequence[bytes]) -> list[Result]:
        """One result per batch, in order: Delivered, Refused (dead-letter it) or Failed (SQS retries it).

        Batches are packed into as few requests as the API's limits allow. A batch is posted again
        only when no answer said it was accepted or refused, and never once the deadline leaves no
        time for a request: what is left then is Failed. A credentials failure fails every later
        batch unsent; it never refuses one.
        """
        results: list[Result | None] = [None] * len(batches)
        queue = deque(pack([len(b) for b in batches]))
        while queue:
            request = queue.popleft()
            try:
                request_results = self._send(request, batches, queue.appendleft)
            except Exception as error:  # a bug fails its request only: what others settled stays settled
                request_results = [(index, Failed(f"unexpected {type(error).__name__}")) for index in request]
            for index, result in request_results:
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
            if not self._credentials_loaded:  # once per invocation; reads the secret only if never read
                self._credentials_loaded = True
                self._load_credentials(refresh=False)
                continue
            request, timeout = self._ready(request, requeue)
            if isinstance(timeout, Failed):
                return [(i, timeout) for i in request]
            decision = self._ask(request, batches, timeout)
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
                case policy.ReloadCredentials(reason) if not self._credentials_reloaded:
                    self._credentials_reloaded = True
                    self._load_credentials(refresh=True)
                case policy.ReloadCredentials(reason):
                    # A credentials failure is never the records' fault: retry them later, send no more now.
                    self._halt_on_credentials(reason)
                case policy.GiveUp(reason):
                    return [(i, Failed(reason)) for i in request]
                case policy.Retry(reason) if self._outage is not None and self._outage.down:
                    # Down (or still down after the probe): fail what is left now, with its backoff.
                    self._halt = Failed(f"{API_DOWN}: {reason}")
                    self.stats.api_down = True
                    return [(i, self._halt) for i in request]
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

    def _ready(
        self, request: list[int], requeue: Callable[[list[int]], None]
    ) -> tuple[list[int], float | Failed]:
        """The part of the request to post now and its timeout, or why it cannot go before the deadline.

        While the API counts as down, one batch goes first, with a short timeout, to ask whether it
        is back (outage.py); the rest waits in the queue for the answer.
        """
        probing = self._outage is not None and self._outage.down
        if probing:
            if len(request) > 1:
                requeue(request[1:])
            request = request[:1]
        if self._pacer is not None:
            paced = self._pace(request, requeue)
            if paced is None:
                # Held by a 429's Retry-After: SQS should not bring the records back before it ends.
                return request, Failed(NO_SHARE, self._pacer.held_for() or None)
            request = paced
        timeout = min(self._request_timeout, self._remaining())
        if probing and self._outage is not None:
            timeout = min(self._outage.probe_timeout(self._request_timeout), timeout)
        return request, DEADLINE_REACHED if timeout < MIN_REQUEST_SECONDS else timeout

    def _pace(self, request: list[int], requeue: Callable[[list[int]], None]) -> list[int] | None:
        """The part of the request its share of the rate limit allows, once that share came; the
        rest goes back to the queue. None when not even a small share can come before the deadline.
        """
        assert self._pacer is not None
        share = self._pacer.take(len(request), within=self._remaining() - MIN_REQUEST_SECONDS)
        if share is None:
            return None
        if share.batches < len(request):
            requeue(request[share.batches :])
        if share.wait > 0:
            self.stats.paced_seconds += share.wait
            self._clock.sleep(share.wait)
        return request[: share.batches]

    def _ask(self, request: list[int], batches: Sequence[bytes], timeout: float) -> policy.Decision:
        """Post the request: what its answer means."""
        try:
            response = self._post(request, batches, timeout)
        except TransportError as error:
            if self._pacer is not None:
                self._pacer.refund(len(request))
            reason = f"connection: {error}"
            if self._outage is not None and self._outage.failed(
                self._clock.monotonic(), answered_late=error.answered_late
            ):
                self.stats.outage_began = reason
            return policy.Retry(reason)
        if self._outage is not None:
            if response.status >= 500 or response.status == 408:
                if self._outage.failed(self._clock.monotonic()):
                    self.stats.outage_began = f"HTTP {response.status}"
            else:
                self._outage.answered()
        if self._pacer is not None:
            self._pacer.observe(
                response.status,
                len(request),
                response.used_percent,
                response.retry_after,
                response.limit_exceeded,
            )
        return policy.decide(response.status, response.body, response.retry_after, batches=len(request))

    def _load_credentials(self, refresh: bool) -> None:
        """Have the key/secret ready; a credentials failure or the deadline halts all sending."""
        try:
            self._transport.load_credentials(refresh, self._remaining())
        except CredentialsError as error:
            self._halt_on_credentials(f"credentials: {error}")
        except DeadlineError:
            self._halt = DEADLINE_REACHED

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
