"""A local Rokt Event API (mParticle S2S HTTP API v2) that keeps the real contract, for integration tests.

It judges batches as the API documents them, independently of the forwarder's own rules
(devstack/oracle.py: mParticle's published JSON schema and the documented limits), answers as
mParticle does (202 with errors for a partly refused bulk request), deduplicates on
``source_request_id``, rate-limits in batches per second and injects faults on demand.

Run it, then point a sender at the printed URL with key ``sandbox-key`` and secret ``sandbox-secret``::

    python -m devstack.sandbox --port 8765 --p503 0.05 --outage 30-60 --record sent.jsonl

``GET /_sandbox/stats`` returns counters and ``POST /_sandbox/reset`` clears them. In tests::

    with Sandbox(SandboxConfig(rate=5, seed=1)) as api:
        ...  # send to api.url
        assert api.accepted_batches() == [...]

Where the real API is silent: more than 100 batches is 400 (413 is kept for bytes); a bulk request
whose batches are all refused is still 202 with errors, as a partly refused one is; an empty bulk array
is 400; a Content-Type other than application/json is 415. The record file (appended to, one JSON line
per accepted batch) embeds each batch's text as sent, so numbers stay exact; a reset leaves it alone.
"""

import argparse
import base64
import binascii
import contextlib
import hmac
import json
import random
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from devstack import oracle
from devstack.oracle import GUID_RULE, Violation
from devstack.ratelimit import Exceeded, Limiter, Usage
from devstack.service import HttpService
from rokt_forwarder import limits
from rokt_forwarder.envelope import parse_json
from rokt_forwarder.errors import RefusedError

EVENTS: Final = "/v2/events"
BULK: Final = "/v2/bulkevents"
STATS: Final = "/_sandbox/stats"
RESET: Final = "/_sandbox/reset"
_ROUTES: Final = {EVENTS: "POST", BULK: "POST", STATS: "GET", RESET: "POST"}
_BETWEEN_ITEMS: Final = re.compile(r"[ \t\n\r,]*")
_LINE_BREAKS: Final = re.compile(r"[\r\n]+")
# Bodies beyond this are refused unread (and the connection closed) rather than drained.
_READ_CAP: Final = 8 * oracle.MAX_REQUEST_BYTES
_COUNTS: Final = ("requests", "batches_accepted", "batches_refused", "deduplicated", "rate_limited")
_OTHER_COUNTS: Final = ("requests", "batches_accepted", "rate_limited")
_OTHER_BATCHES: Final = 5  # the other sender posts small requests, as a web SDK does
_SERIES_SECONDS: Final = 3600  # how much of the per-second history stats() keeps


class Fault(StrEnum):
    """Injected misbehaviour; the values are the keys of ``stats()["faults"]``."""

    OUTAGE = "outage"
    UNAVAILABLE = "503"
    SERVER_ERROR = "500"
    THROTTLED = "429"
    RESET = "reset"
    RESET_AFTER_ACCEPT = "reset_after_accept"
    SLOW = "slow"


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How the sandbox behaves; every fault is off by default, so it starts as a well-behaved API."""

    api_key: str = "sandbox-key"
    api_secret: str = "sandbox-secret"  # noqa: S105 - a published test credential, not a secret
    host: str = "127.0.0.1"
    port: int = 0
    rate: float = limits.RATE_LIMIT
    # How the rate limit behaves where the API does not say (devstack/ratelimit.py): what the usage
    # header reports, the burst the limiter holds, the acceleration limit, and another sender's share.
    usage: Usage = Usage.WINDOW
    burst: float = 1.0
    acceleration: float = 0.0
    other_share: float = 0.0
    p503: float = 0.0
    p500: float = 0.0
    p429: float = 0.0
    p_reset: float = 0.0
    p_reset_after_accept: float = 0.0
    latency: float = 0.0
    p_slow: float = 0.0
    slow_seconds: float = 5.0
    outages: tuple[tuple[float, float], ...] = ()
    seed: int | None = None
    record_path: Path | None = None
    log_requests: bool = False

    def __post_init__(self) -> None:
        chances = (self.p503, self.p500, self.p429, self.p_reset, self.p_reset_after_accept, self.p_slow)
        if not all(0 <= p <= 1 for p in chances):
            raise ValueError("fault probabilities must be between 0 and 1")
        if self.p503 + self.p500 + self.p429 + self.p_reset > 1:
            raise ValueError("p503 + p500 + p429 + p_reset must not exceed 1 (one fault per request)")
        if min(self.rate, self.latency, self.slow_seconds, self.acceleration) < 0 or self.burst <= 0:
            raise ValueError(
                "rate, latency, slow_seconds and acceleration must not be negative, burst positive"
            )
        if not 0 <= self.other_share < 1:
            raise ValueError("other_share must be at least 0 and less than 1")
        if not all(0 <= start < end for start, end in self.outages):
            raise ValueError("an outage needs 0 <= START < END")


@dataclass(frozen=True, slots=True)
class Request:
    """What the HTTP layer passes on, so the API's behaviour can be driven without a socket."""

    method: str
    target: str
    body: bytes = b""
    authorization: str | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer; ``reset`` means answer nothing and reset the connection."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    reset: bool = False


def errors_body(code: str, messages: Iterable[str]) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message} for message in messages]}).encode()


def error_reply(status: HTTPStatus, *messages: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, errors_body(status.name, messages), headers)


def throttled_headers(seconds: int, limit: str = Exceeded.ACCOUNT) -> tuple[tuple[str, str], ...]:
    return (("Retry-After", str(seconds)), ("X-mp-rate-limit-exceeded", limit))


_RESET_REPLY: Final = Reply(0, reset=True)
_FAULT_REPLIES: Final = {
    Fault.OUTAGE: error_reply(HTTPStatus.SERVICE_UNAVAILABLE, "scheduled outage (sandbox)"),
    Fault.UNAVAILABLE: error_reply(HTTPStatus.SERVICE_UNAVAILABLE, "injected fault (sandbox)"),
    Fault.SERVER_ERROR: error_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "injected fault (sandbox)"),
    Fault.THROTTLED: error_reply(
        HTTPStatus.TOO_MANY_REQUESTS, "injected fault (sandbox)", headers=throttled_headers(1)
    ),
    Fault.RESET: _RESET_REPLY,
}


def check_auth(authorization: str | None, key: str, secret: str) -> HTTPStatus | None:
    """401 when no credentials are sent, 403 when they are wrong; compared in constant time."""
    if not authorization:
        return HTTPStatus.UNAUTHORIZED
    scheme, _, token = authorization.partition(" ")
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except binascii.Error:
        given = b""
    matches = hmac.compare_digest(given, f"{key}:{secret}".encode())
    return None if matches and scheme.lower() == "basic" else HTTPStatus.FORBIDDEN


class BodyError(ValueError):
    """The body cannot be read as the endpoint's batch (or array of batches)."""


# Only finds where each bulk item ends: parse_json has already judged the whole text, values included.
_ITEM_END: Final = json.JSONDecoder()


def parse_batches(body: bytes, *, bulk: bool) -> list[tuple[Any, str]]:
    """Each batch with its text as sent, so its size is measured, and its record kept, exactly as sent.

    Parsed as the forwarder parses (exact decimals, no NaN or Infinity), so both judge the same values.
    """
    try:
        text = body.decode()
        parsed = parse_json(text)
    except UnicodeDecodeError:
        raise BodyError("body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BodyError(f"body is not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno})") from None
    except RefusedError as exc:
        raise BodyError(exc.reason) from None
    except RecursionError:
        raise BodyError("body is not valid JSON (nested too deeply)") from None
    if not bulk:
        return [(parsed, text.strip(" \t\n\r"))]
    if not isinstance(parsed, list) or not parsed:
        raise BodyError("body must be a non-empty JSON array of batches")
    found, end = [], text.index("[") + 1
    for batch in parsed:  # already validated, so only whitespace and commas lie between items
        gap = _BETWEEN_ITEMS.match(text, end)
        start = gap.end() if gap else end
        end = _ITEM_END.raw_decode(text, start)[1]
        found.append((batch, text[start:end]))
    return found


def bulk_message(index: int, violation: Violation) -> str:
    """mParticle's wording, so a client can find the batch with the regex ``Path '\\[(\\d+)\\]``.

    The value is never echoed (the API HTML-escapes it; here it is a fixed placeholder): values are PII.
    """
    path = f"[{index}].{violation.path}" if violation.path else f"[{index}]"
    if violation.rule == GUID_RULE:
        converting = "Error converting value &quot;***&quot; to type 'System.Guid'."
        return f"{converting} Path '{path}', line 1, position 1."
    return f"Invalid value. Path '{path}', rule: {violation.rule}."


def record_line(endpoint: str, raw: str, received: datetime) -> str:
    """A JSONL line that embeds the batch text as sent (numbers unchanged).

    Line breaks in JSON text can only be whitespace between tokens, so spaces may replace them.
    """
    batch = _LINE_BREAKS.sub(" ", raw)
    return (
        f'{{"received_at": {json.dumps(received.isoformat())}, "endpoint": "{endpoint}", "batch": {batch}}}\n'
    )


def pick_fault(config: SandboxConfig, draw: float, elapsed: float) -> Fault | None:
    """One draw picks at most one fault, so the chances add up and a seed replays the same run."""
    if any(start <= elapsed < end for start, end in config.outages):
        return Fault.OUTAGE
    threshold = 0.0
    for fault, chance in (
        (Fault.UNAVAILABLE, config.p503),
        (Fault.SERVER_ERROR, config.p500),
        (Fault.THROTTLED, config.p429),
        (Fault.RESET, config.p_reset),
    ):
        threshold += chance
        if draw < threshold:
            return fault
    return None


def parse_outage(text: str) -> tuple[float, float]:
    """``START-END`` in seconds after the server starts, e.g. ``5-15``."""
    start, _, end = text.partition("-")
    try:
        window = (float(start), float(end))
    except ValueError:
        window = (-1.0, -1.0)
    if not 0 <= window[0] < window[1]:
        raise argparse.ArgumentTypeError(f"outage must be START-END seconds with START < END, not {text!r}")
    return window


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

    def _new_server(self) -> "_Server":
        self._started = time.monotonic()
        self._stopping = threading.Event()
        if self.config.other_share and self.config.rate:
            threading.Thread(target=self._other_sender, name="other-sender", daemon=True).start()
        return _Server(self)

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
        """The base URL a sender is configured with, like the real ``https://s2s.us1.mparticle.com/v2``."""
        return f"http://{self.config.host}:{self.port}/v2"

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
        reply = self._serve(request, path)
        with self._lock:
            self._counts["requests"] += 1
            self._tick("requests")
            if not reply.reset:
                self._by_status[reply.status] += 1
        return reply

    def _serve(self, request: Request, endpoint: str) -> Reply:
        fault, delay = self._draw_fault()
        if delay:
            time.sleep(delay)
        if fault is not None:
            return _FAULT_REPLIES[fault]
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
            return _RESET_REPLY
        messages = [bulk_message(index, v) for index, found in enumerate(verdicts) for v in found]
        body = errors_body("BAD_REQUEST", messages) if messages else b""
        headers = () if used is None else (("X-mp-rate-limit-percentage-used", str(round(used))),)
        return Reply(HTTPStatus.ACCEPTED, body, headers)

    def _keep(self, batch: dict[str, Any]) -> bool:
        """Keep a valid batch unless its ``source_request_id`` was accepted before; caller holds the lock."""
        request_id = batch.get("source_request_id")
        if request_id in self._seen_ids:
            self._counts["deduplicated"] += 1
            return False
        if isinstance(request_id, str):
            self._seen_ids.add(request_id)
        self._counts["batches_accepted"] += 1
        self._accepted.append(batch)
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__((sandbox.config.host, sandbox.config.port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (its deadline came first) is no fault of the API: no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Moves bytes between the socket and ``Sandbox.handle``, where every decision is made."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real API and pooled clients use it
    # Headers and body leave in two writes: with Nagle on, the body waits for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def _dispatch(self) -> None:
        length = self._content_length()
        if length is None or length > _READ_CAP:
            self.close_connection = True
            status = HTTPStatus.LENGTH_REQUIRED if length is None else HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            reply = error_reply(status, f"body needs a Content-Length of at most {_READ_CAP} bytes")
        else:
            body = self.rfile.read(length)  # read even when refused, so the kept-alive stream stays in step
            authorization, content_type = self.headers.get("Authorization"), self.headers.get("Content-Type")
            reply = self.server.sandbox.handle(
                Request(self.command, self.path, body, authorization, content_type)
            )
        if reply.reset:
            self._reset()
        else:
            self._send(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def _content_length(self) -> int | None:
        if "Transfer-Encoding" in self.headers:
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        return length if length >= 0 else None

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        if reply.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _reset(self) -> None:
        """Drop the connection with an RST and no response, as a crashing load balancer does.

        SO_LINGER 0 makes close() send RST; the socket really closes when finish() closes its files.
        """
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.config.log_requests:
            super().log_message(format, *args)


def _parser() -> argparse.ArgumentParser:
    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(
        prog="python -m devstack.sandbox",
        description="A local Rokt Event API for integration tests.",
    )
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--api-secret", default=defaults.api_secret)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="batches per second; 0 = no limit")
    parser.add_argument(
        "--usage",
        type=Usage,
        choices=list(Usage),
        default=defaults.usage,
        help="what X-mp-rate-limit-percentage-used reports: the last second's count (window), how "
        "spent the limiter's bucket is (bucket), or nothing (none)",
    )
    parser.add_argument(
        "--burst", type=float, default=defaults.burst, help="seconds of the rate the limiter's bucket holds"
    )
    parser.add_argument(
        "--acceleration",
        type=float,
        default=defaults.acceleration,
        metavar="F",
        help="acceleration limit: the last second may take F x the mean of the 5 before (0 = none)",
    )
    parser.add_argument(
        "--other-sender",
        dest="other_share",
        type=float,
        default=defaults.other_share,
        metavar="SHARE",
        help="another sender of the account takes this share of the rate (0 to 1)",
    )
    for flag, what in (
        ("--p503", "a 503"),
        ("--p500", "a 500"),
        ("--p429", "a 429 with Retry-After: 1"),
        ("--p-reset", "a connection reset before processing"),
        ("--p-reset-after-accept", "a connection reset after the batches are accepted"),
        ("--p-slow", "a slow response (see --slow-seconds)"),
    ):
        parser.add_argument(flag, type=float, default=0.0, metavar="P", help=f"probability of {what}")
    parser.add_argument(
        "--latency", type=float, default=defaults.latency, help="seconds added to every response"
    )
    parser.add_argument(
        "--slow-seconds", type=float, default=defaults.slow_seconds, help="length of a slow response"
    )
    parser.add_argument(
        "--outage",
        dest="outages",
        type=parse_outage,
        action="append",
        default=[],
        metavar="START-END",
        help="answer 503 to everything between these seconds after start (repeatable)",
    )
    parser.add_argument("--seed", type=int, help="seed of the fault draws, for a repeatable run")
    parser.add_argument(
        "--record", dest="record_path", type=Path, metavar="PATH", help="append accepted batches"
    )
    parser.add_argument("--quiet", dest="log_requests", action="store_false", help="do not log requests")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = vars(parser.parse_args(argv))
    try:
        config = SandboxConfig(**{**args, "outages": tuple(args["outages"])})
    except ValueError as exc:
        parser.error(str(exc))
    try:
        sandbox = Sandbox(config).start()
    except OSError as exc:
        print(f"cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    # Ctrl-C may come as soon as the line is out, before print returns: inside the suppress too.
    with contextlib.suppress(KeyboardInterrupt):
        print(f"Rokt Event API sandbox listening on {sandbox.url} (Ctrl-C stops it)", flush=True)
        threading.Event().wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
