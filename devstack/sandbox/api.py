"""The Event API's behaviour and state: routes, credentials, faults, the rate limit, dedup, the record.

``Sandbox.handle`` makes every decision on a ``Request`` without a socket; ``server.py`` carries the bytes.
The ``/_sandbox/...`` routes are the sandbox's own controls, outside the API and never faulted.
"""

import json
import random
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlsplit

from devstack import oracle
from devstack.ratelimit import Limiter
from devstack.sandbox.config import SandboxConfig
from devstack.sandbox.contract import (
    BULK,
    EVENTS,
    BodyError,
    bulk_message,
    check_auth,
    parse_batches,
    record_line,
)
from devstack.sandbox.faults import FAULT_REPLIES, Fault, pick_fault
from devstack.sandbox.replies import RESET_REPLY, Reply, Request, error_reply, errors_body, throttled_headers
from devstack.sandbox.server import Server
from devstack.service import HttpService, url_host

STATS: Final = "/_sandbox/stats"
RESET: Final = "/_sandbox/reset"
CREDENTIALS: Final = "/_sandbox/credentials"
_ROUTES: Final = {EVENTS: "POST", BULK: "POST", STATS: "GET", RESET: "POST", CREDENTIALS: "POST"}
_COUNTS: Final = ("requests", "batches_accepted", "batches_refused", "deduplicated", "rate_limited")
_OTHER_COUNTS: Final = ("requests", "batches_accepted", "rate_limited")
_OTHER_BATCHES: Final = 5  # the other sender posts small requests, as a web SDK does
_SERIES_SECONDS: Final = 3600  # how much of the per-second history stats() keeps


class Sandbox(HttpService):
    """The Event API on a local port (a real HTTP server in a daemon thread), with what it received."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        super().__init__("event-api-sandbox")
        self._started = time.monotonic()
        self._clear()

    def _clear(self) -> None:
        self._rng = random.Random(self.config.seed)
        config = self.config
        self._limiter = Limiter(
            config.rate,
            usage=config.usage,
            burst=config.burst,
            acceleration=config.acceleration,
            clock=time.monotonic,
        )
        self._series: dict[int, Counter[str]] = {}
        self._other: Counter[str] = Counter()
        self._accepted: list[dict[str, Any]] = []
        self._seen_ids: set[str] = set()
        self._counts: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._faults: Counter[Fault] = Counter()

    def _new_server(self) -> Server:
        self._started = time.monotonic()
        self._stopping = threading.Event()
        if self.config.other_share and self.config.rate:
            threading.Thread(target=self._other_sender, name="other-sender", daemon=True).start()
        address = (self.config.host, self.config.port)
        return Server(address, self.handle, log_requests=self.config.log_requests)

    def stop(self) -> None:
        if hasattr(self, "_stopping"):
            self._stopping.set()
        super().stop()

    def _other_sender(self) -> None:
        """Another sender of the account (a web SDK, another integration): a steady share of the
        limit in small requests; a 429 is dropped, not retried. Its 429s are in stats()["other_sender"].
        """
        interval = _OTHER_BATCHES / (self.config.other_share * self.config.rate)
        due = time.monotonic()
        while not self._stopping.wait(max(due - time.monotonic(), 0.0)):
            due += interval
            with self._lock:
                admitted = self._limiter.admit(_OTHER_BATCHES).admitted
                self._other["requests"] += 1
                if admitted:
                    self._other["batches_accepted"] += _OTHER_BATCHES
                    self._tick("other_accepted", _OTHER_BATCHES)
                else:
                    self._other["rate_limited"] += 1
                    self._tick("other_throttled")

    def _tick(self, name: str, count: int = 1) -> None:
        """Count into this second of the series; caller holds the lock."""
        second = int(time.monotonic() - self._started)
        self._series.setdefault(second, Counter())[name] += count
        if len(self._series) > _SERIES_SECONDS:
            del self._series[min(self._series)]

    @property
    def url(self) -> str:
        """The base URL a sender is configured with, like the real ``https://s2s.us1.mparticle.com/v2``.

        Bound to every interface (0.0.0.0), it names loopback: a URL to 0.0.0.0 is no address to send to.
        """
        return f"http://{url_host(self.config.host)}:{self.port}/v2"

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                **{name: self._counts[name] for name in _COUNTS},
                "by_status": {str(status): n for status, n in sorted(self._by_status.items())},
                "faults": {fault.value: self._faults[fault] for fault in Fault},
                "unique_source_request_ids": len(self._seen_ids),
                "uptime_seconds": round(time.monotonic() - self._started, 3),
                "other_sender": {name: self._other[name] for name in _OTHER_COUNTS},
                # Per second since start: what a plot of throughput and 429s over time needs.
                "series": {str(second): dict(counts) for second, counts in sorted(self._series.items())},
            }

    def accepted_batches(self) -> list[dict[str, Any]]:
        """A snapshot, in arrival order, of every batch accepted (duplicates excluded)."""
        with self._lock:
            return list(self._accepted)

    def rotate_credentials(self, api_key: str, api_secret: str) -> None:
        """Accept only the new key/secret from now on, as the real API does after a rotation."""
        with self._lock:
            self.config = replace(self.config, api_key=api_key, api_secret=api_secret)

    def reset(self) -> None:
        """Forget counters, batches and seen ids; the outage clock and the record file carry on."""
        with self._lock:
            self._clear()

    def handle(self, request: Request) -> Reply:
        """Answer one request as the Event API would; socket-free, so tests may call it directly."""
        path = urlsplit(request.target).path
        method = _ROUTES.get(path)
        if method is None:
            return error_reply(HTTPStatus.NOT_FOUND, f"no endpoint {path}")
        if request.method != method:
            return error_reply(
                HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes {method}", headers=(("Allow", method),)
            )
        if path == STATS:
            return Reply(HTTPStatus.OK, json.dumps(self.stats()).encode())
        if path == RESET:
            self.reset()
            return Reply(HTTPStatus.NO_CONTENT)
        if path == CREDENTIALS:
            return self._set_credentials(request.body)
        reply = self._serve(request, path)
        with self._lock:
            self._counts["requests"] += 1
            self._tick("requests")
            if not reply.reset:
                self._by_status[reply.status] += 1
        return reply

    def _set_credentials(self, body: bytes) -> Reply:
        """``{"api_key": ..., "api_secret": ...}`` become the only accepted credentials (a rotation)."""
        try:
            given = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            given = None
        fields = ("api_key", "api_secret")
        if not isinstance(given, dict) or not all(isinstance(given.get(f), str) and given[f] for f in fields):
            return error_reply(HTTPStatus.BAD_REQUEST, 'body must be {"api_key": "...", "api_secret": "..."}')
        self.rotate_credentials(given["api_key"], given["api_secret"])
        return Reply(HTTPStatus.NO_CONTENT)

    def _serve(self, request: Request, endpoint: str) -> Reply:
        fault, delay = self._draw_fault()
        if delay:
            time.sleep(delay)
        if fault is not None:
            return FAULT_REPLIES[fault]
        if status := check_auth(request.authorization, self.config.api_key, self.config.api_secret):
            return error_reply(status, "missing credentials" if status == 401 else "invalid credentials")
        if len(request.body) > oracle.MAX_REQUEST_BYTES:
            too_large = f"request body must be at most {oracle.MAX_REQUEST_BYTES} bytes"
            return error_reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)
        if (request.content_type or "").partition(";")[0].strip().lower() != "application/json":
            return error_reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
        try:
            batches = parse_batches(request.body, bulk=endpoint == BULK)
        except BodyError as exc:
            return error_reply(HTTPStatus.BAD_REQUEST, str(exc))
        if len(batches) > oracle.MAX_BATCHES_PER_REQUEST:
            too_many = f"a bulk request must hold at most {oracle.MAX_BATCHES_PER_REQUEST} batches"
            return error_reply(HTTPStatus.BAD_REQUEST, too_many)
        with self._lock:
            verdict = self._limiter.admit(len(batches))
            if not verdict.admitted:
                self._counts["rate_limited"] += 1
                self._tick("throttled")
        if verdict.retry_after is not None and verdict.exceeded is not None:
            headers = throttled_headers(verdict.retry_after, verdict.exceeded)
            return error_reply(HTTPStatus.TOO_MANY_REQUESTS, "rate limit exceeded", headers=headers)
        return self._accept(batches, endpoint)

    def _draw_fault(self) -> tuple[Fault | None, float]:
        with self._lock:
            fault = pick_fault(self.config, self._rng.random(), time.monotonic() - self._started)
            slow = self._rng.random() < self.config.p_slow
            if fault is not None:
                self._faults[fault] += 1
            self._faults[Fault.SLOW] += slow
        return fault, self.config.latency + (self.config.slow_seconds if slow else 0.0)

    def _accept(self, batches: list[tuple[Any, str]], endpoint: str) -> Reply:
        now_ms = time.time_ns() // 1_000_000
        verdicts = [oracle.violations(batch, raw, now_ms=now_ms) for batch, raw in batches]
        if endpoint == EVENTS and verdicts[0]:
            with self._lock:
                self._counts["batches_refused"] += 1
            return error_reply(HTTPStatus.BAD_REQUEST, *map(str, verdicts[0]))
        received = datetime.now(UTC)
        with self._lock:
            lines = []
            for (batch, raw), violations in zip(batches, verdicts, strict=True):
                if not violations and self._keep(batch):
                    lines.append(record_line(endpoint, raw, received))
            self._counts["batches_refused"] += sum(map(bool, verdicts))
            if lines and self.config.record_path is not None:
                with self.config.record_path.open("a", encoding="utf-8") as record:
                    record.writelines(lines)
            reset = self._rng.random() < self.config.p_reset_after_accept
            self._faults[Fault.RESET_AFTER_ACCEPT] += reset
            self._tick("accepted", len(batches))
            used = self._limiter.percentage_used()
        if reset:
            return RESET_REPLY
        messages = [bulk_message(index, v) for index, found in enumerate(verdicts) for v in found]
        body = errors_body("BAD_REQUEST", messages) if messages else b""
        headers = () if used is None else (("X-mp-rate-limit-percentage-used", str(round(used))),)
        return Reply(HTTPStatus.ACCEPTED, body, headers)

    def _keep(self, batch: dict[str, Any]) -> bool:
        """Keep a valid batch unless its ``source_request_id`` was accepted before; caller holds the lock."""
        source_request_id = batch.get("source_request_id")
        if source_request_id in self._seen_ids:
            self._counts["deduplicated"] += 1
            return False
        if isinstance(source_request_id, str):
            self._seen_ids.add(source_request_id)
        self._counts["batches_accepted"] += 1
        self._accepted.append(batch)
        return True
